"""What an upstream is, the rules a definition must pass, and where definitions live (encrypted settings).

An upstream is an OpenAI-compatible serving engine the organisation already runs (vLLM, llama.cpp's
server, Ollama, TGI, or a load balancer in front of several). Its definition, API key and CA
certificate included, is one JSON value in the vault's encrypted settings: nothing about it is on disk
in clear, and nothing is contacted until an administrator has registered it.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from engine.errors import NotFoundError, UserError
from engine.vault.ports import SettingsVault

SETTINGS_KEY = "upstreams"
DEFAULT_TIMEOUT_S = 120.0
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_MODEL_ID = re.compile(r"[^\s=,]{1,256}")


@dataclass(frozen=True)
class ModelRoute:
    """One model an upstream serves: the id clients use here, and the id the upstream knows."""

    id: str
    remote: str


@dataclass(frozen=True)
class Upstream:
    """A registered upstream; `api_key` and `tls_ca` stay out of reprs (and so out of logs)."""

    name: str
    url: str  # the OpenAI base URL, e.g. https://vllm.corp:8000/v1
    models: tuple[ModelRoute, ...]
    api_key: str | None = field(default=None, repr=False)
    tls_ca: str | None = field(default=None, repr=False)  # PEM; when set, the only CA trusted
    allow_plain_http: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    added_at: str = ""

    @property
    def host(self) -> str:
        """The host name (or address) of the URL."""
        return httpx.URL(self.url).host

    @property
    def uses_tls(self) -> bool:
        """True for https."""
        return httpx.URL(self.url).scheme == "https"

    def route(self, model: str) -> ModelRoute | None:
        """The route for client model id `model`, if this upstream serves it."""
        return next((r for r in self.models if r.id == model), None)

    def to_json(self) -> dict[str, Any]:
        """The stored form (secrets included: it is only ever written sealed)."""
        return {
            "name": self.name,
            "url": self.url,
            "models": [{"id": r.id, "remote": r.remote} for r in self.models],
            "api_key": self.api_key,
            "tls_ca": self.tls_ca,
            "allow_plain_http": self.allow_plain_http,
            "timeout_s": self.timeout_s,
            "added_at": self.added_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Upstream:
        """Read the stored form."""
        return cls(
            name=str(data["name"]),
            url=str(data["url"]),
            models=tuple(ModelRoute(str(m["id"]), str(m["remote"])) for m in data.get("models", [])),
            api_key=data.get("api_key"),
            tls_ca=data.get("tls_ca"),
            allow_plain_http=bool(data.get("allow_plain_http", False)),
            timeout_s=float(data.get("timeout_s", DEFAULT_TIMEOUT_S)),
            added_at=str(data.get("added_at", "")),
        )


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses: traffic that never leaves this machine."""
    name = host.strip("[]").lower()
    if name in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_name(name: str) -> str:
    """`name` if it is a valid upstream name (lower-case letters, digits, '-', '_'; up to 32)."""
    if not _NAME.fullmatch(name):
        raise UserError(f"invalid upstream name {name!r}: use 1-32 lower-case letters, digits, '-' or '_'")
    return name


def normalise_url(url: str, *, allow_plain_http: bool = False, tls_ca: str | None = None) -> str:
    """The OpenAI base URL an upstream is reached at, checked against the transport rules.

    Plain HTTP is refused for anything but loopback unless the admin allowed it for this upstream:
    the API key and every prompt would cross the network in clear.
    """
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        raise UserError(f"invalid upstream URL {url!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UserError("an upstream URL must look like https://host[:port][/v1]")
    if parsed.userinfo:
        raise UserError("put no credentials in the upstream URL; pass the key with --api-key-file")
    if parsed.query or parsed.fragment:
        raise UserError("an upstream URL takes no query string or fragment")
    if parsed.scheme == "http":
        if tls_ca is not None:
            raise UserError("--tls-ca needs an https:// URL")
        if not is_loopback_host(parsed.host) and not allow_plain_http:
            raise UserError(
                f"refusing plain HTTP to {parsed.host}: prompts and the API key would cross the network "
                "unencrypted; use https:// or, if that network is trusted, --allow-plain-http"
            )
    path = parsed.path.rstrip("/") or "/v1"  # OpenAI clients' base URLs end in /v1
    return str(parsed.copy_with(path=path)).rstrip("/")


def check_ca(pem: str) -> str:
    """`pem` if it holds at least one usable CA certificate."""
    try:
        context = ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError):
        raise UserError("the --tls-ca file holds no usable PEM certificate") from None
    if not context.get_ca_certs():
        raise UserError("the --tls-ca file holds no CA certificate")
    return pem


def model_routes(items: Iterable[str], prefix: str = "") -> tuple[ModelRoute, ...]:
    """Routes from `REMOTE` (client id: prefix + REMOTE) or `ID=REMOTE` items; duplicates refused."""
    routes: list[ModelRoute] = []
    for item in items:
        local, sep, remote = item.strip().partition("=")
        if not sep:
            local, remote = prefix + local, local
        if not _MODEL_ID.fullmatch(local) or not _MODEL_ID.fullmatch(remote):
            raise UserError(f"invalid model {item.strip()!r}: use NAME or ID=NAME, without spaces or commas")
        if any(r.id == local for r in routes):
            raise UserError(f"model id {local!r} is listed twice")
        routes.append(ModelRoute(local, remote))
    if not routes:
        raise UserError("an upstream needs at least one model (--models a,b or --discover)")
    return tuple(routes)


class UpstreamStore:
    """Upstream definitions in the vault's encrypted settings."""

    def __init__(self, vault: SettingsVault) -> None:
        self.vault = vault

    def list(self) -> list[Upstream]:
        """Every registered upstream, in registration order (the failover order)."""
        stored = self.vault.settings.get(SETTINGS_KEY, [])
        return [Upstream.from_json(item) for item in stored] if isinstance(stored, list) else []

    def get(self, name: str) -> Upstream:
        """The upstream called `name`, or NotFoundError."""
        found = next((u for u in self.list() if u.name == name), None)
        if found is None:
            raise NotFoundError(f"no upstream named {name!r}; see `enclave upstreams list`")
        return found

    def save(self, upstreams: Sequence[Upstream]) -> None:
        """Replace every definition (one sealed value, so a change is whole or not at all)."""
        self.vault.settings.set(SETTINGS_KEY, [u.to_json() for u in upstreams])
