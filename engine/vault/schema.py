"""Tables, the registry of what each column may hold, and the named migrations that build them.

Every column is either SEALED (an AEAD envelope) or one of a few plaintext kinds that carry no
content: ids, foreign keys, timestamps, counts, KDF parameters, salts and MACs. A test walks the live
schema and fails on any column missing from `COLUMNS`, so a new text column cannot slip in unencrypted.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.fileio import fsync_dir, part_path
from engine.vault.sqlite import Database, Migrations

log = logging.getLogger("enclave.vault")

MIGRATION_SET = "enclave-vault"


class Kind(enum.Enum):
    """What a column may hold."""

    SEALED = "sealed"  # envelope (crypto.py); the only place content lives
    ID = "id"  # random hex id, or an HMAC of a name (settings)
    REF = "ref"  # hex id of a row elsewhere
    TIME = "time"  # ISO-8601 UTC timestamp
    COUNT = "count"  # integer: row number, sequence, size, format version
    KDF = "kdf"  # integer Argon2 parameter
    SALT = "salt"  # random bytes
    MAC = "mac"  # HMAC / key-check bytes
    MIGRATION = "migration"  # sqlite-utils' record of applied migrations: names from code, not users


# Declared SQL type each kind must have.
KIND_TYPES: dict[Kind, set[str]] = {
    Kind.SEALED: {"BLOB"},
    Kind.ID: {"TEXT"},
    Kind.REF: {"TEXT"},
    Kind.TIME: {"TEXT"},
    Kind.COUNT: {"INTEGER"},
    Kind.KDF: {"INTEGER"},
    Kind.SALT: {"BLOB"},
    Kind.MAC: {"BLOB"},
    Kind.MIGRATION: {"TEXT", "INTEGER"},
}

COLUMNS: dict[str, dict[str, Kind]] = {
    "header": {
        "id": Kind.COUNT,
        "format": Kind.COUNT,
        "created_at": Kind.TIME,
        "kdf_memory_kib": Kind.KDF,
        "kdf_iterations": Kind.KDF,
        "kdf_lanes": Kind.KDF,
        "kdf_salt": Kind.SALT,
        "pass_wrap": Kind.SEALED,
        "recovery_salt": Kind.SALT,
        "recovery_wrap": Kind.SEALED,
        "kcv": Kind.MAC,
        "audit_key_id": Kind.REF,
        "settings_key_id": Kind.REF,
        "api_keys_key_id": Kind.REF,
        "request_log_key_id": Kind.REF,
        "audit_count": Kind.COUNT,
        "audit_head": Kind.MAC,
        "audit_head_mac": Kind.MAC,
        "audit_base_seq": Kind.COUNT,
        "audit_base_prev": Kind.MAC,
        "audit_base_mac": Kind.MAC,
        "pass_check": Kind.MAC,
        "pass_sum": Kind.MAC,
    },
    "data_keys": {"id": Kind.ID, "created_at": Kind.TIME, "wrapped": Kind.SEALED},
    "conversations": {
        "id": Kind.ID,
        "key_id": Kind.REF,
        "created_at": Kind.TIME,
        "updated_at": Kind.TIME,
        "message_count": Kind.COUNT,
        "body": Kind.SEALED,
    },
    "messages": {
        "id": Kind.ID,
        "conversation_id": Kind.REF,
        "seq": Kind.COUNT,
        "created_at": Kind.TIME,
        "body": Kind.SEALED,
    },
    "settings": {"id": Kind.ID, "updated_at": Kind.TIME, "body": Kind.SEALED},
    "api_keys": {"id": Kind.ID, "created_at": Kind.TIME, "revoked_at": Kind.TIME, "body": Kind.SEALED},
    "request_log": {"id": Kind.ID, "time": Kind.TIME, "body": Kind.SEALED},
    "audit": {"id": Kind.ID, "seq": Kind.COUNT, "time": Kind.TIME, "body": Kind.SEALED, "mac": Kind.MAC},
    "doc_collections": {"id": Kind.ID, "key_id": Kind.REF, "created_at": Kind.TIME, "body": Kind.SEALED},
    "documents": {
        "id": Kind.ID,
        "collection_id": Kind.REF,
        "key_id": Kind.REF,
        "created_at": Kind.TIME,
        "updated_at": Kind.TIME,
        "bytes": Kind.COUNT,
        "pages": Kind.COUNT,
        "chunks": Kind.COUNT,
        "content_mac": Kind.MAC,
        "body": Kind.SEALED,
    },
    "document_parts": {"id": Kind.ID, "document_id": Kind.REF, "part": Kind.COUNT, "body": Kind.SEALED},
    "responses": {"id": Kind.ID, "key_id": Kind.REF, "created_at": Kind.TIME, "body": Kind.SEALED},
    "datasets": {
        "id": Kind.ID,
        "key_id": Kind.REF,
        "created_at": Kind.TIME,
        "row_count": Kind.COUNT,
        "body": Kind.SEALED,
    },
    "dataset_rows": {"id": Kind.ID, "dataset_id": Kind.REF, "seq": Kind.COUNT, "body": Kind.SEALED},
    "training_jobs": {
        "id": Kind.ID,
        "key_id": Kind.REF,
        "created_at": Kind.TIME,
        "updated_at": Kind.TIME,
        "body": Kind.SEALED,
    },
    "training_blobs": {
        "id": Kind.ID,
        "job_id": Kind.REF,
        "created_at": Kind.TIME,
        "size": Kind.COUNT,
        "body": Kind.SEALED,
    },
    "_sqlite_migrations": {
        "id": Kind.MIGRATION,
        "migration_set": Kind.MIGRATION,
        "name": Kind.MIGRATION,
        "applied_at": Kind.MIGRATION,
    },
}


def sealed_columns() -> list[tuple[str, str]]:
    """(table, column) of every encrypted column."""
    return [(t, c) for t, cols in COLUMNS.items() for c, k in cols.items() if k is Kind.SEALED]


def m001_initial(db: Database) -> None:
    """The first schema: header, data keys, conversations, messages, settings, keys, logs, audit."""
    db.table("header").create(
        {
            "id": int,
            "format": int,
            "created_at": str,
            "kdf_memory_kib": int,
            "kdf_iterations": int,
            "kdf_lanes": int,
            "kdf_salt": bytes,
            "pass_wrap": bytes,
            "recovery_salt": bytes,
            "recovery_wrap": bytes,
            "kcv": bytes,
            "audit_key_id": str,
            "settings_key_id": str,
            "api_keys_key_id": str,
            "request_log_key_id": str,
            "audit_count": int,
            "audit_head": bytes,
            "audit_head_mac": bytes,
        },
        pk="id",
    )
    db.table("data_keys").create({"id": str, "created_at": str, "wrapped": bytes}, pk="id")
    db.table("conversations").create(
        {"id": str, "key_id": str, "created_at": str, "updated_at": str, "message_count": int, "body": bytes},
        pk="id",
        foreign_keys=[("key_id", "data_keys", "id")],
    )
    db.table("messages").create(
        {"id": str, "conversation_id": str, "seq": int, "created_at": str, "body": bytes},
        pk="id",
        foreign_keys=[("conversation_id", "conversations", "id")],
    )
    db.table("messages").create_index(["conversation_id", "seq"], unique=True)
    db.table("settings").create({"id": str, "updated_at": str, "body": bytes}, pk="id")
    db.table("api_keys").create({"id": str, "created_at": str, "revoked_at": str, "body": bytes}, pk="id")
    db.table("request_log").create({"id": str, "time": str, "body": bytes}, pk="id")
    db.table("request_log").create_index(["time"])
    db.table("audit").create({"id": str, "seq": int, "time": str, "body": bytes, "mac": bytes}, pk="id")
    db.table("audit").create_index(["seq"], unique=True)


def m002_audit_base(db: Database) -> None:
    """Where the audit chain starts once retention has dropped its oldest entries (MAC'd like the head)."""
    db.execute("ALTER TABLE header ADD COLUMN audit_base_seq INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE header ADD COLUMN audit_base_prev BLOB")
    db.execute("ALTER TABLE header ADD COLUMN audit_base_mac BLOB")


def m003_stored_responses(db: Database) -> None:
    """Stored Responses API replies, each under its own data key (engine.vault.responses)."""
    db.table("responses").create(
        {"id": str, "key_id": str, "created_at": str, "body": bytes},
        pk="id",
        foreign_keys=[("key_id", "data_keys", "id")],
    )
    db.table("responses").create_index(["created_at"])


def m004_pass_check(db: Database) -> None:
    """A check value of the passphrase's KEK and a checksum of the passphrase fields (wrong vs damaged)."""
    db.execute("ALTER TABLE header ADD COLUMN pass_check BLOB")
    db.execute("ALTER TABLE header ADD COLUMN pass_sum BLOB")


def m005_training(db: Database) -> None:
    """Fine-tuning: datasets and their rows, training jobs and their sealed checkpoints and adapters."""
    db.table("datasets").create(
        {"id": str, "key_id": str, "created_at": str, "row_count": int, "body": bytes},
        pk="id",
        foreign_keys=[("key_id", "data_keys", "id")],
    )
    db.table("dataset_rows").create(
        {"id": str, "dataset_id": str, "seq": int, "body": bytes},
        pk="id",
        foreign_keys=[("dataset_id", "datasets", "id")],
    )
    db.table("dataset_rows").create_index(["dataset_id", "seq"], unique=True)
    db.table("training_jobs").create(
        {"id": str, "key_id": str, "created_at": str, "updated_at": str, "body": bytes},
        pk="id",
        foreign_keys=[("key_id", "data_keys", "id")],
    )
    db.table("training_blobs").create(
        {"id": str, "job_id": str, "created_at": str, "size": int, "body": bytes},
        pk="id",
        foreign_keys=[("job_id", "training_jobs", "id")],
    )
    db.table("training_blobs").create_index(["job_id"])


def m006_documents(db: Database) -> None:
    """Document collections, documents (one data key each) and their sealed parts: extracted text,
    chunks, embedding vectors and, when the collection keeps them, the original bytes."""
    db.table("doc_collections").create(
        {"id": str, "key_id": str, "created_at": str, "body": bytes},
        pk="id",
        foreign_keys=[("key_id", "data_keys", "id")],
    )
    db.table("documents").create(
        {
            "id": str,
            "collection_id": str,
            "key_id": str,
            "created_at": str,
            "updated_at": str,
            "bytes": int,
            "pages": int,
            "chunks": int,
            "content_mac": bytes,
            "body": bytes,
        },
        pk="id",
        foreign_keys=[("collection_id", "doc_collections", "id"), ("key_id", "data_keys", "id")],
    )
    db.table("documents").create_index(["collection_id"])
    db.table("documents").create_index(["content_mac"])
    db.table("document_parts").create(
        {"id": str, "document_id": str, "part": int, "body": bytes},
        pk="id",
        foreign_keys=[("document_id", "documents", "id")],
    )
    db.table("document_parts").create_index(["document_id", "part"], unique=True)


# Append new steps here; never edit or reorder an applied one.
MIGRATION_STEPS: list[Callable[[Database], None]] = [
    m001_initial,
    m002_audit_base,
    m003_stored_responses,
    m004_pass_check,
    m005_training,
    m006_documents,
]


def migration_set(steps: Sequence[Callable[[Database], None]] = MIGRATION_STEPS) -> Migrations:
    """A Migrations object holding `steps`, each under its function name."""
    migrations = Migrations(MIGRATION_SET)
    for step in steps:
        migrations(name=step.__name__)(step)
    return migrations


def migrate(db: Database, backup_dir: Path, migrations: Migrations | None = None) -> list[str]:
    """Apply pending migrations, first copying an existing vault aside; returns the names applied."""
    migrations = migrations or migration_set()
    pending = [m.name for m in migrations.pending(db)]
    if not pending:
        return []
    if migrations.applied(db):
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = backup_dir / f"vault-before-{pending[0]}-{stamp}.db"
        copy_database(db.conn, target)
        log.info("copied the vault to %s before migrating", target.name)
    migrations.apply(db)
    return pending


BACKUP_STEP_PAGES = 256  # pages copied between progress reports (1 MiB at SQLite's default page size)


def copy_database(
    source: sqlite3.Connection, target: Path, progress: Callable[[int, int], None] | None = None
) -> None:
    """A consistent single-file copy of an open database (still encrypted), written whole;
    `progress(pages_done, pages_total)` is called as it goes."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    part = part_path(target)
    part.unlink(missing_ok=True)
    dest = sqlite3.connect(str(part))
    try:
        if progress is None:
            source.backup(dest)
        else:
            source.backup(dest, pages=BACKUP_STEP_PAGES,
                          progress=lambda _status, remaining, total: progress(total - remaining, total))
        # The copy must stand alone: no -wal beside it.
        dest.execute("PRAGMA journal_mode=DELETE")
        dest.commit()
    finally:
        dest.close()
    part.chmod(0o600)
    with part.open("rb+") as handle:
        os.fsync(handle.fileno())
    part.replace(target)
    fsync_dir(target.parent)
