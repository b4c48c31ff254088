"""Wake-ups of a decoding step's consumers, deferred to the step's end: one per consumer, not one per chunk.

A step gives every running stream its next token (several with speculation). Each consumer with an
event loop needs one wake-up of that loop (`call_soon_threadsafe`: a write to its self-pipe, a thread
switch); on a machine whose cores all decode, every wake-up is time a decoding thread waits. Inside
`step()` the model thread collects the wake-ups its chunks ask for and runs each once at the end of the
step (or at `flush()`, before llama.cpp decodes), so all chunks of a step reach a loop in one hand-off.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_local = threading.local()


def wake(callback: Callable[[], None]) -> None:
    """Run `callback` now, or at the end of the step running on this thread (once, however often asked)."""
    pending: dict[Callable[[], None], None] | None = getattr(_local, "pending", None)
    if pending is None:
        callback()
    else:
        pending[callback] = None  # (a dict: insertion-ordered, and each callback once)


def flush() -> None:
    """Run the wake-ups collected so far in this thread's step (before a long decode, say)."""
    pending: dict[Callable[[], None], None] | None = getattr(_local, "pending", None)
    if pending:
        callbacks = list(pending)
        pending.clear()
        for callback in callbacks:
            callback()


@contextmanager
def step() -> Iterator[None]:
    """Defer the wake-ups asked for on this thread until the block ends."""
    if getattr(_local, "pending", None) is not None:  # nested: the outer step flushes
        yield
        return
    _local.pending = {}
    try:
        yield
    finally:
        try:
            flush()
        finally:
            _local.pending = None
