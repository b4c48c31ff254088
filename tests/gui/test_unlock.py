"""First-run wizard, unlock (right and wrong), recovery with the recovery key, and auto-lock."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from app.dialogs.unlock import RecoveryDialog, UnlockDialog
from app.dialogs.wizard import FirstRunWizard
from engine.vault import Vault
from tests.gui.conftest import PASSPHRASE


def test_first_run_wizard_creates_the_vault(qtbot, enclave_home: Path, registry, tiny_gguf, fast_kdf) -> None:  # type: ignore[no-untyped-def]
    wizard = FirstRunWizard(enclave_home, registry, kdf=fast_kdf, prepare_demo=False)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    fields = wizard.passphrase_page.fields
    assert not wizard.passphrase_page.isComplete()
    qtbot.keyClicks(fields.first, "short")
    assert "Too short" in fields.hint.text()
    fields.first.setText(PASSPHRASE)
    fields.second.setText(PASSPHRASE + "x")
    assert not wizard.passphrase_page.isComplete() and "differ" in fields.hint.text()
    fields.second.setText(PASSPHRASE)
    assert wizard.passphrase_page.isComplete() and fields.meter.value() >= 3

    with qtbot.waitSignal(wizard.vault_created, timeout=10_000):
        wizard.next()
    page = wizard.recovery_page
    assert wizard.recovery_key and page.key_label.text() == wizard.recovery_key
    assert not page.isComplete()
    page.confirm.setChecked(True)
    assert page.isComplete()

    wizard.next()
    model_page = wizard.model_page
    assert model_page.list.count() == 0
    with qtbot.waitSignal(model_page.imported, timeout=20_000):
        model_page.import_file(tiny_gguf)
    assert model_page.selected_name() == "tiny-test"
    wizard.accept()
    assert registry.default_name() == "tiny-test"
    wizard.vault.close()
    # The passphrase opens it, and so does the recovery key (which also sets a new passphrase).
    Vault.unlock(enclave_home, PASSPHRASE).close()
    Vault.unlock_with_recovery(enclave_home, wizard.recovery_key, "a brand new passphrase").close()


def test_unlock_wrong_then_right(qtbot, enclave_home: Path, vault) -> None:  # type: ignore[no-untyped-def]
    vault.close()
    before = (enclave_home / "vault.db").read_bytes()
    dialog = UnlockDialog(enclave_home)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.passphrase, "not the passphrase")
    with qtbot.waitSignal(dialog.attempt_failed, timeout=10_000) as failed:
        qtbot.mouseClick(dialog.unlock_button, Qt.MouseButton.LeftButton)
    assert "Wrong passphrase" in failed.args[0] and dialog.message.text() == failed.args[0]
    assert dialog.vault is None and dialog.unlock_button.isEnabled()
    assert (enclave_home / "vault.db").read_bytes() == before

    dialog.passphrase.setText(PASSPHRASE)
    with qtbot.waitSignal(dialog.unlocked, timeout=10_000):
        qtbot.keyClick(dialog.passphrase, Qt.Key.Key_Return)
    assert dialog.vault is not None and not dialog.vault.is_locked
    assert dialog.passphrase.text() == ""
    # The failed attempt could not touch the vault; it was queued and chained at the next unlock.
    events = [(e.event, e.actor) for e in dialog.vault.audit.entries()]
    assert events[-2:] == [("unlock", "gui"), ("unlock_failed", "gui")]
    dialog.vault.close()


def test_recovery_key_flow(qtbot, enclave_home: Path, fast_kdf) -> None:  # type: ignore[no-untyped-def]
    vault, recovery_key = Vault.init(enclave_home, PASSPHRASE, kdf=fast_kdf)
    vault.close()
    dialog = RecoveryDialog(enclave_home)
    qtbot.addWidget(dialog)
    dialog.key.setText("AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF-GGGGG-HHHHH")
    dialog.fields.first.setText("new passphrase here")
    dialog.fields.second.setText("new passphrase here")
    qtbot.mouseClick(dialog.reset, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.reset.isEnabled(), timeout=10_000)
    assert dialog.vault is None and dialog.message.text()
    dialog.key.setText(recovery_key)
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        qtbot.mouseClick(dialog.reset, Qt.MouseButton.LeftButton)
    dialog.vault.close()
    Vault.unlock(enclave_home, "new passphrase here").close()


def test_lock_and_unlock_the_window(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    conversation = session.vault.conversations.create("secret plans")
    window.chat.reload()
    window.lock()
    assert session.vault.is_locked and not window.centralWidget().isVisible()
    qtbot.waitUntil(lambda: getattr(window, "unlock_dialog", None) is not None and window.unlock_dialog.isVisible())
    dialog = window.unlock_dialog
    dialog.passphrase.setText("wrong one")
    with qtbot.waitSignal(dialog.attempt_failed, timeout=10_000):
        dialog.try_unlock()
    dialog.passphrase.setText(PASSPHRASE)
    with qtbot.waitSignal(window.unlocked, timeout=10_000):
        dialog.try_unlock()
    assert not session.vault.is_locked and window.centralWidget().isVisible()
    assert window.chat.conversation_id == conversation.id


def test_idle_time_locks(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    window._autolock_changed(1)
    window.activity.last_input -= 30
    window.check_idle()
    assert not window.is_locked
    window.activity.last_input -= 31
    window.check_idle()
    assert window.is_locked and session.vault.is_locked
    qtbot.waitUntil(lambda: getattr(window, "unlock_dialog", None) is not None)
    window.unlock_dialog.passphrase.setText(PASSPHRASE)
    with qtbot.waitSignal(window.unlocked, timeout=10_000):
        window.unlock_dialog.try_unlock()


def _enter_in_focused_field(qtbot, dialog, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type and press Enter as a person does: the window active and the field focused."""
    dialog.activateWindow()
    qtbot.waitActive(dialog)
    dialog.passphrase.setFocus()
    qtbot.waitUntil(dialog.passphrase.hasFocus)
    dialog.passphrase.setText(text)
    qtbot.keyClick(dialog.passphrase, Qt.Key.Key_Return)


