"""API-key rules: who may call the endpoint, which models, how often and how many tokens a day.

The secret is checked by the vault (only its hash is stored, compared in constant time); this module
applies the rules of the key it returns. Counters are keyed by key name: names are unique among live
keys, and the request log records names, so the daily budget can be rebuilt from it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from engine.errors import UserError
from engine.policy.limits import DailyTokens, ModelNotAllowed, RateLimited, RequestWindow
from engine.vault import Vault
from engine.vault.records import ApiKeyRecord, RequestLogEntry

MAX_EXPIRY_DAYS = 3660  # about ten years: a longer "expiry" is a typo


class KeyStore(Protocol):
    """What the policy needs from the vault's API-key repository."""

    def verify(self, secret: str) -> ApiKeyRecord | None:
        """The live key of this secret, or None."""

    def list(self) -> list[ApiKeyRecord]:
        """Every key."""


class KeyPolicy:
    """Authenticates secrets and enforces each key's model list, requests/minute and tokens/day."""

    def __init__(
        self,
        keys: KeyStore,
        *,
        window: RequestWindow | None = None,
        tokens: DailyTokens | None = None,
    ) -> None:
        self.keys = keys
        self.window = window or RequestWindow()
        self.tokens = tokens or DailyTokens()

    def authenticate(self, secret: str) -> ApiKeyRecord | None:
        """The live key this secret belongs to, else None; KeyExpired for a right secret past its date."""
        if not secret or len(secret) > 256:
            return None
        record = self.keys.verify(secret)
        if record is not None and record.expired():
            assert record.expires_at is not None
            raise KeyExpired(
                f"API key {record.name!r} expired on {record.expires_at:%Y-%m-%d %H:%M} UTC; "
                "ask the administrator for a new one"
            )
        return record

    def has_live_keys(self) -> bool:
        """True when at least one key is neither revoked nor expired (the condition for a non-loopback bind)."""
        return any(record.live() for record in self.keys.list())

    def admit(self, record: ApiKeyRecord) -> None:
        """Count one request against the key's requests/minute; RateLimited when over."""
        if record.rpm is None:
            return
        wait = self.window.admit(record.name, record.rpm)
        if wait is not None:
            raise RateLimited(
                f"API key {record.name!r} is limited to {record.rpm} requests per minute",
                math.ceil(wait),
            )

    def check_model(self, record: ApiKeyRecord, model: str) -> None:
        """ModelNotAllowed unless the key may use `model`."""
        if not record.allows_model(model):
            raise ModelNotAllowed(f"API key {record.name!r} may not use model {model!r}")

    def visible_models(self, record: ApiKeyRecord, names: Iterable[str]) -> list[str]:
        """The subset of `names` this key may use."""
        return [name for name in names if record.allows_model(name)]

    def token_allowance(self, record: ApiKeyRecord) -> int | None:
        """Tokens left today (None: unlimited); RateLimited when none are left."""
        if record.tokens_per_day is None:
            return None
        left = record.tokens_per_day - self.tokens.used(record.name)
        if left <= 0:
            raise RateLimited(
                f"API key {record.name!r} has used its {record.tokens_per_day} tokens for today",
                self.tokens.seconds_to_reset(),
                code="tokens_per_day_exceeded",
            )
        return left

    def charge(self, record: ApiKeyRecord, tokens: int) -> None:
        """Count tokens a request used against the key's daily budget."""
        self.tokens.add(record.name, tokens)

    def seed(self, entries: Iterable[RequestLogEntry]) -> None:
        """Rebuild today's token counts from logged requests (after a restart)."""
        for entry in entries:
            when = entry.time if entry.time.tzinfo else entry.time.replace(tzinfo=UTC)
            if when.date() == datetime.now(UTC).date():
                self.tokens.add(entry.key_name, entry.prompt_tokens + entry.completion_tokens, when=when)


class KeyExpired(UserError):
    """The secret is right but the key's expiry date has passed (a 401 that says so)."""


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """`YYYY-MM-DD` (the key works through that day, UTC) or a number of days from now, as a UTC time."""
    moment = now or datetime.now(UTC)
    value = text.strip()
    if value.isdigit():
        days = int(value)
        if not 1 <= days <= MAX_EXPIRY_DAYS:
            raise UserError(f"an expiry in days must be between 1 and {MAX_EXPIRY_DAYS}")
        return moment + timedelta(days=days)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise UserError(f"cannot read the expiry {text!r}: give a date as YYYY-MM-DD or a number of days") from None
    return expiry_after(day, moment)


def expiry_after(day: date, now: datetime | None = None) -> datetime:
    """The moment a key valid through `day` (UTC) expires: the start of the next day."""
    moment = now or datetime.now(UTC)
    expires = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
    if expires <= moment:
        raise UserError(f"the expiry date {day.isoformat()} has already passed")
    if expires - moment > timedelta(days=MAX_EXPIRY_DAYS + 1):
        raise UserError(f"an expiry date can be at most {MAX_EXPIRY_DAYS} days ahead")
    return expires


def issue_key(
    vault: Vault,
    name: str,
    *,
    models: list[str] | None = None,
    rpm: int | None = None,
    tokens_per_day: int | None = None,
    store_content: bool = False,
    expires_at: datetime | None = None,
    reproducible: bool = False,
    train: bool = False,
    collections: list[str] | None = None,
    collections_write: list[str] | None = None,
    tools: bool = False,
    actor: str = "local",
) -> tuple[ApiKeyRecord, str]:
    """Create an API key (the secret is returned once) and audit it.

    Prompt and reply texts are logged only when `store_content` asks for it (privacy by default).
    """
    record, secret = vault.api_keys.create(
        name, models=models, rpm=rpm, tokens_per_day=tokens_per_day, store_content=store_content,
        expires_at=expires_at,
        reproducible=reproducible,
        train=train,
        collections=collections,
        collections_write=collections_write,
        tools=tools,
    )
    details = {"name": name, "models": list(models) if models else None, "rpm": rpm,
               "tokens_per_day": tokens_per_day, "store_content": store_content,
               "expires_at": expires_at.isoformat(timespec="seconds") if expires_at else None,
               "reproducible": reproducible, "train": train,
               "collections": list(collections or []), "collections_write": list(collections_write or []),
               "tools": tools}
    vault.audit.append("api_key_create", actor=actor, details=details)
    return record, secret


def revoke_key(vault: Vault, name: str, *, actor: str = "local") -> ApiKeyRecord:
    """Revoke the live key named `name` and audit it."""
    record: ApiKeyRecord = vault.api_keys.revoke(name)
    vault.audit.append("api_key_revoke", actor=actor, details={"name": name})
    return record
