"""The Privacy view (placeholder while it is being built)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.session import Session


class PrivacyView(QWidget):
    """Retention, export, erase, audit."""

    history_changed = Signal()
    autolock_changed = Signal(int)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        QVBoxLayout(self).addWidget(QLabel(self.tr("Privacy")))
