"""Anthropic's Messages API: `POST /v1/messages` (plain or streamed with Anthropic's events) and
`POST /v1/messages/count_tokens`.

The request becomes a chat-completions request (engine.api.chat_run) and the reply, read by the engine
(engine.replies), becomes Anthropic's content blocks: thinking, text, tool_use. Keys come as
`x-api-key` or a bearer token (engine.api.middleware); errors take Anthropic's shape on these paths.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Request, Security
from fastapi.security import APIKeyHeader
from starlette.responses import JSONResponse, Response, StreamingResponse

from engine.api.anthropic_schemas import (
    CountTokensRequest,
    Message,
    MessagesRequest,
    ToolChoiceNamed,
    ToolResultBlock,
    ToolUseBlock,
)
from engine.api.chat_run import (
    ChatRun,
    StreamedReply,
    arguments_object,
    chat_request,
    start_chat,
    usage_counts,
    whole_reply,
)
from engine.api.context import RequestContext
from engine.api.convert import chat_messages, tool_offer
from engine.api.errors import ApiError, anthropic_error, from_exception
from engine.api.grammar import plan_output
from engine.api.routes_generate import ERRORS, JSON_OR_EVENTS, bearer
from engine.api.services import Services, context_of, resolve_model, services_of
from engine.api.streaming import SLOTS, SSE_HEADERS, SseTemplate, compact_json
from engine.backends import ChatRequest
from engine.errors import EnclaveError
from engine.policy import labels
from engine.replies import Reply

x_api_key = APIKeyHeader(name="x-api-key", auto_error=False, description="An Enclave API key (Anthropic's header).")
router = APIRouter(dependencies=[Security(bearer), Security(x_api_key)])
ANTHROPIC_ERRORS = {**ERRORS, 529: {"description": "Server busy (overloaded)"}}
STOP_REASONS = {"length": "max_tokens", "tool_calls": "tool_use"}


def _history(messages: list[Message]) -> list[dict[str, Any]]:
    """Anthropic's turns as OpenAI chat messages: tool_use -> tool_calls, tool_result -> tool messages."""
    result: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message.content, str):
            result.append({"role": message.role, "content": message.content})
            continue
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        for block in message.content:
            if isinstance(block, ToolUseBlock):  # assistant turns only (the schema says so)
                arguments = json.dumps(block.input, ensure_ascii=False)
                calls.append(
                    {"id": block.id, "type": "function", "function": {"name": block.name, "arguments": arguments}}
                )
            elif isinstance(block, ToolResultBlock):  # user turns only
                content = ("Error: " if block.is_error else "") + block.text()
                result.append({"role": "tool", "tool_call_id": block.tool_use_id, "content": content})
            elif block.type == "text":
                texts.append(block.text)
            # Thinking from an earlier reply is not shown to the model again (as Anthropic drops it).
        if message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or (None if calls else "")}
            if calls:
                entry["tool_calls"] = calls
            result.append(entry)
        elif texts:
            result.append({"role": "user", "content": "".join(texts)})
    return result


