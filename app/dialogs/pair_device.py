"""Pair a device with this server: a key with its rules, and the one-time code (text and QR) that carries it."""

from __future__ import annotations

import io
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.dialogs.secret import SecretBox
from app.session import ACTOR
from app.widgets import error_text, muted, named
from engine.pairing.appliance import create_pairing


def qr_pixmap(text: str, scale: int = 4) -> QPixmap | None:
    """`text` as a QR code image, or None when segno is not installed."""
    try:
        import segno
    except ImportError:
        return None
    buffer = io.BytesIO()
    segno.make(text, error="l").save(buffer, kind="png", scale=scale, border=2)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


class PairDeviceDialog(QDialog):
    """Name the device and its models; then show its code once (it holds the device's key)."""

    def __init__(self, vault: Any, model_names: list[str], url: str, fingerprint: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vault = vault
        self.fingerprint = fingerprint
        self.code: str | None = None
        self.setWindowTitle(self.tr("Pair a device"))
        self.setMinimumWidth(560)
        self.name = named(QLineEdit(), self.tr("Device name"))
        self.name.setPlaceholderText(self.tr("e.g. alice-laptop"))
        self.url = named(QLineEdit(url), self.tr("Address devices reach this server at"))
        self.models = named(QListWidget(), self.tr("Models this device may use"))
        for model in model_names:
            item = QListWidgetItem(model)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.models.addItem(item)
        self.models.setMaximumHeight(110)
        self.log_content = named(QCheckBox(self.tr("Keep the device's prompts and replies in the request log")),
                                 self.tr("Log request content"))
        form = QFormLayout()
        form.addRow(self.tr("Device:"), self.name)
        form.addRow(self.tr("Address:"), self.url)
        form.addRow(self.tr("Models:"), self.models)
        form.addRow("", muted(self.tr("Check none to allow every model.")))
        form.addRow("", self.log_content)
        form.addRow("", muted(self.tr("Off by default: the server then logs who asked what model when, "
                                      "never the text.")))
        self.message = QLabel()
        self.message.setObjectName("errorLabel")
        self.message.setWordWrap(True)
        self.form_box = QWidget()
        self.form_box.setLayout(form)

        self.secret_box = SecretBox("", self.tr("Pairing code"), self.tr("Copy code"))
        self.code_label, self.copy = self.secret_box.label, self.secret_box.copy
        self.qr = named(QLabel(), self.tr("Pairing code as a QR code"))
        self.result_box = QWidget()
        result = QVBoxLayout(self.result_box)
        result.setContentsMargins(0, 0, 0, 0)
        result.addWidget(muted(self.tr(
            "Enter this code on the device (“Connect to your organisation's server”) within 24 hours. It "
            "works only once: the device exchanges it for its own key.")))
        result.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        result.addWidget(self.secret_box)
        self.result_box.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(self.tr("Create code"))
        named(self.ok, self.tr("Create code"))
        named(self.buttons.button(QDialogButtonBox.StandardButton.Cancel), self.tr("Cancel"))
        self.buttons.accepted.connect(self.create)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form_box)
        layout.addWidget(self.result_box)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.name.textChanged.connect(lambda text: self.ok.setEnabled(bool(text.strip())))
        self.ok.setEnabled(False)

    def chosen_models(self) -> list[str] | None:
        """The checked models, or None for all."""
        names = [self.models.item(i).text() for i in range(self.models.count())
                 if self.models.item(i).checkState() == Qt.CheckState.Checked]
        return names or None

    def create(self) -> None:
        """Record the device's pairing and show its one-time code (the engine audits it)."""
        if self.code is not None:
            self.accept()
            return
        try:
            _, self.code = create_pairing(
                self.vault, self.name.text().strip(), url=self.url.text().strip(), fingerprint=self.fingerprint,
                models=self.chosen_models(), log_content=self.log_content.isChecked(), actor=ACTOR,
            )
        except Exception as exc:  # noqa: BLE001 (a bad name or URL is explained in place)
            self.message.setText(error_text(exc))
            return
        self.message.clear()
        self.form_box.hide()
        self.secret_box.set_text(self.code)
        pixmap = qr_pixmap(self.code)
        if pixmap is not None:
            self.qr.setPixmap(pixmap)
        self.qr.setVisible(pixmap is not None)
        self.result_box.show()
        self.ok.setText(self.tr("Done"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).hide()
