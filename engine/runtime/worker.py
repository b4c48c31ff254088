"""One thread per loaded model: it owns the llama.cpp context and schedules every request on it.

Callers never touch the model. They get a `Generation`, an iterator of chunks fed through a queue, with
a cancel handle. Requests are admitted in arrival order into the model's parallel sequences and decode
together (continuous batching); one that finds every sequence busy waits its turn, and no request is
ever cut off by a later one.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from engine.errors import EnclaveError, UserError
from engine.models.registry import ModelRecord
from engine.runtime import handoff
from engine.runtime.batch import BatchedModel
from engine.runtime.loaded import LoadedModel, LoadReport
from engine.runtime.types import CancelToken, Chunk, GenerationParams, Prompt, RuntimeBusy

_DONE = object()
_NOTHING = object()
ServingModel = BatchedModel | LoadedModel
PromptBuilder = Callable[[ServingModel], Prompt]
# After a step that started a reply, the model waits at most this long for the reply's consumer to have
# handled its first chunk before decoding on. On a machine whose cores all decode, the next step would
# otherwise make the thread that delivers the first token (the event loop, the GUI) fight the decoding
# threads for a core. Measured on 2 cores at turn 10 of the serving bench, from the token sampled to the
# client holding it: 2.4–9.4 ms (median ~6) without the hand-over, 3.7–4.3 ms with it.
FIRST_CHUNK_HANDOFF_S = 0.005
# Work ahead (a finished conversation's expected continuation) starts only after the model has been idle
# this long: the replies that just ended reach their readers first, and a request that arrives meanwhile
# goes first.
IDLE_BEFORE_WORK_AHEAD_S = 0.01


class _Outbox:
    """Where the model thread puts a request's chunks: a queue, or a listener called in its place.

    A listener (the API's event loop) gets each chunk straight from the model thread, without a thread
    of its own in between: on a machine whose cores all decode, every extra thread wake-up is a wait.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._listener: Callable[[Any], None] | None = None
        self.streaming = False  # the first item was a piece of a reply still being generated
        self.started = False  # anything was put
        self._first_handled = threading.Event()

    def put(self, item: Any) -> None:
        with self._lock:  # held while calling, so a listener sees items in order
            if not self.started:
                self.started = True
                self.streaming = isinstance(item, Chunk) and item.finish_reason is None
            if self._listener is None:
                self._queue.put(item)
            else:
                self._listener(item)

    def get(self) -> Any:
        return self._queue.get()

    def handled(self) -> None:
        """The consumer has dealt with what it was given (the first chunk at least) and wants more."""
        self._first_handled.set()

    def wait_handled(self, timeout: float) -> None:
        self._first_handled.wait(timeout)

    def listen(self, listener: Callable[[Any], None]) -> None:
        """From now on call `listener(item)` for every item, starting with those already waiting."""
        with self._lock:
            while True:
                try:
                    listener(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._listener = listener


@dataclass
class _Job:
    build_prompt: PromptBuilder
    params: GenerationParams
    cancel: CancelToken
    out: _Outbox = field(default_factory=_Outbox)
    enqueued_at: float = field(default_factory=time.perf_counter)
    opens_thinking: bool = False  # set from the built prompt before its first chunk is out
    prompt_tokens: int | None = None  # likewise: how many tokens the prompt has


@dataclass
class _Call:
    """Any other work that must run on the owning thread (tokenize, embed)."""

    fn: Callable[[ServingModel], Any]
    future: Future[Any] = field(default_factory=Future)


class Generation:
    """An iterator of `Chunk`s for one request, with `cancel()` callable from any thread."""

    def __init__(self, job: _Job, model_name: str) -> None:
        self._job = job
        self.model_name = model_name
        self.final: Chunk | None = None
        self.served_by: str | None = None  # this machine (engine.backends.base.Stream)

    @property
    def opens_thinking(self) -> bool:
        """Whether the reply starts inside a thinking block its prompt opened (known once a chunk is out)."""
        return self._job.opens_thinking

    @property
    def prompt_tokens(self) -> int | None:
        """How many tokens the prompt has (known once a chunk is out; before the reply's usage arrives)."""
        return self._job.prompt_tokens

    def cancel(self) -> None:
        """Stop the generation before its next token (or drop it from the queue)."""
        self._job.cancel.cancel()

    def __iter__(self) -> Iterator[Chunk]:
        try:
            while (item := self._job.out.get()) is not _DONE and item is not None:
                if isinstance(item, BaseException):
                    raise item
                if item.finish_reason is not None:
                    self.final = item
                yield item
                self._job.out.handled()
        finally:
            # A consumer that stops iterating (client gone, GUI closed) cancels the work.
            if self.final is None:
                self.cancel()

    def listen(self, on_item: Callable[[Chunk | BaseException | None], None]) -> None:
        """Have the model's thread call `on_item` with each chunk, an engine error, then None at the end.

        Instead of iterating, for consumers with their own event loop: `on_item` runs on the model's
        thread, so it must only hand the item over (e.g. `loop.call_soon_threadsafe`) and never block.
        Call `handled()` once the first chunk is delivered: the model holds back its next step until
        then (a few milliseconds at most), so that delivery does not compete with decoding.
        """

        def forward(item: Any) -> None:
            if item is _DONE or item is None:
                on_item(None)
                return
            if isinstance(item, Chunk) and item.finish_reason is not None:
                self.final = item
            on_item(item)

        self._job.out.listen(forward)

    def handled(self) -> None:
        """A listener has delivered what it was handed so far (see `listen`)."""
        self._job.out.handled()

    def text(self) -> str:
        """Consume the whole generation and return its text."""
        return "".join(chunk.text for chunk in self)


class ModelWorker:
    """The thread that loads one model and schedules its requests.

    Generation workers run a `BatchedModel` (continuous batching); embedding workers a `LoadedModel`
    with llama.cpp's embedding mode, serving one call at a time.
    """

    def __init__(
        self,
        record: ModelRecord,
        *,
        max_queue: int = 64,
        embedding: bool = False,
        adapter: bytes | None = None,
        draft: ModelRecord | None = None,
    ) -> None:
        self.record = record
        self.draft = draft  # the draft model's record (engine.runtime.draft_model)
        self._adapter = adapter  # an adapted model's LoRA, handed to the model thread once
        self._queue: queue.Queue[_Job | _Call | None] = queue.Queue(maxsize=max_queue)
        self._loaded: Future[LoadReport] = Future()
        self._busy = threading.Event()
        self._abort = threading.Event()  # cancel everything admitted or waiting, once
        self.last_used = time.monotonic()
        self._embedding = embedding
        self.load_fraction = 0.0  # how much of the file llama.cpp has read, while loading
        self._thread = threading.Thread(target=self._run, name=f"model-{record.name}", daemon=True)
        self._thread.start()

    def wait_loaded(self, timeout: float | None = None) -> LoadReport:
        """Block until the model is in memory; re-raises a load failure."""
        return self._loaded.result(timeout)

    @property
    def loading(self) -> bool:
        """True until the model is in memory (or failed to load)."""
        return not self._loaded.done()

    def _progress(self, fraction: float) -> None:
        self.load_fraction = max(self.load_fraction, min(1.0, fraction))

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

    def call(self, fn: Callable[[ServingModel], Any]) -> Any:
        """Run `fn(model)` on the owning thread and return its result."""
        request = _Call(fn)
        self._queue.put(request)
        self.last_used = time.monotonic()
        return request.future.result()

    def abort(self) -> None:
        """Cancel every request running or waiting now (server shutdown); the worker stays usable."""
        self._abort.set()
        with contextlib.suppress(queue.Full):  # a full queue means a busy scheduler, which looks anyway
            self._queue.put_nowait(_Call(lambda _: None))  # wakes an idle scheduler

    def stop(self) -> None:
        """Finish queued work, free the model and end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        try:
            model: ServingModel = (
                LoadedModel(self.record, embedding=True)
                if self._embedding
                else BatchedModel(self.record, on_progress=self._progress, adapter=self._adapter, draft=self.draft)
            )
            self._adapter = None
        except BaseException as exc:  # reported to whoever waits on the load
            self._loaded.set_exception(exc)
            return
        self._loaded.set_result(model.report)
        try:
            if isinstance(model, BatchedModel):
                self._schedule(model)
            else:
                while (item := self._queue.get()) is not None:
                    if isinstance(item, _Call):
                        self._serve_call(model, item)
                    else:
                        item.out.put(UserError("this model instance serves embeddings only"))
                        item.out.put(_DONE)
        finally:
            model.close()

    def _schedule(self, model: BatchedModel) -> None:
        """Admit waiting requests into free sequences and step the batch until told to stop."""
        waiting: deque[_Job] = deque()
        starting: list[_Job] = []  # admitted, first chunk not yet out
        stopping = False
        while not (stopping and not waiting and not model.active):
            busy = bool(model.active or waiting)
            if busy:
                self._busy.set()
            else:
                self._busy.clear()
            # Block only when there is nothing to do; otherwise take what has arrived and go on.
            item: object
            try:
                if busy or stopping:
                    item = self._queue.get_nowait()
                elif model.has_work_ahead:
                    item = self._queue.get(timeout=IDLE_BEFORE_WORK_AHEAD_S)
                else:
                    item = self._queue.get()
            except queue.Empty:
                item = _NOTHING
            while item is not _NOTHING:
                if item is None:
                    stopping = True
                elif isinstance(item, _Call):
                    self._serve_call(model, item)
                elif isinstance(item, _Job):
                    waiting.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = _NOTHING
            if self._abort.is_set():
                self._abort.clear()
                for job in waiting:
                    job.cancel.cancel()
                for request in model.active:
                    request.cancel.cancel()
            # In arrival order; a deterministic request waits only for a free lane of its own context
            # (engine.runtime.deterministic), never for a free sequence.
            for job in [job for job in waiting if model.can_admit(job.params)]:
                if not model.can_admit(job.params):
                    continue  # (the last free lane taken just now)
                waiting.remove(job)
                self._admit(model, job)
                starting.append(job)
            if model.active or (model.has_work_ahead and not stopping):
                with handoff.step():  # the step's chunks reach each event loop in one wake-up
                    model.step()
            if starting:
                starting = self._hand_over_first_chunks(starting)
            self.last_used = time.monotonic()
        self._busy.clear()

    @staticmethod
    def _hand_over_first_chunks(starting: list[_Job]) -> list[_Job]:
        """Let the consumers of replies that just started deliver their first chunk; the jobs still starting."""
        deadline = time.perf_counter() + FIRST_CHUNK_HANDOFF_S
        still: list[_Job] = []
        for job in starting:
            if job.cancel.cancelled:  # nobody is waiting for it any more
                continue
            if not job.out.started:
                still.append(job)
            elif job.out.streaming:
                job.out.wait_handled(max(0.0, deadline - time.perf_counter()))
        return still

    @staticmethod
    def _admit(model: BatchedModel, job: _Job) -> None:
        if job.cancel.cancelled:  # cancelled while waiting: never started
            job.out.put(_DONE)
            return
        queued = time.perf_counter() - job.enqueued_at
        try:
            prompt = job.build_prompt(model)
            job.opens_thinking = prompt.opens_thinking
            job.prompt_tokens = len(prompt.tokens)
            model.admit(prompt.tokens, job.params, job.cancel, job.out.put, queued, turn_change=prompt.turn_change)
            if prompt.echo:  # before any token: admitting only queues the request for the next step
                job.out.put(Chunk(text=prompt.echo, logprobs=prompt.echo_logprobs))
        except EnclaveError as exc:
            job.out.put(exc)
            job.out.put(_DONE)
        except Exception as exc:  # llama.cpp failures become one clear error, not a dead thread
            job.out.put(UserError(f"generation failed: {type(exc).__name__}"))
            job.out.put(_DONE)

    @staticmethod
    def _serve_call(model: ServingModel, call: _Call) -> None:
        try:
            call.future.set_result(call.fn(model))
        except BaseException as exc:
            call.future.set_exception(exc)
