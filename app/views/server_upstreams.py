"""The Server view's upstreams panel: serving engines that model names are routed to, with their health,
added and removed here through the same engine calls as `enclave upstreams add | remove`."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.dialogs.upstream import AddUpstreamDialog
from app.models.records import Column, RecordTableModel
from app.operations import upstreams as upstream_ops
from app.session import Session
from app.widgets import error_text, muted, named, record_table
from app.workers import Task


class UpstreamsPanel(QGroupBox):
    """List, check, add and remove upstreams."""

    checked = Signal(object)  # the statuses, or the exception
    changed = Signal()  # one was added or removed (the model pickers list their models)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Upstreams"), parent)
        self.session = session
        self.model = RecordTableModel([
            Column(self.tr("Name"), lambda s: s.upstream.name),
            Column(self.tr("URL"), lambda s: s.upstream.url),
            Column(self.tr("Models"), lambda s: ", ".join(r.id for r in s.upstream.models) or "—"),
            Column(self.tr("Status"), self._status, tooltip=self._status),
        ], self)
        self.table = record_table(self.model, self.tr("Upstreams"), stretch=1, max_height=160)
        buttons = self._build_buttons()
        self.state = muted("")
        named(self.state, self.tr("Upstreams status"))
        top = QHBoxLayout()
        top.addWidget(muted(self.tr("Serving engines on your network (vLLM, llama.cpp server, Ollama) that "
                                    "model names are routed to; keys and logs stay here.")), 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        layout.addWidget(self.state)

    def _build_buttons(self) -> QHBoxLayout:
        """Add…, Remove… and Refresh, wired (the Server view adds its Tools… button to this row)."""
        self.add_button = named(QPushButton(theme.icon("new"), self.tr("Add…")), self.tr("Add an upstream"))
        self.remove_button = named(QPushButton(theme.icon("trash"), self.tr("Remove…")),
                                   self.tr("Remove the selected upstream"))
        self.refresh_button = named(QPushButton(self.tr("Refresh")), self.tr("Check the upstreams again"))
        buttons = self.buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        self.add_button.clicked.connect(self.add_dialog)
        self.remove_button.clicked.connect(lambda: self.remove_selected())
        self.refresh_button.clicked.connect(self.refresh)
        self.remove_button.setEnabled(False)
        return buttons

    def refresh(self) -> Task | None:
        """Check every registered upstream in the background (each check waits up to about 5 s)."""
        if self.session.vault.is_locked or not self.refresh_button.isEnabled():
            return None
        self.refresh_button.setEnabled(False)
        self.state.setText(self.tr("Checking…"))
        return upstream_ops.check(self, self.session).on_success(self._show).on_failure(self._failed).start()

    def _show(self, statuses: list[Any]) -> None:
        self.refresh_button.setEnabled(True)
        self.model.set_records(statuses)
        self.remove_button.setEnabled(bool(statuses))
        down = sum(1 for s in statuses if not s.health.ok)
        if not statuses:
            self.state.setText(self.tr("No upstream is registered."))
        elif down:
            self.state.setText(self.tr("%n upstream(s) not reachable.", "", down))
        else:
            self.state.setText(self.tr("All upstreams answer."))
        self.checked.emit(statuses)

    def _failed(self, exc: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        self.state.setText(error_text(exc))
        self.checked.emit(exc)

    def _status(self, status: Any) -> str:
        health = status.health
        if health.ok:
            text = self.tr("ok ({latency} ms)").format(latency=f"{health.latency_ms:.0f}")
            if status.missing_models:
                text += self.tr("; missing: {models}").format(models=", ".join(status.missing_models))
            return text
        return self.tr("problem: {problem}").format(problem=health.problem or "?")

    # -- add / remove ------------------------------------------------------------------------------

    def add_dialog(self) -> None:
        """Register an upstream from the dialog's answers, then check them all again."""
        dialog = AddUpstreamDialog(self.session.engine, self)
        if dialog.exec() and dialog.upstream is not None:
            self.state.setText(self.tr("Upstream “{name}” added.").format(name=dialog.upstream.name))
            self.changed.emit()
            self.refresh()

    def selected_name(self) -> str | None:
        """The name of the upstream selected in the table."""
        rows = self.table.selectionModel().selectedRows()
        status = self.model.record(rows[0].row()) if rows else None
        return None if status is None else str(status.upstream.name)

    def remove_selected(self, *, confirm: bool = True) -> Task | None:
        """Forget the selected upstream (and its key) after a confirmation, in the background; None when
        nothing was chosen or the person cancelled."""
        name = self.selected_name()
        if name is None:
            self.state.setText(self.tr("Select an upstream to remove."))
            return None
        if confirm and QMessageBox.question(
            self, self.tr("Remove upstream"),
            self.tr("Remove “{name}”? Its models are no longer offered, and its stored key is deleted.").format(
                name=name),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
        ) != QMessageBox.StandardButton.Yes:
            return None
        return upstream_ops.remove(self, self.session, name).on_success(
            lambda _upstream: self._removed(name)).on_failure(lambda exc: self.state.setText(error_text(exc))).start()

    def _removed(self, name: str) -> None:
        self.model.set_records([s for row in range(self.model.rowCount())
                                if (s := self.model.record(row)).upstream.name != name])
        self.remove_button.setEnabled(self.model.rowCount() > 0)
        self.state.setText(self.tr("Upstream “{name}” removed.").format(name=name))
        self.changed.emit()

    def apply_icons(self) -> None:
        """Re-tint icons after a light/dark switch."""
        self.add_button.setIcon(theme.icon("new"))
        self.remove_button.setIcon(theme.icon("trash"))
