"""The chat view with a model an upstream serves: listed in the picker with where it runs, streamed,
stored encrypted in the desktop's vault like any reply."""

from __future__ import annotations

import secrets

from PySide6.QtCore import Qt

from engine.upstreams import add_upstream
from tests.upstreams.fake import FakeUpstream


def test_the_chat_view_chats_with_an_upstream_model(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    fake = FakeUpstream(f"sk-fake-{secrets.token_hex(16)}").start()
    fake.gate.set()  # the scripted stream runs straight through
    try:
        add_upstream(session.vault, "org", fake.url, api_key=fake.api_key, models=["org-model=fake-model"])
        chat = window.chat
        chat.refresh_models()
        index = chat.model_picker.findData("org-model")
        assert index >= 0 and chat.model_picker.itemText(index) == "org-model (on org)"
        assert chat.model_picker.findData("tiny") >= 0  # local models stay listed, first
        chat.model_picker.setCurrentIndex(index)
        chunks: list[str] = []
        with qtbot.waitSignal(chat.reply_finished, timeout=30_000) as finished:
            chat.composer.setPlainText("Hello")
            qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)
            chat.stream.chunk.connect(chunks.append)
        result = finished.args[0]
        assert result.text == "first second" and "".join(chunks) == result.text
        stored = session.vault.conversations.messages(result.conversation_id)
        assert [(m.role, m.content) for m in stored] == [("user", "Hello"), ("assistant", "first second")]
        assert stored[1].metadata["served_by"] == "upstream" and stored[1].metadata["model"] == "org-model"
        assert session.vault.conversations.get(result.conversation_id).model == "org-model"
        # The view's rows carry the stored ids, handed over with the result (no reload of the conversation).
        assert [(i.role, i.id) for i in chat.messages.items()] == [(m.role, m.id) for m in stored]
        assert chat.title.text() == "Hello"
    finally:
        session.engine.backends.get("upstreams").close()
        fake.stop()
