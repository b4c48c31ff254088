"""Chat turns: the one place that joins the vault (history), the model's backend and the reply.

The CLI, the GUI and tests call this (as `engine.chat` of an `engine.handle.Engine`); none of them
decides how a prompt is built or what is stored. Any backend's model works: a local one, an upstream's,
a paired server's. Every assistant reply stored carries an implicit AI-content label in its metadata.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from engine.backends import Backend, ChatRequest, CompletionRequest, LocalBackend, ModelRef, Stream
from engine.models.reasoning import THINK_OPEN, split_reply
from engine.models.template_input import ToolOffer
from engine.replies import ReplyRules, read_calls
from engine.runtime import Chunk, GenerationParams, LoadListener
from engine.vault import Vault

PRODUCER = "Enclave"
TITLE_CHARS = 60


MAX_CALLS_PER_REPLY = 8  # calls of one reply handled; more are dropped (each asks the person)


@dataclass(frozen=True)
class ToolPlan:
    """The tools a turn offers the model (engine.tools.Tools.plan), and how its reply is read."""

    offer: ToolOffer
    rules: ReplyRules
    grammar: str | None = None  # the reply must be a call (tool choice "required")


@dataclass(frozen=True)
class ToolCallRequest:
    """One call a reply made: its id, the tool's name as offered, its arguments as JSON text."""

    id: str
    name: str
    arguments: str


class ChatHost(Protocol):
    """What the chat service needs from its engine (engine.handle.Engine)."""

    @property
    def vault(self) -> Vault | None:
        """The open vault, or None (history is then not kept)."""
        ...

    def resolve(self, name: str | None) -> tuple[Backend, ModelRef]:
        """The backend and model for `name`, if the engine's actor may use it."""
        ...


def title_for(prompt: str) -> str:
    """The title a conversation gets from its first message."""
    return " ".join(prompt.split())[:TITLE_CHARS] or "New chat"


def content_label(model: ModelRef, final: Chunk | None) -> dict[str, Any]:
    """The implicit label every AI-generated reply carries (producer, model, hash, time, id)."""
    label: dict[str, Any] = {
        "ai_generated": True,
        "producer": PRODUCER,
        "model": model.name,
        "model_sha256": model.sha256,  # None: not a file on this machine
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "content_id": secrets.token_hex(12),
    }
    if not model.is_local:
        label["served_by"] = model.served_by
    if final is not None and final.usage is not None:
        label["usage"] = {
            "prompt_tokens": final.usage.prompt_tokens,
            "completion_tokens": final.usage.completion_tokens,
            "cached_prompt_tokens": final.usage.cached_prompt_tokens,
        }
        if final.tokens_per_s:
            label["tokens_per_s"] = round(final.tokens_per_s, 2)
        label["finish_reason"] = final.finish_reason
    return label


@dataclass
class TurnResult:
    """What a finished turn left behind."""

    conversation_id: str | None
    text: str
    final: Chunk | None
    label: dict[str, Any]
    message_id: str | None = None  # the stored reply (None when no vault is open)
    user_message_id: str | None = None  # the prompt stored with it (None: not stored, or regenerated)
    calls: tuple[ToolCallRequest, ...] = ()  # tool calls the reply made (only when tools were offered)


