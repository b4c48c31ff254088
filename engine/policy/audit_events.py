"""The security events Enclave records, and the one way front-ends record them.

The vault appends its own events (init, unlock, passwd, recover, backup, restore, export, erase,
retention purge); the API server records server start/stop. What happens outside the vault (model
import/remove/default, policy changes, violations) is recorded here by whichever front-end did it, so
the CLI, the GUI and the server write the same event names with the same details.

Failed unlocks: a wrong passphrase must not change a byte of the vault (SECURITY.md), and without the
key nothing can be chained. So `unlock()` notes each failure's time in a small side file, and the next
successful unlock moves those times into the chain as one `unlock_failed` event and deletes the file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.vault import AuditEntry, Vault
from engine.vault.errors import WrongPassphrase

FAILED_UNLOCKS = "failed-unlocks"

# Every event name in the chain, with what it means (the processing report lists them).
EVENTS: dict[str, str] = {
    "init": "vault created",
    "unlock": "vault unlocked",
    "unlock_failed": "wrong passphrase given (times of the attempts)",
    "passwd": "passphrase changed",
    "recover": "passphrase reset with the recovery key",
    "backup": "encrypted backup written",
    "restore": "vault restored from a backup",
    "export": "conversations exported as plaintext",
    "erase": "conversations crypto-shredded",
    "import": "conversations imported from an export bundle",
    "retention_purge": "expired data purged (counts per category)",
    "api_key_create": "API key created (with its rules)",
    "api_key_revoke": "API key revoked",
    "server_start": "HTTP endpoint started (bind address)",
    "server_stop": "HTTP endpoint stopped (bind address)",
    "model_import": "model imported (name, SHA-256)",
    "model_remove": "model removed",
    "model_default": "default model changed",
    "model_approve": "model approved for the allowlist (SHA-256)",
    "model_unapprove": "model approval withdrawn",
    "setting_change": "a policy or setting changed (name, new value)",
    "subject_tag": "conversations tagged with a data subject",
    "label_switch": "AI-content labels switched on or off for an API key",
    "policy_violation": "an action was refused by policy",
    "report": "a processing report was generated",
}


def record(vault: Vault, event: str, *, actor: str, details: dict[str, Any] | None = None) -> AuditEntry:
    """Append one known event to the audit chain (details: ids, names, counts; never content)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")  # a programming error, not a user's
    return vault.audit.append(event, actor=actor, details=details)


def set_setting(vault: Vault, key: str, value: Any, *, actor: str) -> None:
    """Change a setting and record the change (settings are configuration, not content)."""
    vault.settings.set(key, value)
    record(vault, "setting_change", actor=actor, details={"key": key, "value": value})


def _failed_path(home: Path) -> Path:
    return Path(home) / FAILED_UNLOCKS


def note_failed_unlock(home: Path, when: dt.datetime | None = None) -> None:
    """Remember one failed unlock outside the vault (a time only) until the next good unlock."""
    moment = (when or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    fd = os.open(_failed_path(home), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{moment}\n".encode("ascii"))
    finally:
        os.close(fd)


def flush_failed_unlocks(vault: Vault, *, actor: str) -> int:
    """Move the noted failures into the chain as one event; returns how many there were."""
    path = _failed_path(vault.home)
    try:
        times = [line.strip() for line in path.read_text(encoding="ascii").splitlines() if line.strip()]
    except FileNotFoundError:
        return 0
    except (OSError, UnicodeDecodeError):
        times = ["unreadable"]  # still worth a record: someone tried, or the file was meddled with
    if times:
        record(vault, "unlock_failed", actor=actor, details={"count": len(times), "times": times[:100]})
    path.unlink(missing_ok=True)
    return len(times)


def unlock(home: Path, passphrase: str, *, actor: str) -> Vault:
    """`Vault.unlock` that also records failed attempts (see the module docstring)."""
    try:
        vault = Vault.unlock(home, passphrase, actor=actor)
    except WrongPassphrase:
        # A read-only home must not turn "wrong passphrase" into another error.
        with contextlib.suppress(OSError):
            note_failed_unlock(home)
        raise
    try:
        flush_failed_unlocks(vault, actor=actor)
    except BaseException:
        vault.close()
        raise
    return vault


def require_admin_actor(actor: str) -> None:
    """Policy changes come from the person at the machine (CLI, GUI), never from an API key."""
    if actor.startswith("api"):
        raise UserError("policy can only be changed by an administrator (CLI or desktop app)")
