"""The Server view (placeholder while it is being built)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.session import Session


class ServerView(QWidget):
    """The local endpoint."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        QVBoxLayout(self).addWidget(QLabel(self.tr("Server")))

    def refresh_models(self) -> None:
        """Reload."""
