"""The Server view: the local OpenAI-compatible endpoint, its API keys, recent requests and snippets."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtNetwork import QAbstractSocket, QNetworkInterface
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.dialogs.api_key import CreateKeyDialog, SecretDialog
from app.models.records import Column, RecordTableModel
from app.operations import server as server_ops
from app.operations.server import DEFAULT_HOST
from app.session import Session
from app.views.server_tls import TlsBox
from app.views.server_upstreams import UpstreamsPanel
from app.views.snippets import client_url, snippets
from app.widgets import (
    CopyButton,
    error_text,
    human_clock,
    human_date,
    human_duration_ms,
    human_number,
    muted,
    named,
    record_table,
)
from app.workers import Task
from engine.api.settings import ApiSettings, is_loopback
from engine.vault.records import PENDING_STATUS, ApiKeyRecord, RequestLogEntry

REFRESH_MS = 2000
ONE_SECOND = dt.timedelta(seconds=1)  # an expiry at midnight shows as the last day the key works


def _scrolling(content: QWidget) -> QScrollArea:
    """`content` in a frameless area that scrolls up and down (never sideways)."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(content)
    return area


class ServerView(QWidget):
    """Start/stop the endpoint, manage keys, watch requests."""

    server_changed = Signal(bool)
    upstreams_checked = Signal(object)  # the statuses, or the exception

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._busy = False
        endpoint = self._build_network()
        self.tls_box = TlsBox(session, self.port.value, self)
        keys_box = self._build_keys()
        requests_box = self._build_requests()
        snippets_box = self._build_snippets()
        self._build_upstreams()
        self._build_layout(endpoint, keys_box, requests_box, snippets_box)
        self._connect()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh_requests)
        self.reload()

    def _build_network(self) -> QGroupBox:
        """The Network box: host, port, default reply length, Start, URL and who can reach it."""
        # -- network: where it listens, and how long a reply runs when a request does not say
        self.host = named(QComboBox(), self.tr("Host to listen on"))
        self.host.setEditable(True)
        self.host.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for address, note in self._host_choices():
            self.host.addItem(address)
            self.host.setItemData(self.host.count() - 1, note, Qt.ItemDataRole.ToolTipRole)
        self.port = named(QSpinBox(), self.tr("Port"))
        self.port.setRange(1, 65535)
        self.default_tokens = named(QSpinBox(), self.tr("Default reply length in tokens"))
        self.default_tokens.setRange(1, ApiSettings.max_tokens_cap)
        self.default_tokens.setSingleStep(64)
        self.default_tokens.setSuffix(self.tr(" tokens"))
        self.default_tokens.setToolTip(self.tr(
            "The most a reply may run when a request sets no max_tokens (requests may ask for up to {cap})."
        ).format(cap=ApiSettings.max_tokens_cap))
        self.start_button = named(QPushButton(theme.icon("play"), self.tr("Start")),
                                  self.tr("Start or stop the server"))
        self.state = QLabel()
        named(self.state, self.tr("Server status"))
        self.url = QLineEdit()
        self.url.setReadOnly(True)
        named(self.url, self.tr("Server URL"))
        self.copy_url = CopyButton(self.url.text, self.tr("Copy URL"))
        self.bind_warning = muted("")
        named(self.bind_warning, self.tr("Network access"))
        endpoint = QGroupBox(self.tr("Network"))
        grid = QGridLayout(endpoint)
        grid.addWidget(QLabel(self.tr("Host:")), 0, 0)
        grid.addWidget(self.host, 0, 1)
        grid.addWidget(QLabel(self.tr("Port:")), 0, 2)
        grid.addWidget(self.port, 0, 3)
        grid.addWidget(self.start_button, 0, 4)
        grid.addWidget(QLabel(self.tr("Default reply length:")), 1, 0)
        grid.addWidget(self.default_tokens, 1, 1)
        grid.addWidget(self.state, 2, 0)
        grid.addWidget(self.url, 2, 1, 1, 3)
        grid.addWidget(self.copy_url, 2, 4)
        grid.addWidget(self.bind_warning, 3, 0, 1, 5)
        grid.setColumnStretch(1, 1)
        return endpoint

    def _build_keys(self) -> QGroupBox:
        """The API keys box: the table and its buttons."""
        # -- keys
        self.keys = RecordTableModel([
            Column(self.tr("Name"), lambda r: r.name),
            Column(self.tr("Models"), lambda r: ", ".join(r.models) if r.models else self.tr("all")),
            Column(self.tr("Req./min"), lambda r: human_number(r.rpm) if r.rpm else "—", True),
            Column(self.tr("Tokens/day"), lambda r: human_number(r.tokens_per_day) if r.tokens_per_day else "—", True),
            Column(self.tr("Logs"), lambda r: self.tr("full text") if r.store_content else self.tr("metadata only"),
                   tooltip=lambda r: self.tr("Prompts and replies are kept, encrypted.") if r.store_content
                   else self.tr("Only time, model, status and token counts are kept.")),
            Column(self.tr("Expires"), lambda r: human_date(r.expires_at - ONE_SECOND) if r.expires_at
                   else self.tr("never")),
            Column(self.tr("Status"), lambda r: self._key_status(r), tooltip=lambda r: self._key_status(r, long=True)),
        ], self)
        self.keys_table = self._table(self.keys, self.tr("API keys"), stretch=1)
        self.create_key = named(QPushButton(theme.icon("key"), self.tr("Create key…")), self.tr("Create API key"))
        self.revoke_key = named(QPushButton(theme.icon("trash"), self.tr("Revoke…")), self.tr("Revoke API key"))
        self.show_revoked = named(QCheckBox(self.tr("Show revoked")), self.tr("Show revoked keys"))
        keys_box = QGroupBox(self.tr("API keys"))
        key_buttons = QHBoxLayout()
        key_buttons.addWidget(self.create_key)
        key_buttons.addWidget(self.revoke_key)
        key_buttons.addStretch(1)
        key_buttons.addWidget(self.show_revoked)
        keys_layout = QVBoxLayout(keys_box)
        keys_layout.addLayout(key_buttons)
        keys_layout.addWidget(self.keys_table)
        return keys_box

    def _build_requests(self) -> QGroupBox:
        """The live table of recent requests."""
        # -- requests
        self.requests = RecordTableModel([
            Column(self.tr("Time"), lambda r: human_clock(r.time)),
            Column(self.tr("Key"), lambda r: r.key_name),
            Column(self.tr("Model"), lambda r: r.model or "—"),
            Column(self.tr("Status"), self._status_text, True),
            Column(self.tr("Tokens in/out"), lambda r: f"{r.prompt_tokens} / {r.completion_tokens}", True),
            Column(self.tr("Cached"), lambda r: str(r.cached_prompt_tokens), True),
            Column(self.tr("Latency"), lambda r: human_duration_ms(r.latency_ms), True),
        ], self)
        self.requests_table = self._table(self.requests, self.tr("Recent requests"))
        requests_box = QGroupBox(self.tr("Recent requests (live)"))
        QVBoxLayout(requests_box).addWidget(self.requests_table)
        return requests_box

    def _build_snippets(self) -> QGroupBox:
        """The curl and Python examples, with the model they name."""
        # -- snippets
        self.snippet_model = named(QComboBox(), self.tr("Model for the examples"))
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.curl = self._code(mono, self.tr("curl example"))
        self.curl.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)  # a long command wraps, never scrolls
        self.python = self._code(mono, self.tr("Python example"))
        tabs = QTabWidget()
        tabs.addTab(self._with_copy(self.curl), self.tr("curl"))
        tabs.addTab(self._with_copy(self.python), self.tr("Python"))
        snippets_box = QGroupBox(self.tr("Try it"))
        snippets_layout = QVBoxLayout(snippets_box)
        model_row = QHBoxLayout()
        model_row.addWidget(QLabel(self.tr("Model:")))
        model_row.addWidget(self.snippet_model, 1)
        snippets_layout.addLayout(model_row)
        snippets_layout.addWidget(muted(self.tr(
            "They read the key from ENCLAVE_API_KEY: create a key, run the line its dialog shows, then "
            "paste an example into the same terminal.")))
        snippets_layout.addWidget(tabs)
        return snippets_box

    def _build_upstreams(self) -> None:
        """The upstreams panel (and the MCP tools button beside its own)."""
        # -- upstreams (and the MCP tools an administrator allows)
        self.upstreams_panel = UpstreamsPanel(self.session)
        self.upstreams = self.upstreams_panel.model
        self.upstreams_table = self.upstreams_panel.table
        self.refresh_upstreams_button = self.upstreams_panel.refresh_button
        self.upstreams_state = self.upstreams_panel.state
        self.upstreams_panel.checked.connect(self.upstreams_checked)
        self.tools_button = named(QPushButton(self.tr("Tools…")),
                                  self.tr("Register MCP tool servers and allow their tools"))
        self.upstreams_panel.buttons.addWidget(self.tools_button)

    def _build_layout(
        self, endpoint: QGroupBox, keys_box: QGroupBox, requests_box: QGroupBox, snippets_box: QGroupBox
    ) -> None:
        """Two scrolling columns under the title."""
        title = QLabel(self.tr("Local server"))
        title.setObjectName("bigStatement")
        intro = muted(self.tr(
            "An OpenAI-compatible endpoint for other programs on this computer (or your network). "
            "Every request needs an API key, and is logged encrypted."
        ))

        columns = QHBoxLayout()
        # Each column (network, keys, upstreams; TLS, examples, requests) is taller than a small screen: it scrolls.
        left_widget = QWidget()
        left = QVBoxLayout(left_widget)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(endpoint)
        left.addWidget(keys_box, 1)
        left.addWidget(self.upstreams_panel)
        right_widget = QWidget()
        right = QVBoxLayout(right_widget)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.tls_box)
        right.addWidget(snippets_box)
        right.addWidget(requests_box, 1)
        columns.addWidget(_scrolling(left_widget), 1)
        columns.addWidget(_scrolling(right_widget), 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addLayout(columns, 1)

    def _connect(self) -> None:
        """Wire the controls to their slots."""
        self.start_button.clicked.connect(self.toggle)
        self.tls_box.changed.connect(self.refresh_keys)  # a pairing is a key
        self.tls_box.changed.connect(self._update_state)
        self.create_key.clicked.connect(self.create_key_dialog)
        self.revoke_key.clicked.connect(self.revoke_selected)
        self.tools_button.clicked.connect(self.open_tools)
        self.show_revoked.toggled.connect(lambda _: self.refresh_keys())
        self.snippet_model.currentIndexChanged.connect(lambda _: self._update_snippets())
        self.host.currentTextChanged.connect(lambda _: self._update_state())
        self.port.valueChanged.connect(lambda _: self._update_snippets())

    def open_tools(self) -> None:
        """The administrator's MCP tools dialog."""
        from app.dialogs.tools import ToolsDialog

        ToolsDialog(self.session.engine.tools, self).exec()

    def _status_text(self, entry: RequestLogEntry) -> str:
        # A request is logged before its reply starts; one still pending after a crash stays so.
        return self.tr("pending") if entry.status == PENDING_STATUS else str(entry.status)

    def _table(self, model: RecordTableModel, name: str, stretch: int = 0) -> QTableView:
        table = record_table(model, name, stretch=stretch)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 10)
        return table

    def _code(self, font: QFont, name: str) -> QPlainTextEdit:
        editor = named(QPlainTextEdit(), name)
        editor.setReadOnly(True)
        editor.setFont(font)
        editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        editor.setMinimumHeight(72)  # room for the HTTPS panel above; it grows with the window
        return editor

    def _with_copy(self, editor: QPlainTextEdit) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(editor)
        layout.addWidget(CopyButton(editor.toPlainText, self.tr("Copy")))
        return page

    # -- state -----------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read stored settings and every list (also after unlock)."""
        stored = server_ops.settings(self.session)
        self.host.setCurrentText(stored.host)
        self.port.setValue(stored.port)
        self.default_tokens.setValue(stored.default_max_tokens)
        self.tls_box.load(stored.stored or {})
        self.refresh_models()
        self.refresh_keys()
        self.refresh_requests()
        self._update_state()
        self.refresh_upstreams()

    def on_shown(self) -> None:
        """Refresh the lists while the view is in front."""
        self.refresh_keys()
        self.refresh_requests()
        self.timer.start()

    def hideEvent(self, event: Any) -> None:
        self.timer.stop()
        super().hideEvent(event)

    def busy(self) -> bool:
        """True while the endpoint is starting or stopping."""
        return self._busy

    def running(self) -> bool:
        """True while the endpoint listens."""
        server = self.session.server
        return bool(server is not None and server.running)

    def host_text(self) -> str:
        """The address to listen on, as typed or picked."""
        return self.host.currentText().strip() or DEFAULT_HOST

    def _host_choices(self) -> list[tuple[str, str]]:
        """Loopback, every interface, and this machine's own network addresses (with what each means)."""
        choices = [(DEFAULT_HOST, self.tr("This computer only")),
                   ("0.0.0.0", self.tr("Every network this computer is on"))]
        for address in QNetworkInterface.allAddresses():
            if address.protocol() == QAbstractSocket.NetworkLayerProtocol.IPv4Protocol and not address.isLoopback():
                choices.append((address.toString(), self.tr("Only this network address")))
        return choices

    def _url(self) -> str:
        server = self.session.server
        if server is not None and server.running:
            return str(server.url)
        host = self.host_text()
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if self.tls_box.config()["tls"] else "http"
        return f"{scheme}://{host}:{self.port.value()}"

    def bind_problem(self) -> str | None:
        """Why the server would refuse the chosen host now (the engine's rule), or None."""
        return server_ops.bind_problem(self.session, self.host_text())

    def _update_state(self) -> None:
        available = server_ops.available()
        running = self.running()
        refused = not running and not self.session.vault.is_locked and self.bind_problem() is not None
        self.start_button.setEnabled(available and not self._busy and not refused)
        self.start_button.setText(self.tr("Stop") if running else self.tr("Start"))
        self.start_button.setIcon(theme.icon("stop" if running else "play"))
        self.host.setEnabled(not running and not self._busy)
        self.port.setEnabled(not running and not self._busy)
        self.default_tokens.setEnabled(not running and not self._busy)
        self.tls_box.set_running(running or self._busy)
        if not available:
            self.state.setText(self.tr("This build has no HTTP endpoint."))
        elif running:
            self.state.setText(self.tr("● Running"))
        elif not self._busy:
            self.state.setText(self.tr("○ Stopped"))
        self.url.setText(self._url())
        self._show_bind_policy(refused)
        self._update_snippets()

    def _show_bind_policy(self, refused: bool) -> None:
        """Say who can reach the chosen address, and why Start is off when no key may be used there."""
        if is_loopback(self.host_text()):
            text, style = self.tr("Only programs on this computer can reach it."), "mutedLabel"
        elif refused:
            text, style = self.tr(
                "Other machines on your network could reach this address, so Enclave listens there only "
                "once an API key exists: create one under API keys first."), "errorLabel"
        else:
            text, style = self.tr(
                "Other machines on your network can reach this address; each request needs one of the "
                "API keys below."), "mutedLabel"
        self.bind_warning.setText(text)
        if self.bind_warning.objectName() != style:
            self.bind_warning.setObjectName(style)
            self.bind_warning.style().polish(self.bind_warning)

    def _update_snippets(self) -> None:
        model = self.snippet_model.currentText() or "MODEL"
        curl, python = snippets(client_url(self._url()), model,
                                self.tr("set it first: export ENCLAVE_API_KEY=… (the key dialog shows the line)"))
        self.curl.setPlainText(curl)
        self.python.setPlainText(python)

    def refresh_models(self) -> None:
        """Models for the snippet picker (default first)."""
        current = self.snippet_model.currentText()
        names = server_ops.example_models(self.session)
        self.snippet_model.blockSignals(True)
        self.snippet_model.clear()
        self.snippet_model.addItems(names)
        if current in names:
            self.snippet_model.setCurrentText(current)
        self.snippet_model.blockSignals(False)
        self._update_snippets()

    # -- start / stop ------------------------------------------------------------------------------

    def toggle(self) -> None:
        """Start the endpoint, or stop it."""
        if self._busy:
            return
        if self.running():
            self.stop()
        else:
            self.start()

    def start(self) -> Task | None:
        """Listen on host:port in the background (uvicorn starts on its own thread)."""
        if not server_ops.available():
            return None
        host = self.host_text()
        config = {"host": host, "port": self.port.value(), "default_max_tokens": self.default_tokens.value(),
                  **self.tls_box.config()}
        self._set_busy(self.tr("Starting…"))
        return server_ops.start(self, self.session, config).on_success(
            lambda _server: self._changed(True)).on_failure(self._failed).start()

    def stop(self) -> Task | None:
        """Stop listening (requests in flight get a moment to finish)."""
        task = server_ops.stop(self, self.session)
        if task is None:
            return None
        self._set_busy(self.tr("Stopping…"))
        return task.on_success(lambda _result: self._changed(False)).on_failure(self._failed).start()

    def _changed(self, running: bool) -> None:
        self._busy = False
        self._update_state()
        self.server_changed.emit(running)

    def _set_busy(self, text: str) -> None:
        self._busy = True
        self.state.setText(text)
        self._update_state()

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        self._update_state()
        self.state.setText(error_text(exc))
        self.server_changed.emit(self.running())

    # -- keys ------------------------------------------------------------------------------------

    def refresh_keys(self) -> None:
        """Reload the key list."""
        records = server_ops.keys(self.session, revoked=self.show_revoked.isChecked())
        self.keys.set_records(records)
        self.revoke_key.setEnabled(bool(records))
        self._update_state()  # a first (or last) key allows (or forbids) a network address

    def _key_status(self, record: ApiKeyRecord, *, long: bool = False) -> str:
        # Short in the table (it has seven columns), with the dates in the tooltip.
        if record.revoked_at is not None:
            return self.tr("revoked {date}").format(date=human_date(record.revoked_at)) if long else self.tr("revoked")
        if record.expired():
            return self.tr("expired")
        return self.tr("active since {date}").format(date=human_date(record.created_at)) if long else self.tr("active")

    def selected_key(self) -> ApiKeyRecord | None:
        """The key selected in the table."""
        rows = self.keys_table.selectionModel().selectedRows()
        record: ApiKeyRecord | None = self.keys.record(rows[0].row()) if rows else None
        return record

    def create_key_dialog(self) -> None:
        """Create a key, then show its secret once."""
        names = [r.name for r in self.session.registry.list()]
        dialog = CreateKeyDialog(self.session.engine.keys, names, self)
        if dialog.exec() and dialog.secret is not None:
            self.refresh_keys()
            SecretDialog(dialog.record.name, dialog.secret, self).exec()

    def revoke_selected(self, *, confirm: bool = True) -> Task | None:
        """Revoke the selected key after a confirmation; programs using it are refused from now on."""
        record = self.selected_key()
        if record is None or record.revoked:
            return None
        if confirm and QMessageBox.question(
            self, self.tr("Revoke key"),
            self.tr("Revoke “{name}”? Programs using it are refused from now on.").format(name=record.name),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
        ) != QMessageBox.StandardButton.Yes:
            return None
        return server_ops.revoke_key(self, self.session, record.name).on_success(
            lambda _record: self.refresh_keys()).on_failure(self._revoke_failed).start()

    def _revoke_failed(self, exc: BaseException) -> None:
        self.state.setText(error_text(exc))
        self.refresh_keys()

    # -- requests ----------------------------------------------------------------------------------

    def refresh_requests(self) -> Task | None:
        """Reload the latest requests from the encrypted log (decrypting them off the GUI thread)."""
        if self.session.vault.is_locked:
            return None
        # A failed refresh (the vault locked meanwhile) keeps the last list; the timer tries again.
        return server_ops.recent_requests(self, self.session).on_success(self._show_requests).start()

    def _show_requests(self, entries: list[RequestLogEntry]) -> None:
        self.requests.set_records(entries)

    # -- upstreams ---------------------------------------------------------------------------------

    def refresh_upstreams(self) -> Task | None:
        """Check every registered upstream in the background."""
        return self.upstreams_panel.refresh()

    def apply_icons(self) -> None:
        """Re-tint icons after a light/dark switch."""
        self.create_key.setIcon(theme.icon("key"))
        self.revoke_key.setIcon(theme.icon("trash"))
        self.upstreams_panel.apply_icons()
        self._update_state()
