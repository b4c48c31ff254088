"""An assistant's MCP tools, run by the engine for an API client (the tool loop, server-side).

The admin attached tools to the assistant (`enclave assistants create … --tools SERVER.TOOL`). When an
API key allowed tools (`enclave keys create --tools`) chats with it, the model is offered those of them
the admin still allows "always" (nobody is there to approve a call over the API); each call it makes is
run through `engine.tools.Tools` (audited in the key's name: tool, decision, approval "auto (admin
rule)", SHA-256 of the arguments and the result), its result given back to the model, and after at most
MAX_ROUNDS the model answers. With a key that stores texts, the calls and results are kept encrypted in a
conversation of their own; otherwise only the audit's hashes remain.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from engine.backends import Backend, ChatRequest, ModelRef, QueueStream, Stream
from engine.backends.base import ItemListener
from engine.chat import ToolCallRequest, ToolPlan
from engine.documents.assistants import Assistant
from engine.errors import UserError
from engine.models.reasoning import split_reply
from engine.policy.audit_events import record
from engine.replies import read_calls
from engine.runtime import Chunk
from engine.runtime.types import Usage
from engine.tools import Tools
from engine.vault import ApiKeyRecord, Vault

MAX_ROUNDS = 4  # replies that may call tools before the model must answer
MAX_CALLS_PER_ROUND = 4


@dataclass(frozen=True)
class _Actor:
    audit_name: str


class _Caller:
    """The tools room's host for one API key: its vault, and audit entries in the key's name."""

    def __init__(self, vault: Vault, key: ApiKeyRecord) -> None:
        self.vault = vault
        self.actor = _Actor(f"api:{key.name}")

    def audit(self, event: str, details: dict[str, Any] | None = None) -> None:
        """Record `event` in the key's name."""
        record(self.vault, event, actor=self.actor.audit_name, details=details)


def tools_for(vault: Vault, assistant: Assistant, request: ChatRequest) -> Tools | None:
    """The assistant's tools as this request may use them, or None (no tools, not an API key, or one
    without the tools rule: the assistant then answers from its documents alone, and the audit says why)."""
    key = request.caller
    if not assistant.tools or key is None:
        return None
    caller = _Caller(vault, key)
    if not key.tools:
        caller.audit("assistant_tools_skipped", {"assistant": assistant.name, "reason": "the key may not use tools"})
        return None
    if request.tools is not None:
        raise UserError(f"{assistant.name} runs its own tools; send the request without `tools`")
    return Tools(caller, only=assistant.tool_names, unattended=True, context={"assistant": assistant.name})


