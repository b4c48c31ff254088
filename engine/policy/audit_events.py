"""The security events Enclave records, and the one way front-ends record them.

The vault appends its own events (init, unlock, passwd, recover, backup, restore, export, erase,
retention purge); the API server records server start/stop. What happens outside the vault (model
import/remove/default, policy changes, violations) is recorded here by whichever front-end did it, so
the CLI, the GUI and the server write the same event names with the same details.

Events that happen while the vault is closed (a failed unlock: a wrong passphrase must not change a
byte of the vault; a model imported by a CLI call without a passphrase) cannot be chained without the
key. They are queued beside the vault (engine.policy.audit_queue: only those kinds, bounded, marked as
recorded while locked) and the next unlock through `unlock()` moves them into the chain.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from engine.errors import UserError, VaultLockedError
from engine.policy import audit_queue
from engine.vault import AuditEntry, Vault
from engine.vault.errors import WrongPassphrase

PENDING = audit_queue.PENDING

# Every event name in the chain, with what it means (the processing report lists them).
EVENTS: dict[str, str] = {
    "init": "vault created",
    "unlock": "vault unlocked",
    "unlock_failed": "wrong passphrase given",
    "passwd": "passphrase changed",
    "recover": "passphrase reset with the recovery key",
    "backup": "encrypted backup written",
    "restore": "vault restored from a backup",
    "export": "conversations exported as plaintext",
    "erase": "conversations crypto-shredded",
    "api_content_erase": "prompt and reply texts of logged API requests erased (matching a search, or all)",
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
    "upstream_add": "upstream serving engine registered (name, URL, models; never its key)",
    "upstream_remove": "upstream serving engine removed",
    "dataset_import": "fine-tuning dataset imported (name, SHA-256, rows, number of subjects)",
    "dataset_remove": "fine-tuning dataset crypto-shredded",
    "training_start": "training of an adapter started (base model and dataset SHA-256)",
    "training_stop": "training stopped at a checkpoint (resumable)",
    "training_discard": "an unfinished training and its checkpoints crypto-shredded",
    "training_finish": "adapter trained and registered (adapter, base and dataset SHA-256, rows)",
    "adapter_load": "an adapter decrypted and loaded for serving",
    "adapter_remove": "adapted model removed with its adapter and training record",
    "adapter_withdraw": "a data subject's training rows erased and the adapters trained on them withdrawn",
    "documents_add": "documents added to a collection (collection, counts; never content)",
    "documents_collection": "a document collection was created (collection id; never its name or purpose)",
    "documents_remove": "documents or a whole collection crypto-shredded",
    "documents_search": "a document collection was searched (collection, hits; the query only for keys that log text)",
    "documents_tag": "documents tagged with a data subject",
    "assistant_create": "an assistant was defined (model, collections)",
    "assistant_remove": "an assistant was removed",
    "tool_server_add": "MCP tool server registered (name, stdio or http, how many tools)",
    "tool_server_remove": "MCP tool server removed",
    "tool_rule": "an MCP tool allowed or no longer allowed (server, tool, always)",
    "assistant_tools_skipped": "an assistant answered without its tools (the reason: e.g. the key may not use tools)",
    "tool_call": "a model's tool call: tool, decision, SHA-256 of its arguments and result (never their text)",
    "pair_create": "device paired with this server (name, URL, certificate fingerprint, models; never its key)",
    "pair_revoke": "paired device's key (or its unused pairing code) revoked",
    "pair_redeem": "a pairing code's one-time token redeemed for the device's key (device name, client address)",
    "pair_redeem_refused": "a used, expired or revoked pairing code presented again (device name, client, reason)",
    "admin_channel": "a command run through the server's admin socket (operation, peer uid and pid, outcome)",
    "remote_add": "organisation's server added on this desktop (name, URL, pinned fingerprint; never its key)",
    "remote_remove": "organisation's server removed from this desktop",
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


def unlock(home: Path, passphrase: str, *, actor: str) -> Vault:
    """`Vault.unlock` that also records failed attempts (see the module docstring)."""
    try:
        vault = Vault.unlock(home, passphrase, actor=actor)
    except WrongPassphrase:
        # A read-only home must not turn "wrong passphrase" into another error.
        with contextlib.suppress(OSError):
            audit_queue.defer(home, "unlock_failed", actor=actor)
        raise
    try:
        audit_queue.flush(vault)
    except BaseException:
        vault.close()
        raise
    return vault


def resume(vault: Vault, passphrase: str, *, actor: str) -> None:
    """`Vault.resume` (after a lock) that also records a failed attempt and chains what was queued while locked."""
    try:
        vault.resume(passphrase)
    except WrongPassphrase:
        with contextlib.suppress(OSError):
            audit_queue.defer(vault.home, "unlock_failed", actor=actor)
        raise
    audit_queue.flush(vault)


def record_or_queue(vault: Vault, event: str, *, actor: str, details: dict[str, Any] | None = None) -> None:
    """Record in the open vault's chain; while it is locked (or closed), queue it for the next unlock."""
    if not vault.is_locked:
        try:
            record(vault, event, actor=actor, details=details)
            return
        except VaultLockedError:  # locked between the check and the write
            pass
    # The queue takes only the fields a locked-time event may carry (engine.policy.audit_queue).
    allowed = audit_queue.LOCKED_EVENTS[event]
    audit_queue.defer(vault.home, event, actor=actor,
                      details={k: str(v) for k, v in (details or {}).items() if k in allowed})


def require_admin_actor(actor: str) -> None:
    """Policy changes come from the person at the machine (CLI, GUI), never from an API key."""
    if actor.startswith("api"):
        raise UserError("policy can only be changed by an administrator (CLI or desktop app)")


def record_or_defer(
    home: Path, vault: Vault | None, event: str, *, actor: str, details: dict[str, Any] | None = None
) -> None:
    """Record now when the vault is open, else queue for the next unlock (e.g. `models import` without a passphrase)."""
    if vault is not None:
        record(vault, event, actor=actor, details=details)
    elif Vault.exists(home):
        audit_queue.defer(home, event, actor=actor, details=details)
