"""Retention purge inside the vault: one transaction over every category, then the bytes are scrubbed.

Which cutoffs apply (days per category, legal hold) is policy (engine.policy.retention); this module
only deletes what is older than the cutoffs it is given and records the counts in the audit chain.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from engine.vault.conversations import scrub
from engine.vault.store import iso

if TYPE_CHECKING:
    from engine.vault.core import Vault

CATEGORIES = ("conversations", "api_content", "api_metadata", "audit")


@dataclass(frozen=True)
class Cutoffs:
    """Delete what is older than these times; None keeps a category forever."""

    conversations: dt.datetime | None = None
    api_content: dt.datetime | None = None
    api_metadata: dt.datetime | None = None
    audit: dt.datetime | None = None
    held_subjects: frozenset[str] = field(default_factory=frozenset)


def purge_in(
    db: Database, vault: Vault, cutoffs: Cutoffs, *, actor: str, details: dict[str, Any], record_empty: bool
) -> dict[str, int]:
    """Delete expired data (keys destroyed, pages scrubbed) and audit the counts; returns them."""
    counts = dict.fromkeys(CATEGORIES, 0)
    with db.atomic():
        if cutoffs.conversations is not None:
            counts["conversations"] = vault.conversations.expire_in(
                db, iso(cutoffs.conversations), cutoffs.held_subjects
            )
        if cutoffs.api_content is not None:
            counts["api_content"] = vault.request_log.shred_content_before_in(db, cutoffs.api_content)
            # Stored Responses are API content too: they expire with it.
            counts["api_content"] += vault.responses.expire_in(db, cutoffs.api_content)
        if cutoffs.api_metadata is not None:
            counts["api_metadata"] = vault.request_log.delete_before_in(db, cutoffs.api_metadata)
        if cutoffs.audit is not None:
            counts["audit"] = vault.audit.drop_before_in(db, cutoffs.audit)
    if any(counts.values()):
        scrub(db)
    if record_empty or any(counts.values()):
        vault.audit.append_in(db, "retention_purge", actor=actor, details={**details, "counts": counts})
    return counts
