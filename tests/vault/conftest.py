"""Vault fixtures: a vault made with floor KDF parameters (fast), raw access to its files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.vault import FLOOR, Vault

PASSPHRASE = "correct horse battery staple"
ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())"]


@pytest.fixture()
def home(enclave_home: Path) -> Path:
    """ENCLAVE_HOME (from tests/conftest.py), created."""
    enclave_home.mkdir(parents=True, exist_ok=True)
    return enclave_home


@pytest.fixture()
def made(home: Path) -> Iterator[tuple[Vault, str]]:
    """A fresh open vault and its recovery key."""
    vault, recovery = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    yield vault, recovery
    vault.close()


@pytest.fixture()
def vault(made: tuple[Vault, str]) -> Vault:
    """A fresh open vault."""
    return made[0]


@contextlib.contextmanager
def raw_db(home: Path) -> Iterator[sqlite3.Connection]:
    """The vault file opened directly, as an attacker with the disk would (vault must be closed)."""
    conn = sqlite3.connect(home / "vault.db")
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def file_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under `folder`, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def all_bytes(folder: Path) -> dict[Path, bytes]:
    """Contents of every file under `folder`."""
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def sub_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a child process on this vault."""
    env = {k: v for k, v in os.environ.items() if k not in ("ENCLAVE_PASSPHRASE", "ENCLAVE_NEW_PASSPHRASE")}
    env.update(ENCLAVE_HOME=str(home), PYTHONPATH=str(ROOT), **extra)
    return env
