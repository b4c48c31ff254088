"""The desktop's side of pairing: the organisation's servers it may use, stored encrypted, pinned.

`add_remote` reads a pairing code, checks that the server really presents the certificate the code
names (before anything in the code is sent), redeems the code's one-time token there for this
desktop's API key, asks which models the key may use, and keeps all of it
(key and certificate included) as one sealed value in the vault's settings. A remote model is called
`SERVER/MODEL` on this desktop: local model names cannot hold a '/', so the two never collide.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from engine.errors import NotFoundError, UserError
from engine.pairing.client import CertificateChanged, RemoteClient, RemoteError, fetch_certificate
from engine.pairing.code import PairingCode, decode
from engine.pairing.tls import fingerprint_of_der
from engine.policy.audit_events import record as record_event
from engine.upstreams.config import check_name
from engine.vault import Vault
from engine.vault.ports import SettingsVault

SETTINGS_KEY = "remotes"
log = logging.getLogger("enclave.pairing")
SEPARATOR = "/"


@dataclass(frozen=True)
class RemoteServer:
    """A paired server as this desktop keeps it; the key and certificate stay out of reprs."""

    name: str  # this desktop's name for it, e.g. hospital-gpu
    url: str
    fingerprint: str
    cert_pem: str = field(repr=False)
    api_key: str = field(repr=False)
    server: str = ""  # the server's own name for itself
    device: str = ""  # the name the server gave this desktop's pairing
    models: tuple[str, ...] = ()  # as last listed by the server
    added_at: str = ""

    def model_id(self, model: str) -> str:
        """The name this desktop uses for `model` on this server."""
        return f"{self.name}{SEPARATOR}{model}"

    def model_ids(self) -> list[str]:
        """Every model of this server, by the desktop's names."""
        return [self.model_id(m) for m in self.models]

    def client(self) -> RemoteClient:
        """A pinned HTTPS client for this server (close it after use)."""
        return RemoteClient(self.name, self.url, self.fingerprint, self.cert_pem, self.api_key)

    def to_json(self) -> dict[str, Any]:
        """The stored form (secrets included: it is only ever written sealed)."""
        return {"name": self.name, "url": self.url, "fingerprint": self.fingerprint, "cert_pem": self.cert_pem,
                "api_key": self.api_key, "server": self.server, "device": self.device,
                "models": list(self.models), "added_at": self.added_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RemoteServer:
        """Read the stored form."""
        return cls(str(data["name"]), str(data["url"]), str(data["fingerprint"]), str(data["cert_pem"]),
                   str(data["api_key"]), str(data.get("server", "")), str(data.get("device", "")),
                   tuple(str(m) for m in data.get("models", [])), str(data.get("added_at", "")))


def split_model_id(model: str) -> tuple[str, str] | None:
    """(server name, model) for a `SERVER/MODEL` name, else None (a local model name)."""
    server, sep, remote = model.partition(SEPARATOR)
    return (server, remote) if sep and server and remote else None


class RemoteStore:
    """Paired servers in the vault's encrypted settings."""

    def __init__(self, vault: SettingsVault) -> None:
        self.vault = vault

    def list(self) -> list[RemoteServer]:
        """Every paired server, in the order they were added."""
        stored = self.vault.settings.get(SETTINGS_KEY, [])
        return [RemoteServer.from_json(i) for i in stored if isinstance(i, dict)] if isinstance(stored, list) else []

    def get(self, name: str) -> RemoteServer:
        """The server called `name`, or NotFoundError."""
        found = next((r for r in self.list() if r.name == name), None)
        if found is None:
            raise NotFoundError(f"no organisation server named {name!r}; see `enclave remote list`")
        return found

    def save(self, remotes: Sequence[RemoteServer]) -> None:
        """Replace every definition (one sealed value: a change is whole or not at all)."""
        self.vault.settings.set(SETTINGS_KEY, [r.to_json() for r in remotes])


def suggested_name(code: PairingCode) -> str:
    """A valid local name from the server's own name (`Hospital GPU.local` → `hospital-gpu`)."""
    base = code.server.split(".")[0].lower()
    cleaned = "".join(c if c.isalnum() and c.isascii() else "-" for c in base).strip("-_")[:32]
    return cleaned or "server"


def pin(code: PairingCode) -> str:
    """The server's certificate (PEM) if it is the one the code names; CertificateChanged if not."""
    der = fetch_certificate(code.url)
    shown = fingerprint_of_der(der)
    if shown != code.fingerprint:
        raise CertificateChanged(
            f"refused: the server at {code.url} presented certificate {shown}, but the pairing code names "
            f"certificate {code.fingerprint}. Someone may be intercepting the connection, or the code is for "
            "another server",
            url=code.url, shown=shown, pinned=code.fingerprint,
        )
    return ssl.DER_cert_to_PEM_cert(der)


def add_remote(vault: Vault, name: str, code_text: str, *, actor: str = "local") -> RemoteServer:
    """Pair this desktop with a server from its code: pin, list its models, store encrypted, audit."""
    check_name(name)
    store = RemoteStore(vault)
    if any(r.name == name for r in store.list()):
        raise UserError(f"an organisation server named {name!r} is already added; remove it first")
    code = decode(code_text)
    cert_pem = pin(code)  # before the token (or an old code's key) is sent anywhere
    api_key, device = code.secret, code.device
    if code.one_time:
        with RemoteClient(name, code.url, code.fingerprint, cert_pem, "") as client:
            api_key, device = client.redeem(code.secret)
    remote = RemoteServer(name, code.url, code.fingerprint, cert_pem, api_key, code.server, device or code.device,
                          added_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    try:
        with remote.client() as client:
            remote = replace(remote, models=tuple(client.models()))
    except RemoteError:
        if not code.one_time:
            raise
        # The code is spent: keep the key it was redeemed for; `remote list --check` asks again later.
        log.warning("paired with %s, but its model list could not be read yet", name)
    store.save([*store.list(), remote])
    details = {"name": name, "url": remote.url, "fingerprint": remote.fingerprint, "models": list(remote.models),
               "code_version": code.version}
    record_event(vault, "remote_add", actor=actor, details=details)
    return remote


def remove_remote(vault: Vault, name: str, *, actor: str = "local") -> RemoteServer:
    """Forget a server (its key with it) and audit it; conversations with its models stay."""
    store = RemoteStore(vault)
    remote = store.get(name)
    store.save([r for r in store.list() if r.name != name])
    record_event(vault, "remote_remove", actor=actor, details={"name": name})
    return remote


def list_remotes(vault: SettingsVault) -> list[RemoteServer]:
    """Every paired server (from the vault; nothing is contacted)."""
    return RemoteStore(vault).list()


def refresh_models(vault: SettingsVault, name: str) -> RemoteServer:
    """Ask the server for its models now and keep the list; RemoteError when it cannot be asked."""
    store = RemoteStore(vault)
    remote = store.get(name)
    with remote.client() as client:
        models = tuple(client.models())
    updated = replace(remote, models=models)
    if models != remote.models:
        store.save([updated if r.name == name else r for r in store.list()])
    return updated
