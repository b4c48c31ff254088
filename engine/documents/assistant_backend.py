"""Assistants as models: a backend that serves each assistant's name by searching its collections and
asking its base model to answer from the passages found, with the passages as citations.

Any OpenAI client can then chat with "hr-policies" as with any model; per-key model rules apply to the
assistant's name. The citations travel on the stream (`stream.citations`) and the HTTP route puts them
in the reply's `enclave_citations` field, which the official `openai` client keeps as an extra field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from engine.backends import Backend, ChatRequest, CompletionRequest, Embeddings, ModelRef, Stream
from engine.documents import assistants
from engine.documents.answer import citations, grounded_system_prompt
from engine.documents.assistant_tools import run_rounds, tools_for
from engine.documents.library import DocumentLibrary
from engine.errors import UserError
from engine.policy import allowlist
from engine.vault import Vault

NAME = "assistants"
FIELD = "enclave_citations"
INDEX_WAIT_S = 60.0


class AssistantHost(Protocol):
    """What the backend needs from its engine (engine.handle.Engine)."""

    @property
    def vault(self) -> Vault | None:
        """The open vault."""
        ...

    @property
    def documents(self) -> DocumentLibrary:
        """The document library."""
        ...


class AssistantBackend:
    """Serves assistants' names; the answer comes from the base model's own backend."""

    name = NAME

    def __init__(self, host: AssistantHost, base: Callable[[str], tuple[Backend, ModelRef]]) -> None:
        self._host = host
        self._base = base  # the backend and model serving a base model's name

    def _vault(self) -> Vault | None:
        return self._host.vault

    def models(self) -> list[ModelRef]:
        """Every assistant, as a model card."""
        vault = self._vault()
        if vault is None:
            return []
        return [ModelRef(a.name, NAME, served_by="local", origin=a.model) for a in assistants.list_assistants(vault)]

    def find(self, name: str) -> ModelRef | None:
        """The assistant called `name`, if there is one."""
        vault = self._vault()
        found = assistants.get(vault, name) if vault is not None else None
        return None if found is None else ModelRef(found.name, NAME, served_by="local", origin=found.model)

    def chat(self, model: ModelRef, request: ChatRequest) -> Stream:
        """Search the assistant's collections for the last user message and answer from what is found."""
        vault = self._vault()
        assistant = assistants.get(vault, model.name) if vault is not None else None
        if vault is None or assistant is None:
            raise UserError(f"no assistant named {model.name!r}")
        question = next(
            (str(m.get("content") or "") for m in reversed(request.messages) if m.get("role") == "user"), ""
        )
        library = self._host.documents
        library.wait_ready(INDEX_WAIT_S)
        hits = library.search(question, list(assistant.collections), top=assistant.top, actor="assistant")
        backend, base = self._base(assistant.model)
        if base.record is not None:
            allowlist.check_loadable(vault, base.record, actor="assistant")
        messages: list[dict[str, Any]] = [{"role": "system", "content": grounded_system_prompt(hits, assistant.system)}]
        messages += [dict(m) for m in request.messages if m.get("role") != "system"]
        asked = replace(request, messages=messages, openai=None)
        tools = tools_for(vault, assistant, request)
        stream = run_rounds(vault, tools, assistant, backend, base, asked) if tools else backend.chat(base, asked)
        stream.citations = citations(hits)  # type: ignore[attr-defined]
        return stream

    def complete(self, model: ModelRef, request: CompletionRequest) -> Stream:
        """Assistants answer chat requests only."""
        raise UserError(f"{model.name} is an assistant: use /v1/chat/completions")

    def embed(self, model: ModelRef, texts: list[str]) -> Embeddings:
        """Assistants do not embed."""
        raise UserError(f"{model.name} is an assistant: it does not make embeddings")

    def close(self) -> None:
        """Nothing to free: the library belongs to the engine."""
