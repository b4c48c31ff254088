"""Choosing a passphrase (with a strength hint and a confirmation) and changing it later."""

from __future__ import annotations

import math
import string
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from app.widgets import error_text, named
from app.workers import run_task
from engine.vault import remember

MIN_LENGTH = 8
_COMMON = {"password", "passw0rd", "12345678", "123456789", "qwertyui", "iloveyou", "letmein1", "enclave1"}


def strength(passphrase: str) -> int:
    """0 (too short) to 4 (very strong): a rough estimate of guessing resistance."""
    if len(passphrase) < MIN_LENGTH:
        return 0
    if passphrase.lower() in _COMMON or len(set(passphrase)) <= 3:
        return 1
    pool = 0
    for chars, size in (
        (string.ascii_lowercase, 26),
        (string.ascii_uppercase, 26),
        (string.digits, 10),
        (string.punctuation + " ", 33),
    ):
        if any(c in chars for c in passphrase):
            pool += size
    if any(ord(c) > 127 for c in passphrase):
        pool += 100  # CJK and other scripts: a far larger alphabet
    bits = len(passphrase) * math.log2(max(pool, 2))
    return 1 if bits < 45 else 2 if bits < 65 else 3 if bits < 90 else 4


def strength_text(level: int) -> str:
    """The words shown for a strength level."""
    return (
        QCoreApplication.translate("Passphrase", "Too short: use at least 8 characters"),
        QCoreApplication.translate("Passphrase", "Weak: easy to guess"),
        QCoreApplication.translate("Passphrase", "Fair: a few more words would help"),
        QCoreApplication.translate("Passphrase", "Strong"),
        QCoreApplication.translate("Passphrase", "Very strong"),
    )[level]


class PassphraseFields(QWidget):
    """New passphrase + confirmation + strength meter; `changed` fires on every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.first = named(QLineEdit(), self.tr("New passphrase"))
        self.second = named(QLineEdit(), self.tr("Repeat the passphrase"))
        for field in (self.first, self.second):
            field.setEchoMode(QLineEdit.EchoMode.Password)
            field.textChanged.connect(self._update)
        self.meter = named(QProgressBar(), self.tr("Passphrase strength"))
        self.meter.setRange(0, 4)
        self.meter.setTextVisible(False)
        self.meter.setMaximumHeight(8)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.tr("Passphrase:"), self.first)
        form.addRow("", self.meter)
        form.addRow("", self.hint)
        form.addRow(self.tr("Repeat:"), self.second)
        self._update()

    def passphrase(self) -> str:
        """The passphrase typed (valid or not)."""
        return self.first.text()

    def is_valid(self) -> bool:
        """Long enough and typed the same twice."""
        return strength(self.first.text()) > 0 and self.first.text() == self.second.text()

    def _update(self) -> None:
        text = self.first.text()
        level = strength(text)
        self.meter.setValue(level)
        hint = strength_text(level) if text else self.tr("Use a few unrelated words; longer is stronger.")
        if self.second.text() and self.second.text() != text:
            hint += "\n" + self.tr("The two passphrases differ.")
        self.hint.setText(hint)
        self.changed.emit()


class ChangePassphraseDialog(QDialog):
    """Rewrap the master key under a new passphrase (the KDF runs in a worker)."""

    def __init__(self, vault: object, parent: QWidget | None = None, kdf: object = None,
                 home: Path | None = None) -> None:
        super().__init__(parent)
        self._vault = vault
        self._kdf = kdf
        self._home = home  # set: a passphrase remembered in the keyring for it is replaced too
        self.setWindowTitle(self.tr("Change passphrase"))
        self.current = named(QLineEdit(), self.tr("Current passphrase"))
        self.current.setEchoMode(QLineEdit.EchoMode.Password)
        self.fields = PassphraseFields()
        self.message = QLabel()
        self.message.setObjectName("errorLabel")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(self.tr("Change passphrase"))
        named(self.ok, self.tr("Change passphrase"))
        named(self.buttons.button(QDialogButtonBox.StandardButton.Cancel), self.tr("Cancel"))
        self.buttons.accepted.connect(self._change)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow(self.tr("Current:"), self.current)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.fields)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.fields.changed.connect(self._update)
        self.current.textChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.ok.setEnabled(bool(self.current.text()) and self.fields.is_valid())

    def _change(self) -> None:
        old, new = self.current.text(), self.fields.passphrase()
        self.ok.setEnabled(False)
        self.message.setText(self.tr("Changing…"))
        vault, kdf, home = self._vault, self._kdf, self._home

        def change(_ctx: object) -> None:
            vault.change_passphrase(old, new, kdf=kdf)  # type: ignore[attr-defined]
            # A keyring still holding the old passphrase would fail (and audit a failed unlock) next start.
            if home is not None and remember.recall(home) is not None:
                remember.remember(home, new)

        run_task(self, change, lambda _: self.accept(), self._failed)

    def _failed(self, exc: BaseException) -> None:
        from engine.vault.errors import WrongPassphrase

        if isinstance(exc, WrongPassphrase):
            self.message.setText(self.tr("The current passphrase is wrong; nothing was changed."))
        else:
            self.message.setText(error_text(exc))
        self._update()
