"""The vault header: KDF parameters and the two wraps of the master key, read without writing.

Unlock reads the header through an immutable read-only connection, so a wrong passphrase leaves every
file byte-identical (no -wal or -shm is created). Only after the master key unwraps is the database
opened for writing.
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from engine.errors import IntegrityError, UserError
from engine.vault import crypto
from engine.vault.errors import WrongPassphrase, WrongRecoveryKey

HEADER_FORMAT = 1


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters (memory in KiB)."""

    memory_kib: int = 64 * 1024
    iterations: int = 3
    lanes: int = 4

    def below_floor(self) -> bool:
        """True when weaker than OWASP's minimum for Argon2id (19 MiB, t=2, p=1)."""
        return self.memory_kib < FLOOR.memory_kib or self.iterations < FLOOR.iterations or self.lanes < 1

    def check(self) -> None:
        """Refuse parameters below the floor."""
        if self.below_floor():
            raise UserError(
                f"KDF parameters too weak (floor: {FLOOR.memory_kib // 1024} MiB, {FLOOR.iterations} iterations)"
            )


FLOOR = KdfParams(memory_kib=19 * 1024, iterations=2, lanes=1)
DEFAULT_KDF = KdfParams()


@dataclass(frozen=True)
class Header:
    """The header row as stored."""

    kdf: KdfParams
    kdf_salt: bytes
    pass_wrap: bytes
    recovery_salt: bytes
    recovery_wrap: bytes
    kcv: bytes


def derive_kek(passphrase: str, salt: bytes, kdf: KdfParams) -> AESGCM:
    """The key-encryption key for a passphrase (Argon2id)."""
    raw = Argon2id(
        salt=salt,
        length=crypto.KEY_LEN,
        iterations=kdf.iterations,
        lanes=kdf.lanes,
        memory_cost=kdf.memory_kib,
    ).derive(passphrase.encode("utf-8"))
    return AESGCM(raw)


def derive_recovery_kek(recovery: bytes, salt: bytes) -> AESGCM:
    """The key-encryption key for a recovery key (200 random bits need no slow KDF)."""
    return AESGCM(crypto.hkdf(recovery, "enclave recovery wrap v1", salt))


def pass_wrap_ad() -> bytes:
    """Associated data of the passphrase wrap."""
    return crypto.associated_data("header", "pass_wrap", "1", crypto.PASSPHRASE_KEY_ID)


def recovery_wrap_ad() -> bytes:
    """Associated data of the recovery wrap."""
    return crypto.associated_data("header", "recovery_wrap", "1", crypto.RECOVERY_KEY_ID)


def wrap_for_passphrase(master: bytearray, passphrase: str, kdf: KdfParams) -> tuple[bytes, bytes]:
    """(salt, wrap) of the master key under a passphrase."""
    salt = secrets.token_bytes(16)
    kek = derive_kek(passphrase, salt, kdf)
    return salt, crypto.seal(kek, crypto.PASSPHRASE_KEY_ID, pass_wrap_ad(), bytes(master))


def wrap_for_recovery(master: bytearray, recovery: bytes) -> tuple[bytes, bytes]:
    """(salt, wrap) of the master key under a recovery key."""
    salt = secrets.token_bytes(16)
    kek = derive_recovery_kek(recovery, salt)
    return salt, crypto.seal(kek, crypto.RECOVERY_KEY_ID, recovery_wrap_ad(), bytes(master))


def _checked(master: bytes, header: Header) -> bytearray:
    if not hmac.compare_digest(crypto.key_check_value(master), header.kcv):
        raise IntegrityError("vault header is inconsistent (key-check value mismatch)")
    return bytearray(master)


def unwrap_with_passphrase(header: Header, passphrase: str) -> bytearray:
    """The master key, or WrongPassphrase."""
    if header.kdf.below_floor():
        raise IntegrityError("vault header names KDF parameters below the floor; refusing to use them")
    kek = derive_kek(passphrase, header.kdf_salt, header.kdf)
    try:
        master = crypto.unseal(kek, header.pass_wrap, pass_wrap_ad())
    except crypto.Tampered:
        raise WrongPassphrase from None
    return _checked(master, header)


def unwrap_with_recovery(header: Header, recovery_text: str) -> bytearray:
    """The master key, or WrongRecoveryKey / a format error."""
    raw = crypto.parse_recovery_key(recovery_text)
    if raw is None:
        raise UserError("that is not a recovery key (expected 8 groups of 5 letters and digits)")
    try:
        master = crypto.unseal(derive_recovery_kek(raw, header.recovery_salt), header.recovery_wrap, recovery_wrap_ad())
    except crypto.Tampered:
        raise WrongRecoveryKey from None
    return _checked(master, header)


def read_header(db_path: Path) -> Header:
    """Read the header row without writing any file (immutable when no WAL is pending)."""
    wal = db_path.with_name(db_path.name + "-wal")
    pending_wal = wal.exists() and wal.stat().st_size > 0
    # After a clean close the WAL is gone and the main file is complete; only after a crash must the
    # WAL be read (and SQLite may then touch -shm).
    uri = f"file:{quote(str(db_path))}?mode=ro" + ("" if pending_wal else "&immutable=1")
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            row = conn.execute(
                "SELECT kdf_memory_kib, kdf_iterations, kdf_lanes, kdf_salt, pass_wrap, recovery_salt,"
                " recovery_wrap, kcv, format FROM header WHERE id = 1"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise IntegrityError(f"the vault database cannot be read ({exc})") from None
    if row is None:
        raise IntegrityError("the vault has no header; it is incomplete or damaged")
    if row[8] != HEADER_FORMAT:
        raise UserError(f"vault format {row[8]} is not supported by this version of Enclave")
    return Header(KdfParams(row[0], row[1], row[2]), row[3], row[4], row[5], row[6], row[7])
