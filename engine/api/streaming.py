"""From the engine's model thread to the event loop, and from chunks to SSE lines.

The model's thread hands each chunk of a request straight to the event loop (`Generation.listen` with
`call_soon_threadsafe`): no thread per stream in between, which on a machine whose cores all decode
would cost a wake-up per token. Cancelling (client gone) goes the other way through the generation's
cancel token, which the model's thread checks before every token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from engine.backends import Stream
from engine.runtime import Chunk

_END = object()


class ChunkPump:
    """`await next()` gets a Stream's chunks on the event loop that created the pump."""

    def __init__(self, generation: Stream) -> None:
        self.generation = generation
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._given = 0
        generation.listen(self._put)

    def _put(self, item: Chunk | BaseException | None) -> None:
        # Runs on the model's thread. The loop may already be closed when a server stops mid-generation.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, _END if item is None else item)

    async def next(self) -> Chunk | None:
        """The next chunk, None at the end; re-raises an engine error."""
        if self._given == 1:  # the first chunk is out: the model may decode on
            self.generation.handled()
        self._given += 1
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
