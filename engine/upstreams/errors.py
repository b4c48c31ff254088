"""Upstream failures as Enclave errors: a status for the client, a message that names no URL and no key.

Clients of Enclave never learn where an upstream lives or how Enclave authenticates to it: the
messages here say what went wrong in terms of the model they asked for, and the details (which
upstream, which address) go to the server log only.
"""

from __future__ import annotations

import json
import re
from typing import Any

from engine.errors import EnclaveError
from engine.upstreams.config import ModelRoute, Upstream

MAX_MESSAGE = 300
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_HOST_PORT = re.compile(r"\b(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:]+\])(?::\d+)?", re.IGNORECASE)
_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


class UpstreamError(EnclaveError):
    """A request could not be served by an upstream; `status` is what the client gets."""

    status = 502
    code = "upstream_error"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status or type(self).status
        self.code = code or type(self).code
        self.retry_after_s: int | None = None


class UpstreamUnavailable(UpstreamError):
    """No upstream serving the model could be reached (after retries and failover)."""

    status = 503
    code = "upstream_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.retry_after_s = 5


class UpstreamTimeout(UpstreamError):
    """The upstream took too long to answer."""

    status = 504
    code = "upstream_timeout"


def scrub(message: str, upstream: Upstream, route: ModelRoute | None = None) -> str:
    """`message` without the upstream's URL, host, address or key; its model id becomes the client's."""
    text = _URL.sub("[upstream]", message)
    for secret in (upstream.api_key, upstream.url, upstream.host):
        if secret:
            text = text.replace(secret, "[upstream]")
    text = _HOST_PORT.sub("[upstream]", text)
    if route is not None and route.remote != route.id:
        text = text.replace(route.remote, route.id)
    text = " ".join(text.split())
    return text[:MAX_MESSAGE] + ("…" if len(text) > MAX_MESSAGE else "")


def _upstream_message(body: bytes) -> tuple[str, str | None]:
    """The message (and code) an upstream put in its error body, whatever shape it used."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body[:MAX_MESSAGE * 2].decode("utf-8", "replace"), None
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        message = error.get("message") or error.get("detail") or ""
        code = error.get("code")
        return str(message), code if isinstance(code, str) and _CODE.fullmatch(code) else None
    return str(error), None


def from_status(
    status: int, body: bytes, upstream: Upstream, route: ModelRoute, retry_after: str | None
) -> UpstreamError:
    """The error to give the client when an upstream answered `status`."""
    model = route.id
    if status in (401, 403, 407):
        # Our credentials, not the client's: the client can do nothing about it, an admin can.
        return UpstreamError(
            f"the serving backend for model {model!r} refused Enclave's credentials; "
            "an administrator should run `enclave upstreams check`",
            code="upstream_auth",
        )
    if status == 404:
        return UpstreamError(f"the serving backend no longer offers model {model!r}", code="upstream_model_missing")
    if status == 429:
        error = UpstreamError(f"the serving backend for model {model!r} is busy; try again shortly",
                              status=429, code="upstream_busy")
        error.retry_after_s = int(retry_after) if retry_after and retry_after.strip().isdigit() else 2
        return error
    if 400 <= status < 500:
        # The request itself was refused (context too long, bad parameter): say why, scrubbed.
        message, code = _upstream_message(body)
        text = scrub(message, upstream, route) or f"the serving backend refused the request (HTTP {status})"
        return UpstreamError(text, status=400, code=code or "upstream_rejected")
    return UpstreamError(f"the serving backend for model {model!r} failed (HTTP {status})", code="upstream_failed")
