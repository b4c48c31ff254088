"""Retention rules per data category, legal hold, and the purge that applies them (at start and daily).

Rules live encrypted in the vault's settings. Days count from a record's last change (a conversation's
last message, a request's time, an audit entry's time). None means keep forever, which is the default:
nothing is deleted until an administrator sets a rule. A legal hold stops every purge; a held subject
keeps that person's conversations while everything else expires.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from engine.errors import UserError
from engine.policy.audit_events import record, require_admin_actor
from engine.policy.categories import BY_NAME, RETAINED
from engine.vault import Vault
from engine.vault.retention import Cutoffs, Rule

log = logging.getLogger("enclave.policy")

SETTING = "policy.retention"
DAY_S = 24 * 60 * 60
CATEGORIES = RETAINED  # every declared category that has a retention rule
DESCRIPTIONS = {name: BY_NAME[name].description for name in CATEGORIES}

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The real clock; tests pass their own."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class RetentionPolicy:
    """Days to keep each category (absent or None: forever), and the legal hold."""

    rules: tuple[tuple[str, int | None], ...] = ()
    legal_hold: bool = False
    held_subjects: tuple[str, ...] = field(default=())

    def __getattr__(self, name: str) -> int | None:
        # `policy.conversations` reads like a field for every declared category.
        if name in BY_NAME:
            return self.days(name)
        raise AttributeError(name)

    def days(self, category: str) -> int | None:
        """Days for `category` (one of CATEGORIES)."""
        if category not in CATEGORIES:
            raise UserError(f"unknown data category {category!r}; use one of {', '.join(CATEGORIES)}")
        return dict(self.rules).get(category)

    def with_days(self, changes: dict[str, int | None]) -> RetentionPolicy:
        """A copy with some categories' days changed."""
        for category in changes:
            self.days(category)  # validates the name
        merged = {**dict(self.rules), **changes}
        return replace(self, rules=tuple((c, merged[c]) for c in CATEGORIES if merged.get(c) is not None))

    def validated(self) -> RetentionPolicy:
        """Self, or a UserError naming the first bad rule."""
        for category in CATEGORIES:
            days = self.days(category)
            if days is not None and (not isinstance(days, int) or days < 1):
                raise UserError(f"retention for {category} must be a whole number of days (1 or more) or forever")
            floor = BY_NAME[category].min_days
            if days is not None and floor is not None and days < floor:
                raise UserError(f"the {category} category must be kept at least {floor} days")
        return self

    def cutoffs(self, now: dt.datetime) -> Cutoffs:
        """What is older than these times has expired (nothing while on legal hold)."""
        rules = []
        for category in CATEGORIES:
            days = None if self.legal_hold else self.days(category)
            purge = BY_NAME[category].purge
            assert purge is not None
            rules.append(Rule(category, None if days is None else now - dt.timedelta(days=days), purge))
        return Cutoffs(rules=tuple(rules), held_subjects=frozenset(self.held_subjects))

    def to_json(self) -> dict[str, Any]:
        """As stored in the vault's settings: one key per category, then the hold."""
        data: dict[str, Any] = {c: self.days(c) for c in CATEGORIES}
        data["legal_hold"] = self.legal_hold
        data["held_subjects"] = list(self.held_subjects)
        return data


def get_policy(vault: Vault) -> RetentionPolicy:
    """The rules in force (keep forever, no hold, when none were set)."""
    data = vault.settings.get(SETTING) or {}
    rules = tuple((c, int(data[c])) for c in CATEGORIES if data.get(c) is not None)
    return RetentionPolicy(rules, bool(data.get("legal_hold")), tuple(data.get("held_subjects") or ()))


def set_policy(vault: Vault, policy: RetentionPolicy, *, actor: str) -> RetentionPolicy:
    """Store new rules (validated) and audit the change."""
    require_admin_actor(actor)
    policy.validated()
    vault.settings.set(SETTING, policy.to_json())
    record(vault, "setting_change", actor=actor, details={"key": SETTING, "value": policy.to_json()})
    return policy


def set_days(vault: Vault, category: str, days: int | None, *, actor: str) -> RetentionPolicy:
    """Change one category's rule (None: keep forever)."""
    return set_policy(vault, get_policy(vault).with_days({category: days}), actor=actor)


def set_legal_hold(vault: Vault, on: bool, *, actor: str, subject: str | None = None) -> RetentionPolicy:
    """Hold everything (no subject) or one data subject's conversations; `on=False` releases it."""
    current = get_policy(vault)
    if subject is None:
        return set_policy(vault, replace(current, legal_hold=on), actor=actor)
    subject = subject.strip()
    if not subject:
        raise UserError("a subject label cannot be empty")
    held = [s for s in current.held_subjects if s != subject] + ([subject] if on else [])
    return set_policy(vault, replace(current, held_subjects=tuple(held)), actor=actor)


def preview(vault: Vault, policy: RetentionPolicy, *, now: dt.datetime | None = None) -> dict[str, int]:
    """A dry run: how much `policy` would delete if it were applied now (counts per category)."""
    return vault.purge_preview(policy.validated().cutoffs(now or utc_now()))


def purge(
    vault: Vault, *, now: dt.datetime | None = None, actor: str = "local", when: str = "manual"
) -> dict[str, int]:
    """Apply the rules now: expired data is crypto-shredded; counts (never content) are audited."""
    policy = get_policy(vault)
    moment = now or utc_now()
    details: dict[str, Any] = {
        "trigger": when,
        "rules": {c: policy.days(c) for c in CATEGORIES},
        "legal_hold": policy.legal_hold,
        "held_subjects": len(policy.held_subjects),
    }
    # A manual purge is always on record; the automatic ones only when they deleted something.
    return vault.purge(policy.cutoffs(moment), actor=actor, details=details, record_empty=when == "manual")


def purge_at_start(vault: Vault, *, actor: str, now: dt.datetime | None = None) -> dict[str, int]:
    """What every front-end calls right after unlocking."""
    return purge(vault, now=now, actor=actor, when="start")


class RetentionTimer:
    """Runs the purge now and then every `interval_s` on a daemon thread until `stop()`."""

    def __init__(
        self,
        vault: Vault,
        *,
        actor: str,
        interval_s: float = DAY_S,
        clock: Clock = utc_now,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.vault = vault
        self.actor = actor
        self.interval_s = interval_s
        self.clock = clock
        self.on_error = on_error
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (the first purge runs at once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="retention-purge", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        when = "start"
        while not self._stop.is_set():
            try:
                purge(self.vault, now=self.clock(), actor=self.actor, when=when)
            except Exception as exc:  # a locked vault skips a round; the next one tries again
                log.warning("retention purge skipped: %s", type(exc).__name__)
                if self.on_error is not None:
                    self.on_error(exc)
            self.runs += 1
            when = "daily"
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        """Stop the thread and wait for a purge in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
