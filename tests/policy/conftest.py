"""Policy fixtures: a fast vault (floor KDF) in the test's ENCLAVE_HOME, and raw access to its files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.vault import FLOOR, Vault

PASSPHRASE = "correct horse battery staple"


@pytest.fixture()
def home(enclave_home: Path) -> Path:
    """ENCLAVE_HOME, created."""
    enclave_home.mkdir(parents=True, exist_ok=True)
    return enclave_home


@pytest.fixture()
def vault(home: Path) -> Iterator[Vault]:
    """A fresh open vault, closed after the test."""
    made, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    yield made
    made.close()


def vault_bytes(home: Path) -> bytes:
    """Everything in the vault's files (db, -wal, -shm) and backups, concatenated."""
    return b"".join(p.read_bytes() for p in sorted(home.rglob("vault*")) if p.is_file())


def raw(home: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run SQL on the (closed) vault file directly, as an attacker with the disk would."""
    conn = sqlite3.connect(home / "vault.db")
    try:
        rows = conn.execute(sql, params).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()
