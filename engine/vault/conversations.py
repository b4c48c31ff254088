"""Conversations and their messages, each conversation under its own data key, plus in-memory search."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from engine.errors import NotFoundError, UserError
from engine.vault import crypto
from engine.vault.audit import AuditLog
from engine.vault.errors import RecordTampered
from engine.vault.records import Alternative, Conversation, Message, SearchHit
from engine.vault.search import SearchIndex
from engine.vault.sqlite import Database
from engine.vault.store import Store, iso, now, parse_time

ROLES = frozenset({"system", "user", "assistant", "tool"})
_CONV_COLUMNS = "id, key_id, created_at, updated_at, message_count, body"
MAX_ALTERNATIVES = 20  # versions kept of one regenerated reply; the oldest unchosen one goes first


class Conversations:
    """Create, read, change, search and crypto-shred conversations."""

    def __init__(self, store: Store, audit: AuditLog) -> None:
        self._store = store
        self._audit = audit
        self._index: SearchIndex | None = None
        # Decrypted text must not outlive the keys.
        store.on_lock.append(self._drop_index)

    def _drop_index(self) -> None:
        self._index = None

    # -- rows <-> records (connection thread) ---------------------------------------------------

    def _conversation(self, db: Database, row: tuple[Any, ...]) -> Conversation:
        conv_id, key_id, created_at, updated_at, count, body = row
        data = self._store.open_json(db, "conversations", "body", conv_id, body, key_id)
        return Conversation(
            conv_id,
            data["title"],
            data.get("model"),
            data.get("system_prompt"),
            data.get("subject"),
            parse_time(created_at),
            parse_time(updated_at),
            count,
            tuple(data.get("collections") or ()),
        )

    def _row(self, db: Database, conv_id: str) -> tuple[Any, ...]:
        row = db.execute(f"SELECT {_CONV_COLUMNS} FROM conversations WHERE id = ?", [conv_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no conversation {conv_id}")
        return tuple(row)

    def _message(self, db: Database, key_id: str, row: tuple[Any, ...]) -> Message:
        msg_id, conv_id, seq, created_at, body = row
        data = self._store.open_json(db, "messages", "body", msg_id, body, key_id)
        # The plaintext columns are repeated inside the envelope, so moving or reordering rows shows.
        if (data.get("conversation_id"), data.get("seq"), data.get("created_at")) != (
            conv_id,
            seq,
            created_at,
        ):
            raise RecordTampered("messages", msg_id)
        alternatives = tuple(Alternative(a["content"], a.get("metadata")) for a in data.get("alternatives") or ())
        return Message(
            msg_id,
            conv_id,
            seq,
            data["role"],
            data["content"],
            data.get("metadata"),
            parse_time(created_at),
            alternatives,
            int(data.get("active", 0)),
        )

    def _messages(self, db: Database, conv_id: str, key_id: str) -> builtins.list[Message]:
        rows = db.execute(
            "SELECT id, conversation_id, seq, created_at, body FROM messages WHERE conversation_id = ? ORDER BY seq",
            [conv_id],
        ).fetchall()
        return [self._message(db, key_id, tuple(r)) for r in rows]

    # -- public API ------------------------------------------------------------------------------

    def create(
        self,
        title: str,
        *,
        model: str | None = None,
        system_prompt: str | None = None,
        subject: str | None = None,
    ) -> Conversation:
        """Start a conversation under a new data key."""

        def task(db: Database) -> Conversation:
            conv_id = crypto.new_id()
            stamp = iso(now())
            body = {"title": title, "model": model, "system_prompt": system_prompt, "subject": subject}
            with db.atomic():
                key_id = self._store.new_data_key(db)
                sealed = self._store.seal_json(db, "conversations", "body", conv_id, key_id, body)
                db.execute(
                    f"INSERT INTO conversations ({_CONV_COLUMNS}) VALUES (?, ?, ?, ?, 0, ?)",
                    [conv_id, key_id, stamp, stamp, sealed],
                )
            conversation = self._conversation(db, self._row(db, conv_id))
            if self._index is not None:
                self._index.put_conversation(conv_id, title)
            return conversation

        return self._store.run(task)

    def list(self) -> builtins.list[Conversation]:
        """Every conversation, most recently updated first."""

        def task(db: Database) -> builtins.list[Conversation]:
            rows = db.execute(f"SELECT {_CONV_COLUMNS} FROM conversations ORDER BY updated_at DESC, id").fetchall()
            return [self._conversation(db, tuple(r)) for r in rows]

        return self._store.run(task)

    def get(self, conv_id: str) -> Conversation:
        """One conversation; NotFoundError if absent."""
        return self._store.run(lambda db: self._conversation(db, self._row(db, conv_id)))

    def _update(self, conv_id: str, change: Callable[[dict[str, Any]], None]) -> Conversation:
        def task(db: Database) -> Conversation:
            with db.atomic():
                row = self._row(db, conv_id)
                key_id = row[1]
                data = self._store.open_json(db, "conversations", "body", conv_id, row[5], key_id)
                change(data)
                sealed = self._store.seal_json(db, "conversations", "body", conv_id, key_id, data)
                db.execute(
                    "UPDATE conversations SET body = ?, updated_at = ? WHERE id = ?",
                    [sealed, iso(now()), conv_id],
                )
            if self._index is not None:
                self._index.put_conversation(conv_id, data["title"])
            return self._conversation(db, self._row(db, conv_id))

        return self._store.run(task)

    def rename(self, conv_id: str, title: str) -> Conversation:
        """Change the title."""
        return self._update(conv_id, lambda d: d.__setitem__("title", title))

    def set_model(self, conv_id: str, model: str | None) -> Conversation:
        """Change the model the conversation uses."""
        return self._update(conv_id, lambda d: d.__setitem__("model", model))

    def set_system_prompt(self, conv_id: str, system_prompt: str | None) -> Conversation:
        """Change the system prompt."""
        return self._update(conv_id, lambda d: d.__setitem__("system_prompt", system_prompt))

    def set_subject(self, conv_id: str, subject: str | None) -> Conversation:
        """Change the subject label."""
        return self._update(conv_id, lambda d: d.__setitem__("subject", subject))

    def set_collections(self, conv_id: str, names: builtins.list[str]) -> Conversation:
        """Change the document collections the conversation answers from (stored encrypted with it)."""
        return self._update(conv_id, lambda d: d.__setitem__("collections", list(names)))

    def add_message(self, conv_id: str, role: str, content: str, *, metadata: dict[str, Any] | None = None) -> Message:
        """Append a message; returns once it is committed (synchronous=FULL)."""
        if role not in ROLES:
            raise UserError(f"unknown message role {role!r}")

        def task(db: Database) -> Message:
            msg_id = crypto.new_id()
            created_at = iso(now())
            with db.atomic():
                key_id = self._row(db, conv_id)[1]
                seq = db.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE conversation_id = ?", [conv_id]
                ).fetchone()[0]
                body = {
                    "role": role,
                    "content": content,
                    "metadata": metadata,
                    "conversation_id": conv_id,
                    "seq": seq,
                    "created_at": created_at,
                }
                sealed = self._store.seal_json(db, "messages", "body", msg_id, key_id, body)
                db.execute(
                    "INSERT INTO messages (id, conversation_id, seq, created_at, body) VALUES (?, ?, ?, ?, ?)",
                    [msg_id, conv_id, seq, created_at, sealed],
                )
                db.execute(
                    "UPDATE conversations SET updated_at = ?, message_count = message_count + 1 WHERE id = ?",
                    [created_at, conv_id],
                )
            if self._index is not None:
                self._index.add_message(conv_id, msg_id, role, content)
            return Message(msg_id, conv_id, seq, role, content, metadata, parse_time(created_at))

        return self._store.run(task)

    def add_alternative(
        self, conv_id: str, msg_id: str, content: str, *, metadata: dict[str, Any] | None = None
    ) -> Message:
        """Store another version of a reply (regenerate) and choose it; the earlier ones are kept."""

        def change(data: dict[str, Any]) -> None:
            versions = data.get("alternatives") or [{"content": data["content"], "metadata": data.get("metadata")}]
            versions.append({"content": content, "metadata": metadata})
            active = len(versions) - 1
            while len(versions) > MAX_ALTERNATIVES:
                versions.pop(0)
                active -= 1
            data["alternatives"], data["active"] = versions, active

        return self._change_message(conv_id, msg_id, change)

    def choose_alternative(self, conv_id: str, msg_id: str, index: int) -> Message:
        """Make version `index` of a regenerated reply the one shown and sent with the next turn."""

        def change(data: dict[str, Any]) -> None:
            versions = data.get("alternatives") or []
            if not 0 <= index < len(versions):
                raise UserError(f"message {msg_id} has no version {index + 1}")
            data["active"] = index

        return self._change_message(conv_id, msg_id, change)

    def _change_message(self, conv_id: str, msg_id: str, change: Callable[[dict[str, Any]], None]) -> Message:
        def task(db: Database) -> Message:
            with db.atomic():
                key_id = self._row(db, conv_id)[1]
                row = db.execute(
                    "SELECT id, conversation_id, seq, created_at, body FROM messages"
                    " WHERE id = ? AND conversation_id = ?",
                    [msg_id, conv_id],
                ).fetchone()
                if row is None:
                    raise NotFoundError(f"no message {msg_id} in conversation {conv_id}")
                self._message(db, key_id, tuple(row))  # checks the envelope against its row first
                data = self._store.open_json(db, "messages", "body", msg_id, row[4], key_id)
                change(data)
                chosen = data["alternatives"][data["active"]]
                data["content"], data["metadata"] = chosen["content"], chosen.get("metadata")
                sealed = self._store.seal_json(db, "messages", "body", msg_id, key_id, data)
                db.execute("UPDATE messages SET body = ? WHERE id = ?", [sealed, msg_id])
                db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", [iso(now()), conv_id])
                message = self._message(db, key_id, (row[0], row[1], row[2], row[3], sealed))
            if self._index is not None:
                self._index.replace_message(conv_id, msg_id, message.content)
            return message

        return self._store.run(task)

    def messages(self, conv_id: str) -> builtins.list[Message]:
        """The conversation's messages in order."""
        return self._store.run(lambda db: self._messages(db, conv_id, self._row(db, conv_id)[1]))

    def delete_messages_from(self, conv_id: str, message_id: str) -> int:
        """Delete `message_id` and every later message (edit-and-resend, regenerate); returns how many."""

        def task(db: Database) -> int:
            with db.atomic():
                self._row(db, conv_id)
                found = db.execute(
                    "SELECT seq FROM messages WHERE id = ? AND conversation_id = ?", [message_id, conv_id]
                ).fetchone()
                if found is None:
                    raise NotFoundError(f"no message {message_id} in conversation {conv_id}")
                deleted = db.execute(
                    "DELETE FROM messages WHERE conversation_id = ? AND seq >= ?", [conv_id, found[0]]
                ).rowcount
                db.execute(
                    "UPDATE conversations SET message_count = message_count - ?, updated_at = ? WHERE id = ?",
                    [deleted, iso(now()), conv_id],
                )
            if self._index is not None:
                self._index.truncate(conv_id, message_id)
            return int(deleted)

        return self._store.run(task)

    def search(self, query: str, limit: int = 50) -> builtins.list[SearchHit]:
        """Case-insensitive substring search over titles and messages (decrypted, in memory)."""

        def task(db: Database) -> builtins.list[SearchHit]:
            if self._index is None:
                self._index = self._build_index(db)
            return self._index.search(query, limit)

        return self._store.run(task)

    def _build_index(self, db: Database) -> SearchIndex:
        index = SearchIndex()
        rows = db.execute(f"SELECT {_CONV_COLUMNS} FROM conversations ORDER BY updated_at").fetchall()
        for row in rows:
            conversation = self._conversation(db, tuple(row))
            index.put_conversation(conversation.id, conversation.title)
            for message in self._messages(db, conversation.id, row[1]):
                index.add_message(conversation.id, message.id, message.role, message.content)
        return index

    def erase(self, conv_id: str, *, actor: str = "local") -> None:
        """Crypto-shred one conversation: destroy its key, delete its rows, scrub the bytes."""

        def task(db: Database) -> None:
            self._erase_in(db, conv_id)
            self._audit.append_in(db, "erase", actor=actor, details={"conversation_id": conv_id})

        self._store.run(task)

    def erase_all(self, *, actor: str = "local") -> int:
        """Crypto-shred every conversation; returns how many."""

        def task(db: Database) -> int:
            ids = [r[0] for r in db.execute("SELECT id FROM conversations").fetchall()]
            with db.atomic():
                for conv_id in ids:
                    self._delete_rows(db, conv_id)
            scrub(db)
            self._audit.append_in(db, "erase", actor=actor, details={"all": True, "count": len(ids)})
            return len(ids)

        return self._store.run(task)

    def erase_many(
        self, ids: builtins.list[str], *, actor: str = "local", details: dict[str, Any] | None = None
    ) -> int:
        """Crypto-shred the given conversations together, with one audit event; returns how many."""

        def task(db: Database) -> int:
            with db.atomic():
                for conv_id in ids:
                    self._delete_rows(db, conv_id)
            scrub(db)
            self._audit.append_in(db, "erase", actor=actor, details={**(details or {}), "count": len(ids)})
            return len(ids)

        return self._store.run(task)

    def expire_in(self, db: Database, cutoff: str, held_subjects: frozenset[str]) -> int:
        """Retention: delete conversations idle since before `cutoff` (ISO) unless their subject is held."""
        count = 0
        for row in db.execute(f"SELECT {_CONV_COLUMNS} FROM conversations WHERE updated_at < ?", [cutoff]).fetchall():
            if held_subjects and self._conversation(db, tuple(row)).subject in held_subjects:
                continue
            self._delete_rows(db, row[0])
            count += 1
        return count

    def _erase_in(self, db: Database, conv_id: str) -> None:
        with db.atomic():
            self._delete_rows(db, conv_id)
        scrub(db)

    def _delete_rows(self, db: Database, conv_id: str) -> None:
        key_id = self._row(db, conv_id)[1]
        db.execute("DELETE FROM messages WHERE conversation_id = ?", [conv_id])
        db.execute("DELETE FROM conversations WHERE id = ?", [conv_id])
        db.execute("DELETE FROM data_keys WHERE id = ?", [key_id])
        self._store.forget_data_key(key_id)
        if self._index is not None:
            self._index.remove(conv_id)


def scrub(db: Database) -> None:
    """Move every committed page into the main file and empty the WAL, so deleted bytes are gone."""
    # secure_delete zeroes freed cells and pages as they are written; TRUNCATE then drops the WAL frames
    # that still hold the old ciphertext.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
