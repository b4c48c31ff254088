"""The vault's errors: each maps to one line for a person and an exit code (see engine.errors)."""

from __future__ import annotations

from engine.errors import IntegrityError, UserError, VaultLockedError


class WrongPassphrase(UserError):
    """The passphrase did not unwrap the master key."""

    def __init__(self) -> None:
        super().__init__("wrong passphrase")


class WrongRecoveryKey(UserError):
    """The recovery key did not unwrap the master key."""

    def __init__(self) -> None:
        super().__init__("wrong recovery key")


class VaultInUse(VaultLockedError):
    """Another process (or another open Vault in this one) holds the vault's lock file."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        who = f"PID {pid}" if pid else "another process"
        super().__init__(f"vault is in use by {who}")


class VaultMissing(UserError):
    """There is no vault in this ENCLAVE_HOME."""

    def __init__(self) -> None:
        super().__init__("no vault here; run `enclave init` first")


class VaultExists(UserError):
    """`init` was asked to create a vault where one already exists."""

    def __init__(self) -> None:
        super().__init__("a vault already exists here; nothing was changed")


class RecordTampered(IntegrityError):
    """A stored value failed authentication. Deliberately opaque: it never says how."""

    def __init__(self, table: str, row_id: str) -> None:
        self.table = table
        self.row_id = row_id
        super().__init__(f"record tampered or corrupt: {table} row {row_id}")
