"""The Qt item models pass pytest-qt's qtmodeltester (Qt's QAbstractItemModelTester)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt

from app.models import Column, ConversationListModel, MessageItem, MessageListModel, ModelTableModel, RecordTableModel
from app.models.model_table import Col, HashState


def test_conversation_model(qtmodeltester, vault) -> None:  # type: ignore[no-untyped-def]
    for title in ("first", "second", "third"):
        vault.conversations.create(title, model="tiny")
    model = ConversationListModel()
    model.set_conversations(vault.conversations.list())
    qtmodeltester.check(model)
    assert model.rowCount() == 3
    assert model.data(model.index(0, 0)) == "third"  # newest first
    assert model.row_of(vault.conversations.list()[1].id) == 1


def test_message_model_streaming(qtmodeltester, vault) -> None:  # type: ignore[no-untyped-def]
    conversation = vault.conversations.create("chat")
    vault.conversations.add_message(conversation.id, "user", "hello")
    vault.conversations.add_message(conversation.id, "assistant", "hi", metadata={"ai_generated": True})
    model = MessageListModel()
    model.set_messages(vault.conversations.messages(conversation.id))
    qtmodeltester.check(model)
    row = model.append(MessageItem("assistant", "", streaming=True))
    model.append_text(row, "Hel")
    model.append_text(row, "lo")
    model.finish(row, {"ai_generated": True, "model": "tiny"})
    qtmodeltester.check(model)
    assert model.data(model.index(row, 0)) == "Hello"
    assert model.data(model.index(row, 0), MessageListModel.AiGeneratedRole) is True
    assert model.data(model.index(0, 0), MessageListModel.AiGeneratedRole) is False
    model.remove_from(1)
    assert model.rowCount() == 1


def test_model_table(qtmodeltester, registry, tiny_model) -> None:  # type: ignore[no-untyped-def]
    model = ModelTableModel()
    model.set_records(registry.list(), registry.default_name(), {"tiny"})
    qtmodeltester.check(model)
    # The checksum column says what it knows: checked when imported, or verified, with the date.
    sha = model.index(0, Col.SHA256)
    assert model.data(sha).startswith("checked at import, ") and "recorded" not in model.data(sha)
    assert tiny_model.sha256 in model.data(sha, Qt.ItemDataRole.ToolTipRole)
    registry.verify("tiny")
    model.set_records(registry.list(), registry.default_name(), {"tiny"})
    assert model.data(sha).startswith("verified ") and registry.get("tiny").verified_at  # kept for next time
    model.set_hash_state("tiny", HashState.VERIFIED)
    assert model.columnCount() == 9
    texts = [model.data(model.index(0, c)) for c in range(model.columnCount())]
    assert texts[0] == "tiny (default)" and "verified just now" in texts and "loaded" in texts


def test_record_table(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = RecordTableModel([Column("When", lambda r: r[0].isoformat()), Column("What", lambda r: r[1], True)])
    model.set_records([(dt.datetime.now(dt.UTC), "a"), (dt.datetime.now(dt.UTC), "b")])
    qtmodeltester.check(model)
    assert model.record(1)[1] == "b"
