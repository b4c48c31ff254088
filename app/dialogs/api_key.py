"""Creating an API key with its rules, and showing its secret exactly once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QDate
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.dialogs.parts import ModelChecklist, SecretBox, error_label, ok_cancel
from app.views.snippets import export_lines
from app.widgets import CopyButton, error_text, muted, named
from engine.policy.keys import MAX_EXPIRY_DAYS, expiry_after

DEFAULT_EXPIRY_DAYS = 90  # what the date picker suggests once expiry is ticked


class CreateKeyDialog(QDialog):
    """Name the key, limit it to models, requests per minute and tokens per day; then issue it."""

    def __init__(self, keys: Any, model_names: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.keys = keys  # the desktop engine's `engine.keys`: it issues and audits in the desktop's name
        self.record: Any = None
        self.secret: str | None = None
        self.setWindowTitle(self.tr("Create an API key"))
        self.name = named(QLineEdit(), self.tr("Key name"))
        self.name.setPlaceholderText(self.tr("e.g. finance-reports"))
        self.models = ModelChecklist(model_names, self.tr("Models this key may use"))
        self._build_limits()
        form = self._build_form(self._build_expiry())
        self.message = error_label()
        self.buttons, self.ok = ok_cancel(self, self.tr("Create key"), self.tr("Cancel"), self.issue, self.name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def _build_limits(self) -> None:
        """Requests per minute, tokens per day and whether the log keeps texts."""
        self.rpm = named(QSpinBox(), self.tr("Requests per minute"))
        self.rpm.setRange(0, 100_000)
        self.rpm.setSpecialValueText(self.tr("no limit"))
        self.tokens = named(QSpinBox(), self.tr("Tokens per day"))
        self.tokens.setRange(0, 2_000_000_000)
        self.tokens.setSingleStep(10_000)
        self.tokens.setSpecialValueText(self.tr("no limit"))
        # Off by default (privacy by design): the log keeps who, when, which model and token counts.
        self.store = named(QCheckBox(self.tr("Also keep the full prompt and reply texts (encrypted)")),
                           self.tr("Store request content"))
        self.store.setChecked(False)
        self.store.setToolTip(self.tr(
            "Without it the request log keeps only metadata: time, key, model, status and token counts."))

    def _build_expiry(self) -> QHBoxLayout:
        """The expiry check box and the last day the key works."""
        self.expires = named(QCheckBox(self.tr("Expires after")), self.tr("The key expires"))
        self.expiry = named(QDateEdit(), self.tr("Last day the key works"))
        self.expiry.setCalendarPopup(True)
        today = QDate.currentDate()
        self.expiry.setMinimumDate(today)
        self.expiry.setMaximumDate(today.addDays(MAX_EXPIRY_DAYS - 1))
        self.expiry.setDate(today.addDays(DEFAULT_EXPIRY_DAYS))
        self.expiry.setEnabled(False)
        self.expires.toggled.connect(self.expiry.setEnabled)
        expiry_row = QHBoxLayout()
        expiry_row.addWidget(self.expires)
        expiry_row.addWidget(self.expiry)
        expiry_row.addStretch(1)
        return expiry_row

    def _build_form(self, expiry_row: QHBoxLayout) -> QFormLayout:
        """The rows of the form, labelled."""
        form = QFormLayout()
        form.addRow(self.tr("Name:"), self.name)
        form.addRow(self.tr("Models:"), self.models)
        form.addRow("", muted(self.tr("Check none to allow every model.")))
        form.addRow(self.tr("Requests/minute:"), self.rpm)
        form.addRow(self.tr("Tokens/day:"), self.tokens)
        form.addRow(self.tr("Request log:"), self.store)
        form.addRow(self.tr("Expiry:"), expiry_row)
        form.addRow("", muted(self.tr("An expired key is refused with a message saying so; "
                                      "it works through the chosen day (UTC).")))
        return form

    def chosen_models(self) -> list[str] | None:
        """The checked models, or None for all."""
        return self.models.chosen()

    def expires_at(self) -> datetime | None:
        """When the key stops working (the start of the day after the chosen one, UTC), or None."""
        if not self.expires.isChecked():
            return None
        return expiry_after(self.expiry.date().toPython())

    def issue(self) -> None:
        """Issue the key (audited by the engine); the secret is kept only to show it once."""
        try:
            self.record, self.secret = self.keys.create(
                self.name.text().strip(),
                models=self.chosen_models(),
                rpm=self.rpm.value() or None,
                tokens_per_day=self.tokens.value() or None,
                store_content=self.store.isChecked(),
                expires_at=self.expires_at(),
            )
        except Exception as exc:  # noqa: BLE001 (a duplicate name etc. is explained in place)
            self.message.setText(error_text(exc))
            return
        self.accept()


class SecretDialog(QDialog):
    """Shows a new key's secret once, with a Copy button; it cannot be shown again."""

    def __init__(self, name: str, secret: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Your new API key"))
        self.setMinimumWidth(560)
        box = SecretBox(secret, self.tr("API key secret"), self.tr("Copy key"))
        self.secret, self.copy = box.label, box.copy
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        named(buttons.button(QDialogButtonBox.StandardButton.Close), self.tr("Close"))
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("Key “{name}” was created.").format(name=name)))
        layout.addWidget(muted(self.tr(
            "Copy it now: this is the only time it is shown. Enclave keeps only a hash of it."
        )))
        layout.addWidget(box)
        # The Server view's examples read the key from $ENCLAVE_API_KEY: these lines put it there.
        layout.addWidget(muted(self.tr(
            "To run the examples on the Server page, first run this line in the same terminal:")))
        posix, powershell = export_lines(secret)
        self.export_line = self._code_line(posix, self.tr("Command that sets the key (Linux, macOS)"))
        self.powershell_line = self._code_line(powershell, self.tr("Command that sets the key (Windows PowerShell)"))
        for label, line in ((self.tr("Linux, macOS:"), self.export_line),
                            (self.tr("Windows PowerShell:"), self.powershell_line)):
            row = QHBoxLayout()
            row.addWidget(QLabel(label))
            row.addWidget(line, 1)
            row.addWidget(CopyButton(line.text, self.tr("Copy command")))
            layout.addLayout(row)
        layout.addWidget(buttons)

    def _code_line(self, text: str, name: str) -> QLineEdit:
        line = named(QLineEdit(text), name)
        line.setReadOnly(True)
        line.setFont(QFont("monospace"))
        line.setCursorPosition(0)
        return line
