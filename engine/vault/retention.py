"""Retention purge inside the vault: one transaction over every category, then the bytes are scrubbed.

Which categories exist and how each one expires is declared once (engine.policy.categories); which
cutoffs apply (days per category, legal hold) is policy (engine.policy.retention). This module only
runs the rules it is given in one transaction and records the counts in the audit chain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.vault.conversations import scrub
from engine.vault.sqlite import Database

if TYPE_CHECKING:
    from engine.vault.core import Vault


@dataclass(frozen=True)
class Rule:
    """Delete what in `category` is older than `cutoff` (None: keep it) with the category's purge function."""

    category: str
    cutoff: dt.datetime | None
    purge: Callable[[Database, Vault, dt.datetime, frozenset[str]], int]


@dataclass(frozen=True)
class Cutoffs:
    """The rules of one purge, and the data subjects whose records are kept whatever their age."""

    rules: Sequence[Rule] = ()
    held_subjects: frozenset[str] = field(default_factory=frozenset)


def preview_in(db: Database, vault: Vault, cutoffs: Cutoffs) -> dict[str, int]:
    """What `purge_in` would delete with these cutoffs, per category, without changing anything.

    The same rules run inside a savepoint that is rolled back: the counts are exactly what a purge would
    delete (every declared category, its own purge function), and no category needs a second, counting
    copy of its expiry logic."""
    counts = {rule.category: 0 for rule in cutoffs.rules}
    db.conn.execute("SAVEPOINT retention_preview")
    try:
        for rule in cutoffs.rules:
            if rule.cutoff is not None:
                counts[rule.category] = rule.purge(db, vault, rule.cutoff, cutoffs.held_subjects)
    finally:
        db.conn.execute("ROLLBACK TO SAVEPOINT retention_preview")
        db.conn.execute("RELEASE SAVEPOINT retention_preview")
    return counts


def purge_in(
    db: Database, vault: Vault, cutoffs: Cutoffs, *, actor: str, details: dict[str, Any], record_empty: bool
) -> dict[str, int]:
    """Delete expired data (keys destroyed, pages scrubbed) and audit the counts; returns them."""
    counts = {rule.category: 0 for rule in cutoffs.rules}
    with db.atomic():
        for rule in cutoffs.rules:
            if rule.cutoff is not None:
                counts[rule.category] = rule.purge(db, vault, rule.cutoff, cutoffs.held_subjects)
    if any(counts.values()):
        scrub(db)
    if record_empty or any(counts.values()):
        vault.audit.append_in(db, "retention_purge", actor=actor, details={**details, "counts": counts})
    return counts
