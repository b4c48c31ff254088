"""The Models page's “Organisation servers” section: servers this desktop is paired with, and their models.

Connecting, checking and removing are engine calls (`engine.pairing.remotes`); checking contacts the
servers, so it runs off the GUI thread.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.dialogs.connect_server import ConnectServerDialog
from app.models.records import Column, RecordTableModel
from app.session import ACTOR
from app.widgets import error_text, muted, named
from app.workers import Task, run_task
from engine.pairing.remotes import RemoteServer, list_remotes, refresh_models, remove_remote


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
        self.table = named(QTableView(), self.tr("Organisation servers"))
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMaximumHeight(130)
        self.connect_button = named(
            QPushButton(theme.icon("server"), self.tr("Connect to your organisation's server…")),
            self.tr("Connect to your organisation's server"),
        )
        self.check_button = named(QPushButton(theme.icon("check"), self.tr("Check")),
                                  self.tr("Ask the servers for their models now"))
        self.remove_button = named(QPushButton(theme.icon("trash"), self.tr("Remove…")),
                                   self.tr("Remove the organisation server"))
        self.state = muted(self.tr(
            "Models of a paired server appear in the chat's model picker with the server's name. Your "
            "conversations stay on this computer, encrypted."))
        named(self.state, self.tr("Organisation servers status"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        layout.addWidget(self.state)
        self.connect_button.clicked.connect(self.connect_dialog)
        self.check_button.clicked.connect(self.check)
        self.remove_button.clicked.connect(self.remove_selected)
        self.refresh()

    def _status(self, remote: RemoteServer) -> str:
        return self.problems.get(remote.name) or self.tr("paired as {device}").format(device=remote.device or "?")

    def refresh(self) -> None:
        """Reload the list from the vault (nothing is contacted)."""
        remotes = list_remotes(self.session.vault)
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
        dialog = ConnectServerDialog(self.session.vault, self)
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
        vault = self.session.vault
        names = [r.name for r in list_remotes(vault)]

        def run(_ctx: object) -> dict[str, str]:
            problems: dict[str, str] = {}
            for name in names:
                try:
                    refresh_models(vault, name)
                except Exception as exc:  # noqa: BLE001 (each server's reason is shown on its row)
                    problems[name] = error_text(exc)
            return problems

        def done(problems: dict[str, str]) -> None:
            self.task = None
            self.refresh()
            self.problems = problems
            self.model.set_records(list_remotes(vault))
            self.state.setText("\n".join(problems.values()) or self.tr("Every server answered."))
            self.remotes_changed.emit()

        def failed(exc: BaseException) -> None:
            self.task = None
            self.state.setText(error_text(exc))
            self.refresh()

        self.state.setText(self.tr("Checking…"))
        self.task = run_task(self, run, done, failed)
        self.check_button.setEnabled(False)
        return self.task

    def remove_selected(self, *, ask: bool = True) -> None:
        """Forget the selected server and its key (conversations with its models stay)."""
        remote = self.selected()
        if remote is None:
            return
        question = self.tr("Remove “{name}”? This computer forgets its key; your conversations stay.").format(
            name=remote.name)
        if ask and QMessageBox.question(
            self, self.tr("Remove server"), question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
        ) != QMessageBox.StandardButton.Yes:
            return
        try:
            remove_remote(self.session.vault, remote.name, actor=ACTOR)
        except Exception as exc:  # noqa: BLE001
            self.state.setText(error_text(exc))
            return
        self._changed()
