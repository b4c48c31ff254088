"""Pair a device with this server: a key with its rules, and the one-time code (text and QR) that carries it."""

from __future__ import annotations

import io

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.dialogs.parts import ModelChecklist, SecretBox, error_label, ok_cancel
from app.operations import server as server_ops
from app.session import Session
from app.widgets import error_text, muted, named
from app.workers import Task


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

    def __init__(self, session: Session, model_names: list[str], url: str, fingerprint: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.task: Task | None = None
        self.fingerprint = fingerprint
        self.code: str | None = None
        self.setWindowTitle(self.tr("Pair a device"))
        self.setMinimumWidth(560)
        self.form_box = self._build_form(model_names, url)
        self.result_box = self._build_result()
        self.message = error_label()
        self.buttons, self.ok = ok_cancel(self, self.tr("Create code"), self.tr("Cancel"), self.create, self.name)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form_box)
        layout.addWidget(self.result_box)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def _build_form(self, model_names: list[str], url: str) -> QWidget:
        """The device's name, the address it reaches this server at, its models and its log rule."""
        self.name = named(QLineEdit(), self.tr("Device name"))
        self.name.setPlaceholderText(self.tr("e.g. alice-laptop"))
        self.url = named(QLineEdit(url), self.tr("Address devices reach this server at"))
        self.models = ModelChecklist(model_names, self.tr("Models this device may use"))
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
        box = QWidget()
        box.setLayout(form)
        return box

    def _build_result(self) -> QWidget:
        """The one-time code as text and QR code, hidden until it exists."""
        self.secret_box = SecretBox("", self.tr("Pairing code"), self.tr("Copy code"))
        self.code_label, self.copy = self.secret_box.label, self.secret_box.copy
        self.qr = named(QLabel(), self.tr("Pairing code as a QR code"))
        box = QWidget()
        result = QVBoxLayout(box)
        result.setContentsMargins(0, 0, 0, 0)
        result.addWidget(muted(self.tr(
            "Enter this code on the device (“Connect to your organisation's server”) within 24 hours. It "
            "works only once: the device exchanges it for its own key.")))
        result.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        result.addWidget(self.secret_box)
        box.hide()
        return box

    def chosen_models(self) -> list[str] | None:
        """The checked models, or None for all."""
        return self.models.chosen()

    def create(self) -> None:
        """Record the device's pairing in the background, then show its one-time code (the engine audits it)."""
        if self.code is not None:
            self.accept()
            return
        if self.task is not None:
            return
        task = server_ops.pair_device(
            self, self.session, self.name.text().strip(), url=self.url.text().strip(), fingerprint=self.fingerprint,
            models=self.chosen_models(), log_content=self.log_content.isChecked(),
        )
        self.ok.setEnabled(False)
        self.task = task.on_success(self._show_code).on_failure(self._failed).start()

    def _failed(self, exc: BaseException) -> None:
        """A bad name or URL is explained in place; the form stays as typed."""
        self.task = None
        self.ok.setEnabled(True)
        self.message.setText(error_text(exc))

    def _show_code(self, code: str) -> None:
        self.task = None
        self.code = code
        self.ok.setEnabled(True)
        self.message.clear()
        self.form_box.hide()
        self.secret_box.set_text(code)
        pixmap = qr_pixmap(code)
        if pixmap is not None:
            self.qr.setPixmap(pixmap)
        self.qr.setVisible(pixmap is not None)
        self.result_box.show()
        self.ok.setText(self.tr("Done"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).hide()
