"""Unlocking the vault (at start and after auto-lock) and the recovery-key flow for a lost passphrase."""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6.QtCore import QPropertyAnimation, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.dialogs.passphrase import PassphraseFields
from app.session import ACTOR
from app.widgets import error_text, muted, named, shake
from app.workers import run_task
from engine.policy import audit_events
from engine.vault import Vault, remember
from engine.vault.errors import VaultInUse, WrongPassphrase, WrongRecoveryKey


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.35)
    font.setBold(True)
    label.setFont(font)
    return label


class UnlockDialog(QDialog):
    """Ask for the passphrase; the Argon2id derivation runs in a worker so the window stays live.

    With `vault` given (auto-lock), it resumes that open vault instead of opening the file again.
    """

    unlocked = Signal()
    attempt_failed = Signal(str)

    def __init__(self, home: Path, parent: QWidget | None = None, *, vault: Vault | None = None) -> None:
        super().__init__(parent)
        self.home = Path(home)
        self.vault: Vault | None = vault
        self._resume = vault is not None
        self._shake: QPropertyAnimation | None = None
        self.setWindowTitle(self.tr("Unlock Enclave"))
        self.setWindowIcon(theme.app_icon())
        self.setMinimumWidth(420)
        header = self._build_header()
        intro = muted(
            self.tr("Your conversations are encrypted on this computer. Enter your passphrase to open them.")
        )
        self._build_entry()
        buttons = self._build_buttons()
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(intro)
        layout.addSpacing(8)
        layout.addWidget(self.passphrase)
        layout.addWidget(self.remember)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        self.unlock_button.clicked.connect(self.try_unlock)
        self.passphrase.returnPressed.connect(self.try_unlock)
        self.quit.clicked.connect(self.reject)
        self.forgot.clicked.connect(self._forgot)
        self.locked_screen = vault is not None  # the lock screen of a running session, not the start

    def _build_header(self) -> QHBoxLayout:
        """The logo and the title."""
        logo = QLabel()
        logo.setPixmap(theme.app_icon().pixmap(56, 56))
        title = _heading(self.tr("Enclave is locked") if self._resume else self.tr("Unlock Enclave"))
        header = QHBoxLayout()
        header.addWidget(logo)
        header.addWidget(title, 1)
        return header

    def _build_entry(self) -> None:
        """The passphrase field, the remember box and the status line."""
        self.passphrase = named(QLineEdit(), self.tr("Passphrase"))
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText(self.tr("Passphrase"))
        self.message = QLabel()
        self.message.setObjectName("errorLabel")
        self.message.setWordWrap(True)
        named(self.message, self.tr("Unlock status"))
        # Off by default: whoever can log in as this user could then open the vault without a passphrase.
        self.remember = named(QCheckBox(self.tr("Remember on this device")),
                              self.tr("Remember the passphrase on this device"))
        self._can_remember = remember.available()
        if self._can_remember:
            self.remember.setToolTip(self.tr(
                "Keeps the passphrase in the system keyring, so Enclave opens without asking. Anyone who "
                "can log in as you can then open it. Privacy → Forget this device undoes it."))
        else:
            self.remember.setEnabled(False)
            self.remember.setToolTip(self.tr("This system has no keyring to keep the passphrase in."))

    def _build_buttons(self) -> QHBoxLayout:
        """Forgot passphrase…, Quit and Unlock (the default)."""
        self.forgot = named(QPushButton(self.tr("Forgot passphrase…")), self.tr("Forgot passphrase"))
        self.forgot.setFlat(True)
        self.quit = named(QPushButton(self.tr("Quit")), self.tr("Quit"))
        self.unlock_button = named(QPushButton(self.tr("Unlock")), self.tr("Unlock"))
        self.unlock_button.setDefault(True)
        # Enter disables the field while the key is derived, and Qt hands focus to the next button: an
        # auto-default Quit would then take the very same Enter press and close the app.
        for button in (self.forgot, self.quit):
            button.setAutoDefault(False)
            button.setDefault(False)
        self.unlock_button.setIcon(theme.icon("lock"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.forgot)
        buttons.addStretch(1)
        buttons.addWidget(self.quit)
        buttons.addWidget(self.unlock_button)
        return buttons

    def reject(self) -> None:
        """Quit (Quit, Escape, the window's close box); on the lock screen only once it is confirmed."""
        if self.locked_screen and not self.confirm_quit():
            return
        super().reject()

    def confirm_quit(self) -> bool:
        """Ask before quitting from the lock screen: it closes the app and stops a running server."""
        answer = QMessageBox.question(
            self, self.tr("Quit Enclave?"),
            self.tr("Quitting closes Enclave. A running API server stops too, and programs using it are "
                    "refused until Enclave runs again."),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def try_unlock(self) -> None:
        """Derive the key from the typed passphrase in the background."""
        passphrase = self.passphrase.text()
        if not passphrase or not self.unlock_button.isEnabled():
            return
        self._busy(True)
        self.message.setObjectName("mutedLabel")
        self.message.setText(self.tr("Unlocking…"))
        home, vault, keep = self.home, self.vault, self.remember.isChecked()
        resume = self._resume and vault is not None

        def unlock(_ctx: object) -> Vault:
            if resume and vault is not None:
                audit_events.resume(vault, passphrase, actor=ACTOR)  # chains what was queued while locked
                opened = vault
            else:
                opened = audit_events.unlock(home, passphrase, actor=ACTOR)
            if keep:  # only once the passphrase proved right; a keyring call may block, so not on the GUI thread
                # The vault is open either way: a keyring that refuses only means asking again next time.
                with contextlib.suppress(Exception):
                    remember.remember(home, passphrase)
            return opened

        run_task(self, unlock, self._done, self._failed)

    def _busy(self, busy: bool) -> None:
        if busy:
            # Keep the keyboard on this dialog while its controls are disabled, not on Quit.
            self.setFocus(Qt.FocusReason.OtherFocusReason)
        for control in (self.passphrase, self.unlock_button, self.forgot):
            control.setEnabled(not busy)
        self.remember.setEnabled(self._can_remember and not busy)

    def _done(self, vault: Vault) -> None:
        self.vault = vault
        self.passphrase.clear()
        self.unlocked.emit()
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        self.message.setObjectName("errorLabel")
        if isinstance(exc, WrongPassphrase):
            text = self.tr("Wrong passphrase. Try again.")
            self._shake = shake(self)
        elif isinstance(exc, VaultInUse):
            text = self.tr("Enclave is already open in another window or program (process {pid}).").format(
                pid=exc.pid or "?"
            )
        else:
            text = error_text(exc)
        self.message.setText(text)
        self.message.style().polish(self.message)
        self.passphrase.selectAll()
        self.passphrase.setFocus()
        self.attempt_failed.emit(text)

    def _forgot(self) -> None:
        if self._resume and self.vault is not None:
            # The recovery flow opens the file afresh, so this process must let go of it first.
            self.vault.close()
        dialog = RecoveryDialog(self.home, self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.vault is not None:
            self._done(dialog.vault)
        elif self._resume:
            self._resume = False  # the old handle is closed: unlock opens the file again
            self.vault = None


class RecoveryDialog(QDialog):
    """Open the vault with the recovery key and choose a new passphrase."""

    def __init__(self, home: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.home = Path(home)
        self.vault: Vault | None = None
        self.setWindowTitle(self.tr("Recover with your recovery key"))
        self.setMinimumWidth(480)
        intro = muted(
            self.tr(
                "Enter the recovery key you were shown when Enclave was set up, then choose a new "
                "passphrase. Without the passphrase or the recovery key nobody can open your data, "
                "not even us."
            )
        )
        self.key = named(QLineEdit(), self.tr("Recovery key"))
        self.key.setPlaceholderText(self.tr("XXXXX-XXXXX-XXXXX-…"))
        self.fields = PassphraseFields()
        self.message = QLabel()
        self.message.setObjectName("errorLabel")
        self.message.setWordWrap(True)
        self.cancel = named(QPushButton(self.tr("Cancel")), self.tr("Cancel"))
        self.reset = named(QPushButton(self.tr("Reset passphrase")), self.tr("Reset passphrase"))
        self.reset.setDefault(True)
        form = QFormLayout()
        form.addRow(self.tr("Recovery key:"), self.key)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.reset)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.fields)
        layout.addWidget(self.message, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(buttons)
        self.cancel.clicked.connect(self.reject)
        self.reset.clicked.connect(self._recover)
        self.fields.changed.connect(self._update)
        self.key.textChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.reset.setEnabled(bool(self.key.text().strip()) and self.fields.is_valid())

    def _recover(self) -> None:
        key, new, home = self.key.text().strip(), self.fields.passphrase(), self.home
        self.reset.setEnabled(False)
        self.message.setText(self.tr("Checking the recovery key…"))
        run_task(self, lambda ctx: Vault.unlock_with_recovery(home, key, new), self._done, self._failed)

    def _done(self, vault: Vault) -> None:
        self.vault = vault
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, WrongRecoveryKey):
            self.message.setText(self.tr("That recovery key does not open this vault. Check it and try again."))
            shake(self)
        else:
            self.message.setText(error_text(exc))
        self._update()
