"""Qt item models over the engine's records (conversations, messages, registered models, tables)."""

from app.models.conversations import ConversationListModel
from app.models.messages import MessageItem, MessageListModel
from app.models.model_table import ModelTableModel
from app.models.records import Column, RecordTableModel

__all__ = [
    "Column",
    "ConversationListModel",
    "MessageItem",
    "MessageListModel",
    "ModelTableModel",
    "RecordTableModel",
]
