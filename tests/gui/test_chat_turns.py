"""The chat while a reply is on its way: loading, thinking or writing; other conversations stay usable;
regenerated versions (‹ 1/2 ›); search results that say where the match is."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt


class EndlessChat:
    """The tiny model ignoring EOS: it writes until it is stopped (or reaches max_tokens)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def send(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["params"] = replace(kwargs["params"], ignore_eos=True)
        return self.inner.send(*args, **kwargs)


def _send(qtbot, chat, text: str) -> None:  # type: ignore[no-untyped-def]
    chat.composer.setPlainText(text)
    qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)


def test_an_empty_reply_says_loading_thinking_or_writing(qtbot) -> None:  # type: ignore[no-untyped-def]
    from app.models.messages import MessageItem
    from app.views.messages_view import MessageWidget

    loading = MessageItem("assistant", "", streaming=True, loading="gemma-3-270m", load_fraction=0.4)
    widget = MessageWidget(loading, "gemma-3-270m", "reply")
    qtbot.addWidget(widget)
    widget.show()
    assert widget.body.text == "Loading gemma-3-270m…"
    assert widget.load_bar.isVisible() and widget.load_bar.value() == 40
    assert "Generating" not in widget.stats.text() and "Loading" in widget.stats.text()
    widget.update_item(replace(loading, loading=None, started=True))  # loaded; a model that does not think
    assert "Thinking" not in widget.body.text and not widget.load_bar.isVisible()
    assert "Generating" in widget.stats.text()
    widget.update_item(replace(loading, loading=None, started=True, thinks=True))  # a reasoning model
    assert "Thinking…" in widget.body.text


def test_the_first_reply_shows_the_model_loading(qtbot, window, session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import time

    from engine.runtime.worker import ModelWorker

    original = ModelWorker._progress  # each of llama.cpp's load reports 20 ms slower: the load is seen
    monkeypatch.setattr(ModelWorker, "_progress", lambda self, f: (time.sleep(0.02), original(self, f)))
    chat = window.chat
    chat.sheet.max_tokens.setValue(4)
    loads: list[tuple[str, float]] = []
    bodies: list[str] = []
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000):
        _send(qtbot, chat, "Hello")
        chat.stream.loading.connect(lambda name, fraction: loads.append((name, fraction)))
        chat.stream.loading.connect(lambda *_: bodies.append(chat.messages.items()[-1].loading or ""))
    assert loads and loads[-1] == ("tiny", 1.0)  # reported by the engine while the model loaded
    assert "tiny" in bodies  # the reply's row said which model was loading (the bubble: see the test above)
    assert "Thinking" not in chat.view.widgets()[-1].body.text


