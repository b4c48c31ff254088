"""Pure-ASGI guards around the app, outermost first: host/origin, API key (and request log), body cap.

Pure ASGI rather than BaseHTTPMiddleware so the body cap sees every chunk of a chunked upload and so
a client disconnect still reaches the streaming response.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.api.context import STATE_KEY, RequestContext
from engine.api.errors import ApiError, for_path, from_exception, is_anthropic
from engine.api.routes_pair import PATH as REDEEM_PATH
from engine.api.services import on_vault_thread
from engine.api.settings import ApiSettings
from engine.errors import EnclaveError
from engine.policy.keys import KeyPolicy
from engine.vault.ports import ServingVault
from engine.vault.records import PENDING_STATUS, RequestLogEntry

log = logging.getLogger("enclave.api")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DRAIN_FACTOR = 4  # read (and drop) up to 4x the cap so the client sees the 413 instead of a reset
CLIENT_CLOSED = 499  # nginx's code for "client closed the request"
_FOREIGN_ORIGIN = ApiError(403, "this origin is not allowed", code="origin_not_allowed")


async def send_error(send: Send, error: ApiError, extra: dict[str, str] | None = None, path: str = "") -> None:
    """Answer with an error straight from a middleware (OpenAI's shape, Anthropic's on its routes)."""
    status, body = for_path(error, path)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    for name, value in {**error.headers, **(extra or {})}.items():
        headers.append((name.lower().encode(), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def presented_key(headers: Headers) -> str | None:
    """The API key a request presents: `Authorization: Bearer KEY`, or Anthropic's `x-api-key: KEY`."""
    scheme, _, secret = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return secret.strip()
    other = headers.get("x-api-key", "").strip()
    return other or None


