"""The messages of the open conversation, including the reply that is streaming in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt

from app.widgets import human_time
from engine.models.reasoning import THINK_OPEN, split_reply
from engine.vault.records import Message

Index = QModelIndex | QPersistentModelIndex


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class MessageItem:
    """One row: a stored message, or one not stored yet (id None) such as a streaming reply."""

    role: str
    content: str
    id: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: dt.datetime = field(default_factory=_now)
    streaming: bool = False
    loading: str | None = None  # the model being loaded for this reply, before it starts
    load_fraction: float = 0.0
    thinks: bool = False  # written by a reasoning model: it thinks before it answers
    started: bool = False  # the model is working on it (loaded, the prompt is being read)
    versions: int = 0  # a regenerated reply: how many versions it has (0: never regenerated)
    active: int = 0  # which version is shown (0-based)

    @classmethod
    def from_message(cls, message: Message) -> MessageItem:
        """A row for a message read from the vault."""
        return cls(
            message.role,
            message.content,
            message.id,
            message.metadata,
            message.created_at,
            versions=len(message.alternatives),
            active=message.active,
        )

    @property
    def ai_generated(self) -> bool:
        """True for model output (every assistant message carries the engine's AI label)."""
        return self.role == "assistant" or bool((self.metadata or {}).get("ai_generated"))

    def thinking_and_answer(self) -> tuple[str, str]:
        """A reasoning model's reply as (thinking, answer); any other message is all answer."""
        if self.role != "assistant" or not self.content.lstrip().startswith(THINK_OPEN):
            return "", self.content
        return split_reply(self.content, complete=not self.streaming)


class MessageListModel(QAbstractListModel):
    """Rows of MessageItem in conversation order; the last one may grow while a reply streams."""

    RoleRole = Qt.ItemDataRole.UserRole + 1
    IdRole = Qt.ItemDataRole.UserRole + 2
    TimeRole = Qt.ItemDataRole.UserRole + 3
    MetadataRole = Qt.ItemDataRole.UserRole + 4
    StreamingRole = Qt.ItemDataRole.UserRole + 5
    AiGeneratedRole = Qt.ItemDataRole.UserRole + 6

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[MessageItem] = []

    # -- changes --------------------------------------------------------------------------------

    def set_messages(self, messages: list[Message]) -> None:
        """Replace every row with messages read from the vault."""
        self.beginResetModel()
        self._items = [MessageItem.from_message(m) for m in messages if m.role != "system"]
        self.endResetModel()

    def clear(self) -> None:
        """No rows (a new, empty chat)."""
        self.set_messages([])

    def append(self, item: MessageItem) -> int:
        """Add a row at the end; returns its row number."""
        row = len(self._items)
        self.beginInsertRows(QModelIndex(), row, row)
        self._items.append(item)
        self.endInsertRows()
        return row

    def append_text(self, row: int, text: str) -> None:
        """Grow a streaming row by a chunk."""
        item = self._items[row]
        self._update(row, replace(item, content=item.content + text))

    def set_item(self, row: int, item: MessageItem) -> None:
        """Replace a row (the streaming reply's state changed)."""
        if 0 <= row < len(self._items):
            self._update(row, item)

    def finish(self, row: int, metadata: dict[str, Any] | None, message_id: str | None = None) -> None:
        """Mark a streaming row done, with the label and counts the engine stored (and its stored id)."""
        item = self._items[row]
        self._update(row, replace(item, streaming=False, metadata=metadata, id=message_id or item.id))

    def set_id(self, row: int, message_id: str) -> None:
        """Give a row sent before it was stored the id the engine stored it under."""
        if 0 <= row < len(self._items):
            self._update(row, replace(self._items[row], id=message_id))

    def remove_from(self, row: int) -> None:
        """Drop `row` and everything after it (regenerate, edit-and-resend)."""
        if 0 <= row < len(self._items):
            self.beginRemoveRows(QModelIndex(), row, len(self._items) - 1)
            del self._items[row:]
            self.endRemoveRows()

    def _update(self, row: int, item: MessageItem) -> None:
        self._items[row] = item
        index = self.index(row, 0)
        self.dataChanged.emit(index, index)

    # -- reading --------------------------------------------------------------------------------

    def item(self, row: int) -> MessageItem | None:
        """The row's item, or None."""
        return self._items[row] if 0 <= row < len(self._items) else None

    def items(self) -> list[MessageItem]:
        """All rows (a copy)."""
        return list(self._items)

    def author(self, item: MessageItem) -> str:
        """Who wrote a message, as the person reads it."""
        if item.role == "user":
            return self.tr("You")
        if item.role == "assistant":
            model = (item.metadata or {}).get("model")
            return model or self.tr("Assistant")
        if item.role == "tool":
            return self.tr("Tool result: {tool}").format(tool=(item.metadata or {}).get("tool", ""))
        return item.role

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.content
        if role == Qt.ItemDataRole.AccessibleTextRole:
            # A screen reader hears author and time before the text (the answer, not the thinking).
            text = item.thinking_and_answer()[1]
            if item.ai_generated:  # the label is heard as well as seen
                return self.tr("{author}, AI-generated, {time}: {text}").format(
                    author=self.author(item), time=human_time(item.created_at), text=text
                )
            return self.tr("{author}, {time}: {text}").format(
                author=self.author(item), time=human_time(item.created_at), text=text
            )
        if role == self.RoleRole:
            return item.role
        if role == self.IdRole:
            return item.id or ""
        if role == self.TimeRole:
            return human_time(item.created_at)
        if role == self.MetadataRole:
            return dict(item.metadata or {})
        if role == self.StreamingRole:
            return item.streaming
        if role == self.AiGeneratedRole:
            return item.ai_generated
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = super().roleNames()
        for role, name in (
            (self.RoleRole, b"role"),
            (self.IdRole, b"messageId"),
            (self.TimeRole, b"time"),
            (self.MetadataRole, b"metadata"),
            (self.StreamingRole, b"streaming"),
            (self.AiGeneratedRole, b"aiGenerated"),
        ):
            names[role] = QByteArray(name)
        return names
