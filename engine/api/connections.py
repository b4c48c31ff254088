"""Connection limits uvicorn lacks: a cap on open connections and deadlines for reading a request.

uvicorn times out idle keep-alive connections between requests only; a connection that never sends a
byte, or sends half a request line and stops, stays open for good, and nothing caps how many there are,
so a client on a LAN bind can use up the server's file descriptors. This h11 protocol adds:
- a connection cap: one over `max_connections` gets `503` and is closed at once;
- a header deadline: the request line and headers must arrive within `header_timeout_s` of the
  connection (or of the first byte after a keep-alive pause);
- a body deadline: the whole body within `body_timeout_s` after the headers.
A missed deadline gets `408` (when no response has started) and the connection is closed. The deadlines
count from the start, so trickling one byte at a time does not extend them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from engine.api.errors import error_body
from engine.api.settings import ApiSettings


def _raw_error(status: int, reason: str, message: str, code: str, extra: str = "") -> bytes:
    """A complete HTTP/1.1 error response that closes the connection (written without h11's state)."""
    body = error_body(status, message, code=code)
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        f"{extra}connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


BUSY = _raw_error(503, "Service Unavailable", "the server has too many open connections", "too_many_connections",
                  "retry-after: 1\r\n")
TIMEOUT = _raw_error(408, "Request Timeout", "the request was not received in time", "request_timeout")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a connection cap and request read deadlines (see the module docstring)."""

    settings: ApiSettings = ApiSettings()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: Any = None  # h11.IDLE (headers) or h11.SEND_BODY (body) while a deadline runs

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Refuse a connection over the cap; otherwise start the header deadline."""
        super().connection_made(transport)
        if len(self.connections) > self.settings.max_connections:
            transport.write(BUSY)
            transport.close()
            return
        self._arm(h11.IDLE, self.settings.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        """Parse as uvicorn does, then move the read deadline along with the request's state."""
        super().data_received(data)
        if not self.transport.is_closing():
            self._follow()

    def on_response_complete(self) -> None:
        """Between requests uvicorn's keep-alive timeout applies; a new request's first byte re-arms."""
        self._disarm()
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
            self._follow()  # a pipelined request already started

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the deadline with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def _follow(self) -> None:
        state = self.conn.their_state
        if state is h11.IDLE:
            self._arm(h11.IDLE, self.settings.header_timeout_s)
        elif state is h11.SEND_BODY:
            self._arm(h11.SEND_BODY, self.settings.body_timeout_s)
        else:  # the request is complete (or the connection is ending): the app's time now
            self._disarm()

    def _arm(self, waiting_for: Any, seconds: float) -> None:
        if self._deadline is not None and self._waiting_for is waiting_for:
            return  # already counting: more bytes do not extend the deadline
        self._disarm()
        self._waiting_for = waiting_for
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self._waiting_for = None

    def _expired(self) -> None:
        self._deadline = self._waiting_for = None
        if self.transport.is_closing():
            return
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):  # no response of ours has started
            self.transport.write(TIMEOUT)
        self.transport.close()


def protocol_for(settings: ApiSettings) -> type[GuardedH11Protocol]:
    """The protocol class uvicorn should build connections with, bound to these settings."""
    return type("EnclaveH11Protocol", (GuardedH11Protocol,), {"settings": settings})
