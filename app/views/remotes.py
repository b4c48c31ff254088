"""The Models page's “Organisation servers” section: servers this desktop is paired with, and their models.

Connecting, checking and removing are engine calls (`engine.pairing.remotes`); checking contacts the
servers, so it runs off the GUI thread.
"""

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
from app.dialogs.connect_server import ConnectServerDialog
from app.models.records import Column, RecordTableModel
from app.operations import remotes as remote_ops
from app.widgets import error_text, muted, named, record_table
from app.workers import Task
from engine.pairing.remotes import RemoteServer


class RemotesBox(QGroupBox):
    """Paired servers with Connect…, Check and Remove…."""

    remotes_changed = Signal()

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Organisation servers"))
        self.session = session
        self.task: Task | None = None
        self.problems: dict[str, str] = {}
        self.model = RecordTableModel([
            Column(self.tr("Name"), lambda r: r.name),
            Column(self.tr("Address"), lambda r: r.url),
            Column(self.tr("Models"), lambda r: ", ".join(r.models) or "—"),
            Column(self.tr("Status"), self._status, tooltip=self._status),
        ], self)
        self.table = record_table(self.model, self.tr("Organisation servers"), max_height=130)
        buttons = self._build_buttons()
        self.state = muted(self.tr(
            "Models of a paired server appear in the chat's model picker with the server's name. Your "
            "conversations stay on this computer, encrypted."))
        named(self.state, self.tr("Organisation servers status"))
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        layout.addWidget(self.state)
        self.refresh()

    def _build_buttons(self) -> QHBoxLayout:
        """Connect…, Check and Remove…, wired."""
        self.connect_button = named(
            QPushButton(theme.icon("server"), self.tr("Connect to your organisation's server…")),
            self.tr("Connect to your organisation's server"),
        )
        self.check_button = named(QPushButton(theme.icon("check"), self.tr("Check")),
                                  self.tr("Ask the servers for their models now"))
        self.remove_button = named(QPushButton(theme.icon("trash"), self.tr("Remove…")),
                                   self.tr("Remove the organisation server"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        self.connect_button.clicked.connect(self.connect_dialog)
        self.check_button.clicked.connect(self.check)
        self.remove_button.clicked.connect(self.remove_selected)
        return buttons

    def _status(self, remote: RemoteServer) -> str:
        return self.problems.get(remote.name) or self.tr("paired as {device}").format(device=remote.device or "?")

    def refresh(self) -> None:
        """Reload the list from the vault (nothing is contacted)."""
        remotes = remote_ops.remotes(self.session)
        self.model.set_records(remotes)
        self.table.setVisible(bool(remotes))
        self.check_button.setEnabled(bool(remotes) and self.task is None)
        self.remove_button.setEnabled(bool(remotes))

    def selected(self) -> RemoteServer | None:
        """The server selected in the table (the only one, when there is just one)."""
        rows = self.table.selectionModel().selectedRows()
        if rows:
            return self.model.record(rows[0].row())  # type: ignore[no-any-return]
        return self.model.record(0) if self.model.rowCount() == 1 else None

    def connect_dialog(self) -> ConnectServerDialog:
        """Open the connect dialog; a connected server shows up here and in the model picker."""
        dialog = ConnectServerDialog(self.session, self)
        dialog.connected.connect(lambda _remote: self._changed())
        dialog.open()
        return dialog

    def _changed(self) -> None:
        self.problems.clear()
        self.refresh()
        self.remotes_changed.emit()

    def check(self) -> Task | None:
        """Ask every server for its models (in the background); problems show in the Status column."""
        if self.task is not None:
            return None
        self.state.setText(self.tr("Checking…"))
        self.task = remote_ops.check(self, self.session).on_success(self._checked).on_failure(
            self._check_failed).start()
        self.check_button.setEnabled(False)
        return self.task

    def _checked(self, problems: dict[str, BaseException]) -> None:
        self.task = None
        self.problems = {name: error_text(exc) for name, exc in problems.items()}
        self.refresh()
        self.state.setText("\n".join(self.problems.values()) or self.tr("Every server answered."))
        self.remotes_changed.emit()

    def _check_failed(self, exc: BaseException) -> None:
        self.task = None
        self.state.setText(error_text(exc))
        self.refresh()

    def remove_selected(self, *, ask: bool = True) -> Task | None:
        """Forget the selected server and its key (conversations with its models stay)."""
        remote = self.selected()
        if remote is None:
            return None
        question = self.tr("Remove “{name}”? This computer forgets its key; your conversations stay.").format(
            name=remote.name)
        if ask and QMessageBox.question(
            self, self.tr("Remove server"), question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
        ) != QMessageBox.StandardButton.Yes:
            return None
        return remote_ops.remove(self, self.session, remote.name).on_success(
            lambda _remote: self._changed()).on_failure(lambda exc: self.state.setText(error_text(exc))).start()
