"""The backend seam: what every backend serves (`chat / complete / embed`) and what it returns.

A backend is anything that turns a model name into replies: the local llama.cpp runtime
(`engine.backends.local.LocalBackend`), an OpenAI-compatible upstream (`engine.backends.upstream`), a
paired Enclave appliance. Each returns a `Stream`: an iterator of `engine.runtime.Chunk`s, the last one
carrying `finish_reason` and `usage`, with `cancel()` callable from any thread and `listen()` for event
loops. Everything else (admission, key rules, budgets, accounting, labels, reply assembly, storing
turns) happens once, above this seam, for every backend alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from engine.models.registry import ModelRecord
from engine.models.template_input import ToolOffer
from engine.runtime import Chunk, GenerationParams, LoadListener
from engine.vault.records import ApiKeyRecord

ItemListener = Callable[[Chunk | BaseException | None], None]


@dataclass(frozen=True)
class ModelRef:
    """A model as the engine offers it, whichever backend serves it.

    `record` is the registry's record for a local model (None elsewhere); `sha256` names the weights when
    this machine knows them; `served_by` is what the reply's label says ("local", "upstream", "remote").
    """

    name: str
    backend: str  # the name of the Backend that serves it ("local", "upstreams", "remote:NAME", …)
    served_by: str = "local"
    record: ModelRecord | None = None
    sha256: str | None = None
    created: int = 0  # unix time it was added (model cards)
    origin: str | None = None  # where it lives, for a person: the upstream's or server's name

    @property
    def is_local(self) -> bool:
        """True for a model this machine runs itself."""
        return self.record is not None

    @property
    def continues_text(self) -> bool:
        """A base model without a chat format: a conversation is one growing document (engine.chat)."""
        return self.record is not None and self.record.is_base_model and not self.record.settings.chat_template


@dataclass(frozen=True)
class ChatRequest:
    """One chat generation: the messages, sampling settings, and the tools the model is shown.

    `openai` is the request as an API client sent it (OpenAI's shape, unset fields left out), when it
    came through the HTTP API: a backend that speaks OpenAI itself forwards it (its `model`, `stream` and
    `max_tokens` replaced by the engine's), so nothing a client asked for is lost on the way; the local
    runtime ignores it.
    """

    messages: Sequence[Mapping[str, Any]]
    params: GenerationParams = field(default_factory=GenerationParams)
    tools: ToolOffer | None = None
    openai: Mapping[str, Any] | None = None
    # Hears how far a model that must be loaded first has come (the local runtime; others never load).
    on_load: LoadListener | None = field(default=None, compare=False)
    # The API key the request came with (None: the desktop or the command line); what an assistant's
    # server-side tools are governed by (engine.documents.assistant_tools).
    caller: ApiKeyRecord | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CompletionRequest:
    """One plain continuation of `prompt` (no chat template); `openai` as in `ChatRequest`.

    `tokens`: the prompt as the model's token ids instead of text. `suffix`: what follows the gap the
    model fills in (fill-in-the-middle, with the model's FIM tokens). `echo`: the reply starts with the prompt.
    """

    prompt: str
    params: GenerationParams = field(default_factory=GenerationParams)
    openai: Mapping[str, Any] | None = None
    on_load: LoadListener | None = field(default=None, compare=False)  # as in ChatRequest
    tokens: tuple[int, ...] | None = None
    suffix: str | None = None
    echo: bool = False


@dataclass(frozen=True)
class Embeddings:
    """Vectors of a list of texts, and the tokens they took."""

    vectors: list[list[float]]
    prompt_tokens: int
    served_by: str | None = None  # the upstream or server that computed them (None: this machine)


@runtime_checkable
class Stream(Protocol):
    """A reply being generated: iterate it (or `listen`), `cancel()` from any thread.

    `final` is the last chunk once it arrived; `opens_thinking` says the reply starts inside a thinking
    block its prompt opened; `served_by` names the upstream or server that answered (None: this machine),
    known once the first chunk is out. `engine.runtime.Generation` is the local one.
    """

    final: Chunk | None
    served_by: str | None

    @property
    def opens_thinking(self) -> bool:
        """Whether the reply begins inside a thinking block (known once a chunk is out)."""
        ...

    def __iter__(self) -> Iterator[Chunk]:
        """The chunks; a consumer that stops iterating cancels the work."""
        ...

    def cancel(self) -> None:
        """Stop generating (safe to call more than once, or after the end)."""
        ...

    def listen(self, on_item: ItemListener) -> None:
        """Have each chunk, an error, then None handed to `on_item` (instead of iterating)."""
        ...

    def handled(self) -> None:
        """A listener delivered what it was handed so far (backends may pace themselves by it)."""
        ...


class Backend(Protocol):
    """Serves the models it `find`s. Blocking calls: the API runs them off its event loop."""

    name: str

    def models(self) -> list[ModelRef]:
        """Every model this backend offers now (no network: definitions, not health)."""
        ...

    def find(self, name: str) -> ModelRef | None:
        """The model `name` if this backend serves it."""
        ...

    def chat(self, model: ModelRef, request: ChatRequest) -> Stream:
        """Start a chat reply; errors before the first chunk may come out of the stream itself."""
        ...

    def complete(self, model: ModelRef, request: CompletionRequest) -> Stream:
        """Start a plain continuation."""
        ...

    def embed(self, model: ModelRef, texts: list[str]) -> Embeddings:
        """Embeddings of `texts`."""
        ...

    def close(self) -> None:
        """Free what the backend holds (threads, connections, loaded models)."""
        ...
