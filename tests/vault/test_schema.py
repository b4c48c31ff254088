"""Schema: every column registered, plaintext columns hold only ids/refs/times/counts, migrations."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from engine.vault import RequestLogEntry, Vault
from engine.vault.schema import COLUMNS, KIND_TYPES, MIGRATION_STEPS, Kind, migrate, migration_set
from tests.vault.conftest import PASSPHRASE, raw_db

HEX32 = re.compile(r"[0-9a-f]{32}")


def _fill(vault: Vault) -> None:
    conv = vault.conversations.create("title", model="m", system_prompt="sp", subject="s")
    vault.conversations.add_message(conv.id, "user", "hello", metadata={"tokens": 3})
    vault.settings.set("a", [1, 2])
    _, _ = vault.api_keys.create("k")
    vault.api_keys.revoke("k")
    vault.request_log.append(RequestLogEntry("k", "m", 200, request_text="r"))


def test_every_column_is_registered_with_an_allowed_type(vault: Vault, home: Path) -> None:
    _fill(vault)
    vault.close()
    with raw_db(home) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert set(tables) - {"sqlite_sequence", "sqlite_stat1"} == set(COLUMNS)
        for table in tables:
            if table.startswith("sqlite_"):
                continue
            for _, name, declared, *_ in conn.execute(f"PRAGMA table_info({table})"):
                kind = COLUMNS[table].get(name)
                assert kind is not None, f"{table}.{name} is neither sealed nor a listed plaintext column"
                assert declared.upper() in KIND_TYPES[kind], f"{table}.{name}: {declared} is not allowed for {kind}"


def test_plaintext_columns_hold_only_what_their_kind_allows(vault: Vault, home: Path) -> None:
    _fill(vault)
    vault.close()
    with raw_db(home) as conn:
        for table, columns in COLUMNS.items():
            for column, kind in columns.items():
                for (value,) in conn.execute(f"SELECT {column} FROM {table}"):
                    if value is None:
                        continue
                    if kind in (Kind.ID, Kind.REF):
                        assert HEX32.fullmatch(value), f"{table}.{column} = {value!r}"
                    elif kind is Kind.TIME:
                        assert dt.datetime.fromisoformat(value).tzinfo is not None
                    elif kind in (Kind.COUNT, Kind.KDF):
                        assert isinstance(value, int)
                    elif kind is Kind.SEALED:
                        assert isinstance(value, bytes) and value[0] == 1, f"{table}.{column} is not an envelope"
                    elif kind in (Kind.SALT, Kind.MAC):
                        assert isinstance(value, bytes)
                    elif kind is Kind.MIGRATION:
                        assert table == "_sqlite_migrations"


def test_migrations_build_the_schema_from_a_blank_database(tmp_path: Path) -> None:
    db = Database(tmp_path / "blank.db")
    applied = migrate(db, tmp_path / "backups")
    names = [
        "m001_initial",
        "m002_audit_base",
        "m003_stored_responses",
        "m004_pass_check",
        "m005_training",
        "m006_documents",
    ]
    assert applied == [step.__name__ for step in MIGRATION_STEPS] == names
    assert set(db.table_names()) == set(COLUMNS)
    for table, columns in COLUMNS.items():
        assert set(db.table(table).columns_dict) == set(columns)
    assert migrate(db, tmp_path / "backups") == []
    assert not (tmp_path / "backups").exists()  # a fresh database needs no safety copy
    db.close()


def test_pending_migration_on_an_existing_vault_copies_it_first(vault: Vault, home: Path) -> None:
    conv = vault.conversations.create("before the migration")
    vault.close()

    def m900_add_note(db: Database) -> None:
        db.execute("CREATE TABLE notes (id TEXT PRIMARY KEY)")

    lock_and_master = _reopen_parts(home)
    newer = migration_set([*MIGRATION_STEPS, m900_add_note])
    v = Vault._open(home, *lock_and_master, migrations=newer)
    try:
        assert v.conversations.get(conv.id).title == "before the migration"
    finally:
        v.close()
    copies = list((home / "backups").glob("vault-before-m900_add_note-*.db"))
    assert len(copies) == 1
    copy = sqlite3.connect(copies[0])
    try:
        names = {r[0] for r in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "notes" not in names and "conversations" in names
    finally:
        copy.close()
    with raw_db(home) as conn:
        applied = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    assert applied == [*(step.__name__ for step in MIGRATION_STEPS), "m900_add_note"]


def _reopen_parts(home: Path) -> tuple[object, bytearray]:
    from engine.vault.header import read_header, unwrap_with_passphrase
    from engine.vault.lockfile import VaultLock

    lock = VaultLock.acquire(home)
    return lock, unwrap_with_passphrase(read_header(home / "vault.db"), PASSPHRASE)


def test_pragmas_are_set(vault: Vault) -> None:
    def read(db: Database) -> dict[str, object]:
        return {
            p: db.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("journal_mode", "synchronous", "secure_delete", "busy_timeout", "foreign_keys")
        }

    assert vault.run_raw(read) == {
        "journal_mode": "wal",
        "synchronous": 2,  # FULL
        "secure_delete": 1,
        "busy_timeout": 5000,
        "foreign_keys": 1,
    }
