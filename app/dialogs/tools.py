"""The administrator's MCP tools: register servers (a command or a URL), allow their tools one by one."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.widgets import error_text, muted, named
from app.workers import Task

ALLOWED, ALWAYS = 2, 3  # columns holding the rules' check boxes


class ToolsDialog(QDialog):
    """Every registered MCP server with its tools; a tool is offered to chats only once allowed here."""

    def __init__(self, tools: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tools = tools  # engine.tools.Tools
        self.task: Task | None = None
        self._filling = False
        self.setWindowTitle(self.tr("Tools (MCP servers)"))
        self.resize(760, 480)
        row = self._build_add_row()
        self._build_tree()
        bottom = self._build_bottom()
        layout = QVBoxLayout(self)
        layout.addWidget(muted(self.tr(
            "Tools are not offered to any model until you allow them. Each call is shown to the person "
            "for approval unless you tick “Without asking”; every call is recorded in the audit log.")))
        layout.addLayout(row)
        layout.addWidget(self.tree, 1)
        layout.addLayout(bottom)
        self.reload()

    def _build_add_row(self) -> QHBoxLayout:
        """Name, kind and command or URL of a server to register, with Add."""
        self.name = named(QLineEdit(), self.tr("Server name"))
        self.name.setPlaceholderText(self.tr("e.g. tickets"))
        self.kind = named(QComboBox(), self.tr("How to reach the server"))
        self.kind.addItem(self.tr("Command (stdio)"), "command")
        self.kind.addItem(self.tr("URL (Streamable HTTP)"), "url")
        self.target = named(QLineEdit(), self.tr("Command or URL"))
        self.target.setPlaceholderText(self.tr("e.g. /opt/tools/tickets-mcp --read-only"))
        self.add_button = named(QPushButton(self.tr("Add")), self.tr("Register the server and list its tools"))
        self.add_button.clicked.connect(self.add_server)
        row = QHBoxLayout()
        row.addWidget(self.name, 1)
        row.addWidget(self.kind)
        row.addWidget(self.target, 3)
        row.addWidget(self.add_button)
        return row

    def _build_tree(self) -> None:
        """The servers and their tools, with the two rule check boxes."""
        self.tree = named(QTreeWidget(), self.tr("Servers and their tools"))
        self.tree.setHeaderLabels([self.tr("Server / tool"), self.tr("Description"), self.tr("Allowed"),
                                   self.tr("Without asking")])
        header = self.tree.header()
        header.setStretchLastSection(False)
        for column in (0, ALLOWED, ALWAYS):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.tree.itemChanged.connect(self._rule_changed)

    def _build_bottom(self) -> QHBoxLayout:
        """Remove server, the status line and Close."""
        self.remove_button = named(QPushButton(self.tr("Remove server")), self.tr("Forget the selected server"))
        self.remove_button.clicked.connect(self.remove_selected)
        self.state = muted("")
        self.state.setWordWrap(True)
        named(self.state, self.tr("Tools status"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.remove_button)
        bottom.addWidget(self.state, 1)
        bottom.addWidget(buttons)
        return bottom

    def reload(self) -> None:
        """Show the servers and rules as stored."""
        self._filling = True
        self.tree.clear()
        for server in self.tools.servers():
            top = QTreeWidgetItem([server.name, server.target])
            top.setData(0, Qt.ItemDataRole.UserRole, server.name)
            top.setToolTip(1, server.target)
            self.tree.addTopLevelItem(top)
            for tool in server.tools:
                item = QTreeWidgetItem([tool.name, tool.description])
                item.setData(0, Qt.ItemDataRole.UserRole, (server.name, tool.name))
                item.setToolTip(1, tool.description)
                for column, on in ((ALLOWED, tool.allowed), (ALWAYS, tool.always)):
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(column, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
                top.addChild(item)
            top.setExpanded(True)
        self._filling = False

    def _rule_changed(self, item: QTreeWidgetItem, column: int) -> None:
        where = item.data(0, Qt.ItemDataRole.UserRole)
        if self._filling or not isinstance(where, tuple) or column not in (ALLOWED, ALWAYS):
            return
        allowed = item.checkState(ALLOWED) == Qt.CheckState.Checked
        always = item.checkState(ALWAYS) == Qt.CheckState.Checked
        if column == ALWAYS and always:
            allowed = True  # "without asking" implies allowed
        always = always and allowed  # no longer allowed: not "without asking" either
        try:
            rule = self.tools.allow(where[0], where[1], always=always) if allowed else self.tools.deny(*where)
        except Exception as exc:  # noqa: BLE001 (shown to the admin)
            self.state.setText(error_text(exc))
            return
        # Updated in place: the tree must not be rebuilt while Qt is still inside this item's change.
        self._filling = True
        for col, on in ((ALLOWED, rule.allowed), (ALWAYS, rule.always)):
            item.setCheckState(col, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self._filling = False

    def add_server(self) -> None:
        """Register the server typed in (it is contacted off the GUI thread to list its tools)."""
        name, target = self.name.text().strip(), self.target.text().strip()
        if not name or not target:
            self.state.setText(self.tr("Give the server a name and a command or URL."))
            return
        options = {self.kind.currentData(): target}
        self.add_button.setEnabled(False)
        self.state.setText(self.tr("Contacting the server…"))
        self.task = Task(lambda _ctx: self.tools.add(name, **options), self)
        self.task.on_success(self._added).on_failure(self._add_failed).start()

    def _added(self, server: Any) -> None:
        self.add_button.setEnabled(True)
        self.name.clear()
        self.target.clear()
        self.state.setText(self.tr("{name}: {count} tools listed; none allowed yet.").format(
            name=server.name, count=len(server.tools)))
        self.reload()

    def _add_failed(self, exc: BaseException) -> None:
        self.add_button.setEnabled(True)
        self.state.setText(error_text(exc))

    def remove_selected(self) -> None:
        """Forget the selected server (or the server of the selected tool)."""
        item = self.tree.currentItem()
        if item is None:
            return
        where = item.data(0, Qt.ItemDataRole.UserRole)
        name = where[0] if isinstance(where, tuple) else where
        try:
            self.tools.remove(name)
        except Exception as exc:  # noqa: BLE001 (shown to the admin)
            self.state.setText(error_text(exc))
        self.reload()
