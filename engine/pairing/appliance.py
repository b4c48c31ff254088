"""The appliance's side of pairing: a key with its rules for one device, and the code that carries it.

A pairing is an ordinary API key (its rules, request log and revocation are the key's) plus a record
of where the code told the device to connect. By default the key logs metadata only: a person's
questions from their laptop are not kept on the shared server unless an admin asks for it. Revoking
the pairing revokes the key, so the next request from that laptop gets 401.
"""

from __future__ import annotations

import datetime as dt
import socket
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


@dataclass(frozen=True)
class Pairing:
    """One paired device as `pair list` shows it."""

    name: str
    url: str
    fingerprint: str
    created_at: str
    key: ApiKeyRecord | None  # None if the key is gone (it never is today; be safe)

    @property
    def active(self) -> bool:
        """True while the device's key works."""
        return self.key is not None and not self.key.revoked


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
    actor: str = "local",
) -> tuple[Pairing, str]:
    """Issue the device's key with its rules and return the pairing and its one-time code (text)."""
    check_name(name)
    url = check_url(url)
    if any(p.name == name and p.active for p in list_pairings(vault)):
        raise UserError(f"a device named {name!r} is paired; revoke it first or pick another name")
    record, secret = issue_key(
        vault, name, models=list(models) if models else None, rpm=rpm, tokens_per_day=tokens_per_day,
        store_content=log_content, actor=actor,
    )
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    entry = {"name": name, "key_id": record.id, "url": url, "fingerprint": fingerprint, "created_at": created}
    vault.settings.set(SETTINGS_KEY, [i for i in _stored(vault) if i.get("name") != name] + [entry])
    details = {"name": name, "url": url, "fingerprint": fingerprint,
               "models": list(models) if models else None, "log_content": log_content}
    record_event(vault, "pair_create", actor=actor, details=details)
    code = PairingCode(url, fingerprint, secret, (server or socket.gethostname())[:64], name)
    return Pairing(name, url, fingerprint, created, record), code.encode()


def list_pairings(vault: Vault) -> list[Pairing]:
    """Every pairing, newest last, with its key's state."""
    keys = {k.id: k for k in vault.api_keys.list()}
    return [
        Pairing(str(i.get("name")), str(i.get("url")), str(i.get("fingerprint")), str(i.get("created_at")),
                keys.get(str(i.get("key_id"))))
        for i in _stored(vault)
    ]


def pairing_hosts(vault: Vault) -> list[str]:
    """The host names that active pairings' codes told devices to use (the server answers to them)."""
    hosts = {httpx.URL(p.url).host for p in list_pairings(vault) if p.active}
    return sorted(h for h in hosts if h)


def revoke_pairing(vault: Vault, name: str, *, actor: str = "local") -> Pairing:
    """Revoke the device's key (its next request gets 401) and audit it."""
    pairing = next((p for p in list_pairings(vault) if p.name == name), None)
    if pairing is None:
        raise NotFoundError(f"no paired device named {name!r}; see `enclave pair list`")
    if not pairing.active or pairing.key is None:
        raise UserError(f"the pairing {name!r} is already revoked")
    key = revoke_key(vault, pairing.key.name, actor=actor)
    record_event(vault, "pair_revoke", actor=actor, details={"name": name})
    return Pairing(pairing.name, pairing.url, pairing.fingerprint, pairing.created_at, key)
