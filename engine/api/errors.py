"""Every failure leaves the endpoint in its API's error shape, mapped by exception class.

OpenAI's `{"error": {"message", "type", "param", "code"}}` everywhere, except on Anthropic's routes
(`/v1/messages…`): `{"type": "error", "error": {"type", "message"}}`. Messages are the engine's one-line user messages
with anything that looks like a file path removed; unexpected exceptions become a generic 500 whose
details go to the server log only.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from engine.errors import EnclaveError, IntegrityError, NotFoundError, PermissionDenied, UserError, VaultLockedError
from engine.models.templates import TemplateError
from engine.policy.keys import KeyExpired
from engine.policy.limits import ModelNotAllowed, RateLimited
from engine.runtime import PromptTooLong, RuntimeBusy
from engine.upstreams.errors import UpstreamError

log = logging.getLogger("enclave.api")

# Absolute POSIX or Windows paths; URLs (after ':' or '/') are left alone.
_PATH = re.compile(r"(?<![\w.:/])(?:/[\w.@+~-]+){2,}/?|\b[A-Za-z]:\\[^\s'\"]+")
_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    """An HTTP error raised by the API layer itself (auth, limits, validation)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}


def scrub(message: str) -> str:
    """Remove file paths from a message meant for a client."""
    return _PATH.sub("[path]", message)


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
ANTHROPIC_PREFIX = "/v1/messages"
OVERLOADED = 529  # Anthropic's status for "busy, try again": the SDKs retry it like a 429


def is_anthropic(path: str) -> bool:
    """True for a path of Anthropic's Messages API, whose errors take Anthropic's shape."""
    return path == ANTHROPIC_PREFIX or path.startswith(ANTHROPIC_PREFIX + "/")


def error_body(status: int, message: str, *, param: str | None = None, code: str | None = None) -> bytes:
    """The JSON bytes of an OpenAI-style error."""
    kind = _STATUS_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": scrub(message), "type": kind, "param": param, "code": code}}
    return json.dumps(body).encode()


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    """An Anthropic-style error object (also the payload of a stream's `error` event)."""
    kind = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": scrub(message)}}


def for_path(error: ApiError, path: str) -> tuple[int, bytes]:
    """Status and body of `error` in the shape of the API that `path` belongs to."""
    if not is_anthropic(path):
        return error.status, error_body(error.status, error.message, param=error.param, code=error.code)
    # A full queue is Anthropic's "overloaded" (529), which its SDKs retry; a key's own limits stay 429.
    status = OVERLOADED if error.code == "server_busy" else error.status
    return status, json.dumps(anthropic_error(status, error.message)).encode()


CODE_HEADER = "x-enclave-error-code"


def error_response(error: ApiError, path: str = "") -> Response:
    """An ApiError as a response, shaped for the API of `path`.

    The machine-readable code also travels in a header: Anthropic's error shape has no field for it,
    and a client or monitor of any route can tell, say, a prompt too long from a bad parameter."""
    status, body = for_path(error, path)
    headers = dict(error.headers or {})
    if error.code:
        headers[CODE_HEADER] = error.code
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def from_exception(exc: BaseException) -> ApiError:
    """Map an engine or API exception to its HTTP error (most specific class first)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, KeyExpired):
        return ApiError(401, str(exc), code="api_key_expired", headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, UpstreamError):  # its message names no address and no key (engine.upstreams.errors)
        headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
        return ApiError(exc.status, str(exc), code=exc.code, headers=headers)
    if isinstance(exc, RateLimited):
        return ApiError(429, str(exc), code=exc.code, headers={"Retry-After": str(exc.retry_after_s)})
    if isinstance(exc, RuntimeBusy):
        return ApiError(429, str(exc), code="server_busy", headers={"Retry-After": "2"})
    if isinstance(exc, ModelNotAllowed):
        return ApiError(403, str(exc), param="model", code="model_not_allowed")
    if isinstance(exc, PermissionDenied):
        return ApiError(403, str(exc), code="permission_denied")
    if isinstance(exc, NotFoundError):
        return ApiError(404, str(exc), param="model", code="model_not_found")
    if isinstance(exc, PromptTooLong):
        return ApiError(400, str(exc), param="messages", code="context_length_exceeded")
    if isinstance(exc, TemplateError):
        return ApiError(400, str(exc), param="messages", code="template_error")
    if isinstance(exc, UserError):
        return ApiError(400, str(exc))
    if isinstance(exc, VaultLockedError):
        return ApiError(503, "the vault is locked; unlock it to serve requests", code="vault_locked")
    if isinstance(exc, IntegrityError):
        log.error("integrity error while serving a request: %s", exc)
        return ApiError(500, "an integrity check failed; see the server log", code="integrity_error")
    log.error("unexpected error while serving a request", exc_info=exc)
    return ApiError(500, "internal server error", code="internal_error")


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "dict", "list", "none", "tagged-union"})


def _is_type_tag(part: str) -> bool:
    """Pydantic puts union-member tags like `list[TextPart]` or `function-after[…]` in error locations."""
    return part in _TYPE_TAGS or "[" in part or part.startswith(("function-", "json-or", "constrained-"))


def _param_of(loc: tuple[Any, ...]) -> str | None:
    """`("body", "messages", 0, "role")` -> `messages[0].role`."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part and not _is_type_tag(str(part)):
            text += f".{part}" if text else str(part)
    return text or None


def validation_error(exc: RequestValidationError) -> ApiError:
    """The first validation problem as a 400 naming its parameter."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    param = _param_of(tuple(first.get("loc", ())))
    if first.get("type") == "json_invalid" or param is None and first.get("type") == "model_attributes_type":
        return ApiError(400, "the request body is not valid JSON (or not a JSON object)", code="invalid_json")
    if param == "grammar":
        return ApiError(400, "raw grammars are not accepted; use response_format", param=param, code="unsupported")
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if param == "body" or param is None:
        return ApiError(400, message, code="invalid_value")
    return ApiError(400, f"invalid {param}: {message}", param=param, code="invalid_value")


def install_handlers(app: FastAPI) -> None:
    """Register the class-based exception handlers on `app`."""

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(validation_error(exc), request.url.path)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        messages = {404: "unknown route", 405: "method not allowed for this route"}
        message = messages.get(exc.status_code, str(exc.detail))
        response = error_response(ApiError(exc.status_code, message, code=f"http_{exc.status_code}"), request.url.path)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    async def on_error(request: Request, exc: Exception) -> Response:
        return error_response(from_exception(exc), request.url.path)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(ApiError, on_error)
    app.add_exception_handler(EnclaveError, on_error)
    # Anything else reaches Starlette's ServerErrorMiddleware: it answers with this handler (no
    # traceback to the client) and re-raises so the server log keeps the details.
    app.add_exception_handler(Exception, on_error)