def host_name(value: str) -> str | None:
    """The host part of a Host header, lower-case; None when empty or malformed."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8765
        end = value.find("]")
        if end < 0 or (value[end + 1 :] and not value[end + 1 :].startswith(":")):
            return None
        name, port = value[: end + 1], value[end + 2 :]
    else:
        name, _, port = value.partition(":")
    if not name or (port and not port.isdigit()) or any(c in name for c in "/@ \t"):
        return None
    return name


class HostOriginGuard:
    """Host allowlist (DNS rebinding), CORS only for configured origins, foreign writes refused."""

    def __init__(self, app: ASGIApp, settings: ApiSettings) -> None:
        self.app = app
        self.settings = settings
        self.hosts = settings.host_allowlist()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = scope["path"]
        hosts = headers.getlist("host")
        name = host_name(hosts[0]) if len(hosts) == 1 else None
        if name is None:
            await send_error(send, ApiError(400, "missing or malformed Host header", code="bad_host"), path=path)
            return
        if name not in self.hosts and name not in self.settings.live_hosts:
            # Checked before Origin: a rebinding page's Origin may look legitimate.
            await send_error(send, ApiError(403, "this Host is not allowed", code="host_not_allowed"), path=path)
            return
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = origin in self.settings.cors_origins
        method = scope["method"]
        if method == "OPTIONS" and "access-control-request-method" in headers:
            if not allowed:
                await send_error(send, _FOREIGN_ORIGIN, path=path)
                return
            await self._preflight(send, origin)
            return
        if not allowed:
            if method not in SAFE_METHODS:
                await send_error(send, _FOREIGN_ORIGIN, path=path)
                return
            await self.app(scope, receive, send)  # no CORS headers: the browser keeps the reply
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self._cors_headers(origin)]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
        # Never Allow-Credentials: keys travel in the Authorization header, not in cookies.
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", b"retry-after, x-enclave-ai-generated"),
            (b"vary", b"Origin"),
        ]

    async def _preflight(self, send: Send, origin: str) -> None:
        headers = [
            *self._cors_headers(origin),
            (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-allow-headers", b"authorization, content-type, x-api-key, anthropic-version"),
            (b"access-control-max-age", b"600"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


class KeyAuth:
    """Every /v1 request needs a live API key; its rate rule applies, and the request is logged."""

    def __init__(self, app: ASGIApp, policy: KeyPolicy, vault: ServingVault, settings: ApiSettings) -> None:
        self.app = app
        self.policy = policy
        self.vault = vault
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/v1" or path.startswith("/v1/")) or path == REDEEM_PATH:
            # The redeem route's credential is the pairing token in its body (engine.api.routes_pair).
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        presented = presented_key(Headers(scope=scope))
        try:
            record = None
            if presented is not None:
                record = await on_vault_thread(self.vault, lambda: self.policy.authenticate(presented))
        except EnclaveError as exc:  # e.g. the vault was locked from the GUI
            await send_error(send, from_exception(exc), path=path)
            return
        if record is None:
            how = "x-api-key: …" if is_anthropic(path) else "Authorization: Bearer …"
            error = ApiError(401, f"a valid API key is required ({how})", code="invalid_api_key")
            await send_error(send, error, {"WWW-Authenticate": "Bearer"}, path=path)
            return
        context = RequestContext(key=record)
        scope.setdefault("state", {})[STATE_KEY] = context
        status = [500]
        # Logged before the response starts (pending), completed after it ends: a server that dies
        # right after answering still has the request on record. Written while the request runs.
        first = RequestLogEntry(key_name=record.name, model="", status=PENDING_STATUS)
        pending: asyncio.Future[None] | None = asyncio.wrap_future(
            self.vault.schedule(partial(self.vault.request_log.append, first))
        )

        async def send_status(message: Message) -> None:
            nonlocal pending
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if pending is not None:
                    await self._settle(pending)
                    pending = None
            await send(message)

        try:
            try:
                self.policy.admit(record)
            except EnclaveError as exc:  # over the key's requests per minute
                error = from_exception(exc)
                status[0] = error.status
                await send_error(send, error, path=path)
                return
            await self.app(scope, receive, send_status)
        finally:
            with anyio.CancelScope(shield=True):
                if pending is not None:
                    await self._settle(pending)
                await self._record(context, status[0], time.perf_counter() - started, first)

    @staticmethod
    async def _settle(pending: asyncio.Future[None]) -> None:
        try:
            await pending
        except Exception as exc:  # a locked vault must not turn a served request into an error
            log.warning("request not logged: %s", type(exc).__name__)

    async def _record(self, context: RequestContext, status: int, seconds: float, first: RequestLogEntry) -> None:
        key = context.key
        tokens = context.prompt_tokens + context.completion_tokens
        if tokens:
            self.policy.charge(key, tokens)
        keep = key.store_content and self.settings.log_content
        entry = RequestLogEntry(
            key_name=key.name,
            model=context.model,
            status=CLIENT_CLOSED if context.disconnected else status,
            prompt_tokens=context.prompt_tokens,
            completion_tokens=context.completion_tokens,
            cached_prompt_tokens=context.cached_prompt_tokens,
            latency_ms=round(seconds * 1000, 1),
            request_text=context.request_text if keep else None,
            response_text=context.response_text if keep else None,
            upstream=context.upstream,
            time=first.time,
            id=first.id,  # completes the pending row
        )
        try:
            await on_vault_thread(self.vault, partial(self.vault.request_log.append, entry))
        except Exception as exc:  # a locked vault must not turn a served request into an error
            log.warning("request not logged: %s", type(exc).__name__)


class BodyCap:
    """Refuse bodies over the cap with 413, whether sized by Content-Length or sent chunked."""

    def __init__(self, app: ASGIApp, settings: ApiSettings) -> None:
        self.app = app
        self.cap = settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                error = ApiError(400, "malformed Content-Length", code="bad_request")
                await send_error(send, error, path=scope["path"])
                return
            if int(length) > self.cap:
                if int(length) <= self.cap * DRAIN_FACTOR:
                    await self._drain(receive, 0)
                await self._too_large(send, scope["path"])
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.cap:
                if message.get("more_body", False):
                    await self._drain(receive, size)
                await self._too_large(send, scope["path"])
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # after the body: the disconnect notice, when it comes

        await self.app(scope, replay, send)

    async def _drain(self, receive: Receive, size: int) -> None:
        while size <= self.cap * DRAIN_FACTOR:
            message = await receive()
            if message["type"] != "http.request":
                return
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _too_large(self, send: Send, path: str) -> None:
        limit = f"{self.cap // (1024 * 1024)} MiB" if self.cap >= 1024 * 1024 else f"{self.cap} bytes"
        error = ApiError(413, f"the request body is larger than {limit}", code="body_too_large")
        await send_error(send, error, path=path)
