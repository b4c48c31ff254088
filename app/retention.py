"""Retention: drop conversations and request-log entries older than the chosen number of days.

An adapter until the engine has its own retention policy (engine/policy); it only calls public vault
methods and has no Qt in it, so it can move there unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

RETENTION_KEY = "retention.days"  # vault setting: 0 or absent keeps everything


@dataclass(frozen=True)
class RetentionResult:
    """What one pass removed."""

    conversations: int
    requests: int


def retention_days(vault: Any) -> int:
    """The configured retention in days (0: keep forever)."""
    value = vault.settings.get(RETENTION_KEY, 0)
    return value if isinstance(value, int) and value > 0 else 0


def apply_retention(vault: Any, days: int | None = None, *, now: dt.datetime | None = None) -> RetentionResult:
    """Crypto-shred conversations untouched for `days` and delete older request-log entries."""
    days = retention_days(vault) if days is None else days
    if days <= 0:
        return RetentionResult(0, 0)
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
    expired = [c.id for c in vault.conversations.list() if c.updated_at < cutoff]
    for conversation_id in expired:
        vault.conversations.erase(conversation_id, actor="retention")
    requests = vault.request_log.delete_before(cutoff)
    return RetentionResult(len(expired), int(requests))
