"""The approval a tool call waits for in the chat: which tool, with which arguments; approve or deny."""

from __future__ import annotations

import json

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from app.widgets import muted, named
from engine.chat import ToolCallRequest

MAX_SHOWN_CHARS = 8000  # of the arguments (the whole text goes to the tool; the audit keeps its hash)


def pretty_arguments(arguments: str) -> str:
    """The arguments as indented JSON (as they came, when they are not JSON)."""
    try:
        text = json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except json.JSONDecodeError:
        text = arguments
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "\n…"


class ToolApproval(QFrame):
    """One tool call shown for the person to approve or deny; `decided(call, approved)` says which."""

    decided = Signal(object, bool)  # ToolCallRequest, approved

    def __init__(self, call: ToolCallRequest, server: str, tool: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.call = call
        self.setObjectName("toolApproval")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        where = self.tr("{tool} (server {server})").format(tool=tool, server=server) if server else tool
        self.title = QLabel(self.tr("The model wants to call the tool {tool}.").format(tool=where))
        self.title.setWordWrap(True)
        self.arguments = QPlainTextEdit(pretty_arguments(call.arguments))
        self.arguments.setReadOnly(True)
        self.arguments.setMaximumHeight(120)
        named(self.arguments, self.tr("Arguments of the tool call"))
        self.approve = QPushButton(self.tr("Approve"))
        self.approve.setToolTip(self.tr("Run the tool with these arguments"))
        self.deny = QPushButton(self.tr("Deny"))
        self.deny.setToolTip(self.tr("Do not run the tool; the model is told it was denied"))
        self.approve.clicked.connect(lambda: self._decide(True))
        self.deny.clicked.connect(lambda: self._decide(False))
        buttons = QHBoxLayout()
        buttons.addWidget(muted(self.tr("Nothing runs until you approve.")), 1)
        buttons.addWidget(self.deny)
        buttons.addWidget(self.approve)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.arguments)
        layout.addLayout(buttons)

    def _decide(self, approved: bool) -> None:
        self.approve.setEnabled(False)
        self.deny.setEnabled(False)
        self.decided.emit(self.call, approved)
