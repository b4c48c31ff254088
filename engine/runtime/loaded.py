"""Pieces shared by the runtime's model hosts, and `LoadedModel`, the host for embeddings.

Generation runs in `engine.runtime.batch.BatchedModel` (our own decode loop over llama.cpp, so that the
engine counts what it evaluates, reuses cached prefixes, stops within one token when cancelled, and
never splits a UTF-8 character or leaks a stop string). Embeddings use llama-cpp-python's `Llama` in
embedding mode. Only the worker thread that created a model host may call it.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

from llama_cpp import Llama
from llama_cpp import llama_cpp as C

from engine.errors import UserError
from engine.models.gguf_header import read_header
from engine.models.memory import context_per_sequence
from engine.models.reasoning import tag_start_at_end
from engine.models.registry import ModelRecord

PENALTY_WINDOW = 64


def resolve_gpu_layers(choice: str | int) -> int:
    """Map the "auto/all/none" setting to llama.cpp's n_gpu_layers."""
    if isinstance(choice, int):
        return choice
    if choice == "none":
        return 0
    if choice == "all":
        return -1
    return -1 if C.llama_supports_gpu_offload() else 0


@dataclass(frozen=True)
class LoadReport:
    """What loading a model cost."""

    load_seconds: float
    memory_bytes: int
    context_size: int
    gpu_layers: int
    threads: int


def longest_prefix(cached: list[int], tokens: list[int]) -> int:
    """How many leading tokens the two lists share.

    Runs on the model's thread for every cached sequence at every admission, while other streams wait:
    list slices compare in C, so chunks of doubling size find the region of the first difference and a
    bisection narrows it (8000 shared tokens: ~60 µs instead of ~600 µs element by element).
    """
    n = min(len(cached), len(tokens))
    lo, step = 0, 64
    while True:  # cached[:lo] == tokens[:lo]
        hi = min(n, lo + step)
        if cached[lo:hi] != tokens[lo:hi]:
            break
        if hi == n:
            return n
        lo, step = hi, step * 2
    while hi - lo > 32:  # the first difference is in [lo, hi)
        mid = (lo + hi) // 2
        if cached[lo:mid] == tokens[lo:mid]:
            lo = mid
        else:
            hi = mid
    while cached[lo] == tokens[lo]:
        lo += 1
    return lo


class StopFilter:
    """Holds back text that might be the start of a stop string, and cuts at the first stop."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.pending = ""
        self.matched: str | None = None  # the stop string that ended the text (APIs report which one)

    def feed(self, text: str) -> tuple[str, bool]:
        """Return (text safe to emit, stopped)."""
        self.pending += text
        found = [(index, stop) for stop in self.stops if (index := self.pending.find(stop)) >= 0]
        if found:
            index, self.matched = min(found, key=lambda hit: hit[0])  # the one that comes first in the text
            out, self.pending = self.pending[:index], ""
            return out, True
        hold = max((tag_start_at_end(self.pending, stop) for stop in self.stops), default=0)
        out = self.pending[: len(self.pending) - hold] if hold else self.pending
        self.pending = self.pending[len(out) :]
        return out, False

    def flush(self) -> str:
        """Whatever is held back, at the end of generation."""
        out, self.pending = self.pending, ""
        return out


class LoadedModel:
    """A llama.cpp model loaded through `Llama` (used for embeddings), owned by one thread."""

    def __init__(self, record: ModelRecord, *, embedding: bool = False) -> None:
        settings = record.settings
        self.record = record
        n_ctx = context_per_sequence(record)
        threads = settings.threads or max(1, os.cpu_count() or 1)
        gpu_layers = resolve_gpu_layers(settings.gpu_layers)
        started = time.perf_counter()
        arch = record.facts.architecture
        # Chat models do not pool (llama.cpp would return one vector per token): mean-pool them, as
        # OpenAI-style clients expect one vector per input. Embedding models keep their own pooling.
        own_pooling = read_header(record.path).metadata.get(f"{arch}.pooling_type")
        pooling = C.LLAMA_POOLING_TYPE_UNSPECIFIED if own_pooling else C.LLAMA_POOLING_TYPE_MEAN
        try:
            self.llama = Llama(
                model_path=str(record.path),
                n_ctx=n_ctx,
                n_batch=min(settings.batch_size, n_ctx),
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=gpu_layers,
                use_mmap=True,
                embedding=embedding,
                pooling_type=pooling if embedding else C.LLAMA_POOLING_TYPE_UNSPECIFIED,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise UserError(f"llama.cpp could not load model {record.name!r}: {exc}") from None
        load_seconds = time.perf_counter() - started
        memory = self.llama._model.size() + self.llama._ctx.get_state_size()  # weights + KV/state
        self.report = LoadReport(load_seconds, memory, self.llama.n_ctx(), gpu_layers, threads)

    # -- text ↔ tokens ------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]:
        """Tokens of `text`; special tokens in it (from the chat template) are recognised."""
        return self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    @property
    def metadata(self) -> dict[str, str]:
        """The GGUF key/values as llama.cpp reports them."""
        return dict(self.llama.metadata)

    @property
    def n_ctx(self) -> int:
        """Context window in tokens."""
        return self.llama.n_ctx()

    @property
    def embed_window(self) -> int:
        """Most tokens one text may have to be embedded whole (llama.cpp embeds one batch per text)."""
        return min(self.llama.n_ctx(), self.llama.n_batch)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Mean-pooled, L2-normalised embeddings (needs a model loaded with embedding=True)."""
        result = self.llama.embed(texts, normalize=True, truncate=True)
        return [list(map(float, row)) for row in result]

    def close(self) -> None:
        """Free the model and context now rather than at garbage collection."""
        with contextlib.suppress(Exception):
            self.llama.close()
