"""`QueueStream`: a `Stream` fed by a producer on another thread (or event loop) — what remote backends return.

The producer calls `put(chunk)` for each chunk, `put(error)` for a failure, and `end()`; a consumer
either iterates (blocking) or `listen`s (its callback runs on the producer's thread and must only hand
the item over). `cancel()` sets the flag and calls the producer's `on_cancel` hook, once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

from engine.backends.base import ItemListener
from engine.runtime import Chunk


class QueueStream:
    """A reply produced elsewhere, consumed by iterating or listening."""

    def __init__(self, model_name: str, *, opens_thinking: bool = False) -> None:
        self.model_name = model_name
        self.final: Chunk | None = None
        self.served_by: str | None = None
        self._opens_thinking = opens_thinking
        self._queue: queue.Queue[Chunk | BaseException | None] = queue.Queue()
        self._listener: ItemListener | None = None
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._on_cancel: Callable[[], None] | None = None

    # -- producer side -------------------------------------------------------------------------------

    def put(self, item: Chunk | BaseException) -> None:
        """Hand over a chunk (the one with `finish_reason` last) or an error."""
        self._deliver(item)

    def end(self) -> None:
        """No more items."""
        self._deliver(None)

    def on_cancel(self, hook: Callable[[], None]) -> None:
        """Call `hook` (from the cancelling thread) when the consumer cancels; at once if it already did."""
        with self._lock:
            self._on_cancel = hook
        if self._cancelled.is_set():
            hook()

    @property
    def cancelled(self) -> bool:
        """True once the consumer cancelled."""
        return self._cancelled.is_set()

    def _deliver(self, item: Chunk | BaseException | None) -> None:
        if isinstance(item, Chunk) and item.finish_reason is not None:
            self.final = item
        with self._lock:
            listener = self._listener
            if listener is None:
                self._queue.put(item)
                return
        listener(item)

    # -- consumer side -------------------------------------------------------------------------------

    @property
    def opens_thinking(self) -> bool:
        """Whether the reply begins inside a thinking block."""
        return self._opens_thinking

    def __iter__(self) -> Iterator[Chunk]:
        try:
            while (item := self._queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if self.final is None:  # the consumer stopped early: stop the producer
                self.cancel()

    def listen(self, on_item: ItemListener) -> None:
        """Hand every item (those already queued first) to `on_item`."""
        with self._lock:
            while True:
                try:
                    on_item(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._listener = on_item

    def handled(self) -> None:
        """Nothing to pace: the producer does not wait for its consumer."""

    def cancel(self) -> None:
        """Stop the reply (the producer's hook runs once)."""
        if self._cancelled.is_set():
            return
        self._cancelled.set()
        with self._lock:
            hook = self._on_cancel
        if hook is not None:
            hook()

    def text(self) -> str:
        """Consume the whole reply and return its text."""
        return "".join(chunk.text for chunk in self)
