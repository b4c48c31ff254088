"""From the engine's blocking chunk iterator to the event loop, and from chunks to SSE lines.

A `Generation` blocks on a queue fed by the model's thread, so each request gets a small pump thread
that hands chunks to the event loop. Cancelling (client gone) goes the other way through the
generation's cancel token, which the model's thread checks before every token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any

from engine.runtime import Chunk, Generation

_END = object()


class ChunkPump:
    """Iterates a Generation on its own thread; `await next()` gets chunks on the event loop."""

    def __init__(self, generation: Generation) -> None:
        self.generation = generation
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._thread = threading.Thread(target=self._pump, name="api-stream", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> None:
        # The loop may already be closed when a server stops mid-generation.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _pump(self) -> None:
        try:
            for chunk in self.generation:
                self._put(chunk)
        except BaseException as exc:  # handed to the request, which maps it to an HTTP error
            self._put(exc)
        finally:
            self._put(_END)

    async def next(self) -> Chunk | None:
        """The next chunk, None at the end; re-raises an engine error."""
        item = await self._queue.get()
        if item is _END:
            return None
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, Chunk)
        return item

    def cancel(self) -> None:
        """Stop the generation (safe to call more than once, or after it finished)."""
        self.generation.cancel()


async def watch_disconnect(receive: Any, pump: ChunkPump) -> None:
    """Cancel `pump` when the client goes away (for replies that are not streamed)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            pump.cancel()
            return


def sse(data: dict[str, Any]) -> bytes:
    """One server-sent event carrying JSON, as OpenAI sends it."""
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
