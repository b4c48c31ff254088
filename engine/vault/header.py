"""The vault header: KDF parameters and the two wraps of the master key, read without writing.

Unlock reads the header through an immutable read-only connection, so a wrong passphrase leaves every
file byte-identical (no -wal or -shm is created). Only after the master key unwraps is the database
opened for writing.

A wrong passphrase and a damaged header are told apart: `pass_check`, a check value of the passphrase's
key-encryption key (no easier to guess from than the wrap itself: each guess still costs one Argon2id),
says whether the passphrase is right, and `pass_sum`, a SHA-256 over the passphrase fields, says whether
they are intact. Right passphrase but the wrap fails to open, or a sum that does not match, is damage
(IntegrityError, exit 2), not "wrong passphrase" (exit 1). Vaults from before these columns get them at
their next unlock.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import shutil
import sqlite3
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from engine.errors import IntegrityError, UserError
from engine.vault import crypto
from engine.vault.errors import WrongPassphrase, WrongRecoveryKey

HEADER_FORMAT = 1
log = logging.getLogger("enclave.vault")


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
    pass_check: bytes | None = None  # None in vaults from before it existed
    pass_sum: bytes | None = None


def header_from_row(row: Mapping[str, Any]) -> Header:
    """A Header from a `SELECT *` row of the header table (with or without the newer columns)."""
    keys = set(row.keys()) if hasattr(row, "keys") else set(row)
    return Header(
        KdfParams(row["kdf_memory_kib"], row["kdf_iterations"], row["kdf_lanes"]),
        row["kdf_salt"],
        row["pass_wrap"],
        row["recovery_salt"],
        row["recovery_wrap"],
        row["kcv"],
        row["pass_check"] if "pass_check" in keys else None,
        row["pass_sum"] if "pass_sum" in keys else None,
    )


def derive_kek_raw(passphrase: str, salt: bytes, kdf: KdfParams) -> bytes:
    """The raw key-encryption key for a passphrase (Argon2id)."""
    return Argon2id(
        salt=salt,
        length=crypto.KEY_LEN,
        iterations=kdf.iterations,
        lanes=kdf.lanes,
        memory_cost=kdf.memory_kib,
    ).derive(passphrase.encode("utf-8"))


def derive_kek(passphrase: str, salt: bytes, kdf: KdfParams) -> AESGCM:
    """The key-encryption key for a passphrase (Argon2id)."""
    return AESGCM(derive_kek_raw(passphrase, salt, kdf))


def passphrase_check(kek_raw: bytes) -> bytes:
    """The check value that says whether a passphrase is the right one (derived from its KEK)."""
    return hmac.new(kek_raw, b"enclave passphrase check v1", hashlib.sha256).digest()[:16]


def pass_sum(kdf: KdfParams, salt: bytes, wrap: bytes, check: bytes) -> bytes:
    """SHA-256 over the passphrase fields of the header: damage to any of them shows as damage."""
    parts = [struct.pack(">QQQ", kdf.memory_kib, kdf.iterations, kdf.lanes), salt, wrap, check]
    return hashlib.sha256(b"".join(struct.pack(">I", len(p)) + p for p in parts)).digest()


def passphrase_fields(master: bytearray, passphrase: str, kdf: KdfParams) -> dict[str, Any]:
    """The header columns that a passphrase sets: KDF parameters, salt, wrap, check value and sum."""
    salt = secrets.token_bytes(16)
    raw = derive_kek_raw(passphrase, salt, kdf)
    wrap = crypto.seal(AESGCM(raw), crypto.PASSPHRASE_KEY_ID, pass_wrap_ad(), bytes(master))
    check = passphrase_check(raw)
    return {
        "kdf_memory_kib": kdf.memory_kib,
        "kdf_iterations": kdf.iterations,
        "kdf_lanes": kdf.lanes,
        "kdf_salt": salt,
        "pass_wrap": wrap,
        "pass_check": check,
        "pass_sum": pass_sum(kdf, salt, wrap, check),
    }


def derive_recovery_kek(recovery: bytes, salt: bytes) -> AESGCM:
    """The key-encryption key for a recovery key (200 random bits need no slow KDF)."""
    return AESGCM(crypto.hkdf(recovery, "enclave recovery wrap v1", salt))


def pass_wrap_ad() -> bytes:
    """Associated data of the passphrase wrap."""
    return crypto.associated_data("header", "pass_wrap", "1", crypto.PASSPHRASE_KEY_ID)


def recovery_wrap_ad() -> bytes:
    """Associated data of the recovery wrap."""
    return crypto.associated_data("header", "recovery_wrap", "1", crypto.RECOVERY_KEY_ID)


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
    """The master key, or WrongPassphrase, or IntegrityError when the header is damaged."""
    return open_pass_wrap(header, passphrase)[0]


def open_pass_wrap(header: Header, passphrase: str) -> tuple[bytearray, bytes]:
    """(master key, the passphrase's check value); WrongPassphrase, or IntegrityError for damage."""
    if header.kdf.below_floor():
        raise IntegrityError("vault header names KDF parameters below the floor; refusing to use them")
    if header.pass_sum is not None and not hmac.compare_digest(
        pass_sum(header.kdf, header.kdf_salt, header.pass_wrap, header.pass_check or b""), header.pass_sum
    ):
        raise IntegrityError("the vault header is damaged (its passphrase fields fail their checksum)")
    try:
        crypto.envelope_key_id(header.pass_wrap)
    except crypto.Tampered:
        raise IntegrityError("the vault header is damaged (the passphrase wrap is not an envelope)") from None
    raw = derive_kek_raw(passphrase, header.kdf_salt, header.kdf)
    check = passphrase_check(raw)
    if header.pass_check is not None and not hmac.compare_digest(check, header.pass_check):
        raise WrongPassphrase
    try:
        master = crypto.unseal(AESGCM(raw), header.pass_wrap, pass_wrap_ad())
    except crypto.Tampered:
        if header.pass_check is not None:  # the passphrase is right, so the wrap itself is damaged
            raise IntegrityError("the vault header is damaged (the passphrase wrap does not open)") from None
        raise WrongPassphrase from None
    return _checked(master, header), check


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
    """Read the header row without writing any file of the vault, even after a crash.

    After a clean close the WAL is gone and the main file is complete: it is read as immutable. After a
    crash the WAL holds committed changes (a new passphrase wrap among them), and SQLite reads a WAL
    only through its -shm index, which it rewrites on open even when read-only. So the file and its WAL
    are copied to a private temporary folder and read there; the vault's own files stay byte-identical.
    Only if no copy can be made (no space for one) is the vault read in place, which may touch -shm.
    """
    wal = db_path.with_name(db_path.name + "-wal")
    if not (wal.exists() and wal.stat().st_size > 0):
        return _read_header_at(f"file:{quote(str(db_path))}?mode=ro&immutable=1")
    try:
        with tempfile.TemporaryDirectory(prefix="enclave-header-") as folder:
            copy = Path(folder) / db_path.name
            shutil.copyfile(db_path, copy)
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
            return _read_header_at(f"file:{quote(str(copy))}?mode=ro")
    except OSError as exc:
        log.warning("reading the vault header in place after a crash (no temporary copy: %s)", exc.strerror)
        return _read_header_at(f"file:{quote(str(db_path))}?mode=ro")


def _read_header_at(uri: str) -> Header:
    try:
        conn = sqlite3.connect(uri, uri=True)
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute("SELECT * FROM header WHERE id = 1").fetchone()
        finally:
            conn.close()
        if row is None:
            raise IntegrityError("the vault has no header; it is incomplete or damaged")
        if row["format"] != HEADER_FORMAT:
            raise UserError(f"vault format {row['format']} is not supported by this version of Enclave")
        return header_from_row(row)
    except (sqlite3.DatabaseError, IndexError) as exc:  # IndexError: a column missing from the row
        raise IntegrityError(f"the vault database cannot be read ({exc})") from None