@dataclass
class Turn:
    """A reply being generated. Iterate it (or `generation`), then call `finish()` to store it."""

    generation: Stream
    model: ModelRef
    conversation_id: str | None
    _vault: Vault | None
    thinks: bool = False  # a reasoning model: it thinks before it answers
    replaces: str | None = None  # regenerate: the reply this one becomes another version of
    _parts: list[str] = field(default_factory=list)
    user_message_id: str | None = None  # the prompt as stored (None: not stored, or regenerated)
    rules: ReplyRules | None = None  # tools were offered: the reply may be calls
    sources: list[dict[str, Any]] | None = None  # document sources it answers from, stored with the reply

    def __iter__(self) -> Iterator[Chunk]:
        opened = False
        for chunk in self.generation:
            if not opened and chunk.text and self.generation.opens_thinking:
                opened = True
                if not chunk.text.lstrip().startswith(THINK_OPEN):  # unless the model wrote it again itself
                    # The template opened the model's thinking block: the reply, as shown and stored, opens
                    # it too, so it reads the same as one where the model wrote the tag.
                    chunk = replace(chunk, text=THINK_OPEN + "\n" + chunk.text)
            self._parts.append(chunk.text)
            yield chunk

    def finish(self) -> TurnResult:
        """Store the reply (even a cancelled, partial one) with its label; return it."""
        if self.generation.final is None:  # not iterated by the caller: drain it here
            for _ in self:
                pass
        text = "".join(self._parts) if self._parts else ""
        label = content_label(self.model, self.generation.final)
        calls = self._calls(text)
        if calls:
            label["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]
        if self.sources is not None:  # sealed with the reply, so reopening the conversation lists them again
            label["sources"] = self.sources
        message_id = None
        if self._vault is not None and self.conversation_id is not None:
            if self.replaces is not None:  # the earlier version stays, to switch back to
                message_id = self._vault.conversations.add_alternative(
                    self.conversation_id, self.replaces, text, metadata=label
                ).id
            else:
                message_id = self._vault.conversations.add_message(
                    self.conversation_id, "assistant", text, metadata=label
                ).id
        return TurnResult(
            self.conversation_id, text, self.generation.final, label, message_id, self.user_message_id, calls
        )

    def _calls(self, text: str) -> tuple[ToolCallRequest, ...]:
        """The tool calls in the reply (none when no tools were offered, or it was stopped)."""
        final = self.generation.final
        if self.rules is None or final is None or final.finish_reason == "cancelled":
            return ()
        if final.tool_calls:  # a remote backend reported them
            found = tuple(final.tool_calls)
        else:
            read = read_calls(text if self.rules.constrained else split_reply(text)[1], self.rules)
            found = read.calls if read is not None else ()
        return tuple(
            ToolCallRequest(f"call_{secrets.token_hex(8)}", name, arguments)
            for name, arguments in found[:MAX_CALLS_PER_REPLY]
        )


def continued_document(messages: list[dict[str, Any]]) -> str:
    """A conversation as a base model continues it: a system prompt opens the document, each reply follows
    its prompt directly (it was written as that text's continuation), and each message starts a new
    paragraph."""
    text = ""
    for message in messages:
        if message["role"] == "assistant":
            text += message["content"]
        else:
            text += ("\n\n" if text else "") + message["content"]
    return text


def _as_model_message(role: str, content: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
    """A stored message as the model gets it: replies without their thinking, tool calls and results in
    OpenAI's shape."""
    metadata = metadata or {}
    if role == "assistant":
        message: dict[str, Any] = {"role": role, "content": split_reply(content)[1]}
        if metadata.get("tool_calls"):
            message["content"] = ""  # the call is in tool_calls; its raw text would show it twice
            message["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in metadata["tool_calls"]
            ]
        return message
    if role == "tool":
        return {"role": role, "content": content, "tool_call_id": metadata.get("tool_call_id", "")}
    return {"role": role, "content": content}


class ChatService:
    """Sends chat turns through the engine's backends, keeping history in the vault when one is open."""

    def __init__(self, host: ChatHost) -> None:
        self.host = host

    @property
    def vault(self) -> Vault | None:
        """The engine's vault (it can be replaced, e.g. by the recovery flow)."""
        return self.host.vault

    def _history(self, conversation_id: str, *, before: str | None = None) -> list[dict[str, Any]]:
        """The conversation as the model gets it (the chosen version of each reply), up to message `before`."""
        assert self.vault is not None
        conversation = self.vault.conversations.get(conversation_id)
        stored = self.vault.conversations.messages(conversation_id)
        if before is not None:
            stored = stored[: next((i for i, m in enumerate(stored) if m.id == before), len(stored))]
        # Past replies go back without their thinking, as API clients send them (most reasoning models'
        # templates drop it anyway; the rest would otherwise get it back in every turn).
        messages = [_as_model_message(m.role, m.content, m.metadata) for m in stored]
        if conversation.system_prompt:
            messages.insert(0, {"role": "system", "content": conversation.system_prompt})
        return messages

    def send(
        self,
        prompt: str,
        *,
        conversation_id: str | None = None,
        model: str | None = None,
        params: GenerationParams | None = None,
        system_prompt: str | None = None,
        on_load: LoadListener | None = None,
        tools: ToolPlan | None = None,
        grounding: str | None = None,
        sources: list[dict[str, Any]] | None = None,
    ) -> Turn:
        """Store the user's message (if a vault is open) and start the reply; `on_load` hears how far the
        model has loaded when it is not in memory yet; `tools` are offered to the model; `grounding`
        (document sources for this turn) joins the system prompt for this reply only and is not stored;
        `sources` (their citations) are stored with the reply's metadata."""
        history: list[dict[str, Any]] = []
        if self.vault is not None and conversation_id is not None:
            model = model or self.vault.conversations.get(conversation_id).model
        backend, ref = self._usable_model(model)  # refuse before anything is stored
        user_message_id = None
        if self.vault is not None:
            if conversation_id is None:
                conversation_id = self.vault.conversations.create(
                    title_for(prompt), model=ref.name, system_prompt=system_prompt
                ).id
            history = self._history(conversation_id)
            user_message_id = self.vault.conversations.add_message(conversation_id, "user", prompt).id
        elif system_prompt:
            history = [{"role": "system", "content": system_prompt}]
        if grounding:
            history = _with_grounding(history, grounding)
        messages = history + [{"role": "user", "content": prompt}]
        turn = self._reply(messages, conversation_id, backend, ref, params, on_load, tools)
        turn.user_message_id = user_message_id
        turn.sources = sources
        return turn

    def resume(
        self,
        conversation_id: str,
        *,
        model: str | None = None,
        params: GenerationParams | None = None,
        on_load: LoadListener | None = None,
        tools: ToolPlan | None = None,
    ) -> Turn:
        """Reply again after the conversation's last message (a tool's result): the model continues."""
        assert self.vault is not None, "resuming needs the vault"
        backend, ref = self._usable_model(model or self.vault.conversations.get(conversation_id).model)
        return self._reply(self._history(conversation_id), conversation_id, backend, ref, params, on_load, tools)

    def regenerate(
        self,
        conversation_id: str,
        *,
        model: str | None = None,
        params: GenerationParams | None = None,
        on_load: LoadListener | None = None,
        grounding: str | None = None,
        sources: list[dict[str, Any]] | None = None,
    ) -> Turn:
        """Write the last reply again; the new version is added to it and chosen, the earlier ones kept
        (`grounding` and `sources` as for `send`: a reply from documents is written again from them)."""
        assert self.vault is not None, "regenerate needs the vault"
        stored = self.vault.conversations.messages(conversation_id)
        last = stored[-1].id if stored and stored[-1].role == "assistant" else None
        conversation = self.vault.conversations.get(conversation_id)
        backend, ref = self._usable_model(model or conversation.model)
        history = self._history(conversation_id, before=last)
        if grounding:
            history = _with_grounding(history, grounding)
        turn = self._reply(history, conversation_id, backend, ref, params, on_load)
        turn.replaces = last
        turn.sources = sources
        return turn

    def last_prompt(self, conversation_id: str) -> str | None:
        """The text of the conversation's last user message (what a regenerated reply answers)."""
        assert self.vault is not None, "needs the vault"
        users = [m for m in self.vault.conversations.messages(conversation_id) if m.role == "user"]
        return users[-1].content if users else None

    def edit_and_resend(
        self,
        conversation_id: str,
        message_id: str,
        new_text: str,
        *,
        params: GenerationParams | None = None,
        on_load: LoadListener | None = None,
    ) -> Turn:
        """Replace a user message (and everything after it) with `new_text`, then reply again. Editing the
        first message renames a conversation still titled after it."""
        assert self.vault is not None, "editing needs the vault"
        conversations = self.vault.conversations
        stored = conversations.messages(conversation_id)
        first = next((m for m in stored if m.role == "user"), None)
        renamed_by_hand = first is None or conversations.get(conversation_id).title != title_for(first.content)
        if first is not None and first.id == message_id and not renamed_by_hand:
            conversations.rename(conversation_id, title_for(new_text))
        conversations.delete_messages_from(conversation_id, message_id)
        return self.send(new_text, conversation_id=conversation_id, params=params, on_load=on_load)

    def _usable_model(self, model: str | None) -> tuple[Backend, ModelRef]:
        """The named (or default) model and its backend, refused if the engine's policy says so."""
        return self.host.resolve(model)

    def _reply(
        self,
        messages: list[dict[str, Any]],
        conversation_id: str | None,
        backend: Backend,
        ref: ModelRef,
        params: GenerationParams | None,
        on_load: LoadListener | None = None,
        tools: ToolPlan | None = None,
    ) -> Turn:
        params = params or GenerationParams()
        if ref.continues_text:
            tools = None  # a base model has no chat format to call tools in
        if tools is not None and tools.grammar is not None:
            params = replace(params, grammar=tools.grammar)
        generation: Stream
        thinks = False
        if ref.continues_text:
            # A base model has no chat format: it continues the text it is given, and a conversation is
            # one document that grows by turns. Each prompt then starts with the one before it and its
            # reply, exactly as the model produced it, so the model's cache carries over between turns.
            request = CompletionRequest(continued_document(messages), params, on_load=on_load)
            generation = backend.complete(ref, request)
        else:
            offer = tools.offer if tools is not None else None
            generation = backend.chat(ref, ChatRequest(messages, params, tools=offer, on_load=on_load))
            # Only the local runtime can read a model's template to say it reasons before it answers.
            thinks = isinstance(backend, LocalBackend) and backend.runtime.thinks(ref.name)
        return Turn(generation, ref, conversation_id, self.vault, thinks=thinks,
                    rules=tools.rules if tools is not None else None)


def _with_grounding(history: list[dict[str, Any]], grounding: str) -> list[dict[str, Any]]:
    """`history` with `grounding` after its system prompt (many chat templates allow one system message,
    first only, so it joins that one rather than being a message of its own)."""
    if history and history[0].get("role") == "system" and isinstance(history[0].get("content"), str):
        first = {**history[0], "content": f"{history[0]['content']}\n\n{grounding}"}
        return [first, *history[1:]]
    return [{"role": "system", "content": grounding}, *history]