def run_rounds(
    vault: Vault,
    tools: Tools,
    assistant: Assistant,
    backend: Backend,
    base: ModelRef,
    request: ChatRequest,
) -> Stream:
    """Let the model call the assistant's tools (run here) until it answers; its answer as a stream."""
    messages: list[dict[str, Any]] = [dict(m) for m in request.messages]
    conversation_id = _conversation(vault, assistant, request)
    earlier: Usage | None = None
    choice = assistant.tool_choice
    for _ in range(MAX_ROUNDS):
        plan = tools.plan(choice)
        if plan is None:  # every attached tool lost its "always allow" since
            break
        choice = "auto"  # "required" makes the first reply a call; the model may answer after it
        params = replace(request.params, grammar=plan.grammar) if plan.grammar else request.params
        generation = backend.chat(base, replace(request, messages=messages, params=params, tools=plan.offer))
        chunks = list(generation)
        earlier = _add(earlier, generation.final)
        calls = _calls("".join(c.text for c in chunks), generation.final, plan)
        if not calls:  # the model answered: that is the reply
            return _replayed(base.name, chunks, earlier, generation)
        messages.append({"role": "assistant", "content": "", "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls]})
        if conversation_id is not None:
            vault.conversations.add_message(conversation_id, "assistant", "", metadata={
                "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]})
        for call in calls:
            outcome = tools.run(conversation_id, call, approved=False)  # approval: the admin's rule, or none
            messages.append({"role": "tool", "content": outcome.text, "tool_call_id": call.id})
    answer = backend.chat(base, replace(request, messages=messages, tools=None))
    return _Summed(answer, earlier)


def _conversation(vault: Vault, assistant: Assistant, request: ChatRequest) -> str | None:
    """Where the calls and results are kept (encrypted), when the key stores texts."""
    key = request.caller
    if key is None or not key.store_content:
        return None
    made = vault.conversations.create(f"{assistant.name} tools (api:{key.name})", model=assistant.model)
    question = next((str(m.get("content") or "") for m in reversed(request.messages) if m.get("role") == "user"), "")
    vault.conversations.add_message(made.id, "user", question)
    return made.id


def _calls(text: str, final: Chunk | None, plan: ToolPlan) -> list[ToolCallRequest]:
    if final is None or final.finish_reason == "cancelled":
        return []
    if final.tool_calls:  # a remote backend reported them
        found: tuple[tuple[str, str], ...] = tuple(final.tool_calls)
    else:
        read = read_calls(text if plan.rules.constrained else split_reply(text)[1], plan.rules)
        found = read.calls if read is not None else ()
    return [ToolCallRequest(f"call_{secrets.token_hex(8)}", name, arguments)
            for name, arguments in found[:MAX_CALLS_PER_ROUND]]


def _add(earlier: Usage | None, final: Chunk | None) -> Usage | None:
    usage = final.usage if final is not None else None
    if usage is None or earlier is None:
        return usage or earlier
    return Usage(earlier.prompt_tokens + usage.prompt_tokens, earlier.completion_tokens + usage.completion_tokens,
                 earlier.cached_prompt_tokens + usage.cached_prompt_tokens,
                 earlier.evaluated_prompt_tokens + usage.evaluated_prompt_tokens)


def _with_usage(chunk: Chunk, usage: Usage | None) -> Chunk:
    return replace(chunk, usage=usage) if chunk.finish_reason is not None and usage is not None else chunk


def _replayed(name: str, chunks: list[Chunk], usage: Usage | None, generation: Stream) -> Stream:
    """A reply already generated, handed on as a stream (its usage: every round's)."""
    stream = QueueStream(name, opens_thinking=generation.opens_thinking)
    stream.served_by = generation.served_by
    for chunk in chunks:
        stream.put(_with_usage(chunk, usage))
    stream.end()
    return stream


class _Summed:
    """The answer's stream, its final usage counting the tool rounds before it (the key's budget, the log)."""

    def __init__(self, inner: Stream, earlier: Usage | None) -> None:
        self._inner = inner
        self._earlier = earlier
        self.final: Chunk | None = None
        self.served_by: str | None = None

    @property
    def opens_thinking(self) -> bool:
        """As the answer's."""
        return self._inner.opens_thinking

    @property
    def prompt_tokens(self) -> int | None:
        """As the answer's, where known."""
        return getattr(self._inner, "prompt_tokens", None)

    def _seen(self, chunk: Chunk) -> Chunk:
        self.served_by = self._inner.served_by
        if chunk.finish_reason is None:
            return chunk
        self.final = _with_usage(chunk, _add(self._earlier, chunk))
        return self.final

    def __iter__(self) -> Iterator[Chunk]:
        for chunk in self._inner:
            yield self._seen(chunk)

    def cancel(self) -> None:
        """Stop the answer."""
        self._inner.cancel()

    def listen(self, on_item: ItemListener) -> None:
        """Hand each chunk (the last with the summed usage), an error, then None to `on_item`."""

        def forward(item: Chunk | BaseException | None) -> None:
            on_item(self._seen(item) if isinstance(item, Chunk) else item)

        self._inner.listen(forward)

    def handled(self) -> None:
        """Pass the pacing signal on to the answer's stream."""
        self._inner.handled()
