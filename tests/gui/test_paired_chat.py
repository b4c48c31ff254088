"""The desktop chats with its organisation's appliance: a real `enclave serve --tls auto` in a subprocess
(its own data folder, the tiny model), paired through the connect dialog with a real code, the reply
streamed into the chat view and stored encrypted here; the appliance down → a clear message, local chat
still works.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.dialogs.connect_server import ConnectServerDialog
from tests.pairing.conftest import Appliance, make_home


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path) -> Iterator[Appliance]:
    """A running appliance for this module."""
    server = Appliance(make_home(tmp_path_factory.mktemp("appliance"), tiny_gguf))
    server.pair_ahead("alice-laptop")
    server.start()
    yield server
    server.stop()


def _send(qtbot, chat, text: str, model: str) -> tuple[list[str], object]:  # type: ignore[no-untyped-def]
    """Pick `model`, send `text`; (the chunks as they streamed in, the TurnResult or the failure text)."""
    chat.model_picker.setCurrentIndex(chat.model_picker.findData(model))
    chat.composer.setPlainText(text)
    chunks: list[str] = []
    outcome: list[object] = []
    chat.reply_finished.connect(outcome.append)
    chat.reply_failed.connect(outcome.append)
    chat.send()
    assert chat.stream is not None
    chat.stream.chunk.connect(chunks.append)
    qtbot.waitUntil(lambda: bool(outcome), timeout=60_000)
    chat.reply_finished.disconnect(outcome.append)
    chat.reply_failed.disconnect(outcome.append)
    return chunks, outcome[0]


def test_chat_with_the_appliance_from_the_gui(  # type: ignore[no-untyped-def]
    qtbot, window, session, appliance: Appliance, capsys: pytest.CaptureFixture[str], enclave_home: Path
) -> None:
    code = appliance.pair("alice-laptop", capsys)

    # Connect: paste the code, see what it names, connect (in the background).
    window.show_view("models")
    dialog: ConnectServerDialog = window.models.remotes.connect_dialog()
    qtbot.addWidget(dialog)
    dialog.code_edit.setPlainText(code)
    assert dialog.url.text() == appliance.url and dialog.device.text() == "alice-laptop"
    assert dialog.fingerprint.text().count(":") == 31 and dialog.ok.isEnabled()
    dialog.name.setText("hospital-gpu")
    with qtbot.waitSignal(dialog.connected, timeout=30_000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert window.models.remotes.model.rowCount() == 1

    # The code is one-time: pasted again, the dialog says so (and adds nothing).
    again: ConnectServerDialog = window.models.remotes.connect_dialog()
    qtbot.addWidget(again)
    again.code_edit.setPlainText(code)
    again.name.setText("second")
    qtbot.mouseClick(again.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "already used" in again.message.text(), timeout=30_000)
    assert again.isVisible() and window.models.remotes.model.rowCount() == 1
    again.reject()

    # The appliance's model is in the picker, marked with the server's name.
    chat = window.chat
    window.show_view("chat")
    index = chat.model_picker.findData("hospital-gpu/tiny")
    assert index >= 0 and chat.model_picker.itemText(index) == "tiny — on hospital-gpu"

    chat.sheet.seed.setValue(1)  # a fixed seed: this prompt gets a reply of many tokens, not a lone one
    chat.sheet.max_tokens.setValue(24)
    chunks, result = _send(qtbot, chat, "canary-paired-7f3a says hello", "hospital-gpu/tiny")
    assert not isinstance(result, str), result
    assert len(chunks) > 3, chunks  # streamed, piece by piece
    stored = session.vault.conversations.messages(result.conversation_id)  # type: ignore[attr-defined]
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].content == result.text == "".join(chunks)  # type: ignore[attr-defined]
    assert stored[1].metadata["model"] == "hospital-gpu/tiny" and stored[1].metadata["served_by"] == "remote"
    on_disk = b"".join(p.read_bytes() for p in enclave_home.rglob("vault*") if p.is_file())
    assert b"canary-paired-7f3a" not in on_disk  # stored encrypted

    # The appliance down: one clear sentence; the local model keeps working.
    appliance.stop()
    try:
        _, failed = _send(qtbot, chat, "are you there?", "hospital-gpu/tiny")
        assert isinstance(failed, str) and "Cannot reach the server “hospital-gpu”" in failed
        assert "keep working" in chat.status.text()
        _, local = _send(qtbot, chat, "and locally?", "tiny")
        assert not isinstance(local, str) and local.text  # type: ignore[attr-defined]
    finally:
        appliance.start()
