"""Issue 25 on the Server view: snippets that work pasted as is, keys private by default with an expiry,
network settings with the bind rule, upstreams added and removed, and audited start/stop."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from PySide6.QtCore import QDate, Qt

from app.dialogs.api_key import CreateKeyDialog, SecretDialog
from app.dialogs.upstream import AddUpstreamDialog
from engine.policy.keys import issue_key
from tests.gui.test_server_view import _free_port


def _start(qtbot, view) -> None:  # type: ignore[no-untyped-def]
    view.port.setValue(_free_port())
    with qtbot.waitSignal(view.server_changed, timeout=30_000) as started:
        qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert started.args == [True], view.state.text()


def _stop(qtbot, view) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(view.server_changed, timeout=30_000):
        qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)


def _shell_line(dialog: SecretDialog) -> str:
    return dialog.export_line.text()


def test_the_snippets_run_as_pasted_after_the_key_dialog(qtbot, window, session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The curl and Python examples, run for real against the running server, answer within seconds."""
    view = window.server
    window.show_view("server")
    lines: list[str] = []

    def create(dialog: CreateKeyDialog) -> int:
        dialog.name.setText("snippets")
        dialog.issue()
        return dialog.result()

    monkeypatch.setattr(CreateKeyDialog, "exec", create)
    monkeypatch.setattr(SecretDialog, "exec", lambda d: lines.append(_shell_line(d)) or 0)
    view.create_key_dialog()
    export = lines[0]
    assert export.startswith("export ENCLAVE_API_KEY=enc-")
    _start(qtbot, view)
    try:
        curl, python = view.curl.toPlainText(), view.python.toPlainText()
        assert '"max_tokens": 200' in curl and "max_tokens=200" in python
        env = {k: v for k, v in os.environ.items() if k != "ENCLAVE_API_KEY"}
        if shutil.which("curl") and shutil.which("bash"):
            # Pasted before the export line: a clear message, not a bare 401.
            missing = subprocess.run(["bash", "-c", curl], env=env, capture_output=True, text=True, timeout=60)
            assert missing.returncode != 0 and "export ENCLAVE_API_KEY" in missing.stderr
            started = time.monotonic()
            ran = subprocess.run(["bash", "-c", f"{export}\n{curl}"], env=env, capture_output=True, text=True,
                                 timeout=120)
            took = time.monotonic() - started
            assert ran.returncode == 0, ran.stderr
            reply = httpx.Response(200, content=ran.stdout).json()
            assert reply["object"] == "chat.completion" and reply["usage"]["completion_tokens"] <= 200
            assert took < 60
        secret = export.split("=", 1)[1]
        started = time.monotonic()
        ran = subprocess.run([sys.executable, "-c", python], env={**env, "ENCLAVE_API_KEY": secret},
                             capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr
        assert time.monotonic() - started < 60
        missing = subprocess.run([sys.executable, "-c", python], env=env, capture_output=True, text=True, timeout=60)
        assert missing.returncode == 1 and "export ENCLAVE_API_KEY" in missing.stderr
    finally:
        _stop(qtbot, view)


def test_a_request_without_max_tokens_gets_the_default_cap(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    _, secret = issue_key(session.vault, "cap")
    view = window.server
    window.show_view("server")
    assert view.default_tokens.value() == 512
    view.default_tokens.setValue(5)
    _start(qtbot, view)
    try:
        reply = httpx.post(f"{view.url.text()}/v1/chat/completions", timeout=60,
                           headers={"Authorization": f"Bearer {secret}"},
                           json={"model": "tiny", "messages": [{"role": "user", "content": "Count to a million."}]})
        assert reply.status_code == 200
        assert reply.json()["usage"]["completion_tokens"] <= 5
    finally:
        _stop(qtbot, view)
    assert session.vault.settings.get("gui.server")["default_max_tokens"] == 5
    # Start and stop are on the record, by the desktop app.
    events = [(e.event, e.actor) for e in session.vault.audit.entries()]
    assert ("server_start", "gui") in events and ("server_stop", "gui") in events


def test_new_keys_log_metadata_only_and_can_expire(qtbot, window, session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    view = window.server
    dialog = CreateKeyDialog(session.engine.keys, ["tiny"])
    qtbot.addWidget(dialog)
    assert not dialog.store.isChecked() and not dialog.expiry.isEnabled()
    dialog.name.setText("short-lived")
    dialog.expires.setChecked(True)
    assert dialog.expiry.isEnabled()
    last_day = QDate.currentDate().addDays(30)
    dialog.expiry.setDate(last_day)
    dialog.issue()
    record = dialog.record
    assert record is not None and not record.store_content
    assert record.expires_at == dt.datetime.combine(last_day.toPython() + dt.timedelta(days=1), dt.time(),
                                                    tzinfo=dt.UTC)
    from app.audit_names import describe_details

    created = [e for e in session.vault.audit.entries() if e.event == "api_key_create"][-1]
    said = describe_details(created.event, created.details)  # the audit log says it in words
    assert "expires" in said and "expires_at" not in said and "only metadata" in said
    view.refresh_keys()
    headers = [view.keys.headerData(c, Qt.Orientation.Horizontal) for c in range(view.keys.columnCount())]
    row = [view.keys.index(0, c).data() for c in range(view.keys.columnCount())]
    assert row[headers.index("Logs")] == "metadata only"
    assert row[headers.index("Expires")] not in ("never", "")
    assert row[headers.index("Status")].startswith("active")
    # Logging text is an explicit choice, shown in the list.
    issue_key(session.vault, "verbose", store_content=True)
    view.refresh_keys()
    assert view.keys.index(1, headers.index("Logs")).data() == "full text"
    assert view.keys.index(1, headers.index("Expires")).data() == "never"


def test_a_network_address_needs_a_key_before_start(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    view = window.server
    window.show_view("server")
    assert view.start_button.isEnabled()
    view.host.setCurrentText("0.0.0.0")
    assert not view.start_button.isEnabled()
    assert "API key" in view.bind_warning.text() and view.bind_warning.objectName() == "errorLabel"
    issue_key(session.vault, "lan")
    view.refresh_keys()
    assert view.start_button.isEnabled() and view.bind_warning.objectName() == "mutedLabel"
    view.host.setCurrentText("127.0.0.1")
    assert view.start_button.isEnabled() and "this computer" in view.bind_warning.text()


def test_add_and_remove_an_upstream(qtbot, window, session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    view = window.server
    window.show_view("server")
    panel = view.upstreams_panel
    qtbot.waitUntil(panel.refresh_button.isEnabled, timeout=10_000)

    def fill(dialog: AddUpstreamDialog) -> int:
        assert not dialog.ok.isEnabled()
        dialog.name.setText("lab")
        dialog.url.setText("http://127.0.0.1:9/v1")
        dialog.models.setText("big-model, other")
        assert dialog.ok.isEnabled()
        with qtbot.waitSignal(dialog.finished, timeout=10_000):
            dialog.ok.click()
        return dialog.result()

    monkeypatch.setattr(AddUpstreamDialog, "exec", fill)
    with qtbot.waitSignal(view.upstreams_checked, timeout=15_000):
        panel.add_button.click()
    from engine.upstreams import list_upstreams

    assert [u.name for u in list_upstreams(session.vault)] == ["lab"]
    assert panel.model.rowCount() == 1 and panel.model.index(0, 2).data() == "big-model, other"
    panel.table.selectRow(0)
    with qtbot.waitSignal(panel.changed, timeout=10_000):  # removed off the GUI thread
        assert panel.remove_selected(confirm=False) is not None
    assert list_upstreams(session.vault) == [] and panel.model.rowCount() == 0
    events = [(e.event, e.actor) for e in session.vault.audit.entries()]
    assert ("upstream_add", "gui") in events and ("upstream_remove", "gui") in events


def test_a_bad_upstream_is_explained_in_the_dialog(qtbot, session) -> None:  # type: ignore[no-untyped-def]
    dialog = AddUpstreamDialog(session.engine)
    qtbot.addWidget(dialog)
    dialog.name.setText("Bad Name!")
    dialog.url.setText("http://127.0.0.1:9/v1")
    dialog.models.setText("x")
    dialog.add()
    qtbot.waitUntil(dialog.ok.isEnabled, timeout=10_000)
    assert dialog.message.text() and dialog.upstream is None


@pytest.mark.parametrize("expired", [True])
def test_an_expired_key_is_refused_with_a_reason(qtbot, window, session, expired) -> None:  # type: ignore[no-untyped-def]
    from engine.vault.store import now

    view = window.server
    window.show_view("server")
    _, secret = issue_key(session.vault, "old", expires_at=now() + dt.timedelta(seconds=1))
    _start(qtbot, view)
    try:
        time.sleep(1.2)
        reply = httpx.get(f"{view.url.text()}/v1/models", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
        assert reply.status_code == 401
        error = reply.json()["error"]
        assert error["code"] == "api_key_expired" and "expired" in error["message"]
        assert error["type"] == "authentication_error"
    finally:
        _stop(qtbot, view)
    view.refresh_keys()
    assert view.keys.index(0, view.keys.columnCount() - 1).data() == "expired"
