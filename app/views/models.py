"""The Models view (placeholder while it is being built)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.session import Session


class ModelsView(QWidget):
    """Registered models."""

    models_changed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        QVBoxLayout(self).addWidget(QLabel(self.tr("Models")))

    def refresh(self) -> None:
        """Reload."""
