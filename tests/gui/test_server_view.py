"""The Server view: API keys (create with rules, secret once, revoke), start/stop, requests, snippets."""

from __future__ import annotations

import socket

import httpx
from PySide6.QtCore import Qt

from app.dialogs.api_key import CreateKeyDialog, SecretDialog
from app.views.server import snippets


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_create_and_revoke_a_key(qtbot, window, session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    view = window.server
    shown: list[str] = []

    def fill_and_create(dialog: CreateKeyDialog) -> int:
        assert not dialog.ok.isEnabled()
        qtbot.keyClicks(dialog.name, "reports")
        dialog.models.item(0).setCheckState(Qt.CheckState.Checked)
        dialog.rpm.setValue(30)
        dialog.store.setChecked(False)
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
        return dialog.result()

    monkeypatch.setattr(CreateKeyDialog, "exec", fill_and_create)
    monkeypatch.setattr(SecretDialog, "exec", lambda d: shown.append(d.secret.text()) or 0)
    view.create_key_dialog()
    assert len(shown) == 1
    record = session.vault.api_keys.verify(shown[0])
    assert record is not None and record.models == ("tiny",) and record.rpm == 30 and not record.store_content
    assert view.keys.rowCount() == 1 and view.keys.data(view.keys.index(0, 0)) == "reports"
    assert any(e.event == "api_key_create" for e in session.vault.audit.entries())

    # A second key with the same name is refused in the dialog, not by a crash.
    dialog = CreateKeyDialog(session.engine.keys, ["tiny"])
    qtbot.addWidget(dialog)
    dialog.name.setText("reports")
    dialog.issue()
    assert dialog.secret is None and "already exists" in dialog.message.text()

    view.keys_table.selectRow(0)
    with qtbot.waitSignal(view.revoke_selected(confirm=False).finished, timeout=10_000):
        pass  # revoked off the GUI thread; the list is refreshed on success
    assert session.vault.api_keys.verify(shown[0]) is None
    assert view.keys.rowCount() == 0
    view.show_revoked.setChecked(True)
    assert view.keys.rowCount() == 1 and view.keys.data(view.keys.index(0, 6)).startswith("revoked")


def test_start_the_server_call_it_and_stop_it(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    from engine.policy.keys import issue_key

    _record, secret = issue_key(session.vault, "test")
    view = window.server
    window.show_view("server")
    view.port.setValue(_free_port())
    with qtbot.waitSignal(view.server_changed, timeout=30_000) as started:
        qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert started.args == [True] and view.running() and view.start_button.text() == "Stop"
    url = view.url.text()
    assert url == session.server.url
    assert url in view.curl.toPlainText() and '"tiny"' in view.curl.toPlainText()
    try:
        headers = {"Authorization": f"Bearer {secret}"}
        assert httpx.get(f"{url}/v1/models", headers=headers, timeout=10).status_code == 200
        for _ in range(2):  # the second time, the prompt comes from the cache
            reply = httpx.post(f"{url}/v1/chat/completions", headers=headers, timeout=60,
                               json={"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
            assert reply.status_code == 200
        cached = reply.json()["usage"]["prompt_tokens_details"]["cached_tokens"]
        assert cached > 0
        assert httpx.get(f"{url}/v1/models", timeout=10).status_code == 401
        for _ in range(50):  # each request is logged just after its reply
            view.refresh_requests()
            qtbot.wait(200)
            if view.requests.rowCount() >= 3:
                break
        assert view.requests.data(view.requests.index(0, 1)) == "test"
        columns = [view.requests.headerData(c, Qt.Orientation.Horizontal) for c in range(view.requests.columnCount())]
        assert view.requests.data(view.requests.index(0, columns.index("Cached"))) == str(cached)
        window.check_idle()  # a running server holds off the auto-lock
        assert not window.is_locked
    finally:
        with qtbot.waitSignal(view.server_changed, timeout=30_000) as stopped:
            qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert stopped.args == [False] and not view.running() and session.server is None


def test_snippets_name_the_model_and_url() -> None:
    curl, python = snippets("http://127.0.0.1:8765", "gemma-3-270m")
    assert "http://127.0.0.1:8765/v1/chat/completions" in curl and '"gemma-3-270m"' in curl
    assert 'base_url="http://127.0.0.1:8765/v1"' in python and 'model="gemma-3-270m"' in python
    compile(python, "snippet", "exec")
