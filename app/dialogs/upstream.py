"""Registering an upstream serving engine: the same engine call as `enclave upstreams add`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.dialogs.parts import error_label, ok_cancel
from app.widgets import error_text, muted, named
from app.workers import run_task

MAX_CA_BYTES = 1024 * 1024  # a CA bundle is a few kB; anything larger is not one


class AddUpstreamDialog(QDialog):
    """Name, URL, optional key and CA, and the models it serves (listed, or asked from it)."""

    def __init__(self, engine: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine  # the desktop's engine: `engine.upstreams` audits in its actor's name
        self.upstream: Any = None
        self.setWindowTitle(self.tr("Add an upstream"))
        self.setMinimumWidth(520)
        form = self._build_form()
        self.message = error_label()
        self.buttons, self.ok = ok_cancel(self, self.tr("Add upstream"), self.tr("Cancel"), self.add)
        layout = QVBoxLayout(self)
        layout.addWidget(muted(self.tr(
            "Requests for these models are forwarded to the upstream; API keys, rules, the request log and "
            "the audit log stay on this machine. The same as `enclave upstreams add`.")))
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.ca_browse.clicked.connect(self._choose_ca)
        for field in (self.name, self.url, self.models):
            field.textChanged.connect(lambda _: self._update())
        self.discover.toggled.connect(lambda _: self._update())
        self._update()

    def _build_form(self) -> QFormLayout:
        """Name, URL, key, models (typed or discovered), prefix, CA file and the plain-HTTP choice."""
        self.name = named(QLineEdit(), self.tr("Upstream name"))
        self.name.setPlaceholderText(self.tr("e.g. gpu-cluster"))
        self.url = named(QLineEdit(), self.tr("Upstream URL"))
        self.url.setPlaceholderText(self.tr("e.g. https://vllm.example.org:8000/v1"))
        self.api_key = named(QLineEdit(), self.tr("Upstream API key"))
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText(self.tr("optional; stored encrypted"))
        self.discover = named(QCheckBox(self.tr("Ask the upstream which models it serves")),
                              self.tr("Discover the models"))
        self.models = named(QLineEdit(), self.tr("Models it serves"))
        self.models.setPlaceholderText(self.tr("e.g. llama-3.1-70b, qwen2.5-32b"))
        self.prefix = named(QLineEdit(), self.tr("Prefix for model names"))
        self.prefix.setPlaceholderText(self.tr("optional, e.g. cluster/"))
        self.ca_path = named(QLineEdit(), self.tr("CA certificate file"))
        self.ca_path.setPlaceholderText(self.tr("optional; else the system's certificates"))
        self.ca_browse = named(QPushButton(self.tr("Choose…")), self.tr("Choose a CA certificate file"))
        self.plain_http = named(QCheckBox(self.tr("Allow unencrypted http:// to another machine")),
                                self.tr("Allow plain HTTP"))
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_path, 1)
        ca_row.addWidget(self.ca_browse)
        form = QFormLayout()
        form.addRow(self.tr("Name:"), self.name)
        form.addRow(self.tr("URL:"), self.url)
        form.addRow(self.tr("API key:"), self.api_key)
        form.addRow(self.tr("Models:"), self.models)
        form.addRow("", self.discover)
        form.addRow(self.tr("Prefix:"), self.prefix)
        form.addRow(self.tr("CA certificate:"), ca_row)
        form.addRow("", self.plain_http)
        return form

    def _update(self) -> None:
        self.models.setEnabled(not self.discover.isChecked())
        has_models = self.discover.isChecked() or bool(self.model_list())
        self.ok.setEnabled(bool(self.name.text().strip() and self.url.text().strip() and has_models))

    def model_list(self) -> list[str]:
        """The models typed in, split at commas."""
        return [m.strip() for m in self.models.text().split(",") if m.strip()]

    def _choose_ca(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, self.tr("CA certificate"), str(Path.home()),
                                              self.tr("PEM certificates (*.pem *.crt);;All files (*)"))
        if name:
            self.ca_path.setText(name)

    def _read_ca(self) -> str | None:
        path = self.ca_path.text().strip()
        if not path:
            return None
        try:
            if Path(path).stat().st_size > MAX_CA_BYTES:
                raise ValueError
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, ValueError):
            raise ValueError(self.tr("Cannot read the CA certificate file “{name}”.").format(
                name=Path(path).name)) from None

    def add(self) -> None:
        """Register it in the background (discovering the models contacts the upstream)."""
        try:
            tls_ca = self._read_ca()
        except ValueError as exc:
            self.message.setText(str(exc))
            return
        admin, name, url = self.engine.upstreams, self.name.text().strip(), self.url.text().strip()
        key = self.api_key.text().strip() or None
        discover = self.discover.isChecked()
        models = None if discover else self.model_list()
        prefix, plain = self.prefix.text().strip(), self.plain_http.isChecked()
        self.ok.setEnabled(False)
        self.message.setObjectName("mutedLabel")
        self.message.setText(self.tr("Contacting the upstream…") if discover else self.tr("Adding…"))

        def register(_ctx: object) -> Any:
            # The same operation as `enclave upstreams add`.
            return admin.add(name, url, api_key=key, models=models, discover=discover, prefix=prefix,
                             tls_ca=tls_ca, allow_plain_http=plain)

        run_task(self, register, self._added, self._failed)

    def _added(self, upstream: Any) -> None:
        self.upstream = upstream
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.message.setObjectName("errorLabel")
        self.message.style().polish(self.message)
        self.message.setText(error_text(exc))
        self._update()
