"""The appliance's side of pairing: a one-time code for one device, redeemed once for its key.

`create_pairing` records a pending pairing (the device's name, the key rules it will get, where the
code told it to connect) and returns a code that carries a one-time pairing token, stored here only
as its SHA-256. The desktop redeems the token over the pinned TLS connection (`POST /v1/pair/redeem`,
no API key needed): `redeem_pairing` then issues the device's API key with those rules and returns it
once; the token is spent (a second redeem is refused as "already used") and lapses unredeemed after
`DEFAULT_EXPIRES_S`. By default the key logs metadata only: a person's questions from their laptop are
not kept on the shared server unless an admin asks for it. Revoking the pairing revokes the key, so
the next request from that laptop gets 401 (or spends the unredeemed token).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from engine.errors import NotFoundError, UserError
from engine.pairing.code import PairingCode, check_url
from engine.policy.audit_events import record as record_event
from engine.policy.keys import issue_key, revoke_key
from engine.upstreams.config import check_name
from engine.vault import Vault
from engine.vault.records import ApiKeyRecord

SETTINGS_KEY = "pairings"
DEFAULT_EXPIRES_S = 24 * 3600  # an unredeemed code lapses after a day (`pair create --expires-in`)
MAX_EXPIRES_S = 30 * 24 * 3600
MAX_TOKEN_CHARS = 256
REDEEM_ACTOR = "serve"  # the server redeems a code on the device's behalf (the device has no key yet)


class RedeemRefused(UserError):
    """A pairing token that cannot be redeemed; `status` and `code` are its HTTP answer."""

    def __init__(self, message: str, *, status: int, code: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def token_hash(token: str) -> str:
    """How a pairing token is stored: its SHA-256 (the token has 256 random bits; no stretching needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(when: dt.datetime) -> str:
    return when.isoformat(timespec="seconds")


@dataclass(frozen=True)
class Pairing:
    """One paired device as `pair list` shows it."""

    name: str
    url: str
    fingerprint: str
    created_at: str
    key: ApiKeyRecord | None  # None until the code is redeemed
    expires_at: str = ""  # when an unredeemed code lapses
    redeemed_at: str = ""
    revoked_at: str = ""  # set when a pairing is revoked before its code was redeemed
    rules: dict[str, Any] | None = None  # the rules the key gets (models, rpm, tokens_per_day, log_content)

    @property
    def active(self) -> bool:
        """True while the device's key works."""
        return self.key is not None and not self.key.revoked

    @property
    def state(self) -> str:
        """`pending` (code not yet redeemed), `active`, `revoked` or `expired` (code never redeemed)."""
        if self.key is not None:
            return "revoked" if self.key.revoked else "active"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at and self.expires_at <= _stamp(_now()) else "pending"

    @property
    def open(self) -> bool:
        """True while the pairing is active or its code can still be redeemed."""
        return self.state in ("active", "pending")


def default_url(port: int = 8765) -> str:
    """`https://<this machine's hostname>:<port>`, the address a code names unless the admin gives one."""
    return f"https://{socket.gethostname()}:{port}"


def _stored(vault: Vault) -> list[dict[str, Any]]:
    value = vault.settings.get(SETTINGS_KEY, [])
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def create_pairing(
    vault: Vault,
    name: str,
    *,
    url: str,
    fingerprint: str,
    models: Sequence[str] | None = None,
    rpm: int | None = None,
    tokens_per_day: int | None = None,
    log_content: bool = False,
    server: str | None = None,
    expires_s: int = DEFAULT_EXPIRES_S,
    actor: str = "local",
) -> tuple[Pairing, str]:
    """Record a pending pairing with its key rules and return it with its one-time code (text)."""
    check_name(name)
    url = check_url(url)
    if not 60 <= expires_s <= MAX_EXPIRES_S:
        raise UserError("a pairing code expires after between 1 minute and 30 days")
    if rpm is not None and rpm < 1 or tokens_per_day is not None and tokens_per_day < 1:
        raise UserError("--rpm and --tokens-per-day must be positive")
    if any(p.name == name and p.open for p in list_pairings(vault)):
        raise UserError(f"a device named {name!r} is paired; revoke it first or pick another name")
    if any(k.name == name and not k.revoked for k in vault.api_keys.list()):
        raise UserError(f"an API key named {name!r} exists; revoke it first or pick another name")
    token = secrets.token_urlsafe(32)
    created = _now()
    rules = {"models": list(models) if models else None, "rpm": rpm, "tokens_per_day": tokens_per_day,
             "log_content": log_content}
    entry = {"name": name, "key_id": None, "url": url, "fingerprint": fingerprint, "created_at": _stamp(created),
             "token_sha256": token_hash(token), "expires_at": _stamp(created + dt.timedelta(seconds=expires_s)),
             "redeemed_at": "", "revoked_at": "", "rules": rules}
    vault.settings.set(SETTINGS_KEY, [i for i in _stored(vault) if i.get("name") != name] + [entry])
    details = {"name": name, "url": url, "fingerprint": fingerprint, "expires_at": entry["expires_at"], **rules}
    record_event(vault, "pair_create", actor=actor, details=details)
    code = PairingCode(url, fingerprint, token, (server or socket.gethostname())[:64], name)
    return _pairing(entry, {}), code.encode()


def _pairing(item: dict[str, Any], keys: dict[str, ApiKeyRecord]) -> Pairing:
    rules = item.get("rules")
    return Pairing(
        str(item.get("name")), str(item.get("url")), str(item.get("fingerprint")), str(item.get("created_at")),
        keys.get(str(item.get("key_id"))) if item.get("key_id") else None,
        str(item.get("expires_at") or ""), str(item.get("redeemed_at") or ""), str(item.get("revoked_at") or ""),
        rules if isinstance(rules, dict) else None,
    )


def list_pairings(vault: Vault) -> list[Pairing]:
    """Every pairing, newest last, with its key's state."""
    keys = {k.id: k for k in vault.api_keys.list()}
    return [_pairing(i, keys) for i in _stored(vault)]


def pairing_hosts(vault: Vault) -> list[str]:
    """The host names that open pairings' codes told devices to use (the server answers to them)."""
    hosts = {httpx.URL(p.url).host for p in list_pairings(vault) if p.open}
    return sorted(h for h in hosts if h)


def revoke_pairing(vault: Vault, name: str, *, actor: str = "local") -> Pairing:
    """Revoke the device's key (its next request gets 401), or spend its unredeemed code; audit it."""
    pairing = next((p for p in reversed(list_pairings(vault)) if p.name == name), None)
    if pairing is None:
        raise NotFoundError(f"no paired device named {name!r}; see `enclave pair list`")
    if not pairing.open:
        raise UserError(f"the pairing {name!r} is already {pairing.state}")
    if pairing.key is not None:
        revoke_key(vault, pairing.key.name, actor=actor)
    else:  # the unredeemed code is spent: redeeming it is refused as revoked
        spent = next(str(i.get("token_sha256") or "") for i in _stored(vault) if i.get("name") == name)
        _update(vault, name, revoked_at=_stamp(_now()), token_sha256="", spent_sha256=spent)
    record_event(vault, "pair_revoke", actor=actor, details={"name": name, "state": pairing.state})
    return next(p for p in reversed(list_pairings(vault)) if p.name == name)


def _update(vault: Vault, name: str, **changes: Any) -> None:
    vault.settings.set(SETTINGS_KEY, [{**i, **changes} if i.get("name") == name else i for i in _stored(vault)])


def redeem_pairing(vault: Vault, token: str, *, client: str = "") -> tuple[Pairing, str]:
    """Spend a pairing token: issue the device's key with its pairing's rules and return it once.

    Run it where the vault's writes are serialised (its own thread): two redeems of one token must not
    both win. RedeemRefused (404 unknown, 410 used, expired or revoked, 409 name taken) otherwise.
    """
    presented = token_hash(token.strip()[:MAX_TOKEN_CHARS])
    match: dict[str, Any] | None = None
    for item in _stored(vault):  # every stored hash is compared, in constant time each
        stored = str(item.get("token_sha256") or item.get("spent_sha256") or "")
        if stored and hmac.compare_digest(presented, stored):
            match = item
    if match is None:
        raise RedeemRefused("this pairing code is not known to this server (it may be for another server)",
                            status=404, code="pairing_code_unknown")
    pairing = _pairing(match, {k.id: k for k in vault.api_keys.list()})
    details = {"name": pairing.name, "client": client[:64]}
    if pairing.state != "pending":
        reason = {"active": "used", "revoked": "revoked", "expired": "expired"}[pairing.state]
        if pairing.redeemed_at:
            reason = "used"
        record_event(vault, "pair_redeem_refused", actor=REDEEM_ACTOR, details={**details, "reason": reason})
        message = {
            "used": "this pairing code was already used; ask the server's administrator for a new one",
            "revoked": "this pairing code was revoked; ask the server's administrator for a new one",
            "expired": "this pairing code has expired; ask the server's administrator for a new one",
        }[reason]
        raise RedeemRefused(message, status=410, code=f"pairing_code_{reason}")
    rules = pairing.rules or {}
    if any(k.name == pairing.name and not k.revoked for k in vault.api_keys.list()):
        raise RedeemRefused(f"an API key named {pairing.name!r} exists on the server; ask its administrator",
                            status=409, code="pairing_name_taken")
    record, secret = issue_key(
        vault, pairing.name, models=rules.get("models"), rpm=rules.get("rpm"),
        tokens_per_day=rules.get("tokens_per_day"), store_content=bool(rules.get("log_content")),
        actor=REDEEM_ACTOR,
    )
    # The hash is kept as `spent_sha256` only so that a second redeem hears "already used".
    _update(vault, pairing.name, key_id=record.id, redeemed_at=_stamp(_now()), token_sha256="",
            spent_sha256=presented)
    record_event(vault, "pair_redeem", actor=REDEEM_ACTOR, details=details)
    return _pairing({**match, "key_id": record.id, "redeemed_at": _stamp(_now())}, {record.id: record}), secret


class RedeemLimiter:
    """Redeem attempts per client address per minute (a token cannot be guessed, but tries are bounded)."""

    def __init__(self, per_minute: int = 10, clients: int = 1024) -> None:
        self.per_minute, self.clients = per_minute, clients
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, client: str) -> int | None:
        """None if `client` may try now, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            if len(self._seen) >= self.clients and client not in self._seen:
                self._seen = {c: q for c, q in self._seen.items() if q and q[-1] > now - 60}  # bounded memory
                if len(self._seen) >= self.clients:
                    return 60
            times = self._seen.setdefault(client, deque())
            while times and times[0] <= now - 60:
                times.popleft()
            if len(times) >= self.per_minute:
                return max(1, int(times[0] + 60 - now) + 1)
            times.append(now)
            return None
