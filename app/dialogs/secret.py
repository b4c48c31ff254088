"""A secret shown once (an API key, a pairing code): monospaced, selectable, wrapped, with a Copy button.

One widget for both, so the two dialogs that hand out secrets look and behave alike."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.widgets import CopyButton, named


class SecretBox(QWidget):
    """`label` shows the secret, `copy` copies exactly what it shows."""

    def __init__(self, text: str, name: str, copy_label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = named(QLabel(text), name)
        self.label.setObjectName("secretBox")
        self.label.setFont(QFont("monospace"))
        self.label.setWordWrap(True)  # a long code wraps: the dialog never scrolls sideways
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy = CopyButton(self.label.text, copy_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.copy, 0, Qt.AlignmentFlag.AlignLeft)

    def set_text(self, text: str) -> None:
        """Show `text` (the Copy button copies it from then on)."""
        self.label.setText(text)