def test_conversations_stay_usable_while_a_reply_streams(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    session.registry.update_settings("tiny", context_size=16384)
    vault = session.vault
    other = vault.conversations.create("Another chat", model="tiny")
    vault.conversations.add_message(other.id, "user", "an older question")
    chat = window.chat
    chat.reload()
    session.chat = EndlessChat(session.chat)
    chat.sheet.max_tokens.setValue(16000)
    chat.new_chat()
    chunks: list[str] = []
    with qtbot.waitSignal(chat.reply_finished, timeout=60_000) as finished:
        _send(qtbot, chat, "Tell me a long story")
        chat.stream.chunk.connect(chunks.append)
        qtbot.waitUntil(lambda: len(chunks) > 3 and chat._stream_conversation is not None, timeout=20_000)
        streaming_id = chat._stream_conversation
        assert chat.sidebar.isEnabled()
        # Open the other conversation from the list while the reply streams.
        row = chat.sidebar.model.row_of(other.id)
        chat.sidebar.list.setCurrentIndex(chat.sidebar.model.index(row, 0))
        assert chat.conversation_id == other.id
        assert [i.content for i in chat.messages.items()] == ["an older question"]
        assert not chat.stop_button.isVisibleTo(chat) and not chat.send_button.isEnabled()
        # Back: the reply is still there, growing.
        row = chat.sidebar.model.row_of(streaming_id)
        chat.sidebar.list.setCurrentIndex(chat.sidebar.model.index(row, 0))
        assert chat.conversation_id == streaming_id
        shown = chat.messages.items()
        assert [i.role for i in shown] == ["user", "assistant"] and shown[-1].streaming
        bubbles = chat.view.widgets()  # in the same order on screen, the reply last
        assert [b.item.role for b in bubbles] == ["user", "assistant"]
        assert 0 <= chat.view._layout.indexOf(bubbles[0]) < chat.view._layout.indexOf(bubbles[1])
        before = len(shown[-1].content)
        qtbot.waitUntil(lambda: len(chat.messages.items()[-1].content) > before, timeout=10_000)
        assert chat.stop_button.isVisibleTo(chat)
        # Away again, and the reply is stopped from nowhere near it: it is stored all the same.
        chat.open_conversation(other.id)
        chat.stream.stop()
    result = finished.args[0]
    assert result.conversation_id == streaming_id
    stored = vault.conversations.messages(streaming_id)
    assert [m.role for m in stored] == ["user", "assistant"] and stored[1].content == result.text
    assert chat.conversation_id == other.id  # still reading the other one
    assert chat.send_button.isEnabled()
    chat.open_conversation(streaming_id)
    assert chat.messages.items()[-1].content == result.text and not chat.messages.items()[-1].streaming


def test_regenerate_keeps_the_previous_reply_as_version_one_of_two(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    chat = window.chat
    chat.sheet.max_tokens.setValue(6)
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000) as first:
        _send(qtbot, chat, "first question")
    bubble = chat.view.widgets()[-1]
    assert not bubble.version_label.isVisibleTo(bubble)  # one version: no switcher
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000) as second:
        qtbot.mouseClick(bubble.regenerate, Qt.MouseButton.LeftButton)
    bubble = chat.view.widgets()[-1]
    assert bubble.version_label.isVisibleTo(bubble) and bubble.version_label.text() == "2/2"
    assert chat.messages.items()[-1].content == second.args[0].text
    assert bubble.previous_version.isEnabled() and not bubble.next_version.isEnabled()
    qtbot.mouseClick(bubble.previous_version, Qt.MouseButton.LeftButton)
    bubble = chat.view.widgets()[-1]
    assert bubble.version_label.text() == "1/2"
    assert chat.messages.items()[-1].content == first.args[0].text
    stored = session.vault.conversations.messages(chat.conversation_id)
    assert stored[-1].active == 0 and stored[-1].content == first.args[0].text  # what the next turn sends


def test_editing_the_first_message_renames_the_chat(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    chat = window.chat
    chat.sheet.max_tokens.setValue(3)
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000):
        _send(qtbot, chat, "first question")
    qtbot.mouseClick(chat.view.widgets()[0].edit, Qt.MouseButton.LeftButton)
    chat.composer.setPlainText("a better question")
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000):
        qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)
    assert chat.title.full_text() == "a better question"
    assert chat.sidebar.model.data(chat.sidebar.model.index(0, 0)) == "a better question"


def test_search_results_are_cards_that_show_where_the_match_is(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    vault = session.vault
    conversation = vault.conversations.create("Ward rota", model="tiny")
    vault.conversations.add_message(conversation.id, "user", "Who covers the night shift on Friday?")
    vault.conversations.add_message(conversation.id, "assistant", "Dr. Lee covers the night shift.")
    chat = window.chat
    chat.reload()
    sidebar = chat.sidebar
    sidebar.search.setText("night")
    qtbot.waitUntil(lambda: sidebar.hits.isVisibleTo(sidebar) and sidebar.hits.count() == 2, timeout=5_000)
    cards = [sidebar.hits.itemWidget(sidebar.hits.item(i)) for i in range(2)]
    assert all(card.objectName() == "searchHit" for card in cards)  # each framed apart from the next
    texts = [" ".join(label.text() for label in card.findChildren(type(sidebar.empty))) for card in cards]
    assert any("in your message" in t for t in texts) and any("in a reply" in t for t in texts)
    snippet = cards[0].findChild(type(sidebar.empty), "searchSnippet").text()
    assert "font-weight:600'>night</span> shift" in snippet  # the match is highlighted, spaces kept
    assert sidebar.hits.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
