"""The chat view driven like a person would: send, watch the reply stream, stop, regenerate, edit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt


class EndlessChat:
    """Wraps ChatService so the tiny model ignores EOS: it keeps talking until it is stopped."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def send(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["params"] = replace(kwargs["params"], ignore_eos=True)
        return self.inner.send(*args, **kwargs)


def _send(qtbot, chat, text: str) -> None:  # type: ignore[no-untyped-def]
    chat.composer.setPlainText(text)
    qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)


def test_send_streams_a_reply_and_stores_it(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    chat = window.chat
    chat.sheet.max_tokens.setValue(24)
    chunks: list[str] = []
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000) as finished:
        _send(qtbot, chat, "Hello there")
        assert chat.stop_button.isVisibleTo(chat) and not chat.send_button.isVisibleTo(chat)
        chat.stream.chunk.connect(chunks.append)
    result = finished.args[0]
    assert chunks and "".join(chunks) == result.text
    assert result.final.usage.completion_tokens > 0
    # Stored in the vault with the AI label, and shown reloaded from it.
    stored = session.vault.conversations.messages(result.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].metadata["ai_generated"] is True
    assert [i.role for i in chat.messages.items()] == ["user", "assistant"]
    assert all(i.id for i in chat.messages.items())
    bubbles = chat.view.widgets()
    assert bubbles[1].badge.isVisibleTo(bubbles[1]) and not bubbles[0].badge.isVisibleTo(bubbles[0])
    assert "tokens/s" in bubbles[1].stats.text() and "reply tokens" in bubbles[1].stats.text()
    assert chat.sidebar.model.rowCount() == 1
    assert chat.sidebar.model.data(chat.sidebar.model.index(0, 0)) == "Hello there"
    assert chat.send_button.isVisibleTo(chat) and not chat.stop_button.isVisibleTo(chat)


def test_ctrl_enter_sends_and_escape_stops_mid_stream(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    # A long context and reply: at the tiny model's ~2000 tokens/s this takes seconds unless stopped.
    session.registry.update_settings("tiny", context_size=16384)
    session.chat = EndlessChat(session.chat)
    chat = window.chat
    chat.sheet.max_tokens.setValue(16000)
    window.activateWindow()
    chat.composer.setFocus()
    chat.composer.setPlainText("Tell me a long story")
    first_chunk: list[str] = []
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000) as finished:
        qtbot.keyClick(chat.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        assert chat.stream is not None, "Ctrl+Enter did not send"
        chat.stream.chunk.connect(first_chunk.append)
        qtbot.waitUntil(lambda: bool(first_chunk), timeout=10_000)
        qtbot.keyClick(chat.composer, Qt.Key.Key_Escape)
    result = finished.args[0]
    assert result.final.finish_reason == "cancelled"
    assert result.final.usage.completion_tokens < 16000
    stored = session.vault.conversations.messages(result.conversation_id)
    assert stored[-1].metadata["finish_reason"] == "cancelled"
    assert "stopped" in chat.view.widgets()[-1].stats.text()


def test_regenerate_and_edit_and_resend(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    chat = window.chat
    chat.sheet.max_tokens.setValue(8)
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000):
        _send(qtbot, chat, "first question")
    conversation_id = chat.conversation_id
    bubble = chat.view.widgets()[-1]
    assert bubble.regenerate.isVisibleTo(bubble)
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000):
        qtbot.mouseClick(bubble.regenerate, Qt.MouseButton.LeftButton)
    assert len(session.vault.conversations.messages(conversation_id)) == 2

    user_bubble = chat.view.widgets()[0]
    qtbot.mouseClick(user_bubble.edit, Qt.MouseButton.LeftButton)
    assert chat.composer.toPlainText() == "first question" and chat.banner.isVisibleTo(chat)
    chat.composer.setPlainText("edited question")
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000):
        qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)
    stored = session.vault.conversations.messages(conversation_id)
    assert [(m.role, m.content) for m in stored][0] == ("user", "edited question")
    assert len(stored) == 2 and chat.conversation_id == conversation_id


