"""Registering upstreams (audited), removing them, and asking them how they are.

These are the calls the CLI (`enclave upstreams …`) and the GUI's server panel make. Health checks and
discovery are the only places that contact an upstream outside a forwarded request, and both happen
on an administrator's request, against a definition they gave.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx

from engine.errors import UserError
from engine.policy.audit_events import record as record_event
from engine.upstreams.config import (
    DEFAULT_TIMEOUT_S,
    Upstream,
    UpstreamStore,
    check_ca,
    check_name,
    model_routes,
    normalise_url,
)
from engine.upstreams.transport import auth_headers, client_options
from engine.vault import Vault
from engine.vault.ports import SettingsVault

log = logging.getLogger("enclave.upstreams")

CHECK_TIMEOUT_S = 5.0
MAX_MODELS_BODY = 4 * 1024 * 1024


@dataclass(frozen=True)
class Health:
    """What a check found: reachable or not, how fast, which models the upstream reports."""

    ok: bool
    latency_ms: float | None
    remote_models: tuple[str, ...]
    problem: str | None = None  # one line for an administrator; no key in it

    @property
    def summary(self) -> str:
        """`ok (12 ms)` or the problem."""
        return f"ok ({self.latency_ms:.0f} ms)" if self.ok else f"down: {self.problem}"


@dataclass(frozen=True)
class UpstreamStatus:
    """An upstream and its health, as the server panel lists it."""

    upstream: Upstream
    health: Health

    @property
    def missing_models(self) -> tuple[str, ...]:
        """Registered remote model ids the upstream did not report (empty when it is down)."""
        if not self.health.ok:
            return ()
        return tuple(r.remote for r in self.upstream.models if r.remote not in self.health.remote_models)


def _problem(exc: Exception) -> str:
    """A short reason for an administrator (the URL is theirs; the key never appears in these)."""
    text = str(exc)
    tls = "CERTIFICATE" in text.upper() or isinstance(exc.__cause__, ssl.SSLError)
    if isinstance(exc, httpx.ConnectError) and tls:
        return "TLS certificate not trusted (is --tls-ca the right CA?)"
    if isinstance(exc, httpx.ConnectError) and "refused" in text.lower():
        return "connection refused"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect (host unknown or unreachable)"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return type(exc).__name__


def check(upstream: Upstream, timeout_s: float = CHECK_TIMEOUT_S) -> Health:
    """GET /models on the upstream (with its key): reachable, latency, reported model ids."""
    started = time.perf_counter()
    try:
        with httpx.Client(**client_options(upstream, read_timeout_s=timeout_s)) as client:
            response = client.get("models", headers=auth_headers(upstream))
            body = response.read()
    except httpx.HTTPError as exc:
        return Health(False, None, (), _problem(exc))
    latency = (time.perf_counter() - started) * 1000
    if response.status_code in (401, 403):
        return Health(False, latency, (), f"HTTP {response.status_code}: the API key was refused")
    if response.status_code >= 400:
        return Health(False, latency, (), f"HTTP {response.status_code}")
    if len(body) > MAX_MODELS_BODY:
        return Health(False, latency, (), "the model list is too large")
    try:
        data = response.json()
        ids = tuple(str(m["id"]) for m in data["data"])
    except (ValueError, KeyError, TypeError):
        return Health(False, latency, (), "the reply is not an OpenAI model list")
    return Health(True, latency, ids)


def add_upstream(
    vault: Vault,
    name: str,
    url: str,
    *,
    api_key: str | None = None,
    models: Sequence[str] | None = None,
    discover: bool = False,
    prefix: str = "",
    tls_ca: str | None = None,
    allow_plain_http: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    actor: str = "local",
) -> Upstream:
    """Validate, (optionally) discover the models, store the definition encrypted, audit it."""
    check_name(name)
    if bool(models) == discover:
        raise UserError("give either --models a,b or --discover")
    if api_key is not None and (not api_key.strip() or any(c.isspace() for c in api_key.strip())):
        raise UserError("the upstream API key is empty or contains spaces")
    if not 1 <= timeout_s <= 3600:
        raise UserError("the upstream timeout must be between 1 and 3600 seconds")
    store = UpstreamStore(vault)
    if any(u.name == name for u in store.list()):
        raise UserError(f"an upstream named {name!r} exists; remove it first")
    upstream = Upstream(
        name=name,
        url=normalise_url(url, allow_plain_http=allow_plain_http, tls_ca=tls_ca),
        models=(),
        api_key=api_key.strip() if api_key else None,
        tls_ca=check_ca(tls_ca) if tls_ca is not None else None,
        allow_plain_http=allow_plain_http,
        timeout_s=timeout_s,
        added_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if discover:
        health = check(upstream)
        if not health.ok:
            raise UserError(f"cannot list the models of upstream {name!r}: {health.problem}")
        upstream = replace(upstream, models=model_routes(health.remote_models, prefix))
    else:
        upstream = replace(upstream, models=model_routes(models or (), prefix))
    store.save([*store.list(), upstream])
    details = {
        "name": name,
        "url": upstream.url,  # the audit chain is encrypted; the key is never in it
        "models": [r.id for r in upstream.models],
        "tls": upstream.uses_tls,
        "custom_ca": upstream.tls_ca is not None,
        "plain_http_allowed": allow_plain_http,
        "api_key": upstream.api_key is not None,
    }
    record_event(vault, "upstream_add", actor=actor, details=details)
    log.info("upstream %s registered (%d models)", name, len(upstream.models))
    return upstream


def remove_upstream(vault: Vault, name: str, *, actor: str = "local") -> Upstream:
    """Forget an upstream (its key with it) and audit it."""
    store = UpstreamStore(vault)
    upstream = store.get(name)
    store.save([u for u in store.list() if u.name != name])
    record_event(vault, "upstream_remove", actor=actor, details={"name": name})
    return upstream


def list_upstreams(vault: SettingsVault) -> list[Upstream]:
    """Every registered upstream, in failover order."""
    return UpstreamStore(vault).list()


def list_with_health(vault: SettingsVault, timeout_s: float = CHECK_TIMEOUT_S) -> list[UpstreamStatus]:
    """Every upstream with a fresh health check (in parallel; blocks up to about `timeout_s`)."""
    upstreams = list_upstreams(vault)
    if not upstreams:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(upstreams)), thread_name_prefix="upstream-check") as pool:
        results = list(pool.map(lambda u: check(u, timeout_s), upstreams))
    return [UpstreamStatus(u, h) for u, h in zip(upstreams, results, strict=True)]
