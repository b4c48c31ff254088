"""One thread per loaded model: it owns the llama.cpp context and serves requests in arrival order.

Callers never touch the model. They get a `Generation`, an iterator of chunks fed through a queue, with
a cancel handle; a request waits its turn and is never cut off by a later one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from engine.errors import EnclaveError, UserError
from engine.models.registry import ModelRecord
from engine.runtime.loaded import LoadedModel, LoadReport
from engine.runtime.types import CancelToken, Chunk, GenerationParams, RuntimeBusy

_DONE = object()
PromptBuilder = Callable[[LoadedModel], list[int]]


@dataclass
class _Job:
    build_prompt: PromptBuilder
    params: GenerationParams
    cancel: CancelToken
    out: queue.Queue[Any] = field(default_factory=queue.Queue)
    enqueued_at: float = field(default_factory=time.perf_counter)


@dataclass
class _Call:
    """Any other work that must run on the owning thread (tokenize, embed)."""

    fn: Callable[[LoadedModel], Any]
    future: Future[Any] = field(default_factory=Future)


class Generation:
    """An iterator of `Chunk`s for one request, with `cancel()` callable from any thread."""

    def __init__(self, job: _Job, model_name: str) -> None:
        self._job = job
        self.model_name = model_name
        self.final: Chunk | None = None

    def cancel(self) -> None:
        """Stop the generation before its next token (or drop it from the queue)."""
        self._job.cancel.cancel()

    def __iter__(self) -> Iterator[Chunk]:
        try:
            while True:
                item = self._job.out.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                if item.finish_reason is not None:
                    self.final = item
                yield item
        finally:
            # A consumer that stops iterating (client gone, GUI closed) cancels the work.
            if self.final is None:
                self.cancel()

    def text(self) -> str:
        """Consume the whole generation and return its text."""
        return "".join(chunk.text for chunk in self)


class ModelWorker:
    """The thread that loads one model and runs its requests one after another."""

    def __init__(self, record: ModelRecord, *, max_queue: int = 64, embedding: bool = False) -> None:
        self.record = record
        self._queue: queue.Queue[_Job | _Call | None] = queue.Queue(maxsize=max_queue)
        self._loaded: Future[LoadReport] = Future()
        self._busy = threading.Event()
        self.last_used = time.monotonic()
        self._embedding = embedding
        self._thread = threading.Thread(target=self._run, name=f"model-{record.name}", daemon=True)
        self._thread.start()

    def wait_loaded(self, timeout: float | None = None) -> LoadReport:
        """Block until the model is in memory; re-raises a load failure."""
        return self._loaded.result(timeout)

    @property
    def idle(self) -> bool:
        """No request running or waiting."""
        return not self._busy.is_set() and self._queue.empty()

    def submit(
        self, build_prompt: PromptBuilder, params: GenerationParams, cancel: CancelToken | None = None
    ) -> Generation:
        """Queue a generation; the prompt is built (tokenised) on the owning thread."""
        job = _Job(build_prompt, params.validated(), cancel or CancelToken())
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise RuntimeBusy(f"model {self.record.name!r} has too many requests waiting; try again shortly") from None
        self.last_used = time.monotonic()
        return Generation(job, self.record.name)

    def call(self, fn: Callable[[LoadedModel], Any]) -> Any:
        """Run `fn(loaded_model)` on the owning thread and return its result."""
        request = _Call(fn)
        self._queue.put(request)
        self.last_used = time.monotonic()
        return request.future.result()

    def stop(self) -> None:
        """Finish queued work, free the model and end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        try:
            model = LoadedModel(self.record, embedding=self._embedding)
        except BaseException as exc:  # reported to whoever waits on the load
            self._loaded.set_exception(exc)
            return
        self._loaded.set_result(model.report)
        try:
            while (item := self._queue.get()) is not None:
                self._busy.set()
                try:
                    if isinstance(item, _Call):
                        self._serve_call(model, item)
                    else:
                        self._serve_job(model, item)
                finally:
                    self.last_used = time.monotonic()
                    self._busy.clear()
        finally:
            model.close()

    @staticmethod
    def _serve_call(model: LoadedModel, call: _Call) -> None:
        try:
            call.future.set_result(call.fn(model))
        except BaseException as exc:
            call.future.set_exception(exc)

    @staticmethod
    def _serve_job(model: LoadedModel, job: _Job) -> None:
        if job.cancel.cancelled:  # cancelled while waiting: never started
            job.out.put(_DONE)
            return
        queued = time.perf_counter() - job.enqueued_at
        try:
            tokens = job.build_prompt(model)
            for chunk in model.generate(tokens, job.params, job.cancel, queued_s=queued):
                job.out.put(chunk)
        except EnclaveError as exc:
            job.out.put(exc)
        except Exception as exc:  # llama.cpp failures become one clear error, not a dead thread
            job.out.put(UserError(f"generation failed: {type(exc).__name__}"))
        job.out.put(_DONE)
