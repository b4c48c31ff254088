"""The conversation list of the chat sidebar, newest first."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt

from app.widgets import human_time
from engine.vault.records import Conversation

Index = QModelIndex | QPersistentModelIndex


class ConversationListModel(QAbstractListModel):
    """Rows of `engine.vault.Conversation`, in the order given (the vault lists newest first)."""

    IdRole = Qt.ItemDataRole.UserRole + 1
    UpdatedRole = Qt.ItemDataRole.UserRole + 2
    ModelRole = Qt.ItemDataRole.UserRole + 3

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[Conversation] = []

    def set_conversations(self, items: list[Conversation]) -> None:
        """Replace every row."""
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def conversation(self, row: int) -> Conversation | None:
        """The conversation at `row`, or None."""
        return self._items[row] if 0 <= row < len(self._items) else None

    def row_of(self, conversation_id: str) -> int:
        """The row of a conversation id, or -1."""
        return next((i for i, c in enumerate(self._items) if c.id == conversation_id), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return item.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tr("{title}\nLast message: {time}").format(
                title=item.title, time=human_time(item.updated_at)
            )
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self.tr("{title}, updated {time}").format(title=item.title, time=human_time(item.updated_at))
        if role == self.IdRole:
            return item.id
        if role == self.UpdatedRole:
            return human_time(item.updated_at)
        if role == self.ModelRole:
            return item.model or ""
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = super().roleNames()
        names[self.IdRole] = QByteArray(b"conversationId")
        names[self.UpdatedRole] = QByteArray(b"updated")
        names[self.ModelRole] = QByteArray(b"model")
        return names
