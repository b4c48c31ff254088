"""After a reply the chat view gets the stored message ids from the turn's result: it never reloads (and
decrypts) the whole conversation to learn them."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import Qt


def test_a_finished_reply_takes_its_ids_without_reloading_the_conversation(  # type: ignore[no-untyped-def]
    qtbot, window, session, monkeypatch
) -> None:
    chat = window.chat
    chat.sheet.max_tokens.setValue(8)
    conversations = session.vault.conversations
    read = conversations.messages
    gui_reads: list[str] = []

    def counting(conversation_id: str, *args: Any, **kwargs: Any) -> Any:
        # The engine reads the history on the worker thread to build the prompt; the view must not read it.
        if threading.current_thread() is threading.main_thread():
            gui_reads.append(conversation_id)
        return read(conversation_id, *args, **kwargs)

    monkeypatch.setattr(conversations, "messages", counting)
    for text in ("Hello", "And again"):  # a new conversation, then a turn in it
        with qtbot.waitSignal(chat.reply_finished, timeout=30_000) as finished:
            chat.composer.setPlainText(text)
            qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)
        result = finished.args[0]
        assert result.message_id is not None and result.user_message_id is not None
    assert gui_reads == []
    stored = read(result.conversation_id)
    assert [(m.role, m.id) for m in stored] == [(i.role, i.id) for i in chat.messages.items()]
    assert [i.id for i in chat.messages.items()][-2:] == [result.user_message_id, result.message_id]
