"""Backup and restore from the desktop: the same engine operations as `enclave vault backup | restore`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.dialogs.confirm import TypedConfirmDialog
from app.operations import privacy as privacy_ops
from app.removable import suggested_folder
from app.session import Session
from app.widgets import error_text, human_size, muted, named
from app.workers import Task
from engine.vault import Vault


class RestoreDialog(TypedConfirmDialog):
    """Confirm a restore (type RESTORE) and give the passphrase that opens the backup."""

    def __init__(self, backup: Path, parent: QWidget | None = None) -> None:
        stat = backup.stat()
        message = QCoreApplication.translate(
            "RestoreDialog",
            "Everything in Enclave is replaced by the backup “{name}” ({size}, written {date}). Conversations "
            "and settings made since then are lost; a copy of the current vault is kept in the Backups folder.",
        ).format(name=backup.name, size=human_size(stat.st_size),
                 date=dt.datetime.fromtimestamp(stat.st_mtime).strftime("%Y-%m-%d %H:%M"))
        super().__init__(QCoreApplication.translate("RestoreDialog", "Restore from a backup"), message,
                         QCoreApplication.translate("RestoreDialog", "RESTORE"),
                         QCoreApplication.translate("RestoreDialog", "Restore"), parent)
        self.setMinimumWidth(460)
        self.passphrase = named(QLineEdit(), self.tr("Passphrase of the backup"))
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText(self.tr("Passphrase of the backup"))
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(layout.count() - 1, self.passphrase)
        self.field.textChanged.connect(lambda _: self._update())
        self.passphrase.textChanged.connect(lambda _: self._update())
        self._update()

    def _update(self) -> None:
        self.ok.setEnabled(self.field.text().strip() == self.word and bool(self.passphrase.text()))


class BackupPanel(QGroupBox):
    """Write an encrypted backup to a folder or removable drive (with progress); restore one."""

    notice = Signal(str, bool)  # a result to show where the eye is (text, is_error)
    restored = Signal(object)  # the restored, open Vault
    finished = Signal(object)  # the backup path, or the exception (for tests)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Backup"), parent)
        self.session = session
        self.backup_button = named(QPushButton(theme.icon("export"), self.tr("Back up…")),
                                   self.tr("Write an encrypted backup"))
        self.restore_button = named(QPushButton(theme.icon("import"), self.tr("Restore…")),
                                    self.tr("Restore from a backup"))
        self.progress = named(QProgressBar(), self.tr("Backup progress"))
        self.progress.hide()
        self.status = muted("")
        named(self.status, self.tr("Backup status"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.backup_button)
        buttons.addWidget(self.restore_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(muted(self.tr(
            "A backup is one encrypted file: it opens with your passphrase or the recovery key. Keep it on "
            "a USB drive or another machine, not only here.")))
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.backup_button.clicked.connect(self.choose_backup)
        self.restore_button.clicked.connect(self.choose_restore)

    def _busy(self, busy: bool) -> None:
        self.backup_button.setEnabled(not busy)
        self.restore_button.setEnabled(not busy)
        self.progress.setVisible(busy)

    # -- backup --------------------------------------------------------------------------------------

    def choose_backup(self) -> None:
        """Ask for a folder (a removable drive when one is plugged in), then write the backup there."""
        folder, removable = suggested_folder()
        if not removable:
            self.status.setText(self.tr("No removable drive found: choose a folder on another disk if you can."))
        chosen = QFileDialog.getExistingDirectory(self, self.tr("Back up to folder"), str(folder))
        if chosen:
            self.backup_to(Path(chosen))

    def backup_to(self, folder: Path) -> Task:
        """Write `enclave-backup-<time>.db` into `folder` in the background, with progress."""
        self._busy(True)
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status.setText(self.tr("Backing up…"))
        return privacy_ops.backup(self, self.session, folder).on_progress(self._progressed).on_success(
            self._backed_up).on_failure(self._backup_failed).start()

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setValue(int(100 * done / total) if total else 0)

    def _backed_up(self, path: Path) -> None:
        self._busy(False)
        text = self.tr("Backup written to {path} (encrypted, {size}).").format(
            path=path, size=human_size(path.stat().st_size))
        if privacy_ops.on_the_vaults_drive(self.session, path):
            text += " " + self.tr("It is on the same drive as the vault: copy it to another disk too.")
        self.status.setText(text)
        self.notice.emit(text, False)
        self.finished.emit(path)

    def _backup_failed(self, exc: BaseException) -> None:
        self._busy(False)
        text = self.tr("Backup failed: {error}").format(error=error_text(exc))
        self.status.setText(text)
        self.notice.emit(text, True)
        self.finished.emit(exc)

    # -- restore -------------------------------------------------------------------------------------

    def choose_restore(self) -> None:
        """Pick a backup file, confirm, then restore it."""
        folder, _ = suggested_folder()
        name, _ = QFileDialog.getOpenFileName(self, self.tr("Restore from a backup"), str(folder),
                                              self.tr("Enclave backups (*.db);;All files (*)"))
        if not name:
            return
        dialog = RestoreDialog(Path(name), self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.restore_from(Path(name), dialog.passphrase.text())

    def restore_from(self, path: Path, passphrase: str) -> Task | None:
        """Replace the vault with the backup at `path` (checked first; nothing changes if it is bad)."""
        if privacy_ops.restore_blocked(self.session):
            text = self.tr("Stop the server before restoring: its clients use the current vault.")
            self.notice.emit(text, True)
            return None
        self._busy(True)
        self.progress.setRange(0, 0)  # no measure: a moving bar while it copies and checks
        self.status.setText(self.tr("Checking and restoring the backup…"))
        return privacy_ops.restore(self, self.session, path, passphrase).on_success(
            lambda restored: self._restored(path, restored)).on_failure(self._restore_failed).start()

    def _restored(self, path: Path, vault: Vault) -> None:
        self._busy(False)
        text = self.tr("Restored from {name}. The replaced vault was kept in the Backups folder.").format(
            name=path.name)
        self.status.setText(text)
        self.restored.emit(vault)
        self.notice.emit(text, False)
        self.finished.emit(path)

    def _restore_failed(self, exc: BaseException) -> None:
        self._busy(False)
        from engine.vault.errors import WrongPassphrase

        if isinstance(exc, WrongPassphrase):
            text = self.tr("That passphrase does not open the backup; nothing was changed.")
        else:
            text = self.tr("Restore failed: {error}").format(error=error_text(exc))
        self.status.setText(text)
        self.notice.emit(text, True)
        self.finished.emit(exc)

    def apply_icons(self) -> None:
        """Re-tint icons after a light/dark switch."""
        self.backup_button.setIcon(theme.icon("export"))
        self.restore_button.setIcon(theme.icon("import"))
