"""Whole-vault operations: check, backup, restore, export."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from engine.errors import IntegrityError, NotFoundError, UserError
from engine.fileio import fsync_dir, write_atomic
from engine.vault.audit import AuditLog
from engine.vault.errors import RecordTampered
from engine.vault.header import Header, header_from_row, read_header, unwrap_with_passphrase
from engine.vault.records import Message
from engine.vault.schema import COLUMNS, Kind, copy_database
from engine.vault.sqlite import Database
from engine.vault.store import Store, iso, now

if TYPE_CHECKING:
    from engine.vault.core import Vault

EXPORT_FORMAT = "enclave-export"
AI_LABEL = "AI-generated"
AI_LABEL_ZH = "AI生成"  # the wording China's 2025 labelling measures expect
_IMPLICIT_LABEL = ("producer", "model", "model_sha256", "created", "content_id")
STREAMS = ("audit", "settings", "api_keys", "request_log")


def header_in(db: Database) -> Header:
    """The header row, read through the open connection."""
    cursor = db.execute("SELECT * FROM header WHERE id = 1")
    names = [column[0] for column in cursor.description]
    return header_from_row(dict(zip(names, cursor.fetchone(), strict=True)))


def load_stream_keys(db: Database, store: Store) -> None:
    """Tell the store which data keys the audit, settings, api_keys and request_log streams use."""
    row = db.execute(
        "SELECT audit_key_id, settings_key_id, api_keys_key_id, request_log_key_id FROM header WHERE id = 1"
    ).fetchone()
    store.stream_keys.update(zip(STREAMS, row, strict=True))


def check_in(db: Database, store: Store, audit: AuditLog) -> list[str]:
    """Every problem found: SQLite's own checks, each envelope, the audit chain."""
    problems = [f"sqlite: {r[0]}" for r in db.execute("PRAGMA integrity_check").fetchall() if r[0] != "ok"]
    problems += [f"sqlite: dangling reference in {r[0]} row {r[1]}" for r in db.execute("PRAGMA foreign_key_check")]
    # Conversation rows name the key their messages must be under; the key must match.
    conv_keys = dict(db.execute("SELECT id, key_id FROM conversations").fetchall())
    for table, columns in COLUMNS.items():
        if table == "header":
            continue  # its wraps were checked by unlocking
        for column, kind in columns.items():
            if kind is not Kind.SEALED:
                continue
            select = "id, conversation_id" if table == "messages" else "id, NULL"
            for row_id, conv_id in db.execute(f"SELECT {select} FROM {table}").fetchall():
                blob = db.execute(f"SELECT {column} FROM {table} WHERE id = ?", [row_id]).fetchone()[0]
                try:
                    _check_cell(db, store, table, column, row_id, blob, conv_keys.get(conv_id or row_id))
                except RecordTampered as exc:
                    problems.append(str(exc))
    try:
        audit.verify_in(db)
    except IntegrityError as exc:
        problems.append(str(exc))
    return problems


def _check_cell(db: Database, store: Store, table: str, column: str, row_id: str, blob: Any, key: str | None) -> None:
    if table == "data_keys":
        store.data_key(db, row_id)
    elif table == "document_parts":
        # Raw bytes (vectors, originals) under their document's key, which the part must match.
        owner = db.execute(
            "SELECT d.key_id FROM document_parts p JOIN documents d ON d.id = p.document_id WHERE p.id = ?", [row_id]
        ).fetchone()
        store.open_bytes(db, table, column, row_id, blob, owner[0] if owner else "")
    elif table in ("documents", "doc_collections"):
        owner = db.execute(f"SELECT key_id FROM {table} WHERE id = ?", [row_id]).fetchone()
        store.open_json(db, table, column, row_id, blob, owner[0])
    else:
        expected = key if table in ("conversations", "messages") else None
        store.open_json(db, table, column, row_id, blob, expected)


def backup_in(db: Database, target: Path, progress: Callable[[int, int], None] | None = None) -> None:
    """Copy the open database to `target`, consistently and whole (`progress(done, total)` in pages)."""
    if target.exists() and target.is_dir():
        raise UserError(f"{target} is a folder; give a file name for the backup")
    target.parent.mkdir(parents=True, exist_ok=True)
    copy_database(db.conn, target, progress)


