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
    view._retention_set()  # nothing is old enough to erase: applied without asking
    qtbot.waitUntil(lambda: view.retention.isEnabled() and retention.get_policy(session.vault).conversations == 30,
                    timeout=10_000)
    policy = retention.get_policy(session.vault)
    assert (policy.conversations, policy.api_content, policy.api_metadata) == (30, 30, 30)
    assert [c.id for c in session.vault.conversations.list()] == [kept]  # recent: kept
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    assert retention.purge(session.vault, now=later, actor="gui")["conversations"] == 1
    assert any(e.event == "setting_change" and e.actor == "gui" for e in session.vault.audit.entries())


def test_autolock_setting_reaches_the_window(window, session) -> None:  # type: ignore[no-untyped-def]
    window.privacy.autolock.setValue(5)
    assert session.vault.settings.get("gui.autolock_minutes") == 5 and window._autolock_minutes == 5


def _age(vault, conversation_id: str, days: int) -> None:  # type: ignore[no-untyped-def]
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat(timespec="microseconds")
    vault.run_raw(lambda db: db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", [old, conversation_id]))


def test_a_retention_change_that_erases_asks_first(qtbot, window, session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    from engine.policy import retention

    old, recent = _conversations(session.vault, "old one", "recent one")
    _age(session.vault, old, 20)
    view = window.privacy
    window.show_view("privacy")
    combo = view.retention
    forever = combo.currentIndex()
    assert combo.currentData() == 0

    # Passing over it changes nothing: a wheel turn, arrow keys (they open the list instead), typing.
    wheel = QWheelEvent(QPointF(5, 5), QPointF(combo.mapToGlobal(QPoint(5, 5))), QPoint(0, -120), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(combo, wheel)
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    combo.hidePopup()
    qtbot.keyClick(combo, "7")
    assert combo.currentIndex() == forever and retention.get_policy(session.vault).conversations is None

    # An explicit choice that would erase: the question says how much, and Cancel keeps everything.
    asked: list[str] = []

    def decline(days, counts):  # type: ignore[no-untyped-def]
        asked.append(view.retention_question(days, counts))
        return False

    monkeypatch.setattr(view, "confirm_retention", decline)
    combo.setCurrentIndex(combo.findData(7))
    combo.activated.emit(combo.currentIndex())
    qtbot.waitUntil(lambda: bool(asked) and combo.isEnabled(), timeout=10_000)
    assert "1 conversation" in asked[0] and "7 day" in asked[0]
    assert combo.currentData() == 0 and retention.get_policy(session.vault).conversations is None
    assert {c.id for c in session.vault.conversations.list()} == {old, recent}

    # Confirmed: applied, and the old conversation is gone.
    monkeypatch.setattr(view, "confirm_retention", lambda days, counts: True)
    combo.setCurrentIndex(combo.findData(7))
    combo.activated.emit(combo.currentIndex())
    qtbot.waitUntil(lambda: [c.id for c in session.vault.conversations.list()] == [recent], timeout=10_000)
    qtbot.waitUntil(combo.isEnabled, timeout=10_000)
    assert retention.get_policy(session.vault).conversations == 7
    assert "1 conversation" in view.history_status.text()
