"""The local backend: models in this machine's registry, run by the llama.cpp runtime."""

from __future__ import annotations

from datetime import datetime

from engine.backends.base import ChatRequest, CompletionRequest, Embeddings, ModelRef, Stream
from engine.errors import NotFoundError
from engine.models.registry import ModelRecord
from engine.runtime import Runtime

NAME = "local"


def _created(record: ModelRecord) -> int:
    try:
        return int(datetime.fromisoformat(record.imported_at).timestamp())
    except ValueError:
        return 0


def local_ref(record: ModelRecord) -> ModelRef:
    """How the engine names a registered model."""
    return ModelRef(record.name, NAME, "local", record, record.sha256, _created(record))


class LocalBackend:
    """`Runtime` behind the backend protocol (the runtime's own `Generation` is the stream)."""

    name = NAME

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def models(self) -> list[ModelRef]:
        """Every registered model."""
        return [local_ref(record) for record in self.runtime.registry.list()]

    def find(self, name: str) -> ModelRef | None:
        """The registered model `name`, if there is one."""
        try:
            return local_ref(self.runtime.registry.get(name))
        except NotFoundError:
            return None

    def chat(self, model: ModelRef, request: ChatRequest) -> Stream:
        """A chat reply from the model's worker."""
        return self.runtime.chat(
            request.messages, request.params, model=model.name, tools=request.tools, on_load=request.on_load
        )

    def count_tokens(self, model: ModelRef, request: ChatRequest) -> int:
        """Prompt tokens of `request` as `chat` would send it (the template and tools included)."""
        return self.runtime.count_chat(request.messages, model=model.name, tools=request.tools)

    def complete(self, model: ModelRef, request: CompletionRequest) -> Stream:
        """A continuation from the model's worker."""
        return self.runtime.complete(request.prompt, request.params, model=model.name, on_load=request.on_load)

    def embed(self, model: ModelRef, texts: list[str]) -> Embeddings:
        """Embeddings from the model's embedding worker."""
        vectors, tokens = self.runtime.embed(texts, model=model.name)
        return Embeddings(vectors, tokens)

    def close(self) -> None:
        """Unload every model."""
        self.runtime.close()
