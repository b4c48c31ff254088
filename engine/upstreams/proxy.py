"""The HTTP routes' side of upstreams: policy first, then forward; stream through event by event.

Each hook returns None when the model is not an upstream's (or a local model of that name exists:
local wins), so a route falls through to the local engine. For an upstream model the key's rules
apply exactly as for a local one (allowed models, requests per minute in the middleware, tokens per
day charged from the upstream's usage), and the request log names the upstream that served it.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import anyio
import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from engine.api.context import RequestContext
from engine.api.convert import CHAT_DEFAULT_MAX_TOKENS, COMPLETION_DEFAULT_MAX_TOKENS
from engine.api.errors import ApiError, error_body
from engine.api.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from engine.api.services import Services, context_of, on_vault_thread, services_of
from engine.api.streaming import SSE_DONE, SSE_HEADERS, sse
from engine.chat import PRODUCER
from engine.policy import labels
from engine.policy.audit_events import record as record_event
from engine.policy.limits import ModelNotAllowed
from engine.upstreams.config import UpstreamStore
from engine.upstreams.errors import UpstreamError, scrub
from engine.upstreams.transport import Gateway, Opened, Target

log = logging.getLogger("enclave.upstreams")

STATE_ATTR = "upstreams"  # app.state.upstreams: the app's Gateway
OWNER = "enclave"
MAX_REPLY_BYTES = 64 * 1024 * 1024  # a reply (embeddings of many inputs included) read whole
CHARS_PER_TOKEN = 4  # only when an upstream reports no usage: a rough count beats charging nothing


def install(app: Any) -> Gateway:
    """Give `app` its Gateway (the caller closes it when the app stops)."""
    gateway = Gateway()
    setattr(app.state, STATE_ATTR, gateway)
    return gateway


def _gateway(request: Request) -> Gateway | None:
    gateway: Gateway | None = getattr(request.app.state, STATE_ATTR, None)
    return gateway


async def _targets(services: Services, model: str) -> list[Target]:
    """Where `model` can be forwarded, in failover order; empty when it is not an upstream model."""

    def find() -> list[Target]:
        upstreams = UpstreamStore(services.vault).list()
        targets = [Target(u, route) for u in upstreams if (route := u.route(model)) is not None]
        if not targets:
            return []
        local = services.runtime.registry.list()
        return [] if any(record.name == model for record in local) else targets

    return await on_vault_thread(services.vault, find)


async def _check_model(services: Services, context: RequestContext, model: str) -> None:
    """The key's model rule, as for a local model; a refusal is audited."""
    context.model = model
    try:
        services.policy.check_model(context.key, model)
    except ModelNotAllowed:
        details = {"rule": "key_models", "key": context.key.name, "model": model}
        actor = f"api:{context.key.name}"
        await on_vault_thread(
            services.vault, partial(record_event, services.vault, "policy_violation", actor=actor, details=details)
        )
        raise


async def _admit(services: Services, context: RequestContext, model: str) -> int | None:
    """The key's model rule, then its tokens left today (None: unlimited; 429 when none are left)."""
    await _check_model(services, context, model)
    return services.policy.token_allowance(context.key)


def _api_error(exc: UpstreamError) -> ApiError:
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
    return ApiError(exc.status, str(exc), code=exc.code, headers=headers)


async def _post(request: Request, targets: list[Target], path: str, payload: dict[str, Any]) -> Opened:
    gateway = _gateway(request)
    assert gateway is not None  # _route only returns targets when the app has a gateway
    try:
        opened = await gateway.post(targets, path, payload)
    except UpstreamError as exc:
        raise _api_error(exc) from None
    context_of(request).upstream = opened.target.upstream.name
    return opened


async def _route(request: Request, model: str) -> list[Target]:
    if _gateway(request) is None:
        return []
    return await _targets(services_of(request), model)


def _label(target: Target, usage: dict[str, Any] | None, finish: str | None) -> dict[str, Any]:
    """The implicit AI-content label of a reply an upstream generated."""
    label: dict[str, Any] = {
        "ai_generated": True,
        "producer": PRODUCER,
        "model": target.route.id,
        "model_sha256": None,  # not a file on this machine
        "served_by": "upstream",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "content_id": secrets.token_hex(12),
    }
    if usage is not None:
        label["usage"] = {k: usage.get(k) for k in ("prompt_tokens", "completion_tokens")}
    if finish is not None:
        label["finish_reason"] = finish
    return label


