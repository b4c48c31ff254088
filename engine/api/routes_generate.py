"""`POST /v1/chat/completions` and `POST /v1/completions`, plain or streamed as OpenAI streams them."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import anyio
from fastapi import APIRouter, Request, Security
from fastapi.security import HTTPBearer
from starlette.responses import JSONResponse, Response, StreamingResponse

from engine.api.context import RequestContext
from engine.api.convert import chat_logprobs, chat_messages, completion_logprobs, generation_params, tool_offer
from engine.api.errors import error_body, from_exception
from engine.api.grammar import plan_output
from engine.api.schemas import ChatCompletionRequest, CompletionRequest
from engine.api.services import (
    Services,
    collect,
    context_of,
    drain_after_cancel,
    resolve_model,
    services_of,
    start_generation,
)
from engine.api.streaming import SSE_DONE, SSE_HEADERS, ChunkPump, sse
from engine.api.tool_calls import new_call_id, reply_rules
from engine.backends import ChatRequest, ModelRef
from engine.backends import CompletionRequest as BackendCompletion
from engine.chat import content_label
from engine.errors import EnclaveError
from engine.policy import labels
from engine.replies import ReplyReader, ReplyRules, finish_reason
from engine.runtime import Chunk

bearer = HTTPBearer(auto_error=False, description="An Enclave API key from `enclave keys create`.")
router = APIRouter(dependencies=[Security(bearer)])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        400: "Invalid parameters", 401: "Missing or invalid API key", 403: "Model not allowed for this key",
        404: "Unknown model", 413: "Body too large", 429: "Rate limit or queue full",
    }.items()
}
# A generation answers JSON, or with `stream: true` server-sent events: the schema says both.
GENERATED: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    200: {
        "description": "The completion (JSON), or its chunks as server-sent events when `stream` is true",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            # Before OpenAPI 3.2 the schema of an event stream describes one event: JSON chunks, then [DONE].
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
                    "required": ["data"],
                }
            },
        },
    },
}


def _usage(final: Chunk | None) -> dict[str, Any]:
    usage = final.usage if final is not None else None
    if usage is None:
        return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_prompt_tokens},
    }


def _account(context: RequestContext, final: Chunk | None, text: str) -> None:
    _count_tokens(context, final)
    context.response_text = text


def _count_tokens(context: RequestContext, final: Chunk | None) -> None:
    """What the request log and the key's token budget count."""
    if final is not None and final.usage is not None:
        context.prompt_tokens = final.usage.prompt_tokens
        context.completion_tokens = final.usage.completion_tokens
        context.cached_prompt_tokens = final.usage.cached_prompt_tokens


async def _collect_reply(
    request: Request, services: Services, context: RequestContext, pump: ChunkPump, first: Chunk | None
) -> tuple[list[Chunk], Chunk | None, str]:
    """A reply that is not streamed: all its chunks, the final one, and the text (accounted and logged)."""
    try:
        chunks = await collect(request, pump, first)
    finally:
        services.admission.leave()
    final = chunks[-1] if chunks and chunks[-1].finish_reason else None
    text = "".join(c.text for c in chunks)
    _account(context, final, text)
    context.disconnected = final is not None and final.finish_reason == "cancelled"
    return chunks, final, text


class _Reply:
    """The fixed fields of one reply (id, time, model) and how it is labelled."""

    def __init__(self, model: ModelRef, prefix: str, obj: str) -> None:
        self.id = f"{prefix}-{secrets.token_hex(12)}"
        self.created = int(time.time())
        self.model = model
        self.object = obj

    def envelope(self, **fields: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model.name,
            "system_fingerprint": f"fp_{self.model.sha256[:12]}" if self.model.sha256 else None,
            **fields,
        }

    def label(self, final: Chunk | None) -> dict[str, Any]:
        return content_label(self.model, final)


def _openai(body: ChatCompletionRequest | CompletionRequest, model: ModelRef) -> dict[str, Any] | None:
    """The request as the client sent it, for a backend that speaks OpenAI itself (None: a local model)."""
    return None if model.is_local else body.model_dump(exclude_unset=True, exclude_none=True, by_alias=True)


async def _chunks(pump: ChunkPump, first: Chunk | None) -> AsyncIterator[Chunk]:
    """The reply's chunks from the first on; an engine error raised by the backend comes out here."""
    chunk = first
    while chunk is not None:
        yield chunk
        chunk = await pump.next()


