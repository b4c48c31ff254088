"""The Server view: the local OpenAI-compatible endpoint, its API keys, recent requests and snippets."""

from __future__ import annotations

import importlib.util
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.dialogs.api_key import CreateKeyDialog, SecretDialog
from app.models.records import Column, RecordTableModel
from app.session import ACTOR, Session
from app.views.server_tls import TlsBox
from app.views.server_tls import resolve as resolve_tls
from app.widgets import CopyButton, error_text, human_clock, human_date, human_duration_ms, human_number, muted, named
from app.workers import Task, run_task
from engine.vault.records import PENDING_STATUS, ApiKeyRecord, RequestLogEntry

SETTINGS_KEY = "gui.server"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
REFRESH_MS = 2000


def snippets(url: str, model: str) -> tuple[str, str]:
    """Ready-to-run curl and Python (openai client) examples for a model."""
    curl = (
        f"curl {url}/v1/chat/completions \\\n"
        '  -H "Authorization: Bearer $ENCLAVE_API_KEY" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f'  -d \'{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello!"}}]}}\''
    )
    python = (
        "import os\n"
        "from openai import OpenAI\n\n"
        f'client = OpenAI(base_url="{url}/v1", api_key=os.environ["ENCLAVE_API_KEY"])\n'
        "reply = client.chat.completions.create(\n"
        f'    model="{model}",\n'
        '    messages=[{"role": "user", "content": "Hello!"}],\n'
        ")\n"
        "print(reply.choices[0].message.content)\n"
    )
    return curl, python


def server_available() -> bool:
    """True when this build has the HTTP endpoint (checked without importing FastAPI and uvicorn)."""
    try:
        return importlib.util.find_spec("engine.api.server") is not None
    except ModuleNotFoundError:
        return False


def _make_server(engine: Any, host: str, port: int, tls: Any = None) -> Any:
    """Import the endpoint (a second or more: call it in a worker) and build the server."""
    from engine.api.server import ApiServer

    return ApiServer(engine, host=host, port=port, tls=tls)


