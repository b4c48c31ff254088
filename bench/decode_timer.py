"""Time every `llama_decode` call of this process, to tell llama.cpp's work from the host's around it.

`install()` wraps `llama_cpp.llama_cpp.llama_decode` (the engine calls it through that module at call
time), recording each call's (start, end) on `time.perf_counter` (CLOCK_MONOTONIC on Linux: comparable
across processes). `python -m bench.decode_timer OUT.json ARGS…` runs `enclave ARGS…` with the timer
installed, and writes the recorded intervals to OUT.json whenever it receives SIGUSR1, and the native
thread id of each named thread (the API's event loop runs on "api-server") to OUT.threads.json.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

INTERVALS: list[tuple[float, float]] = []
_lock = threading.Lock()


def install() -> None:
    """Wrap llama.cpp's decode so that every call's wall time is recorded in `INTERVALS`."""
    from llama_cpp import llama_cpp as C

    original: Callable[..., int] = C.llama_decode
    if getattr(original, "_timed", False):
        return

    def timed(*args: Any) -> int:
        started = time.perf_counter()
        try:
            return original(*args)
        finally:
            ended = time.perf_counter()
            with _lock:
                INTERVALS.append((started, ended))

    timed._timed = True  # type: ignore[attr-defined]
    C.llama_decode = timed


def decode_time_within(intervals: list[tuple[float, float]], start: float, end: float) -> float:
    """Seconds spent inside llama_decode between `start` and `end`."""
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in intervals)


def main() -> int:
    """Run the enclave CLI with the timer installed; SIGUSR1 dumps the intervals to argv[1]."""
    out = Path(sys.argv[1])

    def dump(_signum: int, _frame: object) -> None:
        with _lock:
            data = list(INTERVALS)
        threads = {thread.name: thread.native_id for thread in threading.enumerate()}
        named = out.with_suffix(".threads.part")
        named.write_text(json.dumps(threads))
        named.replace(out.with_suffix(".threads.json"))  # before the intervals, which readers wait for
        partial = out.with_suffix(".part")
        partial.write_text(json.dumps(data))
        partial.replace(out)

    install()
    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["enclave", *sys.argv[2:]]
    from engine.cli import main as enclave

    return int(enclave() or 0)


if __name__ == "__main__":
    sys.exit(main())
