"""`POST /v1/chat/completions` and `POST /v1/completions`, plain or streamed as OpenAI streams them.

A request's choices (`n`, a batch of prompts) are generations of their own (engine.api.choices).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
from fastapi import APIRouter, Request, Security
from fastapi.security import HTTPBearer
from starlette.responses import JSONResponse, Response, StreamingResponse

from engine.api.choices import (
    Started,
    choice_params,
    chunks_of,
    collect_all,
    count_usage,
    joined,
    merged,
    release_all,
    start_all,
)
from engine.api.context import RequestContext
from engine.api.convert import chat_logprobs, chat_messages, completion_logprobs, generation_params, tool_offer
from engine.api.errors import error_body, from_exception
from engine.api.grammar import plan_output
from engine.api.schemas import ChatCompletionRequest, CompletionRequest
from engine.api.services import Services, collect, context_of, drain_after_cancel, resolve_model, services_of
from engine.api.streaming import SLOTS, SSE_DONE, SSE_HEADERS, ChunkPump, SseTemplate, sse
from engine.api.tool_calls import new_call_id, reply_rules
from engine.backends import ChatRequest, ModelRef
from engine.backends import CompletionRequest as BackendCompletion
from engine.chat import content_label
from engine.errors import EnclaveError
from engine.policy import labels
from engine.replies import Reply, ReplyReader, ReplyRules, finish_reason
from engine.runtime import Chunk, GenerationParams

bearer = HTTPBearer(auto_error=False, description="An Enclave API key from `enclave keys create`.")
router = APIRouter(dependencies=[Security(bearer)])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        400: "Invalid parameters", 401: "Missing or invalid API key", 403: "Model not allowed for this key",
        404: "Unknown model", 413: "Body too large", 429: "Rate limit or queue full",
    }.items()
}
# A generation answers JSON, or with `stream: true` server-sent events: the schema says both (every
# generating route, in OpenAI's and Anthropic's shapes alike, uses this 200 entry).
JSON_OR_EVENTS: dict[str, Any] = {
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
}
GENERATED: dict[int | str, dict[str, Any]] = {**ERRORS, 200: JSON_OR_EVENTS}


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


def _openai(
    body: ChatCompletionRequest | CompletionRequest,
    model: ModelRef,
    params: GenerationParams | None = None,
    prompt: Any = None,
) -> dict[str, Any] | None:
    """One choice's request as the client sent it, for a backend that speaks OpenAI itself (None: a local
    model): one choice (`n` 1, its own seed), and for a batch of completion prompts, its own prompt."""
    if model.is_local:
        return None
    sent = body.model_dump(exclude_unset=True, exclude_none=True, by_alias=True)
    sent.pop("n", None)
    if params is not None and params.seed is not None:
        sent["seed"] = params.seed
    if prompt is not None:
        sent["prompt"] = prompt
    return sent


# -- one generation (engine.api.chat_run: the Messages and Responses front doors) ----------------------


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
    _count_tokens(context, final)
    context.response_text = text
    context.disconnected = final is not None and final.finish_reason == "cancelled"
    return chunks, final, text


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


def _error_event(exc: EnclaveError) -> bytes:
    """An error after the stream began, as an event in OpenAI's error shape (the status line is sent)."""
    error = from_exception(exc)
    return b"data: " + error_body(error.status, error.message, code=error.code) + b"\n\n"