class ServerView(QWidget):
    """Start/stop the endpoint, manage keys, watch requests."""

    server_changed = Signal(bool)
    upstreams_checked = Signal(object)  # the statuses, or the exception

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._busy = False
        title = QLabel(self.tr("Local server"))
        title.setObjectName("bigStatement")
        intro = muted(self.tr(
            "An OpenAI-compatible endpoint for other programs on this computer (or your network). "
            "Every request needs an API key, and is logged encrypted."
        ))

        # -- endpoint
        self.host = named(QLineEdit(), self.tr("Host to listen on"))
        self.port = named(QSpinBox(), self.tr("Port"))
        self.port.setRange(1, 65535)
        self.start_button = named(QPushButton(theme.icon("play"), self.tr("Start")),
                                  self.tr("Start or stop the server"))
        self.state = QLabel()
        named(self.state, self.tr("Server status"))
        self.url = QLineEdit()
        self.url.setReadOnly(True)
        named(self.url, self.tr("Server URL"))
        self.copy_url = CopyButton(self.url.text, self.tr("Copy URL"))
        self.bind_warning = muted("")
        endpoint = QGroupBox(self.tr("Endpoint"))
        grid = QGridLayout(endpoint)
        grid.addWidget(QLabel(self.tr("Host:")), 0, 0)
        grid.addWidget(self.host, 0, 1)
        grid.addWidget(QLabel(self.tr("Port:")), 0, 2)
        grid.addWidget(self.port, 0, 3)
        grid.addWidget(self.start_button, 0, 4)
        grid.addWidget(self.state, 1, 0)
        grid.addWidget(self.url, 1, 1, 1, 3)
        grid.addWidget(self.copy_url, 1, 4)
        grid.addWidget(self.bind_warning, 2, 0, 1, 5)
        grid.setColumnStretch(1, 1)

        self.tls_box = TlsBox(session, self.port.value, self)

        # -- keys
        self.keys = RecordTableModel([
            Column(self.tr("Name"), lambda r: r.name),
            Column(self.tr("Models"), lambda r: ", ".join(r.models) if r.models else self.tr("all")),
            Column(self.tr("Req./min"), lambda r: human_number(r.rpm) if r.rpm else "—", True),
            Column(self.tr("Tokens/day"), lambda r: human_number(r.tokens_per_day) if r.tokens_per_day else "—", True),
            Column(self.tr("Logs text"), lambda r: self.tr("yes") if r.store_content else self.tr("no")),
            Column(self.tr("Status"), lambda r: self._key_status(r)),
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
        snippets_layout.addWidget(tabs)

        # -- upstreams (registered with `enclave upstreams add`; read-only here)
        self.upstreams = RecordTableModel([
            Column(self.tr("Name"), lambda s: s.upstream.name),
            Column(self.tr("URL"), lambda s: s.upstream.url),
            Column(self.tr("Models"), lambda s: ", ".join(r.id for r in s.upstream.models) or "—"),
            Column(self.tr("Status"), self._upstream_status, tooltip=self._upstream_status),
        ], self)
        self.upstreams_table = self._table(self.upstreams, self.tr("Upstreams"), stretch=1)
        self.upstreams_table.setMaximumHeight(160)
        self.refresh_upstreams_button = named(QPushButton(self.tr("Refresh")),
                                              self.tr("Check the upstreams again"))
        self.upstreams_state = muted("")
        named(self.upstreams_state, self.tr("Upstreams status"))
        upstreams_box = QGroupBox(self.tr("Upstreams"))
        upstreams_top = QHBoxLayout()
        upstreams_top.addWidget(muted(self.tr(
            "Serving engines that model names are routed to. Add one with `enclave upstreams add`.")), 1)
        upstreams_top.addWidget(self.refresh_upstreams_button)
        self.tools_button = named(QPushButton(self.tr("Tools…")),
                                  self.tr("Register MCP tool servers and allow their tools"))
        upstreams_top.addWidget(self.tools_button)
        upstreams_layout = QVBoxLayout(upstreams_box)
        upstreams_layout.addLayout(upstreams_top)
        upstreams_layout.addWidget(self.upstreams_table)
        upstreams_layout.addWidget(self.upstreams_state)

        columns = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(endpoint)
        left.addWidget(keys_box, 1)
        left.addWidget(upstreams_box)
        right = QVBoxLayout()
        right.addWidget(self.tls_box)
        right.addWidget(snippets_box)
        right.addWidget(requests_box, 1)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addLayout(columns, 1)

        self.start_button.clicked.connect(self.toggle)
        self.tls_box.changed.connect(self.refresh_keys)  # a pairing is a key
        self.tls_box.changed.connect(self._update_state)
        self.create_key.clicked.connect(self.create_key_dialog)
        self.revoke_key.clicked.connect(self.revoke_selected)
        self.refresh_upstreams_button.clicked.connect(self.refresh_upstreams)
        self.tools_button.clicked.connect(self.open_tools)
        self.show_revoked.toggled.connect(lambda _: self.refresh_keys())
        self.snippet_model.currentIndexChanged.connect(lambda _: self._update_snippets())
        self.host.textChanged.connect(lambda _: self._update_state())
        self.port.valueChanged.connect(lambda _: self._update_snippets())
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh_requests)
        self.reload()

    def open_tools(self) -> None:
        """The administrator's MCP tools dialog."""
        from app.dialogs.tools import ToolsDialog

        ToolsDialog(self.session.engine.tools, self).exec()

    def _status_text(self, entry: RequestLogEntry) -> str:
        # A request is logged before its reply starts; one still pending after a crash stays so.
        return self.tr("pending") if entry.status == PENDING_STATUS else str(entry.status)

    def _table(self, model: RecordTableModel, name: str, stretch: int = 0) -> QTableView:
        table = named(QTableView(), name)
        table.setModel(model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.verticalHeader().hide()
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # One column takes what is left, so the table fits without scrolling sideways.
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
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
        stored = self.session.vault.settings.get(SETTINGS_KEY) or {}
        self.host.setText(str(stored.get("host", DEFAULT_HOST)))
        self.port.setValue(int(stored.get("port", DEFAULT_PORT)))
        self.tls_box.load(stored)
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

    def _url(self) -> str:
        server = self.session.server
        if server is not None and server.running:
            return str(server.url)
        host = self.host.text().strip() or DEFAULT_HOST
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if self.tls_box.config()["tls"] else "http"
        return f"{scheme}://{host}:{self.port.value()}"

    def _update_state(self) -> None:
        available = server_available()
        running = self.running()
        self.start_button.setEnabled(available and not self._busy)
        self.start_button.setText(self.tr("Stop") if running else self.tr("Start"))
        self.start_button.setIcon(theme.icon("stop" if running else "play"))
        self.host.setEnabled(not running and not self._busy)
        self.port.setEnabled(not running and not self._busy)
        self.tls_box.set_running(running or self._busy)
        if not available:
            self.state.setText(self.tr("This build has no HTTP endpoint."))
        elif running:
            self.state.setText(self.tr("● Running"))
        elif not self._busy:
            self.state.setText(self.tr("○ Stopped"))
        self.url.setText(self._url())
        host = self.host.text().strip()
        self.bind_warning.setText(
            "" if host in ("127.0.0.1", "localhost", "::1", "") else
            self.tr("Other machines on your network can reach this address. Enclave refuses to listen "
                    "there until at least one API key exists.")
        )
        self._update_snippets()

    def _update_snippets(self) -> None:
        model = self.snippet_model.currentText() or "MODEL"
        curl, python = snippets(self._url(), model)
        self.curl.setPlainText(curl)
        self.python.setPlainText(python)

    def refresh_models(self) -> None:
        """Models for the snippet picker (default first)."""
        current = self.snippet_model.currentText()
        registry = self.session.registry
        names = [r.name for r in registry.list()]
        default = registry.default_name()
        if default in names:
            names.remove(default)
            names.insert(0, default)
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

    def start(self) -> None:
        """Listen on host:port in the background (uvicorn starts on its own thread)."""
        if not server_available():
            return
        host, port = self.host.text().strip() or DEFAULT_HOST, self.port.value()
        config = {"host": host, "port": port, **self.tls_box.config()}
        self.session.vault.settings.set(SETTINGS_KEY, config)
        engine = self.session.engine
        self._set_busy(self.tr("Starting…"))

        def start(_ctx: object) -> Any:
            server = _make_server(engine, host, port, resolve_tls(config, host))
            server.start()
            return server

        def started(server: Any) -> None:
            self.session.server = server
            self._busy = False
            self._update_state()
            self.server_changed.emit(True)

        run_task(self, start, started, self._failed)

    def stop(self) -> None:
        """Stop listening (requests in flight get a moment to finish)."""
        server = self.session.server
        if server is None:
            return
        self._set_busy(self.tr("Stopping…"))

        def stopped(_result: object) -> None:
            self.session.server = None
            self._busy = False
            self._update_state()
            self.server_changed.emit(False)

        run_task(self, lambda ctx: server.stop(), stopped, self._failed)

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
        records = self.session.vault.api_keys.list()
        if not self.show_revoked.isChecked():
            records = [r for r in records if not r.revoked]
        self.keys.set_records(records)
        self.revoke_key.setEnabled(bool(records))

    def _key_status(self, record: ApiKeyRecord) -> str:
        if record.revoked_at is not None:
            return self.tr("revoked {date}").format(date=human_date(record.revoked_at))
        return self.tr("active since {date}").format(date=human_date(record.created_at))

    def selected_key(self) -> ApiKeyRecord | None:
        """The key selected in the table."""
        rows = self.keys_table.selectionModel().selectedRows()
        record: ApiKeyRecord | None = self.keys.record(rows[0].row()) if rows else None
        return record

    def create_key_dialog(self) -> None:
        """Create a key, then show its secret once."""
        names = [r.name for r in self.session.registry.list()]
        dialog = CreateKeyDialog(self.session.vault, names, self)
        if dialog.exec() and dialog.secret is not None:
            self.refresh_keys()
            SecretDialog(dialog.record.name, dialog.secret, self).exec()

    def revoke_selected(self, *, confirm: bool = True) -> None:
        """Revoke the selected key after a confirmation; programs using it are refused from now on."""
        from engine.policy.keys import revoke_key

        record = self.selected_key()
        if record is None or record.revoked:
            return
        if confirm and QMessageBox.question(
            self, self.tr("Revoke key"),
            self.tr("Revoke “{name}”? Programs using it are refused from now on.").format(name=record.name),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
        ) != QMessageBox.StandardButton.Yes:
            return
        try:
            revoke_key(self.session.vault, record.name, actor=ACTOR)
        except Exception as exc:  # noqa: BLE001 (shown to the person)
            self.state.setText(error_text(exc))
        self.refresh_keys()

    # -- requests ----------------------------------------------------------------------------------

    def refresh_requests(self) -> None:
        """Reload the latest requests from the encrypted log (decrypting them off the GUI thread)."""
        vault = self.session.vault
        if vault.is_locked:
            return
        run_task(self, lambda ctx: vault.request_log.recent(100), self._show_requests, lambda _exc: None)

    def _show_requests(self, entries: list[RequestLogEntry]) -> None:
        self.requests.set_records(entries)

    # -- upstreams ---------------------------------------------------------------------------------

    def refresh_upstreams(self) -> Task | None:
        """Check every registered upstream in the background (each check waits up to about 5 s)."""
        from engine.upstreams import list_with_health

        vault = self.session.vault
        if vault.is_locked or not self.refresh_upstreams_button.isEnabled():
            return None
        self.refresh_upstreams_button.setEnabled(False)
        self.upstreams_state.setText(self.tr("Checking…"))
        return run_task(self, lambda ctx: list_with_health(vault), self._show_upstreams, self._upstreams_failed)

    def _show_upstreams(self, statuses: list[Any]) -> None:
        self.refresh_upstreams_button.setEnabled(True)
        self.upstreams.set_records(statuses)
        down = sum(1 for s in statuses if not s.health.ok)
        if not statuses:
            self.upstreams_state.setText(self.tr("No upstream is registered."))
        elif down:
            self.upstreams_state.setText(self.tr("%n upstream(s) not reachable.", "", down))
        else:
            self.upstreams_state.setText(self.tr("All upstreams answer."))
        self.upstreams_checked.emit(statuses)

    def _upstreams_failed(self, exc: BaseException) -> None:
        self.refresh_upstreams_button.setEnabled(True)
        self.upstreams_state.setText(error_text(exc))
        self.upstreams_checked.emit(exc)

    def _upstream_status(self, status: Any) -> str:
        health = status.health
        if health.ok:
            text = self.tr("ok ({latency} ms)").format(latency=f"{health.latency_ms:.0f}")
            if status.missing_models:
                text += self.tr("; missing: {models}").format(models=", ".join(status.missing_models))
            return text
        return self.tr("problem: {problem}").format(problem=health.problem or "?")

    def apply_icons(self) -> None:
        """Re-tint icons after a light/dark switch."""
        self.create_key.setIcon(theme.icon("key"))
        self.revoke_key.setIcon(theme.icon("trash"))
        self._update_state()