def _estimate(text: str | None) -> int:
    return math.ceil(len(text or "") / CHARS_PER_TOKEN)


def _account(context: RequestContext, usage: Any, completion_estimate: int) -> None:
    """Upstream usage counts against the key's tokens per day; an estimate when none is reported."""
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
        context.prompt_tokens = max(0, usage["prompt_tokens"])
        completion = usage.get("completion_tokens")
        context.completion_tokens = max(0, completion) if isinstance(completion, int) else 0
        return
    context.prompt_tokens = _estimate(context.request_text)
    context.completion_tokens = completion_estimate


def _max_tokens(asked: int | None, default: int, services: Services, budget: int | None) -> int:
    cap = min(asked or default, services.settings.max_tokens_cap)
    return max(1, min(cap, budget) if budget is not None else cap)


async def _json_reply(opened: Opened) -> dict[str, Any]:
    try:
        data = json.loads(await opened.read(MAX_REPLY_BYTES))
    except UpstreamError as exc:
        raise _api_error(exc) from None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ApiError(502, "the serving backend sent a reply that is not JSON", code="upstream_bad_reply")
    return data


# -- chat and text completions -----------------------------------------------------------------------


async def forward_chat(request: Request, body: ChatCompletionRequest) -> Response | None:
    """Serve a chat completion from an upstream, or None when `body.model` is not an upstream model."""
    targets = await _route(request, body.model)
    if not targets:
        return None
    services, context = services_of(request), context_of(request)
    budget = await _admit(services, context, body.model)
    payload = body.model_dump(exclude_unset=True, exclude_none=True, by_alias=True)
    payload.pop("max_completion_tokens", None)
    asked = body.max_completion_tokens or body.max_tokens
    payload["max_tokens"] = _max_tokens(asked, CHAT_DEFAULT_MAX_TOKENS, services, budget)
    context.request_text = json.dumps(payload["messages"], ensure_ascii=False)
    return await _generate(request, context, targets, "chat/completions", payload, body.stream, body.stream_options)


async def forward_completion(request: Request, body: CompletionRequest) -> Response | None:
    """Serve a text completion from an upstream, or None when `body.model` is not an upstream model."""
    targets = await _route(request, body.model)
    if not targets:
        return None
    services, context = services_of(request), context_of(request)
    budget = await _admit(services, context, body.model)
    payload = body.model_dump(exclude_unset=True, exclude_none=True, by_alias=True)
    payload["max_tokens"] = _max_tokens(body.max_tokens, COMPLETION_DEFAULT_MAX_TOKENS, services, budget)
    context.request_text = body.prompt_text()
    return await _generate(request, context, targets, "completions", payload, body.stream, body.stream_options)


async def _generate(
    request: Request,
    context: RequestContext,
    targets: list[Target],
    path: str,
    payload: dict[str, Any],
    stream: bool,
    stream_options: Any,
) -> Response:
    headers = labels.api_headers(context.key)
    if stream:
        # Asked of the upstream always (tokens per day need it); passed on only if the client asked.
        payload["stream_options"] = {"include_usage": True}
        include_usage = bool(stream_options and stream_options.include_usage)
        opened = await _post(request, targets, path, payload)
        relay = _relay(opened, context, include_usage)
        return StreamingResponse(relay, media_type="text/event-stream", headers={**SSE_HEADERS, **headers})
    opened = await _post(request, targets, path, payload)
    data = await _json_reply(opened)
    data["model"] = opened.target.route.id
    choices = data.get("choices")
    first: dict[str, Any] = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message: dict[str, Any] = first["message"] if isinstance(first.get("message"), dict) else {}
    text = message.get("content", first.get("text"))
    context.response_text = text if isinstance(text, str) else None
    _account(context, data.get("usage"), _estimate(context.response_text))
    label = _label(opened.target, data.get("usage"), first.get("finish_reason"))
    data.update(labels.api_field(context.key, label))
    return JSONResponse(data, headers=headers)


def _error_event(status: int, message: str, code: str) -> bytes:
    return b"data: " + error_body(status, message, code=code) + b"\n\n"


