"""The desktop app as the appliance: HTTPS in the server panel, its fingerprint, pairing a device, revoking it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine.pairing.client import KeyRefused
from engine.pairing.code import decode
from engine.pairing.remotes import add_remote
from engine.pairing.tls import auto_files
from engine.runtime.types import CancelToken, GenerationParams
from engine.vault import FLOOR, Vault


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_https_pairing_and_revocation_from_the_server_panel(  # type: ignore[no-untyped-def]
    qtbot, window, session, tmp_path: Path
) -> None:
    view = window.server
    port = _free_port()
    view.port.setValue(port)
    assert not view.tls_box.pair.isEnabled()  # pairing needs HTTPS
    assert view.tls_box.fingerprint.font().family() != "monospace"  # a sentence, in the interface's font
    view.tls_box.enabled.setChecked(True)
    assert view.tls_box.pair.isEnabled() and view.url.text().startswith("https://")
    view.start()
    qtbot.waitUntil(view.running, timeout=20_000)
    fingerprint = auto_files().fingerprint
    # Made at start, shown in the panel (wrapped to its width), copied whole.
    assert view.tls_box.fingerprint.text().replace("\u200b", "").endswith(fingerprint)
    assert view.tls_box.current_fingerprint() == fingerprint
    assert view.tls_box.fingerprint.font().family() == "monospace"  # the hex digits line up
    assert view.url.text() == f"https://127.0.0.1:{port}"
    assert not view.tls_box.enabled.isEnabled()  # fixed while running

    dialog = view.tls_box.pair_dialog()
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.name, "alice-laptop")
    dialog.url.setText(f"https://127.0.0.1:{port}")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.code is not None)  # recorded off the GUI thread
    assert dialog.code is not None and dialog.code_label.text() == dialog.code
    assert dialog.qr.isVisible() and not dialog.qr.pixmap().isNull()  # shown as QR (segno)
    code = decode(dialog.code)
    assert code.fingerprint == fingerprint and code.device == "alice-laptop"
    dialog.accept()
    # The code carries a one-time token: the device's key is issued when the device redeems it.
    assert code.one_time and not any(r.name == "alice-laptop" for r in session.vault.api_keys.list())

    desktop, _ = Vault.init(tmp_path / "desktop", "another passphrase", kdf=FLOOR)
    try:
        remote = add_remote(desktop, "office", dialog.code)
        assert remote.models == ("tiny",)
        key = next(r for r in session.vault.api_keys.list() if r.name == "alice-laptop")
        assert not key.store_content  # metadata-only logging unless the admin asks
        view.refresh_keys()
        with remote.client() as client:
            chunks = list(client.chat([{"role": "user", "content": "hi"}], GenerationParams(max_tokens=4), "tiny",
                                      CancelToken()))
        assert chunks[-1].finish_reason in ("stop", "length") and chunks[-1].usage is not None
        # The appliance logged the request per the key's rules: who, which model, tokens; no text.
        def chat_logged() -> list:  # type: ignore[type-arg]
            return [e for e in session.vault.request_log.recent(10) if e.key_name == "alice-laptop" and e.model]

        qtbot.waitUntil(lambda: bool(chat_logged()))
        logged = chat_logged()[0]
        assert logged.model == "tiny" and logged.completion_tokens > 0
        assert logged.request_text is None and logged.response_text is None

        # Revoked in the panel while the server runs: the very next request is refused.
        qtbot.waitUntil(lambda: view.keys.rowCount() == 1)
        view.keys_table.selectRow(0)
        with qtbot.waitSignal(view.revoke_selected(confirm=False).finished, timeout=10_000):
            pass  # revoked off the GUI thread
        with remote.client() as client, pytest.raises(KeyRefused, match="revoked"):
            client.models()
    finally:
        desktop.close()
        view.stop()
        qtbot.waitUntil(lambda: not view.running(), timeout=20_000)
