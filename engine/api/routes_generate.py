"""`POST /v1/chat/completions` and `POST /v1/completions`, plain or streamed as OpenAI streams them."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Security
from fastapi.security import HTTPBearer
from starlette.responses import JSONResponse, Response, StreamingResponse

from engine.api.context import RequestContext
from engine.api.convert import chat_logprobs, chat_messages, completion_logprobs, generation_params, tool_offer
from engine.api.grammar import OutputPlan, plan_output
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
from engine.api.tool_calls import new_call_id, read_tool_calls
from engine.chat import content_label
from engine.models.call_syntax import AnswerGate
from engine.models.reasoning import ReasoningSplitter, split_reply
from engine.models.registry import ModelRecord
from engine.policy import labels
from engine.runtime import Chunk
from engine.upstreams import proxy as upstream_proxy

bearer = HTTPBearer(auto_error=False, description="An Enclave API key from `enclave keys create`.")
router = APIRouter(dependencies=[Security(bearer)])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        400: "Invalid parameters",
        401: "Missing or invalid API key",
        403: "Model not allowed for this key",
        404: "Unknown model",
        413: "Body too large",
        429: "Rate limit or queue full",
    }.items()
}


def _finish(reason: str | None) -> str:
    # "cancelled" only happens when the client left; OpenAI clients know "stop" and "length".
    return "length" if reason == "length" else "stop"


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

    def __init__(self, record: ModelRecord, prefix: str, obj: str) -> None:
        self.id = f"{prefix}-{secrets.token_hex(12)}"
        self.created = int(time.time())
        self.record = record
        self.object = obj

    def envelope(self, **fields: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.record.name,
            "system_fingerprint": f"fp_{self.record.sha256[:12]}",
            **fields,
        }

    def label(self, final: Chunk | None) -> dict[str, Any]:
        return content_label(self.record, final)


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


@router.post("/v1/chat/completions", response_model=None, responses=ERRORS, tags=["openai"])
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    """Create a chat completion (OpenAI-compatible)."""
    if (forwarded := await upstream_proxy.forward_chat(request, body)) is not None:
        return forwarded
    services, context = services_of(request), context_of(request)
    record = await resolve_model(services, context, body.model)
    plan = plan_output(body)
    budget = services.policy.token_allowance(context.key)
    params = generation_params(body, services.settings, grammar=plan.grammar, budget=budget)
    messages = chat_messages(body)
    context.request_text = json.dumps(messages, ensure_ascii=False)
    start = partial(services.runtime.chat, messages, params, model=record.name, tools=tool_offer(body, plan))
    pump, first = await start_generation(services, start)
    reply = _Reply(record, "chatcmpl", "chat.completion.chunk" if body.stream else "chat.completion")
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        parallel = body.parallel_tool_calls is not False
        stream = _stream_chat(services, context, reply, plan, pump, first, include_usage, parallel)
        headers = {**SSE_HEADERS, **labels.api_headers(context.key)}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
    chunks, final, text = await _collect_reply(request, services, context, pump, first)
    thinking, text = split_reply(text, pump.generation.opens_thinking) if plan.grammar is None else ("", text)
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if thinking:
        message["reasoning_content"] = thinking
    finish = _finish(final.finish_reason if final else None)
    calls = read_tool_calls(text, plan, parallel=body.parallel_tool_calls is not False)
    if calls is not None:
        message["content"] = calls.content
        message["tool_calls"] = [
            {"id": new_call_id(), "type": "function", "function": {"name": name, "arguments": arguments}}
            for name, arguments in calls.calls
        ]
        finish = "tool_calls" if finish == "stop" else finish
    logprobs = [lp for c in _answer_chunks(chunks, len(text)) for lp in c.logprobs]
    choice = {
        "index": 0,
        "message": message,
        "logprobs": chat_logprobs(logprobs) if body.logprobs else None,
        "finish_reason": finish,
    }
    label = labels.api_field(context.key, reply.label(final))  # an admin may switch it off per key
    content = reply.envelope(choices=[choice], usage=_usage(final), **label)
    return JSONResponse(content, headers=labels.api_headers(context.key))


async def _stream_chat(
    services: Services,
    context: RequestContext,
    reply: _Reply,
    plan: OutputPlan,
    pump: ChunkPump,
    first: Chunk | None,
    include_usage: bool,
    parallel: bool,
) -> AsyncIterator[bytes]:
    usage_field: dict[str, Any] = {"usage": None} if include_usage else {}

    def event(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return sse(reply.envelope(choices=[choice], **usage_field, **extra))

    # Whether a reply is a tool call (other than a forced one) is known at its end; until then only the
    # text that is surely an answer is sent.
    gate = AnswerGate(t.function.name for t in plan.tools_offered) if plan.any_tool or plan.tools_offered else None
    # A reasoning model's thinking goes out as reasoning_content (not under a grammar: that admits no tags).
    splitter = ReasoningSplitter(pump.generation.opens_thinking) if plan.grammar is None else None
    call_id = new_call_id()
    done = False
    parts: list[str] = []  # the reply as generated, thinking included (for the request log)
    answer: list[str] = []
    final: Chunk | None = None

    def answer_events(piece: str, logprobs: Any = None) -> Iterator[bytes]:
        answer.append(piece)
        if gate is not None:
            if sure := gate.feed(piece):
                yield event({"content": sure})
        elif plan.forced_tool is not None:
            if piece:
                yield event({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        elif piece or logprobs:
            yield event({"content": piece}, logprobs=logprobs)

    try:
        if plan.forced_tool is not None:
            function = {"name": plan.forced_tool, "arguments": ""}
            opening = {"index": 0, "id": call_id, "type": "function", "function": function}
            yield event({"role": "assistant", "content": None, "tool_calls": [opening]})
        else:
            yield event({"role": "assistant", "content": ""})
        chunk = first
        while chunk is not None:
            if chunk.finish_reason is not None:
                final = chunk
            parts.append(chunk.text)
            piece = chunk.text
            if splitter is not None:
                if chunk.finish_reason:  # the last chunk's own text, then whatever was held back
                    thought, piece = _joined(splitter.feed(piece), splitter.finish())
                else:
                    thought, piece = splitter.feed(piece)
                if thought:
                    yield event({"reasoning_content": thought})
            # A token's logprob goes with the answer only if its text did (thinking has none in OpenAI's shape).
            answered = splitter is None or bool(piece)
            logprobs = chat_logprobs(list(chunk.logprobs)) if chunk.logprobs and answered else None
            for data in answer_events(piece, logprobs):
                yield data
            chunk = await pump.next()
        text = "".join(answer)
        finish = _finish(final.finish_reason if final else None)
        if gate is not None:
            calls = read_tool_calls(text, plan, parallel=parallel)
            if rest := gate.rest(None if calls is None else calls.content or ""):
                yield event({"content": rest})
            if calls is not None:
                deltas = [
                    {
                        "index": i,
                        "id": call_id if i == 0 else new_call_id(),
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }
                    for i, (name, arguments) in enumerate(calls.calls)
                ]
                yield event({"tool_calls": deltas})
                finish = "tool_calls" if finish == "stop" else finish
        elif plan.forced_tool is not None and finish == "stop":
            finish = "tool_calls"
        _account(context, final, "".join(parts))
        yield event({}, finish, **labels.api_field(context.key, reply.label(final)))
        if include_usage:
            yield sse(reply.envelope(choices=[], usage=_usage(final)))
        yield SSE_DONE
        done = True
    finally:
        await _release_on_exit(services, context, pump, done)
        if not done:
            context.response_text = "".join(parts)


# -- text completions --------------------------------------------------------------------------------


@router.post("/v1/completions", response_model=None, responses=ERRORS, tags=["openai"])
async def completions(body: CompletionRequest, request: Request) -> Response:
    """Create a text completion (OpenAI-compatible, legacy)."""
    if (forwarded := await upstream_proxy.forward_completion(request, body)) is not None:
        return forwarded
    services, context = services_of(request), context_of(request)
    record = await resolve_model(services, context, body.model)
    params = generation_params(body, services.settings, budget=services.policy.token_allowance(context.key))
    prompt = body.prompt_text()
    context.request_text = prompt
    start = partial(services.runtime.complete, prompt, params, model=record.name)
    pump, first = await start_generation(services, start)
    reply = _Reply(record, "cmpl", "text_completion")
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
        "finish_reason": _finish(final.finish_reason if final else None),
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
        chunk = first
        while chunk is not None:
            if chunk.finish_reason is not None:
                final = chunk
            if chunk.text or chunk.logprobs or chunk.finish_reason:
                logprobs = completion_logprobs(list(chunk.logprobs), offset) if with_logprobs else None
                finish = _finish(chunk.finish_reason) if chunk.finish_reason else None
                choice = {"text": chunk.text, "index": 0, "logprobs": logprobs, "finish_reason": finish}
                extra = labels.api_field(context.key, reply.label(chunk)) if finish else {}
                yield sse(reply.envelope(choices=[choice], **usage_field, **extra))
            parts.append(chunk.text)
            offset += len(chunk.text)
            chunk = await pump.next()
        _account(context, final, "".join(parts))
        if include_usage:
            yield sse(reply.envelope(choices=[], usage=_usage(final)))
        yield SSE_DONE
        done = True
    finally:
        await _release_on_exit(services, context, pump, done)
        if not done:
            context.response_text = "".join(parts)


def _joined(first: tuple[str, str], then: tuple[str, str]) -> tuple[str, str]:
    return first[0] + then[0], first[1] + then[1]


def _answer_chunks(chunks: list[Chunk], answer_chars: int) -> list[Chunk]:
    """The chunks whose text is part of the answer, the last `answer_chars` characters of the reply
    (thinking comes before it)."""
    answer_from = sum(len(c.text) for c in chunks) - answer_chars
    kept, at = [], 0
    for chunk in chunks:
        at += len(chunk.text)
        if at > answer_from:
            kept.append(chunk)
    return kept
