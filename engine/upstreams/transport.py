"""HTTP to upstreams: one pooled client per upstream, connect retries, failover, bounded reads.

Only connection failures are retried (and then failed over to the next upstream serving the model):
until a connection exists the upstream cannot have started generating, so trying again never runs a
request twice. Anything after that (a timeout, a dropped connection) is reported, not retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from engine.upstreams.config import ModelRoute, Upstream
from engine.upstreams.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable, from_status

log = logging.getLogger("enclave.upstreams")

CONNECT_TIMEOUT_S = 5.0
WRITE_TIMEOUT_S = 30.0
POOL_TIMEOUT_S = 10.0
CONNECT_ATTEMPTS = 2  # per upstream, before failing over to the next one
RETRY_DELAY_S = 0.2
DOWN_FOR_S = 30.0  # an upstream that refused a connection is tried last for this long
MAX_CONNECTIONS = 64
MAX_ERROR_BODY = 64 * 1024
USER_AGENT = "Enclave"


def ssl_context(upstream: Upstream) -> ssl.SSLContext:
    """The system's trust store, or only the admin's CA when one was given (--tls-ca)."""
    if upstream.tls_ca:
        return ssl.create_default_context(cadata=upstream.tls_ca)
    return ssl.create_default_context()


def client_options(upstream: Upstream, read_timeout_s: float | None = None) -> dict[str, Any]:
    """Options shared by the sync and async clients."""
    timeout = httpx.Timeout(
        connect=CONNECT_TIMEOUT_S,
        read=read_timeout_s or upstream.timeout_s,
        write=WRITE_TIMEOUT_S,
        pool=POOL_TIMEOUT_S,
    )
    return {
        "base_url": upstream.url + "/",
        "verify": ssl_context(upstream),
        "timeout": timeout,
        # No proxies or netrc from the environment: the only host contacted is the registered one.
        "trust_env": False,
        # A redirect could carry the upstream's API key to another host.
        "follow_redirects": False,
        "headers": {"User-Agent": USER_AGENT},
    }


def auth_headers(upstream: Upstream) -> dict[str, str]:
    """The upstream's own credentials; the client's Enclave key never leaves this machine."""
    return {"Authorization": f"Bearer {upstream.api_key}"} if upstream.api_key else {}


def _fingerprint(upstream: Upstream) -> str:
    # A re-registered upstream (new URL, CA or timeout) gets a fresh client.
    parts = (upstream.url, upstream.tls_ca or "", str(upstream.timeout_s))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Target:
    """One way to serve a request: an upstream and the route of the model asked for."""

    upstream: Upstream
    route: ModelRoute


@dataclass
class Opened:
    """A successful upstream response (status 2xx), its body not yet read."""

    response: httpx.Response
    target: Target

    async def read(self, limit: int) -> bytes:
        """The whole body, refusing one over `limit` bytes."""
        parts: list[bytes] = []
        size = 0
        try:
            async for part in self.response.aiter_bytes():
                size += len(part)
                if size > limit:
                    raise UpstreamError("the serving backend sent a reply larger than Enclave accepts")
                parts.append(part)
        except httpx.TimeoutException:
            raise UpstreamTimeout("the serving backend took too long to answer") from None
        except httpx.TransportError:
            raise UpstreamError("the connection to the serving backend broke while reading its reply") from None
        finally:
            await self.response.aclose()
        return b"".join(parts)


class Gateway:
    """Pooled async clients for the upstreams, one app's worth; close it when the app stops."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clients: dict[str, tuple[str, httpx.AsyncClient]] = {}
        self._down_until: dict[str, float] = {}
        self._clock = clock

    @property
    def clients_opened(self) -> int:
        """How many upstream clients exist (none until a registered upstream was asked for)."""
        return len(self._clients)

    def _client(self, upstream: Upstream) -> httpx.AsyncClient:
        fingerprint = _fingerprint(upstream)
        current = self._clients.get(upstream.name)
        if current is not None and current[0] == fingerprint:
            return current[1]
        if current is not None:
            asyncio.ensure_future(current[1].aclose())  # in-flight replies on it finish first
        limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=16)
        client = httpx.AsyncClient(limits=limits, **client_options(upstream))
        self._clients[upstream.name] = (fingerprint, client)
        return client

    def order(self, targets: Sequence[Target]) -> list[Target]:
        """Targets in registration order, those that recently refused connections last."""
        now = self._clock()
        return sorted(targets, key=lambda t: self._down_until.get(t.upstream.name, 0.0) > now)

    async def post(self, targets: Sequence[Target], path: str, payload: dict[str, Any]) -> Opened:
        """POST `payload` (its model set per target) to the first upstream that takes it."""
        if not targets:
            raise UpstreamUnavailable("no serving backend is registered for this model")
        for target in self.order(targets):
            upstream = target.upstream
            client = self._client(upstream)
            body = {**payload, "model": target.route.remote}
            for attempt in range(CONNECT_ATTEMPTS):
                request = client.build_request("POST", path, json=body, headers=auth_headers(upstream))
                try:
                    response = await client.send(request, stream=True)
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    log.warning("upstream %s: connection failed (attempt %d): %s", upstream.name, attempt + 1,
                                type(exc).__name__)
                    self._down_until[upstream.name] = self._clock() + DOWN_FOR_S
                    if attempt + 1 < CONNECT_ATTEMPTS:
                        await asyncio.sleep(RETRY_DELAY_S)
                    continue
                except httpx.PoolTimeout:
                    raise UpstreamError("too many requests are waiting for the serving backend; try again",
                                        status=429, code="upstream_busy") from None
                except httpx.TimeoutException:
                    message = f"the serving backend for model {target.route.id!r} did not answer in time"
                    raise UpstreamTimeout(message) from None
                except httpx.TransportError as exc:
                    # The request may have reached the upstream: do not send it again.
                    log.warning("upstream %s: %s", upstream.name, type(exc).__name__)
                    message = f"the connection to the serving backend for model {target.route.id!r} broke"
                    raise UpstreamError(message) from None
                self._down_until.pop(upstream.name, None)
                if response.status_code >= 400:
                    raise await self._refusal(response, target)
                return Opened(response, target)
        names = ", ".join(t.upstream.name for t in targets)
        log.warning("no upstream reachable for %s (tried %s)", targets[0].route.id, names)
        raise UpstreamUnavailable(f"no serving backend for model {targets[0].route.id!r} is reachable; try again later")

    async def _refusal(self, response: httpx.Response, target: Target) -> UpstreamError:
        body = b""
        try:
            async for part in response.aiter_bytes():
                body += part
                if len(body) > MAX_ERROR_BODY:
                    break
        except httpx.HTTPError:
            pass
        finally:
            await response.aclose()
        log.warning("upstream %s answered HTTP %d", target.upstream.name, response.status_code)
        retry_after = response.headers.get("retry-after")
        return from_status(response.status_code, body, target.upstream, target.route, retry_after)

    async def aclose(self) -> None:
        """Close every client (the app is stopping)."""
        clients = [client for _, client in self._clients.values()]
        self._clients.clear()
        for client in clients:
            await client.aclose()
