"""AI-content labels: the implicit label in metadata, the explicit "AI-generated" mark, and the per-key switch.

Every stored assistant reply carries an implicit label (engine.chat.content_label: producer, model,
model SHA-256, time, content id). Exports add the explicit mark next to it; API replies carry it in a
response header and an `enclave_label` field that OpenAI clients ignore. Only an administrator can
switch labels off for one API key, and the switch is audited.
"""

from __future__ import annotations

from typing import Any

from engine.policy.audit_events import record, require_admin_actor
from engine.vault import ApiKeyRecord, Vault
from engine.vault.operations import AI_LABEL as EXPLICIT
from engine.vault.operations import AI_LABEL_ZH as EXPLICIT_ZH
from engine.vault.operations import export_label

__all__ = ["EXPLICIT", "EXPLICIT_ZH", "FIELD", "HEADER", "api_field", "api_headers", "export_label", "is_labelled"]

HEADER = "X-Enclave-AI-Generated"
FIELD = "enclave_label"
_IMPLICIT_KEYS = ("producer", "model", "model_sha256", "created", "content_id")


def is_labelled(metadata: dict[str, Any] | None) -> bool:
    """True when stored metadata carries a complete implicit label."""
    if not metadata:
        return False
    return metadata.get("ai_generated") is True and all(k in metadata for k in _IMPLICIT_KEYS)


def api_headers(key: ApiKeyRecord) -> dict[str, str]:
    """Response headers for a reply to `key` (none when an admin switched its labels off)."""
    return {HEADER: "true"} if key.label_replies else {}


def api_field(key: ApiKeyRecord, label: dict[str, Any]) -> dict[str, Any]:
    """The extra body field for a reply to `key`: `{"enclave_label": …}` or nothing."""
    return {FIELD: label} if key.label_replies else {}


def set_key_labels(vault: Vault, key_name: str, enabled: bool, *, actor: str) -> ApiKeyRecord:
    """Switch labels on the replies to one API key; administrators only; audited."""
    require_admin_actor(actor)
    key = vault.api_keys.set_label_replies(key_name, enabled)
    record(vault, "label_switch", actor=actor, details={"key": key_name, "labels": enabled})
    return key
