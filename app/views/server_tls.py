"""The server panel's HTTPS section: TLS on or off, which certificate, its fingerprint, and pairing devices.

Only conversion lives here: the certificate is made and checked by `engine.pairing.tls`, pairings are
issued by `engine.pairing.appliance` (through `PairDeviceDialog`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app import theme
from app.dialogs.pair_device import PairDeviceDialog
from app.operations import server as server_ops
from app.operations.server import AUTO, FILES
from app.widgets import CopyButton, error_text, named
from engine.errors import UserError
from engine.pairing.appliance import default_url


class TlsBox(QGroupBox):
    """HTTPS for the endpoint (needed for pairing), the certificate's fingerprint, and “Pair a device…”."""

    changed = Signal()

    def __init__(self, session: Any, port: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("HTTPS and pairing"))
        self.session = session
        self._port = port  # () -> int: the port the endpoint listens on
        self._build_choice()
        self._build_files()
        self._build_fingerprint()
        grid = QGridLayout(self)
        grid.addWidget(self.enabled, 0, 0)
        grid.addWidget(self.mode, 0, 1, 1, 3)
        grid.addWidget(self.files_box, 1, 0, 1, 4)
        grid.addWidget(self.fingerprint, 2, 0, 1, 2)
        grid.addWidget(self.copy, 2, 2, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.pair, 2, 3, Qt.AlignmentFlag.AlignTop)
        grid.setColumnStretch(1, 1)
        self._connect()

    def _build_choice(self) -> None:
        """HTTPS on or off, and which certificate."""
        self.enabled = named(QCheckBox(self.tr("HTTPS (TLS)")), self.tr("Use HTTPS"))
        self.mode = named(QComboBox(), self.tr("Certificate"))
        self.mode.addItem(self.tr("Self-signed, made by Enclave"), AUTO)
        self.mode.addItem(self.tr("My certificate files"), FILES)
        self.mode.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode.setMinimumContentsLength(12)

    def _build_files(self) -> None:
        """The certificate and key file rows (shown only for "my files", so the panel stays short)."""
        self.cert = named(QLineEdit(), self.tr("Certificate file (PEM)"))
        self.key = named(QLineEdit(), self.tr("Key file (PEM)"))
        self.cert_browse = named(QPushButton(theme.icon("folder"), self.tr("Browse…")), self.tr("Choose certificate"))
        self.key_browse = named(QPushButton(theme.icon("folder"), self.tr("Browse…")), self.tr("Choose key"))
        self.files_box = QWidget()
        files = QGridLayout(self.files_box)
        files.setContentsMargins(0, 0, 0, 0)
        files.addWidget(QLabel(self.tr("Certificate:")), 0, 0)
        files.addWidget(self.cert, 0, 1)
        files.addWidget(self.cert_browse, 0, 2)
        files.addWidget(QLabel(self.tr("Key:")), 1, 0)
        files.addWidget(self.key, 1, 1)
        files.addWidget(self.key_browse, 1, 2)
        files.setColumnStretch(1, 1)

    def _build_fingerprint(self) -> None:
        """The certificate's fingerprint with Copy, and “Pair a device…”."""
        # Two lines of 16 bytes: the whole fingerprint is readable (to compare by phone, say) without scrolling.
        self.fingerprint = named(QLabel(), self.tr("Certificate fingerprint (SHA-256)"))
        self.fingerprint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._fingerprint = ""
        self.copy = CopyButton(lambda: self._fingerprint, self.tr("Copy"))
        self.pair = named(QPushButton(theme.icon("key"), self.tr("Pair a device…")), self.tr("Pair a device"))

    def _connect(self) -> None:
        """Wire the controls to their slots."""
        self.enabled.toggled.connect(lambda _: self._changed())
        self.mode.currentIndexChanged.connect(lambda _: self._changed())
        self.cert.editingFinished.connect(self._changed)
        self.key.editingFinished.connect(self._changed)
        self.cert_browse.clicked.connect(lambda: self._browse(self.cert, self.tr("Choose the certificate")))
        self.key_browse.clicked.connect(lambda: self._browse(self.key, self.tr("Choose the private key")))
        self.pair.clicked.connect(self.pair_dialog)
        self._running = False
        self._update()

    # -- settings ------------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """What to store with the server settings."""
        mode = self.mode.currentData() if self.enabled.isChecked() else None
        return {"tls": mode, "tls_cert": self.cert.text().strip(), "tls_key": self.key.text().strip()}

    def load(self, stored: dict[str, Any]) -> None:
        """Show stored settings."""
        mode = stored.get("tls")
        self.enabled.setChecked(mode in (AUTO, FILES))
        self.mode.setCurrentIndex(max(0, self.mode.findData(mode or AUTO)))
        self.cert.setText(str(stored.get("tls_cert") or ""))
        self.key.setText(str(stored.get("tls_key") or ""))
        self._update()

    def set_running(self, running: bool) -> None:
        """The settings are fixed while the endpoint listens."""
        self._running = running
        self._update()

    def _browse(self, field: QLineEdit, title: str) -> None:
        kinds = self.tr("PEM files (*.pem *.crt *.key);;All files (*)")
        path, _ = QFileDialog.getOpenFileName(self, title, field.text(), kinds)
        if path:
            field.setText(path)
            self._changed()

    def _changed(self) -> None:
        self._update()
        self.changed.emit()

    # -- what it shows -------------------------------------------------------------------------------

    def current_fingerprint(self) -> str | None:
        """The fingerprint of the certificate the endpoint uses (or will use), if there is one yet."""
        return server_ops.tls_fingerprint(self.config())

    def _update(self) -> None:
        on = self.enabled.isChecked()
        files = on and self.mode.currentData() == FILES
        editable = not self._running
        self.enabled.setEnabled(editable)
        self.mode.setEnabled(on and editable)
        for widget in (self.cert, self.key, self.cert_browse, self.key_browse):
            widget.setEnabled(files and editable)
        self.files_box.setVisible(files)
        fingerprint = self.current_fingerprint()
        self._fingerprint = fingerprint or ""
        self.copy.setEnabled(bool(fingerprint))
        self.pair.setEnabled(on and (fingerprint is not None or self.mode.currentData() == AUTO))
        # Monospace for the hex digits only; the explanations read in the interface's own font.
        self.fingerprint.setFont(QFont("monospace") if fingerprint else QFont())
        if fingerprint:
            # A break opportunity after each byte: the label wraps to the column's width, never clips.
            self.fingerprint.setText(self.tr("SHA-256:") + " " + fingerprint.replace(":", ":\u200b"))
            self.fingerprint.setToolTip(self.tr("Paired devices check this fingerprint on every connection."))
        elif not on:
            self.fingerprint.setText(self.tr("Devices can pair with this server only over HTTPS."))
        else:
            self.fingerprint.setText(self.tr("The certificate is made when the server first starts with HTTPS."))
        self.fingerprint.setWordWrap(True)

    def pair_dialog(self) -> PairDeviceDialog | None:
        """Pair a device: a key with its rules and a one-time code (text and QR)."""
        try:
            files = server_ops.tls_files(self.config(), "")  # the self-signed certificate is made now if needed
        except UserError as exc:
            self.fingerprint.setText(error_text(exc))
            return None
        if files is None:
            return None
        self._update()
        names = [r.name for r in self.session.registry.list()]
        dialog = PairDeviceDialog(self.session, names, default_url(int(self._port())), files.fingerprint, self)
        dialog.finished.connect(lambda _: self.changed.emit())
        dialog.open()
        return dialog
