"""Issue 25, items 9 and 12 in the GUI: results shown at the top, the audit count matching the table,
the recovery key saved away from this machine, and backup/restore through the engine's operations."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from app import removable
from app.dialogs.passphrase import ChangePassphraseDialog
from app.dialogs.wizard import FirstRunWizard
from engine.vault import Vault
from tests.gui.conftest import PASSPHRASE


def test_export_and_passphrase_results_show_at_the_top(qtbot, window, session, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    view = window.privacy
    window.show_view("privacy")
    session.vault.conversations.create("alpha")
    assert view.banner.isHidden()
    target = tmp_path / "export.json"
    with qtbot.waitSignal(view.export_finished, timeout=10_000):
        view.export(target, None)
    assert not view.banner.isHidden() and str(target) in view.banner.text() and "not encrypted" in view.banner.text()
    # At the top of the view: above the scrolled columns, visible without scrolling.
    assert view.banner.mapTo(view, view.banner.rect().topLeft()).y() < 120

    def change(dialog: ChangePassphraseDialog) -> int:
        dialog.current.setText(PASSPHRASE)
        dialog.fields.first.setText("another long passphrase")
        dialog.fields.second.setText("another long passphrase")
        with qtbot.waitSignal(dialog.accepted, timeout=10_000):
            dialog._change()
        return 1

    monkeypatch.setattr(ChangePassphraseDialog, "exec", change)
    view._change_passphrase()
    assert "Passphrase changed" in view.banner.text()
    view.banner.close_button.click()
    assert view.banner.text() == ""


def test_verify_count_matches_the_table(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    view = window.privacy
    view.refresh()
    session.vault.conversations.create("appended after the table was drawn")  # the table is now stale
    session.vault.audit.append("report", actor="gui")
    with qtbot.waitSignal(view.audit_verified, timeout=10_000):
        qtbot.mouseClick(view.verify, Qt.MouseButton.LeftButton)
    rows = view.audit.rowCount()
    assert rows == len(session.vault.audit.entries())
    assert f"all {rows} entries" in view.audit_status.text()


def test_recovery_key_defaults_to_a_removable_drive_and_says_where_it_went(  # type: ignore[no-untyped-def]
    qtbot, enclave_home: Path, registry, fast_kdf, tmp_path: Path, monkeypatch
) -> None:
    wizard = FirstRunWizard(enclave_home, registry, kdf=fast_kdf, prepare_demo=False)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    wizard.passphrase_page.fields.first.setText(PASSPHRASE)
    wizard.passphrase_page.fields.second.setText(PASSPHRASE)
    with qtbot.waitSignal(wizard.vault_created, timeout=10_000):
        wizard.next()
    page = wizard.recovery_page
    usb = tmp_path / "usb-stick"
    usb.mkdir()
    monkeypatch.setattr(removable, "removable_drives", lambda: [usb])
    path, is_removable = page.default_save_path()
    assert path.parent == usb and is_removable
    assert page.save_to(path)
    assert wizard.recovery_key in path.read_text() and (path.stat().st_mode & 0o777) == 0o600
    assert str(path) in page.saved.text()
    # With no removable drive: the home folder, and a warning when the key lands beside the vault.
    monkeypatch.setattr(removable, "removable_drives", lambda: [])
    path, is_removable = page.default_save_path()
    assert path.parent == Path.home() and not is_removable
    beside = enclave_home / "key.txt"
    assert page.save_to(beside)
    assert "same drive" in page.saved.text() and page.saved.objectName() == "errorLabel"
    wizard.vault.close()


def test_backup_and_restore_from_the_privacy_view(qtbot, window, session, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.views.backup import RestoreDialog

    panel = window.privacy.backup
    window.show_view("privacy")
    kept = session.vault.conversations.create("in the backup")
    drive = tmp_path / "drive"
    drive.mkdir()
    progress: list[int] = []
    with qtbot.waitSignal(panel.finished, timeout=20_000) as done:
        task = panel.backup_to(drive)
        task.on_progress(lambda d, t: progress.append(d))
    backup = done.args[0]
    assert isinstance(backup, Path) and backup.parent == drive and backup.name.startswith("enclave-backup-")
    assert progress and str(backup) in window.privacy.banner.text()
    assert session.vault.audit.entries()[-1].event == "backup"
    later = session.vault.conversations.create("made after the backup")
    window.chat.reload()

    # The confirmation needs the word and the backup's passphrase.
    dialog = RestoreDialog(backup, window)
    qtbot.addWidget(dialog)
    assert any(backup.name in label.text() for label in dialog.findChildren(QLabel))
    dialog.field.setText("RESTORE")
    assert not dialog.ok.isEnabled()
    dialog.passphrase.setText(PASSPHRASE)
    assert dialog.ok.isEnabled()

    # A wrong passphrase changes nothing.
    with qtbot.waitSignal(panel.finished, timeout=20_000):
        panel.restore_from(backup, "wrong passphrase")
    assert "does not open" in window.privacy.banner.text() and not session.vault.is_locked
    assert {c.id for c in session.vault.conversations.list()} == {kept.id, later.id}

    old = session.vault
    with qtbot.waitSignal(panel.restored, timeout=20_000):
        panel.restore_from(backup, PASSPHRASE)
    assert session.vault is not old and old.is_locked
    assert [c.id for c in session.vault.conversations.list()] == [kept.id]
    assert "Restored" in window.privacy.banner.text()
    assert window.privacy.conversation.count() == 1  # the views read the restored vault
    assert session.vault.audit.entries()[-1].event == "restore"
    session.vault.close()
    Vault.unlock(session.home, PASSPHRASE).close()  # the restored file opens on its own
