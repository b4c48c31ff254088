"""The Privacy view: export, erase (typed confirmation), audit verification, passphrase, retention."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from PySide6.QtCore import Qt

from app.dialogs.confirm import TypedConfirmDialog
from app.dialogs.passphrase import ChangePassphraseDialog, strength
from engine.vault import RequestLogEntry, Vault
from tests.gui.conftest import PASSPHRASE


def _conversations(vault, *titles: str) -> list[str]:  # type: ignore[no-untyped-def]
    ids = []
    for title in titles:
        conversation = vault.conversations.create(title)
        vault.conversations.add_message(conversation.id, "user", f"text of {title}")
        ids.append(conversation.id)
    return ids


def test_typed_confirmation(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = TypedConfirmDialog("Erase", "Gone for good.", "ERASE", "Erase")
    qtbot.addWidget(dialog)
    assert not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.field, "erase")
    assert not dialog.ok.isEnabled()
    dialog.field.setText("ERASE")
    assert dialog.ok.isEnabled()


def test_erase_one_and_all(qtbot, window, session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first, second, third = _conversations(session.vault, "alpha", "beta", "gamma")
    view = window.privacy
    window.show_view("privacy")
    assert view.conversation.count() == 3

    def type_and_confirm(dialog: TypedConfirmDialog) -> int:
        qtbot.keyClicks(dialog.field, dialog.word)
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
        return dialog.result()

    monkeypatch.setattr(TypedConfirmDialog, "exec", type_and_confirm)
    view.conversation.setCurrentIndex(view.conversation.findData(second))
    with qtbot.waitSignal(view.history_changed):
        view.confirm_erase_one()
    assert {c.id for c in session.vault.conversations.list()} == {first, third}
    assert window.chat.sidebar.model.row_of(second) == -1
    assert any(e.event == "erase" for e in session.vault.audit.entries())

    session.vault.request_log.append(RequestLogEntry("tool", "tiny", 200, 4, 2, request_text="q", response_text="a"))
    with qtbot.waitSignal(view.history_changed):
        view.confirm_erase_all()  # in the background: the GUI stays responsive on a long request log
    assert session.vault.conversations.list() == []
    assert view.conversation.count() == 0 and not view.erase_all.isEnabled()
    logged = session.vault.request_log.recent()
    assert [(e.request_text, e.response_text, e.prompt_tokens) for e in logged] == [(None, None, 4)]


def test_export_and_verify_audit(qtbot, window, session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _conversations(session.vault, "alpha", "beta")
    view = window.privacy
    target = tmp_path / "out" / "export.json"
    with qtbot.waitSignal(view.export_finished, timeout=10_000) as done:
        view.export(target, None)
    assert done.args[0] == target
    data = json.loads(target.read_text())
    assert {c["title"] for c in data["conversations"]} == {"alpha", "beta"}
    view.refresh()
    assert view.audit.record(0).event == "export"  # newest first
    assert view.audit.data(view.audit.index(0, 2)) == "Exported (not encrypted)"
    assert view.audit.data(view.audit.index(0, 2), Qt.ItemDataRole.ToolTipRole) == "export"  # the chain's code
    with qtbot.waitSignal(view.audit_verified, timeout=10_000) as verified:
        qtbot.mouseClick(view.verify, Qt.MouseButton.LeftButton)
    assert verified.args == [True] and "intact" in view.audit_status.text()


def test_change_passphrase(qtbot, session, enclave_home: Path) -> None:  # type: ignore[no-untyped-def]
    dialog = ChangePassphraseDialog(session.vault, kdf=session.kdf)
    qtbot.addWidget(dialog)
    dialog.current.setText("not it")
    dialog.fields.first.setText("a whole new passphrase")
    dialog.fields.second.setText("a whole new passphrase")
    assert dialog.ok.isEnabled()
    dialog._change()
    qtbot.waitUntil(lambda: "wrong" in dialog.message.text(), timeout=10_000)
    dialog.current.setText(PASSPHRASE)
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        dialog._change()
    session.vault.close()
    Vault.unlock(enclave_home, "a whole new passphrase").close()


def test_passphrase_strength() -> None:
    assert strength("short") == 0
    assert strength("password") == 1
    assert strength("Tr0ub4dor&3") >= 2
    assert strength("correct horse battery staple") >= 3
    assert strength("长城内外惟余莽莽大河上下") >= 3


def test_retention_setting_uses_the_engine_policy(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    from engine.policy import retention

    (kept,) = _conversations(session.vault, "recent")
    view = window.privacy
    view.retention.setCurrentIndex(view.retention.findData(30))
    task = view._retention_set()
    with qtbot.waitSignal(task.finished, timeout=10_000):
        pass
    policy = retention.get_policy(session.vault)
    assert (policy.conversations, policy.api_content, policy.api_metadata) == (30, 30, 30)
    assert [c.id for c in session.vault.conversations.list()] == [kept]  # recent: kept
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    assert retention.purge(session.vault, now=later, actor="gui")["conversations"] == 1
    assert any(e.event == "setting_change" and e.actor == "gui" for e in session.vault.audit.entries())


def test_autolock_setting_reaches_the_window(window, session) -> None:  # type: ignore[no-untyped-def]
    window.privacy.autolock.setValue(5)
    assert session.vault.settings.get("gui.autolock_minutes") == 5 and window._autolock_minutes == 5