def test_conversation_list_new_rename_delete_search(qtbot, window, session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QInputDialog, QMessageBox

    vault = session.vault
    older = vault.conversations.create("Quarterly numbers", model="tiny")
    vault.conversations.add_message(older.id, "user", "the canary phrase 蓝色长颈鹿 appears here")
    newer = vault.conversations.create("Holiday plans", model="tiny")
    chat = window.chat
    chat.reload()
    sidebar = chat.sidebar
    assert [sidebar.model.data(sidebar.model.index(r, 0)) for r in range(2)] == ["Holiday plans", "Quarterly numbers"]
    assert chat.conversation_id == newer.id

    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert chat.conversation_id is None and chat.title.text() == "New chat"

    sidebar.select(older.id)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Q3 numbers", True))
    sidebar.rename_current()
    assert vault.conversations.get(older.id).title == "Q3 numbers"

    sidebar.search.setText("长颈鹿")
    qtbot.waitUntil(lambda: sidebar.hits.isVisibleTo(sidebar) and sidebar.hits.count() == 1, timeout=5_000)
    hit = sidebar.hits.item(0)
    assert hit.data(Qt.ItemDataRole.UserRole) == older.id
    sidebar._open_hit(hit)
    assert chat.conversation_id == older.id
    sidebar.search.clear()
    qtbot.waitUntil(lambda: sidebar.list.isVisibleTo(sidebar), timeout=5_000)

    sidebar.select(older.id)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    sidebar.delete_current()
    assert [c.id for c in vault.conversations.list()] == [newer.id]
    assert chat.conversation_id == newer.id


def test_a_reasoning_models_thinking_shows_apart_from_the_answer(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QGuiApplication

    from app.models.messages import MessageItem
    from app.views.messages_view import MessageWidget

    streaming = MessageItem("assistant", "<think>\nStill weighing", streaming=True)
    widget = MessageWidget(streaming, "Model", "reply")
    qtbot.addWidget(widget)
    widget.show()
    assert widget.body.text == "" and widget.thinking.text() == "Still weighing"  # no half tag, no placeholder
    widget.update_item(MessageItem("assistant", "<think>\nStill weighing </thi", streaming=True))
    assert widget.thinking.text() == "Still weighing"
    widget.update_item(MessageItem("assistant", "<think>\n" + "word " * 2000 + "end", streaming=True))
    assert widget.thinking.text().startswith("…") and widget.thinking.text().endswith("word end")
    assert len(widget.thinking.text()) <= 4001  # a long thinking: only its latest part while it streams
    assert widget.thinking.isVisible()  # open while it streams in
    done = MessageItem("assistant", "<think>\nFirst this.\n\nThen that.\n</think>\n\nThe answer.")
    widget.update_item(done)
    assert widget.body.text == "The answer." and widget.thinking.text() == "First this.\n\nThen that."
    qtbot.mouseClick(widget.copy, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "The answer."  # the answer, not the thinking
    stored = MessageWidget(done, "Model", "reply")  # a finished reply, shown again: folded, opens on a click
    qtbot.addWidget(stored)
    stored.show()
    assert stored.thinking_toggle.isVisible() and not stored.thinking.isVisible()
    qtbot.mouseClick(stored.thinking_toggle, Qt.MouseButton.LeftButton)
    assert stored.thinking.isVisible() and stored.thinking.text() == "First this.\n\nThen that."
    # A screen reader hears the answer, not the thinking.
    from app.models.messages import MessageListModel

    model = MessageListModel()
    model.append(done)
    spoken = model.data(model.index(0), Qt.ItemDataRole.AccessibleTextRole)
    assert spoken.endswith(": The answer.") and "First this" not in spoken
    plain = MessageWidget(MessageItem("user", "<think>I typed this</think>"), "Me", "message")  # only replies think
    qtbot.addWidget(plain)
    plain.show()
    assert plain.body.text == "<think>I typed this</think>" and not plain.thinking_toggle.isVisible()


def test_a_replys_statistics_say_how_much_of_the_prompt_came_from_the_cache(qtbot) -> None:  # type: ignore[no-untyped-def]
    from app.models.messages import MessageItem
    from app.views.messages_view import MessageWidget

    def stats(usage: dict[str, int]) -> str:
        widget = MessageWidget(MessageItem("assistant", "Hi", "m1", {"usage": usage}), "Model", "reply")
        qtbot.addWidget(widget)
        return widget.stats.text()

    assert stats({"prompt_tokens": 106, "completion_tokens": 70, "cached_prompt_tokens": 95}) == (
        "106 prompt (95 cached) + 70 reply tokens"
    )
    assert stats({"prompt_tokens": 11, "completion_tokens": 70, "cached_prompt_tokens": 0}) == (
        "11 prompt + 70 reply tokens"
    )
    assert stats({"prompt_tokens": 11, "completion_tokens": 70}) == "11 prompt + 70 reply tokens"  # older replies