def _per_choice_budget(services: Services, context: RequestContext, choices: int) -> int | None:
    """The key's remaining token budget, shared between the request's choices."""
    budget = services.policy.token_allowance(context.key)
    return None if budget is None else max(1, budget // choices)


@dataclass
class _Outcome:
    """How one choice's stream ended."""

    final: Chunk | None = None
    failed: bool = False
    # The reply's text, joined only when read (once, at the end): joining it at every chunk would cost
    # time growing with the square of the reply's length, on the event loop.
    text_of: Callable[[], str] = field(default=lambda: "")

    @property
    def text(self) -> str:
        """The reply's text so far."""
        return self.text_of()


async def _stream(
    services: Services,
    context: RequestContext,
    reply: _Reply,
    started: list[Started],
    sources: list[AsyncIterator[bytes]],
    outcomes: list[_Outcome],
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """The choices' events interleaved, then usage and [DONE]; the slot given back however it ends."""
    done = False
    tail: list[bytes] = []  # the events after every choice's last chunk: one write with usage and [DONE]
    try:
        async for event in merged(sources):
            if all(o.final is not None or o.failed for o in outcomes):
                tail.append(event)
            else:
                yield event
        context.response_text = joined([o.text for o in outcomes])
        if any(o.failed for o in outcomes):  # a backend failed mid-reply: said in the stream
            done = True
            if tail:
                yield b"".join(tail)
            return
        usage = count_usage(context, started, [o.final for o in outcomes])
        if include_usage:
            tail.append(sse(reply.envelope(choices=[], usage=usage)))
        tail.append(SSE_DONE)
        done = True
        yield b"".join(tail)
    finally:
        await release_all(services, context, started, done, [o.final for o in outcomes])
        if not done:
            context.response_text = joined([o.text for o in outcomes])


# -- chat --------------------------------------------------------------------------------------------


@router.post("/v1/chat/completions", response_model=None, responses=GENERATED, tags=["openai"])
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    """Create a chat completion (OpenAI-compatible); `n` choices decode together."""
    services, context = services_of(request), context_of(request)
    backend, model = await resolve_model(services, context, body.model)
    plan = await anyio.to_thread.run_sync(plan_output, body)  # schema conversion: never on the event loop
    n = body.n or 1
    budget = _per_choice_budget(services, context, n)
    params = generation_params(body, services.settings, grammar=plan.grammar, budget=budget)
    messages = chat_messages(body)
    context.request_text = json.dumps(messages, ensure_ascii=False)
    offer = tool_offer(body, plan)
    starts = []
    for i in range(n):
        own = choice_params(params, i, context.key.reproducible)
        chat = ChatRequest(messages, own, tools=offer, openai=_openai(body, model, own), caller=context.key)
        starts.append((0, partial(backend.chat, model, chat)))
    started = await start_all(services, context, starts)
    reply = _Reply(model, "chatcmpl", "chat.completion.chunk" if body.stream else "chat.completion")
    rules = reply_rules(body, plan)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        usage_field: dict[str, Any] = {"usage": None} if include_usage else {}
        outcomes = [_Outcome() for _ in started]
        sources = [
            _chat_events(context, reply, rules, choice, i, outcome, usage_field)
            for i, (choice, outcome) in enumerate(zip(started, outcomes, strict=True))
        ]
        stream = _stream(services, context, reply, started, sources, outcomes, include_usage)
        headers = {**SSE_HEADERS, **labels.api_headers(context.key)}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
    try:
        replies = await collect_all(request, started)
    finally:
        services.admission.leave()
    choices, finals, texts = [], [], []
    for i, (choice, chunks) in enumerate(zip(started, replies, strict=True)):
        reader = ReplyReader(rules, choice.pump.generation.opens_thinking)
        for chunk in chunks:
            reader.feed(chunk)
        read = reader.finish()
        finals.append(read.final)
        texts.append(read.text)
        choices.append(_chat_choice(read, i, bool(body.logprobs)))
    usage = count_usage(context, started, finals)
    context.response_text = joined(texts)
    context.disconnected = any(f is not None and f.finish_reason == "cancelled" for f in finals)
    label = labels.api_field(context.key, reply.label(finals[0]))  # an admin may switch it off per key
    content = reply.envelope(choices=choices, usage=usage, **label, **_citations(started[0]))
    return JSONResponse(content, headers=labels.api_headers(context.key))


def _citations(choice: Started) -> dict[str, Any]:
    """An assistant's sources (engine.documents.assistant_backend), as the `enclave_citations` field."""
    found = getattr(choice.pump.generation, "citations", None)
    return {"enclave_citations": found} if found is not None else {}


def _chat_choice(read: Reply, index: int, logprobs: bool) -> dict[str, Any]:
    """One choice of a chat completion that is not streamed."""
    message: dict[str, Any] = {"role": "assistant", "content": read.content, "refusal": None}
    if read.thinking:
        message["reasoning_content"] = read.thinking
    if read.calls:
        message["tool_calls"] = [
            {"id": new_call_id(), "type": "function", "function": {"name": name, "arguments": arguments}}
            for name, arguments in read.calls
        ]
    return {
        "index": index,
        "message": message,
        "logprobs": chat_logprobs(list(read.logprobs)) if logprobs else None,
        "finish_reason": read.finish_reason,
    }


async def _chat_events(
    context: RequestContext,
    reply: _Reply,
    rules: ReplyRules,
    choice: Started,
    index: int,
    outcome: _Outcome,
    usage_field: dict[str, Any],
) -> AsyncIterator[bytes]:
    """One choice's events of a streamed chat completion."""

    def event(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None, **extra: Any) -> bytes:
        item = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return sse(reply.envelope(choices=[item], **usage_field, **extra))

    # A token's event, encoded but for its text (the same bytes as event() gives).
    answer_event = SseTemplate(event({"content": SLOTS[0]}))
    thinking_event = SseTemplate(event({"reasoning_content": SLOTS[0]}))

    # The engine reads the reply (engine.replies): thinking, the answer as far as it is surely one, a
    # forced call's arguments; the calls at the end. This only turns that into OpenAI's events.
    reader = ReplyReader(rules, choice.pump.generation.opens_thinking)
    call_id = new_call_id()
    if rules.forced_tool is not None:
        function = {"name": rules.forced_tool, "arguments": ""}
        opening = {"index": 0, "id": call_id, "type": "function", "function": function}
        yield event({"role": "assistant", "content": None, "tool_calls": [opening]})
    else:
        yield event({"role": "assistant", "content": ""})
    outcome.text_of = lambda: reader.text
    held: list[bytes] = []  # the events of chunks that arrived together, sent in one write
    try:
        async for chunk in chunks_of(choice):
            piece = reader.feed(chunk)
            if piece.thinking:
                held.append(thinking_event(piece.thinking))
            if piece.arguments:
                held.append(event({"tool_calls": [{"index": 0, "function": {"arguments": piece.arguments}}]}))
            if piece.logprobs:
                logprobs = chat_logprobs(list(piece.logprobs))
                held.append(event({"content": piece.answer}, logprobs=logprobs))
            elif piece.answer:
                held.append(answer_event(piece.answer))
            if held and not choice.pump.ready():
                yield b"".join(held)
                held.clear()
    except EnclaveError as exc:  # the backend failed mid-reply (an upstream broke off): said in the stream
        outcome.failed = True
        yield b"".join(held) + _error_event(exc)
        return
    read = reader.finish()
    outcome.final, outcome.text_of = read.final, lambda: read.text
    if read.rest:
        held.append(event({"content": read.rest}))
    if rules.forced_tool is not None:
        if read.calls and not read.arguments_streamed:  # a remote backend reported the call whole
            held.append(event({"tool_calls": [{"index": 0, "function": {"arguments": read.calls[0][1]}}]}))
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
        held.append(event({"tool_calls": deltas}))
    label = labels.api_field(context.key, reply.label(read.final))
    held.append(event({}, read.finish_reason, **label, **_citations(choice)))
    yield b"".join(held)


# -- text completions --------------------------------------------------------------------------------


@router.post("/v1/completions", response_model=None, responses=GENERATED, tags=["openai"])
async def completions(body: CompletionRequest, request: Request) -> Response:
    """Create a text completion (OpenAI-compatible, legacy): text or token-id prompts, a batch of them,
    `n` choices each, `echo`, and `suffix` (fill-in-the-middle)."""
    services, context = services_of(request), context_of(request)
    backend, model = await resolve_model(services, context, body.model)
    prompts, n = body.prompts(), body.n or 1
    budget = _per_choice_budget(services, context, n * len(prompts))
    params = generation_params(body, services.settings, budget=budget)
    context.request_text = joined([p if isinstance(p, str) else json.dumps(p) for p in prompts])
    starts = []
    for p, prompt in enumerate(prompts):
        for i in range(n):
            own = choice_params(params, i, context.key.reproducible)
            completion = BackendCompletion(
                prompt if isinstance(prompt, str) else "",
                own,
                openai=_openai(body, model, own, prompt),
                tokens=None if isinstance(prompt, str) else tuple(prompt),
                suffix=body.suffix,
                echo=bool(body.echo),
            )
            starts.append((p, partial(backend.complete, model, completion)))
    started = await start_all(services, context, starts)
    reply = _Reply(model, "cmpl", "text_completion")
    with_logprobs = body.logprobs is not None
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        usage_field: dict[str, Any] = {"usage": None} if include_usage else {}
        outcomes = [_Outcome() for _ in started]
        sources = [
            _completion_events(context, reply, choice, i, outcome, usage_field, with_logprobs)
            for i, (choice, outcome) in enumerate(zip(started, outcomes, strict=True))
        ]
        stream = _stream(services, context, reply, started, sources, outcomes, include_usage)
        headers = {**SSE_HEADERS, **labels.api_headers(context.key)}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
    try:
        replies = await collect_all(request, started)
    finally:
        services.admission.leave()
    choices, finals, texts = [], [], []
    for i, chunks in enumerate(replies):
        final = chunks[-1] if chunks and chunks[-1].finish_reason else None
        text = "".join(c.text for c in chunks)
        finals.append(final)
        texts.append(text)
        logprobs = [lp for c in chunks for lp in c.logprobs]
        choices.append({
            "text": text,
            "index": i,
            "logprobs": completion_logprobs(logprobs) if with_logprobs else None,
            "finish_reason": finish_reason(final),
        })
    usage = count_usage(context, started, finals)
    context.response_text = joined(texts)
    context.disconnected = any(f is not None and f.finish_reason == "cancelled" for f in finals)
    label = labels.api_field(context.key, reply.label(finals[0]))  # an admin may switch it off per key
    content = reply.envelope(choices=choices, usage=usage, **label)
    return JSONResponse(content, headers=labels.api_headers(context.key))


async def _completion_events(
    context: RequestContext,
    reply: _Reply,
    choice: Started,
    index: int,
    outcome: _Outcome,
    usage_field: dict[str, Any],
    with_logprobs: bool,
) -> AsyncIterator[bytes]:
    """One choice's events of a streamed text completion."""
    parts: list[str] = []
    outcome.text_of = lambda: "".join(parts)
    offset = 0
    held: list[bytes] = []  # the events of chunks that arrived together, sent in one write
    # A token's event, encoded but for its text (the same bytes as the dict below through sse()).
    item = {"text": SLOTS[0], "index": index, "logprobs": None, "finish_reason": None}
    plain = SseTemplate(sse(reply.envelope(choices=[item], **usage_field)))
    try:
        async for chunk in chunks_of(choice):
            if chunk.finish_reason is not None:
                outcome.final = chunk
            if chunk.finish_reason is None and not with_logprobs:
                if chunk.text or chunk.logprobs:
                    held.append(plain(chunk.text))
            elif chunk.text or chunk.logprobs or chunk.finish_reason:
                logprobs = completion_logprobs(list(chunk.logprobs), offset) if with_logprobs else None
                finish = finish_reason(chunk) if chunk.finish_reason else None
                item = {"text": chunk.text, "index": index, "logprobs": logprobs, "finish_reason": finish}
                extra = labels.api_field(context.key, reply.label(chunk)) if finish else {}
                held.append(sse(reply.envelope(choices=[item], **usage_field, **extra)))
            parts.append(chunk.text)
            offset += len(chunk.text)
            if held and not choice.pump.ready():
                yield b"".join(held)
                held.clear()
    except EnclaveError as exc:  # the backend failed mid-reply: said in the stream
        outcome.failed = True
        held.append(_error_event(exc))
    if held:
        yield b"".join(held)