def _integrity_of(path: Path) -> str:
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True)
        try:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)


def restore_prepare(source: Path, part: Path, passphrase: str | None) -> bytearray | None:
    """Copy the backup `source` to `part` and check SQLite's integrity; the master key if unlocked."""
    if not source.is_file():
        raise UserError(f"no backup file at {source}")
    header = read_header(source)
    master = unwrap_with_passphrase(header, passphrase) if passphrase is not None else None
    if (result := _integrity_of(source)) != "ok":
        raise IntegrityError(f"the backup is damaged ({result}); nothing was changed")
    shutil.copyfile(source, part)
    os.chmod(part, 0o600)
    return master


def check_file(path: Path, master: bytearray) -> list[str]:
    """Every problem in the vault file at `path` (a restore candidate), opened on its own thread."""
    store = Store(path)

    def on_open(db: Database) -> None:
        load_stream_keys(db, store)

    try:
        store.start(bytearray(master), on_open)
        return store.run(lambda db: check_in(db, store, AuditLog(store)))
    finally:
        store.close()


def restore_commit(home: Path, target: Path, part: Path) -> None:
    """Keep a copy of the current vault, then move the checked candidate `part` into place."""
    if target.exists():
        # Keep what is being replaced: restore is otherwise the one irreversible command.
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        current = Database(target)
        try:
            copy_database(current.conn, home / "backups" / f"vault-before-restore-{stamp}.db")
        finally:
            current.close()
    with part.open("rb+") as handle:
        os.fsync(handle.fileno())
    # A WAL left beside the old file would be replayed onto the new one.
    for suffix in ("-wal", "-shm"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(part, target)
    fsync_dir(target.parent)


def export_label(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The label an exported assistant reply shows: the explicit mark plus the implicit fields."""
    implicit = {k: (metadata or {}).get(k) for k in _IMPLICIT_LABEL}
    implicit["producer"] = implicit["producer"] or "Enclave"
    return {"ai_generated": True, "text": AI_LABEL, "text_zh": AI_LABEL_ZH, **implicit}


def _message_details(message: Message) -> dict[str, Any]:
    details: dict[str, Any] = {"id": message.id, "created_at": iso(message.created_at), "metadata": message.metadata}
    if message.role == "assistant":
        details["label"] = export_label(message.metadata)
        if (message.metadata or {}).get("sources") is not None:  # an answer from documents: what it cited
            details["sources"] = (message.metadata or {})["sources"]
    if len(message.alternatives) > 1:  # a regenerated reply: every version is the person's data too
        details["versions"] = [
            {"content": a.content, "label": export_label(a.metadata)} for a in message.alternatives
        ]
        details["chosen_version"] = message.active
    return details


def export_json(vault: Vault, path: Path, conversation_id: str | None, actor: str) -> Path:
    """Plaintext JSON of one or every conversation, written whole; the file says it is plaintext."""
    convs = [vault.conversations.get(conversation_id)] if conversation_id else vault.conversations.list()
    items = []
    for conv in convs:
        messages = vault.conversations.messages(conv.id)
        openai: list[dict[str, Any]] = []
        if conv.system_prompt:
            openai.append({"role": "system", "content": conv.system_prompt})
        openai += [{"role": m.role, "content": m.content} for m in messages]
        items.append(
            {
                "id": conv.id,
                "title": conv.title,
                "model": conv.model,
                "subject": conv.subject,
                "collections": list(conv.collections),
                "created_at": iso(conv.created_at),
                "updated_at": iso(conv.updated_at),
                "messages": openai,
                "message_metadata": [_message_details(m) for m in messages],
            }
        )
    if conversation_id and not items:
        raise NotFoundError(f"no conversation {conversation_id}")
    document = {
        "format": EXPORT_FORMAT,
        "version": 1,
        "encrypted": False,
        "exported_at": iso(now()),
        "notice": f"Plaintext. Replies labelled {AI_LABEL!r} were produced by a language model.",
        "conversations": items,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8"))
    vault.audit.append(
        "export", actor=actor, details={"file": path.name, "conversations": len(items), "id": conversation_id}
    )
    return path
