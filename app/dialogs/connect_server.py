"""“Connect to your organisation's server”: paste a pairing code, check what it names, connect.

The dialog only converts: reading the code, pinning the certificate, listing the models and storing
the server encrypted are the engine's (`engine.pairing.remotes`). Connecting contacts the server, so
it runs off the GUI thread; the dialog stays open with the reason when it fails.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.dialogs.parts import error_label, ok_cancel
from app.operations import remotes as remote_ops
from app.session import Session
from app.widgets import error_text, muted, named
from app.workers import Task
from engine.errors import UserError
from engine.pairing.code import PairingCode, decode
from engine.pairing.remotes import RemoteServer, suggested_name


class ConnectServerDialog(QDialog):
    """Paste a code, see the server's name, address and certificate fingerprint, then connect."""

    connected = Signal(object)  # the RemoteServer, once stored

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.code: PairingCode | None = None
        self.remote: RemoteServer | None = None
        self.task: Task | None = None
        self.setWindowTitle(self.tr("Connect to your organisation's server"))
        self.setMinimumWidth(720)
        intro = muted(self.tr(
            "Your administrator creates a pairing code on the server (enclave pair create). Paste it here: "
            "this computer then uses the server's models, and your conversations stay here, encrypted."
        ))
        form = self._build_form()
        self.message = error_label()
        named(self.message, self.tr("Connection status"))
        note = muted(self.tr(
            "Enclave remembers this certificate: if the server ever presents another one, it refuses to "
            "connect and tells you."
        ))
        self.buttons, self.ok = ok_cancel(self, self.tr("Connect"), self.tr("Cancel"), self.connect_server)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.code_edit.textChanged.connect(self._read_code)
        self.name.textChanged.connect(lambda _: self._update_ok())
        self._read_code()

    def _build_form(self) -> QFormLayout:
        """The code field, what the code says about the server, and the name to keep it under."""
        self.code_edit = named(QPlainTextEdit(), self.tr("Pairing code"))
        self.code_edit.setPlaceholderText(self.tr("EP2-…"))
        self.code_edit.setFixedHeight(90)
        mono = QFont("monospace")
        self.code_edit.setFont(mono)
        self.name = named(QLineEdit(), self.tr("Name for this server"))
        self.name.setPlaceholderText(self.tr("e.g. hospital-gpu"))
        self.server = self._value(self.tr("Server"))
        self.url = self._value(self.tr("Address"))
        self.fingerprint = self._value(self.tr("Certificate fingerprint (SHA-256)"))
        self.fingerprint.setFont(mono)
        self.device = self._value(self.tr("This computer is paired as"))
        form = QFormLayout()
        form.addRow(self.tr("Pairing code:"), self.code_edit)
        form.addRow(self.tr("Server:"), self.server)
        form.addRow(self.tr("Address:"), self.url)
        form.addRow(self.tr("Certificate:"), self.fingerprint)
        form.addRow(self.tr("Paired as:"), self.device)
        form.addRow(self.tr("Name here:"), self.name)
        return form

    def _value(self, name: str) -> QLabel:
        label = named(QLabel("—"), name)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setWordWrap(True)
        return label

    def _read_code(self) -> None:
        """Show what the pasted code names (nothing is contacted yet)."""
        text = self.code_edit.toPlainText().strip()
        self.code = None
        self.message.clear()
        if text:
            try:
                self.code = decode(text)
            except UserError as exc:
                self.message.setText(error_text(exc))
        code = self.code
        self.server.setText(code.server if code else "—")
        self.url.setText(code.url if code else "—")
        self.fingerprint.setText(code.fingerprint if code else "—")
        self.device.setText(code.device if code else "—")
        if code is not None and not self.name.text().strip():
            self.name.setText(suggested_name(code))
        self._update_ok()

    def _update_ok(self) -> None:
        self.ok.setEnabled(self.code is not None and bool(self.name.text().strip()) and self.task is None)

    def connect_server(self) -> None:
        """Pin the certificate, list the models and store the server (in the background)."""
        if self.code is None or self.task is not None:
            return
        self.message.setText(self.tr("Connecting…"))
        task = remote_ops.connect(self, self.session, self.name.text().strip(), self.code_edit.toPlainText())
        self.task = task.on_success(self._done).on_failure(self._failed).start()
        self._update_ok()

    def _done(self, remote: RemoteServer) -> None:
        self.task = None
        self.remote = remote
        self.connected.emit(remote)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.task = None
        self.message.setText(error_text(exc))
        self._update_ok()