async def _relay(opened: Opened, context: RequestContext, include_usage: bool) -> AsyncIterator[bytes]:
    """The upstream's events, passed on as each arrives: model id ours, usage only if asked, labelled."""
    target = opened.target
    parts: list[str] = []
    usage: Any = None
    deltas = 0
    finished = done = False
    last: dict[str, Any] = {}
    try:
        async for line in opened.response.aiter_lines():
            if not line.startswith("data:"):
                continue  # blank separators, comments (": ping"), event names
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                event = json.loads(data)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            if "error" in event:
                error = event["error"] if isinstance(event["error"], dict) else {"message": str(event["error"])}
                message = scrub(str(error.get("message", "")), target.upstream, target.route)
                yield _error_event(502, message or "the serving backend failed", "upstream_failed")
                done = True
                return
            if event.get("usage"):
                usage = event["usage"]
            choices = event.get("choices") or []
            for choice in choices if isinstance(choices, list) else []:
                delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
                text = delta.get("content", choice.get("text"))
                if isinstance(text, str):
                    parts.append(text)
                    deltas += 1
                if choice.get("finish_reason"):
                    finished = True
                    event.update(labels.api_field(context.key, _label(target, usage, choice["finish_reason"])))
            if not choices and not include_usage:
                continue  # the usage chunk we asked for on our own account
            if not include_usage:
                event.pop("usage", None)
            event["model"] = target.route.id
            last = event
            yield sse(event)
        if not finished:
            yield _error_event(502, "the serving backend ended the reply early", "upstream_failed")
            done = True
            return
        _account(context, usage, deltas)
        if include_usage and usage is None:  # the upstream reports none: give the client our count
            counted = {
                "prompt_tokens": context.prompt_tokens,
                "completion_tokens": context.completion_tokens,
                "total_tokens": context.prompt_tokens + context.completion_tokens,
            }
            envelope = {k: last.get(k) for k in ("id", "object", "created")}
            yield sse({**envelope, "model": target.route.id, "choices": [], "usage": counted})
        yield SSE_DONE
        done = True
    except httpx.TimeoutException:
        yield _error_event(504, "the serving backend stopped sending", "upstream_timeout")
        done = True
    except httpx.TransportError:
        yield _error_event(502, "the connection to the serving backend broke", "upstream_failed")
        done = True
    finally:
        context.response_text = "".join(parts)
        if not done:  # the client left: closing our side makes the upstream stop generating
            context.disconnected = True
        if not context.prompt_tokens and not context.completion_tokens:
            _account(context, usage, deltas)
        with anyio.CancelScope(shield=True):
            await opened.response.aclose()


# -- embeddings and model listing --------------------------------------------------------------------


async def forward_embeddings(request: Request, body: EmbeddingRequest) -> JSONResponse | None:
    """Serve embeddings from an upstream, or None when `body.model` is not an upstream model."""
    targets = await _route(request, body.model)
    if not targets:
        return None
    services, context = services_of(request), context_of(request)
    await _admit(services, context, body.model)
    payload = body.model_dump(exclude_unset=True, exclude_none=True, by_alias=True)
    opened = await _post(request, targets, "embeddings", payload)
    data = await _json_reply(opened)
    data["model"] = opened.target.route.id
    usage = data.get("usage")
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    context.prompt_tokens = tokens if isinstance(tokens, int) and tokens >= 0 else sum(map(_estimate, body.texts()))
    return JSONResponse(data)


def _card(model: str, added_at: str) -> dict[str, Any]:
    try:
        created = int(datetime.fromisoformat(added_at).timestamp())
    except ValueError:
        created = 0
    return {"id": model, "object": "model", "created": created, "owned_by": OWNER}


async def model_cards(request: Request, local_names: set[str]) -> list[dict[str, Any]]:
    """Cards of the upstream models this key may use, minus those a local model shadows."""
    if _gateway(request) is None:
        return []
    services, context = services_of(request), context_of(request)
    upstreams = await on_vault_thread(services.vault, UpstreamStore(services.vault).list)
    seen = set(local_names)
    cards = []
    for upstream in upstreams:
        for route in upstream.models:
            if route.id not in seen and context.key.allows_model(route.id):
                seen.add(route.id)
                cards.append(_card(route.id, upstream.added_at))
    return cards


async def model_card(request: Request, model: str) -> dict[str, Any] | None:
    """The card of upstream model `model` (403 if this key may not use it), or None."""
    targets = await _route(request, model)
    if not targets:
        return None
    await _check_model(services_of(request), context_of(request), model)
    return _card(model, targets[0].upstream.added_at)
