"""Per-key counters: requests in a sliding minute and tokens in a UTC day, kept in memory.

The counters live in the server process. A restart forgets the request window (one minute at most)
and the daily counter is seeded again from the encrypted request log by whoever starts the server.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from engine.errors import UserError

WINDOW_S = 60.0


class ModelNotAllowed(UserError):
    """The API key may not use this model."""


class RateLimited(UserError):
    """A per-key limit is used up; `retry_after_s` says when to try again."""

    def __init__(self, message: str, retry_after_s: int, *, code: str = "rate_limit_exceeded") -> None:
        super().__init__(message)
        self.retry_after_s = max(1, int(retry_after_s))
        self.code = code


class RequestWindow:
    """Requests per key in a sliding window (requests per minute)."""

    def __init__(self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, limit: int) -> float | None:
        """Count one request; None if it fits `limit`, else seconds until a slot frees (not counted)."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= self.window_s:
                hits.popleft()
            if len(hits) >= limit:
                return self.window_s - (now - hits[0])
            hits.append(now)
            return None


class DailyTokens:
    """Tokens used per key since the start of the current UTC day."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._used: dict[str, tuple[date, int]] = {}
        self._lock = threading.Lock()

    def used(self, key: str) -> int:
        """Tokens `key` used today."""
        today = self._clock().date()
        with self._lock:
            day, count = self._used.get(key, (today, 0))
            return count if day == today else 0

    def add(self, key: str, tokens: int, *, when: datetime | None = None) -> None:
        """Count `tokens` for `key` (on the day of `when`, default now; older days are ignored)."""
        today = self._clock().date()
        day = (when or self._clock()).astimezone(UTC).date()
        if day != today or tokens <= 0:
            return
        with self._lock:
            stored_day, count = self._used.get(key, (today, 0))
            self._used[key] = (today, (count if stored_day == today else 0) + tokens)

    def seconds_to_reset(self) -> int:
        """Seconds until the counters start again (next UTC midnight)."""
        now = self._clock()
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        return max(1, math.ceil((midnight - now).total_seconds()))
