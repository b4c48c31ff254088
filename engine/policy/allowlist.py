"""Model allowlist: an administrator can require that only approved models (by SHA-256) are imported and loaded.

The switch and the approvals live encrypted in the vault, so they cannot be edited without the
passphrase. An approval names a file's SHA-256, not a model name: a renamed or swapped file is a
different model. Refusals are recorded as policy violations; approvals and the switch as their own events.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from engine.errors import UserError
from engine.models.registry import ModelRecord, ModelRegistry
from engine.policy.audit_events import record, require_admin_actor
from engine.policy.limits import ModelNotAllowed
from engine.vault import Vault

REQUIRED = "policy.models.allowlist_required"
APPROVED = "policy.models.approved"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ModelNotApproved(ModelNotAllowed):
    """The allowlist is on and this model's SHA-256 is not on it (HTTP 403 like a key's model rule)."""


def is_required(vault: Vault) -> bool:
    """True when only approved models may be imported and loaded."""
    return bool(vault.settings.get(REQUIRED, False))


def approved(vault: Vault) -> dict[str, dict[str, Any]]:
    """SHA-256 -> {name, approved_at, by} for every approved model."""
    value: dict[str, dict[str, Any]] = vault.settings.get(APPROVED) or {}
    return value


def set_required(vault: Vault, on: bool, *, actor: str) -> None:
    """Turn the allowlist on or off; audited."""
    require_admin_actor(actor)
    vault.settings.set(REQUIRED, bool(on))
    record(vault, "setting_change", actor=actor, details={"key": REQUIRED, "value": bool(on)})


def resolve_sha256(target: str, registry: ModelRegistry | None = None) -> tuple[str, str | None]:
    """(SHA-256, model name or None) for a SHA-256 or the name of a registered model."""
    text = target.strip().lower()
    if _SHA256.fullmatch(text):
        for model in (registry or ModelRegistry()).list():
            if model.sha256 == text:
                return text, model.name
        return text, None
    model = (registry or ModelRegistry()).get(target.strip())
    return model.sha256, model.name


def approve(vault: Vault, target: str, *, actor: str, registry: ModelRegistry | None = None) -> str:
    """Approve a model by SHA-256 or registered name; returns the SHA-256; audited."""
    require_admin_actor(actor)
    sha256, name = resolve_sha256(target, registry)
    entries = approved(vault)
    entries[sha256] = {"name": name, "approved_at": datetime.now(UTC).isoformat(timespec="seconds"), "by": actor}
    vault.settings.set(APPROVED, entries)
    record(vault, "model_approve", actor=actor, details={"sha256": sha256, "name": name})
    return sha256


def unapprove(vault: Vault, target: str, *, actor: str, registry: ModelRegistry | None = None) -> str:
    """Withdraw an approval; returns the SHA-256; audited."""
    require_admin_actor(actor)
    sha256, name = resolve_sha256(target, registry)
    entries = approved(vault)
    if entries.pop(sha256, None) is None:
        raise UserError(f"{target} is not on the allowlist")
    vault.settings.set(APPROVED, entries)
    record(vault, "model_unapprove", actor=actor, details={"sha256": sha256, "name": name})
    return sha256


def check(vault: Vault, sha256: str, *, actor: str, action: str, name: str | None = None) -> None:
    """Nothing when allowed; else record a policy violation and raise ModelNotApproved."""
    if not is_required(vault) or sha256.lower() in approved(vault):
        return
    details = {"rule": "model_allowlist", "action": action, "sha256": sha256, "name": name}
    record(vault, "policy_violation", actor=actor, details=details)
    raise ModelNotApproved(
        f"model {name or sha256[:12]} is not approved (SHA-256 {sha256}); "
        "an administrator can approve it with `enclave allowlist approve SHA256`"
    )


def import_guard(vault: Vault, *, actor: str, name: str | None = None) -> Callable[[str], None]:
    """The `approve=` callback for `ModelRegistry.import_file`: refuses unapproved files before they are kept."""
    return lambda sha256: check(vault, sha256, actor=actor, action="import", name=name)


def check_loadable(vault: Vault, model: ModelRecord, *, actor: str) -> None:
    """Refuse to load (chat, serve) a registered model that is not approved while the allowlist is on."""
    check(vault, model.sha256, actor=actor, action="load", name=model.name)
