"""Backends: one protocol for every way a model is served, chosen by model name.

- `Backend` (engine.backends.base): `models()`, `find(name) -> ModelRef | None`,
  `chat(ref, ChatRequest) -> Stream`, `complete(ref, CompletionRequest) -> Stream`,
  `embed(ref, texts) -> Embeddings`, `close()`.
- `Stream`: an iterator of `engine.runtime.Chunk` (the last carries `finish_reason` and `usage`, and
  tool calls a remote reported as such), with `cancel()`, `listen()` for event loops, `final`,
  `served_by`. The local runtime's `Generation` is one; `QueueStream` is one for producers on
  another thread or loop (upstreams, a paired server).
- `Backends` (router): backends in priority order; the first that finds a name serves it (local first,
  then upstreams, then the paired servers of `engine.backends.remote`).

A new backend (e.g. the paired server) implements `Backend`, returns `QueueStream`s, and is added with
`engine.backends.add(backend)` in `engine.handle.Engine`. Admission, key rules, budgets, accounting,
labels and reply assembly are not a backend's business: the engine does them once for all.
"""

from engine.backends.base import Backend, ChatRequest, CompletionRequest, Embeddings, ModelRef, Stream
from engine.backends.local import LocalBackend, local_ref
from engine.backends.remote import RemoteBackend
from engine.backends.router import Backends
from engine.backends.stream import QueueStream
from engine.backends.upstream import UpstreamBackend

__all__ = [
    "Backend",
    "Backends",
    "ChatRequest",
    "CompletionRequest",
    "Embeddings",
    "LocalBackend",
    "ModelRef",
    "QueueStream",
    "RemoteBackend",
    "Stream",
    "UpstreamBackend",
    "local_ref",
]
