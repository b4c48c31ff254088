"""What one request carries between the middleware (auth, logging) and its route."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from engine.api.errors import ApiError
from engine.vault.records import ApiKeyRecord

STATE_KEY = "enclave"


@dataclass
class RequestContext:
    """Filled in by the route; read by the middleware when it logs the request."""

    key: ApiKeyRecord
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    request_text: str | None = None
    response_text: str | None = None
    disconnected: bool = False  # the client left before the reply was complete
    upstream: str | None = None  # the upstream that served it (None: this machine)


class Admission:
    """Caps generation requests in flight (running plus waiting); the rest get 429 at once."""

    def __init__(self, limit: int, retry_after_s: int) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        self._active = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        """Take a slot or raise a 429 ApiError with Retry-After."""
        with self._lock:
            if self._active >= self.limit:
                raise ApiError(
                    429,
                    "the server has too many requests in progress; try again shortly",
                    code="server_busy",
                    headers={"Retry-After": str(self.retry_after_s)},
                )
            self._active += 1

    def leave(self) -> None:
        """Give a slot back."""
        with self._lock:
            self._active = max(0, self._active - 1)

    @property
    def active(self) -> int:
        """Requests holding a slot now."""
        return self._active