def _openai_body(body: CountTokensRequest, generation: dict[str, Any]) -> dict[str, Any]:
    """The request in chat completions' shape."""
    system = body.system_text()
    messages = ([{"role": "system", "content": system}] if system else []) + _history(body.messages)
    converted: dict[str, Any] = {"model": body.model, "messages": messages, **generation}
    if body.tools:
        converted["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
            }
            for t in body.tools
        ]
    fmt = body.output_config.format if body.output_config else None
    if fmt is not None:
        converted["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": fmt.schema_}}
    choice = body.tool_choice
    if isinstance(choice, ToolChoiceNamed):
        converted["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    elif choice is not None:
        converted["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[choice.type]
    if choice is not None and choice.disable_parallel_tool_use:
        converted["parallel_tool_calls"] = False
    return {k: v for k, v in converted.items() if v is not None}


def _generation(body: MessagesRequest) -> dict[str, Any]:
    return {
        "max_tokens": body.max_tokens,
        "stop": body.stop_sequences or None,
        "temperature": body.temperature,
        "top_p": body.top_p,
        "top_k": body.top_k,
        "stream": body.stream,
    }


def _shows_thinking(body: CountTokensRequest) -> bool:
    return body.thinking is None or body.thinking.type != "disabled"


def _usage(final: Any) -> dict[str, int]:
    prompt, completion, cached = usage_counts(final)
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def _tool_use(name: str, arguments: str) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": "toolu_" + secrets.token_hex(12),
        "name": name,
        "input": arguments_object(arguments),
    }


def _content(read: Reply, thinking: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if thinking and read.thinking:
        blocks.append({"type": "thinking", "thinking": read.thinking, "signature": ""})
    if read.content:
        blocks.append({"type": "text", "text": read.content})
    blocks += [_tool_use(name, arguments) for name, arguments in read.calls]
    return blocks


@router.post(
    "/v1/messages", response_model=None, responses={**ANTHROPIC_ERRORS, 200: JSON_OR_EVENTS}, tags=["anthropic"]
)
async def create_message(body: MessagesRequest, request: Request) -> Response:
    """Create a message (Anthropic's Messages API)."""
    services, context = services_of(request), context_of(request)
    converted = chat_request(_openai_body(body, _generation(body)))
    run = await start_chat(services, context, converted)
    message_id = "msg_" + secrets.token_hex(12)
    headers = labels.api_headers(context.key)
    if body.stream:
        events = _stream(services, context, run, message_id, _shows_thinking(body), body.stop_sequences)
        return StreamingResponse(events, media_type="text/event-stream", headers={**SSE_HEADERS, **headers})
    read = await whole_reply(request, services, context, run)
    content = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": run.model.name,
        "content": _content(read, _shows_thinking(body)),
        **_stop(read, body.stop_sequences),
        "usage": _usage(read.final),
        **labels.api_field(context.key, run.label(read.final)),
    }
    return JSONResponse(content, headers=headers)


def _stop(read: Reply, stop_sequences: list[str] | None) -> dict[str, Any]:
    """`stop_reason` and `stop_sequence`: which of the client's stop sequences ended the reply, if one did
    (a chat template's own end-of-turn string is the model ending its turn: end_turn)."""
    matched = read.final.stop_sequence if read.final is not None else None
    if read.finish_reason == "stop" and matched is not None and matched in (stop_sequences or ()):
        return {"stop_reason": "stop_sequence", "stop_sequence": matched}
    return {"stop_reason": STOP_REASONS.get(read.finish_reason, "end_turn"), "stop_sequence": None}


def _event(name: str, data: dict[str, Any]) -> bytes:
    """One of Anthropic's server-sent events: its name on the `event:` line and as the data's `type`."""
    payload = compact_json({"type": name, **data})
    return f"event: {name}\ndata: {payload}\n\n".encode()


class _Blocks:
    """Content blocks as they open and close: one open at a time, numbered in order."""

    def __init__(self) -> None:
        self.index = -1
        self.open_kind: str | None = None
        # A block's deltas differ only in their text: encoded once but for it (engine.api.streaming).
        self._templates: dict[tuple[int, str, str], SseTemplate] = {}

    def start(self, block: dict[str, Any]) -> list[bytes]:
        events = self.stop()
        self.index += 1
        self.open_kind = block["type"]
        return [*events, _event("content_block_start", {"index": self.index, "content_block": block})]

    def delta(self, kind: str, delta: dict[str, Any]) -> list[bytes]:
        events = [] if self.open_kind == kind else self.start(_EMPTY[kind])
        (field, text), = (item for item in delta.items() if item[0] != "type")
        key = (self.index, delta["type"], field)
        template = self._templates.get(key)
        if template is None:
            data = {"index": self.index, "delta": {**delta, field: SLOTS[0]}}
            template = self._templates[key] = SseTemplate(_event("content_block_delta", data))
        return [*events, template(text)]

    def stop(self) -> list[bytes]:
        if self.open_kind is None:
            return []
        self.open_kind = None
        return [_event("content_block_stop", {"index": self.index})]


_EMPTY: dict[str, dict[str, Any]] = {
    "text": {"type": "text", "text": ""},
    "thinking": {"type": "thinking", "thinking": "", "signature": ""},
}


async def _stream(
    services: Services,
    context: RequestContext,
    run: ChatRun,
    message_id: str,
    thinking: bool,
    stop_sequences: list[str] | None,
) -> AsyncIterator[bytes]:
    reply = StreamedReply(services, context, run)
    blocks = _Blocks()
    forced = run.rules.forced_tool
    # The events of chunks that arrive together go out in one write (one SSE event each, as before).
    events: list[bytes] = []
    try:
        start: dict[str, Any] = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": run.model.name,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            # The prompt's size is known once generation started (a remote backend reports it only at the end).
            "usage": {**_usage(None), "input_tokens": getattr(run.pump.generation, "prompt_tokens", None) or 0},
        }
        events += [_event("message_start", {"message": start}), _event("ping", {})]
        if forced is not None:
            events += blocks.start({**_tool_use(forced, ""), "input": {}})
        yield b"".join(events)
        events.clear()
        async for piece in reply.pieces():
            if piece.thinking and thinking:
                events += blocks.delta("thinking", {"type": "thinking_delta", "thinking": piece.thinking})
            if piece.arguments:
                events += blocks.delta("tool_use", {"type": "input_json_delta", "partial_json": piece.arguments})
            if piece.answer:
                events += blocks.delta("text", {"type": "text_delta", "text": piece.answer})
            if events and not reply.ready():
                yield b"".join(events)
                events.clear()
        read = reply.finish()
        if read.rest:
            events += blocks.delta("text", {"type": "text_delta", "text": read.rest})
        if forced is not None:
            if read.calls and not read.arguments_streamed:  # a remote backend reported the call whole
                delta = {"type": "input_json_delta", "partial_json": read.calls[0][1]}
                events += blocks.delta("tool_use", delta)
        else:
            for name, arguments in read.calls:
                events += blocks.start({**_tool_use(name, ""), "input": {}})
                events += blocks.delta("tool_use", {"type": "input_json_delta", "partial_json": arguments})
        events += blocks.stop()
        stop = _stop(read, stop_sequences)
        events.append(_event("message_delta", {"delta": stop, "usage": _usage(read.final)}))
        events.append(_event("message_stop", labels.api_field(context.key, run.label(read.final))))
        yield b"".join(events)
        reply.done = True
    except EnclaveError as exc:  # a backend failed mid-stream: Anthropic's error event ends the stream
        context.response_text = reply.reader.text
        error = from_exception(exc)
        events.append(_event("error", {"error": anthropic_error(error.status, error.message)["error"]}))
        yield b"".join(events)
        reply.done = True
    finally:
        await reply.close()


@router.post("/v1/messages/count_tokens", response_model=None, responses=ANTHROPIC_ERRORS, tags=["anthropic"])
async def count_tokens(body: CountTokensRequest, request: Request) -> JSONResponse:
    """Count the input tokens of a Messages request, tools and system prompt included."""
    services, context = services_of(request), context_of(request)
    converted = chat_request(_openai_body(body, {"max_tokens": 1}))
    backend, model = await resolve_model(services, context, converted.model)
    counter = getattr(backend, "count_tokens", None)
    if counter is None:
        raise ApiError(400, f"token counting is not available for {model.name}'s backend", param="model")
    plan = await anyio.to_thread.run_sync(plan_output, converted)
    chat = ChatRequest(chat_messages(converted), tools=tool_offer(converted, plan))
    tokens = await anyio.to_thread.run_sync(lambda: counter(model, chat))
    return JSONResponse({"input_tokens": int(tokens)})
