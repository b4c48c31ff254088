"""OpenAI's Responses API: `POST /v1/responses` (plain or streamed with the Responses events),
`GET` and `DELETE /v1/responses/{id}`.

The request becomes a chat-completions request (engine.api.chat_run): instructions, input items, the
stored conversation a `previous_response_id` names, function tools, `text.format`. The reply, read by
the engine (engine.replies), becomes output items: reasoning, message, function_call. With `store`
(the default, unless the key stores no content) the response and its conversation are kept encrypted
in the vault (engine.vault.responses), readable and deletable only with the key that made them, and
expire with the API content under retention.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Security
from starlette.responses import JSONResponse, Response, StreamingResponse

from engine.api.chat_run import ChatRun, StreamedReply, chat_request, start_chat, usage_counts, whole_reply
from engine.api.context import RequestContext
from engine.api.errors import ApiError, from_exception
from engine.api.file_search import FileSearch, run_file_search
from engine.api.responses_schemas import (
    FunctionCallItem,
    FunctionCallOutputItem,
    MessageItem,
    ResponsesRequest,
    TextFormatSchema,
    ToolChoiceNamed,
)
from engine.api.routes_generate import ERRORS, JSON_OR_EVENTS, bearer
from engine.api.services import Services, context_of, on_vault_thread, services_of
from engine.api.streaming import SLOTS, SSE_HEADERS, SseTemplate, compact_json
from engine.errors import EnclaveError
from engine.policy import labels
from engine.replies import Reply

router = APIRouter(dependencies=[Security(bearer)])
PREFIX = "resp_"
_ID = re.compile(r"^resp_([0-9a-f]{32})$")


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


# -- request -> chat completions ---------------------------------------------------------------------


def _items(body: ResponsesRequest) -> list[dict[str, Any]]:
    """The input as chat messages: function_call -> an assistant's tool_calls, its output -> a tool message."""
    if isinstance(body.input, str):
        return [{"role": "user", "content": body.input}]
    messages: list[dict[str, Any]] = []
    for item in body.input:
        if isinstance(item, MessageItem):
            role = "system" if item.role == "developer" else item.role
            messages.append({"role": role, "content": item.text()})
        elif isinstance(item, FunctionCallItem):
            call = {
                "id": item.call_id,
                "type": "function",
                "function": {"name": item.name, "arguments": item.arguments},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
                last["content"] = last.get("content") or None
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif isinstance(item, FunctionCallOutputItem):
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
        # Reasoning items of an earlier reply are not shown to the model again.
    return messages


def _converted(body: ResponsesRequest, history: list[dict[str, Any]], sources: str | None = None) -> dict[str, Any]:
    """The request in chat completions' shape, after the stored conversation it continues (one system
    message: the instructions, then the file_search sources, since many chat templates take only one)."""
    parts = [text for text in (body.instructions, sources) if text]
    system = [{"role": "system", "content": "\n\n".join(parts)}] if parts else []
    messages = system + history + _items(body)
    if not messages:  # e.g. only reasoning items: valid items, nothing to answer
        raise ApiError(
            400, "input holds nothing to answer: reasoning items are not shown to the model again; send a "
            "message or a function call's output", param="input", code="invalid_value",
        )
    converted: dict[str, Any] = {
        "model": body.model,
        "messages": messages,
        "max_tokens": body.max_output_tokens,
        "temperature": body.temperature,
        "top_p": body.top_p,
        "parallel_tool_calls": body.parallel_tool_calls,
        "stream": body.stream,
    }
    tools = body.function_tools()
    if tools:
        converted["tools"] = [
            {"type": "function", "function": t.model_dump(exclude={"type"}, exclude_none=True)} for t in tools
        ]
    choice = body.tool_choice
    if isinstance(choice, ToolChoiceNamed):
        converted["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    elif choice is not None and (tools or choice == "none"):
        converted["tool_choice"] = choice
    fmt = body.text.format if body.text else None
    if isinstance(fmt, TextFormatSchema):
        schema = {"name": fmt.name, "schema": fmt.schema_, "strict": fmt.strict}
        converted["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif fmt is not None:
        converted["response_format"] = {"type": fmt.type}
    return {k: v for k, v in converted.items() if v is not None}


# -- the response object ----------------------------------------------------------------------------


class _Envelope:
    """The fixed fields of one response, and its final form."""

    def __init__(self, body: ResponsesRequest, run: ChatRun, stored: bool, search: FileSearch | None) -> None:
        self.search = search
        self.id = _new_id(PREFIX)
        self.created = int(time.time())
        self.body = body
        self.run = run
        self.stored = stored

    def object(self, status: str, output: list[dict[str, Any]], final: Any = None, **extra: Any) -> dict[str, Any]:
        body = self.body
        fmt = body.text.format if body.text and body.text.format else None
        prompt, completion, cached = usage_counts(final)
        choice = body.tool_choice.model_dump() if isinstance(body.tool_choice, ToolChoiceNamed) else body.tool_choice
        incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "error": None,
            "incomplete_details": incomplete,
            "instructions": body.instructions,
            "max_output_tokens": body.max_output_tokens,
            "model": self.run.model.name,
            "output": output,
            "parallel_tool_calls": body.parallel_tool_calls is not False,
            "previous_response_id": body.previous_response_id,
            "reasoning": {"effort": None, "summary": None},
            "store": self.stored,
            "temperature": body.temperature,
            "text": {"format": fmt.model_dump(by_alias=True, exclude_none=True) if fmt else {"type": "text"}},
            "tool_choice": choice or "auto",
            "tools": [t.model_dump(exclude_none=True) for t in body.tools or ()],
            "top_p": body.top_p,
            "truncation": "disabled",
            "usage": None
            if final is None
            else {
                "input_tokens": prompt,
                "input_tokens_details": {"cached_tokens": cached},
                "output_tokens": completion,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt + completion,
            },
            "user": body.user,
            "metadata": body.metadata or {},
            **extra,
        }


def _status(read: Reply) -> str:
    return "incomplete" if read.finish_reason == "length" else "completed"


def _reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    return {"type": "reasoning", "id": item_id, "summary": [], "content": [{"type": "reasoning_text", "text": text}]}


def _text_part(text: str, annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": []}


def _message_item(
    item_id: str, text: str, status: str = "completed", search: FileSearch | None = None
) -> dict[str, Any]:
    annotations = search.annotations(text) if search is not None else None
    content = [_text_part(text, annotations)] if status == "completed" else []
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def _output(read: Reply, search: FileSearch | None) -> list[dict[str, Any]]:
    items = [search.item()] if search is not None else []
    if read.thinking:
        items.append(_reasoning_item(_new_id("rs_"), read.thinking))
    if read.content:
        items.append(_message_item(_new_id("msg_"), read.content, search=search))
    items += [_call_item(_new_id("fc_"), _new_id("call_"), name, args) for name, args in read.calls]
    return items


def _assistant_message(output: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The reply as the next turn's history sees it."""
    text = "".join(part["text"] for item in output if item["type"] == "message" for part in item["content"])
    calls = [
        {"id": item["call_id"], "type": "function", "function": {"name": item["name"], "arguments": item["arguments"]}}
        for item in output
        if item["type"] == "function_call"
    ]
    if not text and not calls:
        return None
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return message


async def _store(
    services: Services,
    context: RequestContext,
    envelope: _Envelope,
    history: list[dict[str, Any]],
    response: dict[str, Any],
) -> None:
    """Keep the response and its conversation (without the instructions) in the vault."""
    if not envelope.stored:
        return
    messages = history + _items(envelope.body)
    reply = _assistant_message(response["output"])
    data = {"response": response, "messages": messages + ([reply] if reply else [])}
    hex_id = envelope.id.removeprefix(PREFIX)
    await on_vault_thread(services.vault, partial(services.vault.responses.save, hex_id, context.key.id, data))


async def _history(services: Services, context: RequestContext, body: ResponsesRequest) -> list[dict[str, Any]]:
    if body.previous_response_id is None:
        return []
    data = await _stored(services, context, body.previous_response_id)
    if data is None:
        raise ApiError(
            400,
            f"Previous response with id '{body.previous_response_id}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    return list(data["messages"])


async def _stored(services: Services, context: RequestContext, response_id: str) -> dict[str, Any] | None:
    match = _ID.match(response_id)
    if match is None:
        return None
    owner = context.key.id
    return await on_vault_thread(services.vault, lambda: services.vault.responses.get(match.group(1), owner))


# -- routes -----------------------------------------------------------------------------------------


@router.post("/v1/responses", response_model=None, responses={**ERRORS, 200: JSON_OR_EVENTS}, tags=["openai"])
async def create_response(body: ResponsesRequest, request: Request) -> Response:
    """Create a model response (OpenAI's Responses API)."""
    services, context = services_of(request), context_of(request)
    history = await _history(services, context, body)
    stores = services.engine.for_key(context.key).vector_stores
    search = await run_file_search(body, history + _items(body), stores)
    sources = search.system_message()["content"] if search is not None else None
    converted = chat_request(_converted(body, history, sources))
    run = await start_chat(services, context, converted)
    # A key that stores no content (or a server that logs none) keeps no response either.
    keeps = context.key.store_content and services.settings.log_content
    envelope = _Envelope(body, run, stored=body.store and keeps, search=search)
    headers = labels.api_headers(context.key)
    if body.stream:
        events = _stream(services, context, envelope, history)
        return StreamingResponse(events, media_type="text/event-stream", headers={**SSE_HEADERS, **headers})
    read = await whole_reply(request, services, context, run)
    response = envelope.object(_status(read), _output(read, search), read.final)
    await _store(services, context, envelope, history, response)
    return JSONResponse({**response, **labels.api_field(context.key, run.label(read.final))}, headers=headers)


@router.get("/v1/responses/{response_id}", responses=ERRORS, tags=["openai"])
async def get_response(response_id: str, request: Request) -> dict[str, Any]:
    """A stored response (only the key that created it may read it)."""
    data = await _stored(services_of(request), context_of(request), response_id)
    if data is None:
        raise ApiError(404, f"No response found with id '{response_id}'.", param="response_id", code="not_found")
    response: dict[str, Any] = data["response"]
    return response


@router.delete("/v1/responses/{response_id}", responses=ERRORS, tags=["openai"])
async def delete_response(response_id: str, request: Request) -> dict[str, Any]:
    """Delete a stored response: its data key is destroyed with it."""
    services, context = services_of(request), context_of(request)
    match, owner = _ID.match(response_id), context.key.id
    deleted = match is not None and await on_vault_thread(
        services.vault, lambda: services.vault.responses.delete(match.group(1), owner)
    )
    if not deleted:
        raise ApiError(404, f"No response found with id '{response_id}'.", param="response_id", code="not_found")
    return {"id": response_id, "object": "response", "deleted": True}


# -- streaming --------------------------------------------------------------------------------------


class _Events:
    """Responses stream events, numbered."""

    def __init__(self) -> None:
        self.sequence = 0

    def __call__(self, kind: str, **data: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self.sequence, **data}
        self.sequence += 1
        return f"event: {kind}\ndata: {compact_json(payload)}\n\n".encode()

    def deltas(self, kind: str, data: dict[str, Any], after: dict[str, Any] | None = None) -> Callable[[str], bytes]:
        """Events of `kind` that differ only in their number and `delta` (between `data` and `after`):
        encoded once but for those (engine.api.streaming.SseTemplate)."""
        payload = {"type": kind, "sequence_number": SLOTS[0], **data, "delta": SLOTS[1], **(after or {})}
        template = SseTemplate(f"event: {kind}\ndata: {compact_json(payload)}\n\n".encode())

        def event(delta: str) -> bytes:
            self.sequence += 1
            return template(self.sequence - 1, delta)

        return event


class _Items:
    """Output items as they open, grow and close (one open at a time); the finished ones in order."""

    def __init__(self, event: _Events, search: FileSearch | None) -> None:
        self.event = event
        self.search = search
        self.done: list[dict[str, Any]] = []
        self.kind: str | None = None
        self.item: dict[str, Any] = {}
        self.text = ""
        self._delta: Callable[[str], bytes] = lambda delta: b""  # the open item's delta event

    @property
    def index(self) -> int:
        return len(self.done)

    def open(self, kind: str, name: str = "") -> list[bytes]:
        events = self.close()
        self.kind, self.text = kind, ""
        if kind == "reasoning":
            self.item = {"type": "reasoning", "id": _new_id("rs_"), "summary": [], "content": []}
        elif kind == "message":
            self.item = _message_item(_new_id("msg_"), "", status="in_progress")
        else:
            self.item = _call_item(_new_id("fc_"), _new_id("call_"), name, "", status="in_progress")
        events.append(self.event("response.output_item.added", output_index=self.index, item=self.item))
        where = {"item_id": self.item["id"], "output_index": self.index}
        if kind == "function_call":
            self._delta = self.event.deltas("response.function_call_arguments.delta", where)
            return events
        part = {**where, "content_index": 0}
        if kind == "reasoning":
            self._delta = self.event.deltas("response.reasoning_text.delta", part)
        else:
            self._delta = self.event.deltas("response.output_text.delta", part, {"logprobs": []})
            events.append(self.event("response.content_part.added", **part, part=_text_part("")))
        return events

    def add(self, kind: str, delta: str) -> list[bytes]:
        events = [] if self.kind == kind else self.open(kind)
        self.text += delta
        events.append(self._delta(delta))
        return events

    def close(self) -> list[bytes]:
        if self.kind is None:
            return []
        where = {"item_id": self.item["id"], "output_index": self.index}
        events = []
        if self.kind == "reasoning":
            events.append(self.event("response.reasoning_text.done", **where, content_index=0, text=self.text))
            item = _reasoning_item(self.item["id"], self.text)
        elif self.kind == "message":
            events.append(
                self.event("response.output_text.done", **where, content_index=0, text=self.text, logprobs=[])
            )
            item = _message_item(self.item["id"], self.text, search=self.search)
            part = item["content"][0]
            for number, annotation in enumerate(part["annotations"]):
                events.append(self.event("response.output_text.annotation.added", **where, content_index=0,
                                         annotation_index=number, annotation=annotation))
            events.append(self.event("response.content_part.done", **where, content_index=0, part=part))
        else:
            name = self.item["name"]
            events.append(self.event("response.function_call_arguments.done", **where, name=name, arguments=self.text))
            item = _call_item(self.item["id"], self.item["call_id"], name, self.text)
        events.append(self.event("response.output_item.done", output_index=self.index, item=item))
        self.done.append(item)
        self.kind = None
        return events


def _search_events(event: _Events, search: FileSearch) -> list[bytes]:
    where = {"output_index": 0, "item_id": search.item_id}
    return [
        event("response.output_item.added", output_index=0, item=search.item("in_progress")),
        event("response.file_search_call.in_progress", **where),
        event("response.file_search_call.searching", **where),
        event("response.file_search_call.completed", **where),
        event("response.output_item.done", output_index=0, item=search.item()),
    ]


async def _stream(
    services: Services, context: RequestContext, envelope: _Envelope, history: list[dict[str, Any]]
) -> AsyncIterator[bytes]:
    run = envelope.run
    reply = StreamedReply(services, context, run)
    event = _Events()
    items = _Items(event, envelope.search)
    forced = run.rules.forced_tool
    # The events of chunks that arrive together go out in one write (one SSE event each, as before).
    events: list[bytes] = []
    try:
        events.append(event("response.created", response=envelope.object("in_progress", [])))
        events.append(event("response.in_progress", response=envelope.object("in_progress", [])))
        if envelope.search is not None:  # done before the model started; reported first, as OpenAI does
            events += _search_events(event, envelope.search)
            items.done.append(envelope.search.item())
        if forced is not None:
            events += items.open("function_call", forced)
        yield b"".join(events)
        events.clear()
        async for piece in reply.pieces():
            if piece.thinking:
                events += items.add("reasoning", piece.thinking)
            if piece.arguments:
                events += items.add("function_call", piece.arguments)
            if piece.answer:
                events += items.add("message", piece.answer)
            if events and not reply.ready():
                yield b"".join(events)
                events.clear()
        read = reply.finish()
        if read.rest:
            events += items.add("message", read.rest)
        if forced is not None:
            if read.calls and not read.arguments_streamed:  # a remote backend reported the call whole
                events += items.add("function_call", read.calls[0][1])
        else:
            for name, arguments in read.calls:
                events += items.open("function_call", name)
                events += items.add("function_call", arguments)
        events += items.close()
        status = _status(read)
        response = envelope.object(status, items.done, read.final)
        await _store(services, context, envelope, history, response)
        label = labels.api_field(context.key, run.label(read.final))
        events.append(event(f"response.{status}", response={**response, **label}))
        yield b"".join(events)
        reply.done = True
    except EnclaveError as exc:  # a backend failed mid-stream: the Responses error event ends the stream
        context.response_text = reply.reader.text
        error = from_exception(exc)
        events.append(event("error", code=error.code, message=error.message, param=error.param))
        yield b"".join(events)
        reply.done = True
    finally:
        await reply.close()