def _error_event(exc: EnclaveError) -> bytes:
    """An error after the stream began, as an event in OpenAI's error shape (the status line is sent)."""
    error = from_exception(exc)
    return b"data: " + error_body(error.status, error.message, code=error.code) + b"\n\n"


async def _release_on_exit(services: Services, context: RequestContext, pump: ChunkPump, done: bool) -> None:
    if not done:  # the client left (or the server stops): cancel, and log what was generated
        pump.cancel()
        context.disconnected = True
        try:
            final = await drain_after_cancel(pump)
        except Exception:
            final = None
        _count_tokens(context, final)
    services.admission.leave()


# -- chat --------------------------------------------------------------------------------------------


@router.post("/v1/chat/completions", response_model=None, responses=GENERATED, tags=["openai"])
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    """Create a chat completion (OpenAI-compatible)."""
    services, context = services_of(request), context_of(request)
    backend, model = await resolve_model(services, context, body.model)
    plan = await anyio.to_thread.run_sync(plan_output, body)  # schema conversion: never on the event loop
    budget = services.policy.token_allowance(context.key)
    params = generation_params(body, services.settings, grammar=plan.grammar, budget=budget)
    messages = chat_messages(body)
    context.request_text = json.dumps(messages, ensure_ascii=False)
    chat = ChatRequest(messages, params, tools=tool_offer(body, plan), openai=_openai(body, model))
    pump, first = await start_generation(services, context, partial(backend.chat, model, chat))
    reply = _Reply(model, "chatcmpl", "chat.completion.chunk" if body.stream else "chat.completion")
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        stream = _stream_chat(services, context, reply, reply_rules(body, plan), pump, first, include_usage)
        headers = {**SSE_HEADERS, **labels.api_headers(context.key)}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
    rules = reply_rules(body, plan)
    chunks, final, _ = await _collect_reply(request, services, context, pump, first)
    reader = ReplyReader(rules, pump.generation.opens_thinking)
    for chunk in chunks:
        reader.feed(chunk)
    read = reader.finish()
    message: dict[str, Any] = {"role": "assistant", "content": read.content, "refusal": None}
    if read.thinking:
        message["reasoning_content"] = read.thinking
    if read.calls:
        message["tool_calls"] = [
            {"id": new_call_id(), "type": "function", "function": {"name": name, "arguments": arguments}}
            for name, arguments in read.calls
        ]
    choice = {
        "index": 0,
        "message": message,
        "logprobs": chat_logprobs(list(read.logprobs)) if body.logprobs else None,
        "finish_reason": read.finish_reason,
    }
    label = labels.api_field(context.key, reply.label(final))  # an admin may switch it off per key
    content = reply.envelope(choices=[choice], usage=_usage(final), **label, **_citations(pump))
    return JSONResponse(content, headers=labels.api_headers(context.key))


def _citations(pump: ChunkPump) -> dict[str, Any]:
    """An assistant's sources (engine.documents.assistant_backend), as the `enclave_citations` field."""
    found = getattr(pump.generation, "citations", None)
    return {"enclave_citations": found} if found is not None else {}


