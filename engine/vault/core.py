"""The Vault: key hierarchy, unlock/lock, and the repositories over one encrypted SQLite file.

passphrase --Argon2id--> KEK --wraps--> master key --wraps--> one data key per conversation and per
stream (audit, settings, api_keys, request_log). A recovery key is a second wrap of the master key.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from engine.errors import IntegrityError
from engine.fileio import fsync_dir, part_path
from engine.vault import crypto, operations, retention
from engine.vault.api_keys import ApiKeys
from engine.vault.audit import GENESIS, AuditLog, head_mac
from engine.vault.conversations import Conversations
from engine.vault.documents import DocumentStore
from engine.vault.errors import VaultExists, VaultMissing
from engine.vault.hardening import disable_core_dumps
from engine.vault.header import (
    DEFAULT_KDF,
    HEADER_FORMAT,
    Header,
    KdfParams,
    open_pass_wrap,
    pass_sum,
    passphrase_fields,
    read_header,
    unwrap_with_passphrase,
    unwrap_with_recovery,
    wrap_for_recovery,
)
from engine.vault.lockfile import VaultLock
from engine.vault.request_log import RequestLog
from engine.vault.responses import StoredResponses
from engine.vault.schema import migrate, migration_set
from engine.vault.settings import Settings
from engine.vault.sqlite import Database, Migrations
from engine.vault.store import Store, iso, now, wrap_data_key
from engine.vault.training import Datasets, TrainingJobs

log = logging.getLogger("enclave.vault")
T = TypeVar("T")

DB_NAME = "vault.db"
BACKUP_DIR = "backups"
STREAMS = operations.STREAMS


def db_path(home: Path) -> Path:
    """Where the vault database lives inside ENCLAVE_HOME."""
    return Path(home) / DB_NAME


class Vault:
    """An unlocked vault. Safe to call from any thread; one internal thread owns the connection."""

    def __init__(self, home: Path, store: Store, lock: VaultLock) -> None:
        self.home = Path(home)
        self._store = store
        self._lock = lock
        self.audit = AuditLog(store)
        self.conversations = Conversations(store, self.audit)
        self.settings = Settings(store)
        self.api_keys = ApiKeys(store)
        self.request_log = RequestLog(store)
        self.documents = DocumentStore(store, self.audit)
        self.responses = StoredResponses(store)
        self.datasets = Datasets(store)
        self.training_jobs = TrainingJobs(store)

    # -- opening -------------------------------------------------------------------------------

    @staticmethod
    def exists(home: Path) -> bool:
        """True when ENCLAVE_HOME holds a vault."""
        return db_path(home).exists()

    @classmethod
    def init(cls, home: Path, passphrase: str, *, kdf: KdfParams | None = None) -> tuple[Vault, str]:
        """Create a vault; returns it open and the recovery key (show it once)."""
        home = Path(home)
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        if cls.exists(home):
            raise VaultExists
        kdf = kdf or DEFAULT_KDF
        kdf.check()
        lock = VaultLock.acquire(home)
        try:
            if cls.exists(home):
                raise VaultExists
            master = crypto.new_key()
            recovery, recovery_text = crypto.new_recovery_key()
            _build(db_path(home), master, passphrase, recovery, kdf)
            vault = cls._open(home, lock, master)
        except BaseException:
            lock.release()
            raise
        vault.audit.append("init", actor="local")
        log.info("vault created")
        return vault, recovery_text

    @classmethod
    def unlock(cls, home: Path, passphrase: str, *, actor: str = "local") -> Vault:
        """Open the vault with its passphrase; WrongPassphrase leaves every file untouched."""
        home = Path(home)
        if not cls.exists(home):
            raise VaultMissing
        lock = VaultLock.acquire(home)
        try:
            header = read_header(db_path(home))
            master, check = open_pass_wrap(header, passphrase)
            vault = cls._open(home, lock, master)
        except BaseException:
            lock.release(discard=True)
            raise
        try:
            if header.pass_check is None:  # a vault from before check values: add them now
                vault._store.run(lambda db: _add_pass_check(db, header, check))
            vault.audit.append("unlock", actor=actor)
        except BaseException:
            vault.close()
            raise
        return vault

    @classmethod
    def unlock_with_recovery(cls, home: Path, recovery_key: str, new_passphrase: str) -> Vault:
        """Open the vault with the recovery key and set a new passphrase."""
        home = Path(home)
        if not cls.exists(home):
            raise VaultMissing
        lock = VaultLock.acquire(home)
        try:
            header = read_header(db_path(home))
            master = unwrap_with_recovery(header, recovery_key)
            vault = cls._open(home, lock, master)
        except BaseException:
            lock.release(discard=True)
            raise
        try:
            vault._store.run(lambda db: _set_pass_wrap(db, vault._store.master, new_passphrase, header.kdf))
            vault.audit.append("recover", actor="local")
        except BaseException:
            vault.close()
            raise
        log.info("passphrase reset with the recovery key")
        return vault

    @classmethod
    def _open(cls, home: Path, lock: VaultLock, master: bytearray, migrations: Migrations | None = None) -> Vault:
        # Every process that holds the master key (server, CLI commands, the GUI) writes no core file:
        # one would hold keys and decrypted text in plaintext. The soft limit is the one the kernel
        # applies; the ceiling stays for the caller (a shell, a test runner) and its later children.
        if not disable_core_dumps(hard=False):
            log.warning("core dumps could not be disabled")
        store = Store(db_path(home))

        def on_open(db: Database) -> None:
            migrate(db, home / BACKUP_DIR, migrations or migration_set())
            operations.load_stream_keys(db, store)
            if not secrets.compare_digest(
                crypto.key_check_value(master),
                db.execute("SELECT kcv FROM header WHERE id = 1").fetchone()[0],
            ):
                raise IntegrityError("vault header is inconsistent (key-check value mismatch)")

        try:
            store.start(master, on_open)
        except BaseException:
            store.close()
            raise
        lock.write_pid()
        return cls(home, store, lock)

    # -- keys ----------------------------------------------------------------------------------

    def change_passphrase(self, old: str, new: str, *, kdf: KdfParams | None = None) -> None:
        """Rewrap the master key under a new passphrase; data ciphertexts are untouched."""
        if kdf is not None:
            kdf.check()

        def task(db: Database) -> None:
            header = operations.header_in(db)
            master = unwrap_with_passphrase(header, old)
            # Verifying `old` against the stored wrap (not just our memory) keeps passwd a real check.
            if master != self._store.master:
                raise IntegrityError("vault header does not match the open vault")
            # The new wrap and its audit entry commit together or not at all.
            with db.atomic():
                _set_pass_wrap(db, master, new, kdf or header.kdf)
                self.audit.append_in(db, "passwd", actor="local")

        self._store.run(task)
        log.info("passphrase changed")

    def verify_passphrase(self, passphrase: str) -> None:
        """WrongPassphrase unless `passphrase` opens this vault; the Argon2 work runs in the caller's thread
        (not the vault's: requests go on being served meanwhile)."""
        master = unwrap_with_passphrase(self._store.run(operations.header_in), passphrase)
        crypto.zero(master)  # only the answer was wanted

    def kdf(self) -> KdfParams:
        """The Argon2id parameters the passphrase is stretched with (for reports)."""
        return self._store.run(operations.header_in).kdf

    def resume(self, passphrase: str) -> None:
        """Unlock again after `lock()` (the connection and the file lock were kept)."""
        header = self._store.run_unlocked_or_not(operations.header_in)
        self._store.resume(unwrap_with_passphrase(header, passphrase))
        self.audit.append("unlock", actor="local")

    def lock(self) -> None:
        """Drop every key and decrypted cache from memory; later calls raise VaultLockedError."""
        self._store.lock()

    def on_lock(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the vault's thread) whenever the keys are dropped: decrypted caches go too."""
        self._store.on_lock.append(callback)

    @property
    def is_locked(self) -> bool:
        """True after `lock()` or `close()`."""
        return self._store.is_locked

    @property
    def last_used(self) -> float:
        """time.monotonic() of the last operation, for an idle auto-lock timer."""
        return self._store.last_used

    def close(self) -> None:
        """Lock, close the database and release the file lock."""
        self._store.close()
        self._lock.release()

    def __enter__(self) -> Vault:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- operations ----------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Problems found (SQLite integrity, every envelope, the audit chain); empty means sound."""
        return self._store.run(lambda db: operations.check_in(db, self._store, self.audit))

    def backup(
        self, path: Path, *, actor: str = "local", progress: Callable[[int, int], None] | None = None
    ) -> Path:
        """A consistent, still-encrypted single-file copy of the vault, written whole (`progress(done, total)`)."""
        target = Path(path)

        def task(db: Database) -> None:
            operations.backup_in(db, target, progress)
            self.audit.append_in(db, "backup", actor=actor, details={"file": target.name})

        self._store.run(task)
        return target

    @classmethod
    def restore(cls, home: Path, path: Path, *, passphrase: str | None = None) -> None:
        """Replace the vault with a backup; refuses while the vault is open anywhere."""
        home = Path(home)
        lock = VaultLock.acquire(home)
        target = db_path(home)
        part = part_path(target)
        try:
            master = operations.restore_prepare(Path(path), part, passphrase)
            if master is not None and (problems := operations.check_file(part, master)):
                raise IntegrityError(f"the backup is damaged ({problems[0]}); nothing was changed")
            operations.restore_commit(home, target, part)
            if master is None:
                lock.release()
                return
            vault = cls._open(home, lock, master)
        except BaseException:
            for leftover in (part, part.with_name(part.name + "-wal"), part.with_name(part.name + "-shm")):
                leftover.unlink(missing_ok=True)
            lock.release()
            raise
        with vault:
            vault.audit.append("restore", actor="local", details={"file": Path(path).name})

    def restore_from(self, path: Path, passphrase: str, *, actor: str = "local") -> Vault:
        """Replace this open vault with a backup (checked as `restore` checks it); returns the restored
        vault, open, and closes this one. Until the checks pass nothing changes and this vault stays open."""
        source, target = Path(path), db_path(self.home)
        part = part_path(target)
        leftovers = (part, part.with_name(part.name + "-wal"), part.with_name(part.name + "-shm"))
        try:
            master = operations.restore_prepare(source, part, passphrase)
            assert master is not None  # a passphrase was given
            if problems := operations.check_file(part, master):
                raise IntegrityError(f"the backup is damaged ({problems[0]}); nothing was changed")
        except BaseException:
            for leftover in leftovers:
                leftover.unlink(missing_ok=True)
            raise
        # The swap: this connection closes while the process keeps the file lock, so nobody slips in.
        lock = self._lock.hand_over()
        self._store.close()
        try:
            operations.restore_commit(self.home, target, part)
            restored = type(self)._open(self.home, lock, master)
        except BaseException:
            for leftover in leftovers:
                leftover.unlink(missing_ok=True)
            lock.release()
            raise
        restored.audit.append("restore", actor=actor, details={"file": source.name})
        return restored

    def export_json(self, path: Path, conversation_id: str | None = None, *, actor: str = "local") -> Path:
        """Write conversations as plaintext JSON (OpenAI messages format plus metadata), whole."""
        return operations.export_json(self, Path(path), conversation_id, actor)

    def purge(
        self,
        cutoffs: retention.Cutoffs,
        *,
        actor: str = "local",
        details: dict[str, Any] | None = None,
        record_empty: bool = True,
    ) -> dict[str, int]:
        """Retention: crypto-shred and scrub what is older than `cutoffs`; counts go to the audit chain."""
        return self._store.run(
            lambda db: retention.purge_in(
                db, self, cutoffs, actor=actor, details=dict(details or {}), record_empty=record_empty
            )
        )

    def purge_preview(self, cutoffs: retention.Cutoffs) -> dict[str, int]:
        """Counts per category that `purge(cutoffs)` would delete now; changes nothing (a dry run)."""
        return self._store.run(lambda db: retention.preview_in(db, self, cutoffs))

    def schedule(self, fn: Callable[[], T]) -> Future[T]:
        """Run `fn()` on the vault's own thread, where the vault calls it makes need no hand-over;
        returns at once with the future of its result (an event loop awaits it with wrap_future)."""
        return self._store.schedule(fn)

    def run_raw(self, fn: Callable[[Database], T]) -> T:
        """Run `fn(db)` on the connection thread (tests and diagnostics only)."""
        return self._store.run_unlocked_or_not(fn)


def _set_pass_wrap(db: Database, master: bytearray, passphrase: str, kdf: KdfParams) -> None:
    # One UPDATE of one row: a crash leaves either the old or the new wrap, never neither.
    fields = passphrase_fields(master, passphrase, kdf)
    db.execute(
        f"UPDATE header SET {', '.join(f'{name} = ?' for name in fields)} WHERE id = 1",  # names from code
        list(fields.values()),
    )


def _add_pass_check(db: Database, header: Header, check: bytes) -> None:
    db.execute(
        "UPDATE header SET pass_check = ?, pass_sum = ? WHERE id = 1",
        [check, pass_sum(header.kdf, header.kdf_salt, header.pass_wrap, check)],
    )


def _build(target: Path, master: bytearray, passphrase: str, recovery: bytes, kdf: KdfParams) -> None:
    """Write a new vault file whole: schema, header, stream keys (`.part`, fsync, rename)."""
    part = part_path(target)
    for leftover in (part, part.with_name(part.name + "-journal")):
        leftover.unlink(missing_ok=True)
    pass_fields = passphrase_fields(master, passphrase, kdf)
    recovery_salt, recovery_wrap = wrap_for_recovery(master, recovery)
    audit_key = crypto.hkdf(master, "enclave audit mac v1")
    db = Database(part)
    try:
        migrate(db, target.parent / BACKUP_DIR)
        stream_ids = []
        with db.atomic():
            for _ in STREAMS:
                key_id = crypto.new_id()
                raw = secrets.token_bytes(crypto.KEY_LEN)
                db.execute(
                    "INSERT INTO data_keys (id, created_at, wrapped) VALUES (?, ?, ?)",
                    [key_id, iso(now()), wrap_data_key(master, key_id, raw)],
                )
                stream_ids.append(key_id)
            db.table("header").insert(
                {
                    "id": 1,
                    "format": HEADER_FORMAT,
                    "created_at": iso(now()),
                    **pass_fields,
                    "recovery_salt": recovery_salt,
                    "recovery_wrap": recovery_wrap,
                    "kcv": crypto.key_check_value(master),
                    **{f"{name}_key_id": key_id for name, key_id in zip(STREAMS, stream_ids, strict=True)},
                    "audit_count": 0,
                    "audit_head": GENESIS,
                    "audit_head_mac": head_mac(audit_key, 0, GENESIS),
                }
            )
    finally:
        db.close()
    os.chmod(part, 0o600)
    with part.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(part, target)
    fsync_dir(target.parent)
