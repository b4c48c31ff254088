"""One chat generation for the front doors that are not chat completions (Anthropic's Messages, OpenAI's
Responses): their request is converted to a chat-completions request first, so the same checks,
grammar plan, key rules, budgets, admission and request log apply; this starts it and reads it back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from fastapi import Request
from pydantic import ValidationError

from engine.api.context import RequestContext
from engine.api.convert import chat_messages, generation_params, tool_offer
from engine.api.errors import ApiError
from engine.api.grammar import plan_output
from engine.api.routes_generate import _collect_reply, _count_tokens, _openai, _release_on_exit
from engine.api.schemas import ChatCompletionRequest
from engine.api.services import Services, resolve_model, start_generation
from engine.api.streaming import ChunkPump
from engine.api.tool_calls import reply_rules
from engine.backends import ChatRequest, ModelRef
from engine.chat import content_label
from engine.replies import Piece, Reply, ReplyReader, ReplyRules
from engine.runtime import Chunk


def chat_request(body: dict[str, Any], param_prefix: str = "") -> ChatCompletionRequest:
    """A converted request, checked as chat completions checks it (a 400 naming what is wrong)."""
    try:
        return ChatCompletionRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        raise ApiError(400, f"{param_prefix}{message}", code="invalid_value") from None


@dataclass
class ChatRun:
    """A started generation: its chunks, how to read them, and what it is labelled with."""

    pump: ChunkPump
    first: Chunk | None
    rules: ReplyRules
    model: ModelRef

    def reader(self) -> ReplyReader:
        """A reader for this reply."""
        return ReplyReader(self.rules, self.pump.generation.opens_thinking)

    def label(self, final: Chunk | None) -> dict[str, Any]:
        """The implicit AI-generated label of this reply."""
        return content_label(self.model, final)


async def start_chat(services: Services, context: RequestContext, body: ChatCompletionRequest) -> ChatRun:
    """Resolve the model under the key's rules, plan the output, take a slot and start generating."""
    backend, model = await resolve_model(services, context, body.model)
    plan = await anyio.to_thread.run_sync(plan_output, body)  # schema conversion: never on the event loop
    budget = services.policy.token_allowance(context.key)
    params = generation_params(body, services.settings, grammar=plan.grammar, budget=budget)
    messages = chat_messages(body)
    context.request_text = json.dumps(messages, ensure_ascii=False)
    chat = ChatRequest(messages, params, tools=tool_offer(body, plan), openai=_openai(body, model), caller=context.key)
    pump, first = await start_generation(services, context, partial(backend.chat, model, chat))
    return ChatRun(pump, first, reply_rules(body, plan), model)


async def whole_reply(request: Request, services: Services, context: RequestContext, run: ChatRun) -> Reply:
    """The reply read whole (not streamed); accounted and logged; the slot given back."""
    chunks, _, _ = await _collect_reply(request, services, context, run.pump, run.first)
    reader = run.reader()
    for chunk in chunks:
        reader.feed(chunk)
    return reader.finish()


class StreamedReply:
    """Pieces of a streamed reply as they come, then the reply read; gives the slot back at the end
    and, when the client left early, cancels the generation and logs what was generated."""

    def __init__(self, services: Services, context: RequestContext, run: ChatRun) -> None:
        self.services = services
        self.context = context
        self.run = run
        self.reader = run.reader()
        self.done = False

    async def pieces(self) -> AsyncIterator[Piece]:
        """What of each chunk may be shown now."""
        chunk = self.run.first
        while chunk is not None:
            yield self.reader.feed(chunk)
            chunk = await self.run.pump.next()

    def ready(self) -> bool:
        """Whether the next chunk is already here: the events read so far may then wait to go out with it."""
        return self.run.pump.ready()

    def finish(self) -> Reply:
        """The whole reply read (after `pieces`), accounted for the request log and the budget."""
        read = self.reader.finish()
        _count_tokens(self.context, read.final)
        self.context.response_text = read.text
        return read

    async def close(self) -> None:
        """Release the slot (cancelling first if the stream did not reach its end)."""
        await _release_on_exit(self.services, self.context, self.run.pump, self.done)
        if not self.done:
            self.context.response_text = self.reader.text


def usage_counts(final: Chunk | None) -> tuple[int, int, int]:
    """(prompt tokens, completion tokens, cached prompt tokens) of a reply."""
    usage = final.usage if final is not None else None
    if usage is None:
        return 0, 0, 0
    return usage.prompt_tokens, usage.completion_tokens, usage.cached_prompt_tokens


def arguments_object(arguments: str) -> dict[str, Any]:
    """A call's arguments as an object (Anthropic's `input`); {} when they are not one (cut off)."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
