"""One process at a time: an flock on ENCLAVE_HOME/vault.lock, which holds the owner's PID.

The lock is taken before anything else is read, and the PID is written only after the passphrase
checked out, so a failed unlock changes no byte of any file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from engine.vault.errors import VaultInUse

LOCK_NAME = "vault.lock"


class VaultLock:
    """An exclusive, non-blocking flock held for the life of an open vault."""

    def __init__(self, fd: int, path: Path, created: bool) -> None:
        self._fd: int | None = fd
        self.path = path
        self.created = created

    @classmethod
    def acquire(cls, home: Path) -> VaultLock:
        """Take the lock or raise VaultInUse naming the holder's PID."""
        path = home / LOCK_NAME
        created = not path.exists()
        # O_CREAT without O_TRUNC: an existing lock file keeps its bytes until we own the vault.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise VaultInUse(pid) from None
        return cls(fd, path, created)

    def write_pid(self) -> None:
        """Record this process as the owner, for the message a second process shows."""
        if self._fd is None:
            return
        data = f"{os.getpid()}\n".encode()
        if os.pread(self._fd, 64, 0) != data:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)

    def hand_over(self) -> VaultLock:
        """The same held lock as a new object; this one lets go of it without unlocking (a restore in
        place hands the lock from the replaced vault to the restored one)."""
        if self._fd is None:
            raise ValueError("the vault lock is not held")
        successor = VaultLock(self._fd, self.path, self.created)
        self._fd = None
        return successor

    def release(self, *, discard: bool = False) -> None:
        """Drop the lock; with `discard`, remove a lock file that this attempt created."""
        if self._fd is None:
            return
        if discard and self.created:
            with contextlib.suppress(OSError):
                self.path.unlink()
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 64, 0).decode().strip())
    except (OSError, ValueError):
        return None