def test_enter_never_quits_the_unlock_dialog(qtbot, enclave_home: Path, vault) -> None:  # type: ignore[no-untyped-def]
    vault.close()
    dialog = UnlockDialog(enclave_home)
    qtbot.addWidget(dialog)
    dialog.show()
    rejected: list[int] = []
    dialog.rejected.connect(lambda: rejected.append(1))
    with qtbot.waitSignal(dialog.attempt_failed, timeout=10_000):
        _enter_in_focused_field(qtbot, dialog, "wrong passphrase")
    assert not rejected and dialog.isVisible() and dialog.passphrase.hasFocus()
    with qtbot.waitSignal(dialog.unlocked, timeout=10_000):
        _enter_in_focused_field(qtbot, dialog, PASSPHRASE)
    assert not rejected and dialog.result() == dialog.DialogCode.Accepted
    dialog.vault.close()


def test_lock_screen_enter_unlocks_and_quit_asks(qtbot, window, session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMessageBox

    window.lock()
    qtbot.waitUntil(lambda: getattr(window, "unlock_dialog", None) is not None and window.unlock_dialog.isVisible())
    dialog = window.unlock_dialog
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kw: asked.append(args[1]) or QMessageBox.StandardButton.Cancel)
    with qtbot.waitSignal(dialog.attempt_failed, timeout=10_000):
        _enter_in_focused_field(qtbot, dialog, "wrong passphrase")
    assert not asked and window.isVisible() and window.is_locked
    # Quit (or Escape) asks first; cancelled, the lock screen stays.
    dialog.quit.click()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert len(asked) == 2 and dialog.isVisible() and window.isVisible()
    with qtbot.waitSignal(window.unlocked, timeout=10_000):
        _enter_in_focused_field(qtbot, dialog, PASSPHRASE)
    assert not session.vault.is_locked and window.isVisible()


def test_a_server_stopped_while_locked_is_audited(qtbot, session, enclave_home: Path) -> None:  # type: ignore[no-untyped-def]
    from engine.api.server import ApiServer
    from engine.policy import audit_events

    server = ApiServer(session.engine, port=0)
    server.start()
    session.vault.lock()
    server.stop()  # quitting from the lock screen: the vault cannot be written now
    assert (enclave_home / audit_events.PENDING).exists()
    audit_events.resume(session.vault, PASSPHRASE, actor="gui")
    entries = session.vault.audit.entries()
    stops = [e for e in entries if e.event == "server_stop"]
    assert len(stops) == 1 and stops[0].actor == "gui" and "at" in stops[0].details
    assert stops[0].details["bind"] == server.bind_address
    assert not (enclave_home / audit_events.PENDING).exists()


def test_closing_the_locked_window_asks_too(qtbot, window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QCloseEvent
    from PySide6.QtWidgets import QMessageBox

    class ByTheUser(QCloseEvent):
        def spontaneous(self) -> bool:  # as the window manager's close box sends it
            return True

    window.lock()
    qtbot.waitUntil(lambda: getattr(window, "unlock_dialog", None) is not None)
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: answers.pop(0))
    declined = ByTheUser()
    window.closeEvent(declined)
    assert not declined.isAccepted() and len(answers) == 1
    confirmed = ByTheUser()
    window.closeEvent(confirmed)
    assert confirmed.isAccepted() and not answers