async def _stream_chat(
    services: Services,
    context: RequestContext,
    reply: _Reply,
    rules: ReplyRules,
    pump: ChunkPump,
    first: Chunk | None,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    usage_field: dict[str, Any] = {"usage": None} if include_usage else {}

    def event(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return sse(reply.envelope(choices=[choice], **usage_field, **extra))

    # The engine reads the reply (engine.replies): thinking, the answer as far as it is surely one, a
    # forced call's arguments; the calls at the end. This only turns that into OpenAI's events.
    reader = ReplyReader(rules, pump.generation.opens_thinking)
    call_id = new_call_id()
    done = False
    try:
        if rules.forced_tool is not None:
            function = {"name": rules.forced_tool, "arguments": ""}
            opening = {"index": 0, "id": call_id, "type": "function", "function": function}
            yield event({"role": "assistant", "content": None, "tool_calls": [opening]})
        else:
            yield event({"role": "assistant", "content": ""})
        try:
            async for chunk in _chunks(pump, first):
                piece = reader.feed(chunk)
                if piece.thinking:
                    yield event({"reasoning_content": piece.thinking})
                if piece.arguments:
                    yield event({"tool_calls": [{"index": 0, "function": {"arguments": piece.arguments}}]})
                if piece.answer or piece.logprobs:
                    logprobs = chat_logprobs(list(piece.logprobs)) if piece.logprobs else None
                    yield event({"content": piece.answer}, logprobs=logprobs)
        except EnclaveError as exc:  # the backend failed mid-reply (an upstream broke off): said in the stream
            context.response_text = reader.text
            yield _error_event(exc)
            done = True
            return
        read = reader.finish()
        if read.rest:
            yield event({"content": read.rest})
        if rules.forced_tool is not None:
            if read.calls and not read.arguments_streamed:  # a remote backend reported the call whole
                yield event({"tool_calls": [{"index": 0, "function": {"arguments": read.calls[0][1]}}]})
        elif read.calls:
            deltas = [
                {
                    "index": i,
                    "id": call_id if i == 0 else new_call_id(),
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
                for i, (name, arguments) in enumerate(read.calls)
            ]
            yield event({"tool_calls": deltas})
        _account(context, read.final, read.text)
        yield event(
            {}, read.finish_reason, **labels.api_field(context.key, reply.label(read.final)), **_citations(pump)
        )
        if include_usage:
            yield sse(reply.envelope(choices=[], usage=_usage(read.final)))
        yield SSE_DONE
        done = True
    finally:
        await _release_on_exit(services, context, pump, done)
        if not done:
            context.response_text = reader.text


# -- text completions --------------------------------------------------------------------------------


@router.post("/v1/completions", response_model=None, responses=GENERATED, tags=["openai"])
async def completions(body: CompletionRequest, request: Request) -> Response:
    """Create a text completion (OpenAI-compatible, legacy)."""
    services, context = services_of(request), context_of(request)
    backend, model = await resolve_model(services, context, body.model)
    params = generation_params(body, services.settings, budget=services.policy.token_allowance(context.key))
    prompt = body.prompt_text()
    context.request_text = prompt
    completion = BackendCompletion(prompt, params, openai=_openai(body, model))
    pump, first = await start_generation(services, context, partial(backend.complete, model, completion))
    reply = _Reply(model, "cmpl", "text_completion")
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        stream = _stream_completion(services, context, reply, pump, first, include_usage, body.logprobs is not None)
        headers = {**SSE_HEADERS, **labels.api_headers(context.key)}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
    chunks, final, text = await _collect_reply(request, services, context, pump, first)
    logprobs = [lp for c in chunks for lp in c.logprobs]
    choice = {
        "text": text,
        "index": 0,
        "logprobs": completion_logprobs(logprobs) if body.logprobs is not None else None,
        "finish_reason": finish_reason(final),
    }
    label = labels.api_field(context.key, reply.label(final))  # an admin may switch it off per key
    content = reply.envelope(choices=[choice], usage=_usage(final), **label)
    return JSONResponse(content, headers=labels.api_headers(context.key))


async def _stream_completion(
    services: Services,
    context: RequestContext,
    reply: _Reply,
    pump: ChunkPump,
    first: Chunk | None,
    include_usage: bool,
    with_logprobs: bool,
) -> AsyncIterator[bytes]:
    usage_field: dict[str, Any] = {"usage": None} if include_usage else {}
    done = False
    parts: list[str] = []
    final: Chunk | None = None
    offset = 0
    try:
        try:
            async for chunk in _chunks(pump, first):
                if chunk.finish_reason is not None:
                    final = chunk
                if chunk.text or chunk.logprobs or chunk.finish_reason:
                    logprobs = completion_logprobs(list(chunk.logprobs), offset) if with_logprobs else None
                    finish = finish_reason(chunk) if chunk.finish_reason else None
                    choice = {"text": chunk.text, "index": 0, "logprobs": logprobs, "finish_reason": finish}
                    extra = labels.api_field(context.key, reply.label(chunk)) if finish else {}
                    yield sse(reply.envelope(choices=[choice], **usage_field, **extra))
                parts.append(chunk.text)
                offset += len(chunk.text)
        except EnclaveError as exc:  # the backend failed mid-reply: said in the stream
            context.response_text = "".join(parts)
            yield _error_event(exc)
            done = True
            return
        _account(context, final, "".join(parts))
        if include_usage:
            yield sse(reply.envelope(choices=[], usage=_usage(final)))
        yield SSE_DONE
        done = True
    finally:
        await _release_on_exit(services, context, pump, done)
        if not done:
            context.response_text = "".join(parts)
