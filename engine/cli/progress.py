"""A one-line progress bar on stderr for long CLI work (import, hashing)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Callable as a `(done, total)` progress callback; redraws at most ten times a second."""

    def __init__(self, label: str, *, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self._last = 0.0
        self.enabled = self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        fraction = done / total if total else 1.0
        bar = "#" * int(fraction * 30)
        self.stream.write(f"\r{self.label} [{bar:<30}] {fraction:6.1%} {done / 1e6:,.0f}/{total / 1e6:,.0f} MB")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
