"""From the engine's model thread to the event loop, and from chunks to SSE lines.

The model's thread hands each chunk of a request straight to the event loop (`Generation.listen`, and
one `call_soon_threadsafe` for all the chunks a decoding step produced, engine.runtime.handoff): no
thread per stream in between, which on a machine whose cores all decode would cost a wake-up per token.
Cancelling (client gone) goes the other way through the generation's cancel token, which the model's
thread checks before every token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import weakref
from json.encoder import encode_basestring
from typing import Any

from engine.backends import Stream
from engine.runtime import Chunk, handoff

_END = object()


class _Mailbox:
    """Items for the pumps of one event loop, handed over with one wake-up for all that arrive together.

    A decoding step gives every running stream its next token at once: one `call_soon_threadsafe` (a
    write to the loop's self-pipe, a wake-up of its thread) per step rather than one per chunk. The
    model's thread defers that wake-up to the end of its step (engine.runtime.handoff), so the chunks of
    all streams of the step are delivered together, however fast the loop would have woken for the first.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._items: list[tuple[asyncio.Queue[Any], Any]] = []

    def post(self, queue: asyncio.Queue[Any], item: Any) -> None:
        """From any thread: put `item` into `queue` on the loop, in order."""
        with self._lock:
            wake = not self._items
            self._items.append((queue, item))
        if wake:  # else a delivery is already asked for and will take this item too
            handoff.wake(self._schedule)

    def _schedule(self) -> None:
        # The loop may already be closed when a server stops mid-generation.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        for queue, item in items:
            queue.put_nowait(item)


_mailboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Mailbox] = weakref.WeakKeyDictionary()


def _mailbox(loop: asyncio.AbstractEventLoop) -> _Mailbox:
    mailbox = _mailboxes.get(loop)
    if mailbox is None:  # (only the loop's own thread gets here: pumps are made on the loop)
        mailbox = _mailboxes[loop] = _Mailbox(loop)
    return mailbox


class ChunkPump:
    """`await next()` gets a Stream's chunks on the event loop that created the pump."""

    def __init__(self, generation: Stream) -> None:
        self.generation = generation
        self._mailbox = _mailbox(asyncio.get_running_loop())
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._given = 0
        generation.listen(self._put)

    def _put(self, item: Chunk | BaseException | None) -> None:
        # Runs on the model's thread.
        self._mailbox.post(self._queue, _END if item is None else item)

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

    def ready(self) -> bool:
        """Whether the next chunk (or the end) is already here: a caller may then write both at once."""
        return not self._queue.empty()

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


# One encoder for every event: json.dumps with options other than the defaults builds a new one per call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def compact_json(data: Any) -> str:
    """`data` as JSON without spaces, non-ASCII kept (as json.dumps(…, ensure_ascii=False, separators=…))."""
    return _JSON.encode(data)


def sse(data: dict[str, Any]) -> bytes:
    """One server-sent event carrying JSON, as OpenAI sends it."""
    return b"data: " + _JSON.encode(data).encode() + b"\n\n"


SLOTS = tuple(f"\x00enclave-slot-{i}\x00" for i in range(4))
"""Stand-ins for the values an `SseTemplate` fills in: put SLOTS[0], SLOTS[1]… where they go."""


class SseTemplate:
    """An event whose JSON is fixed but for a few values (a token's text, a sequence number).

    A stream's per-token events differ only there: the bytes around them are encoded once, and each
    event costs one string encoding (the C encoder json.dumps itself uses) and a join. The output is
    byte for byte what formatting the event with the values in place gives: a JSON object's encoding is the
    concatenation of its members' encodings.
    """

    def __init__(self, whole: bytes) -> None:
        """`whole`: the event formatted with SLOTS in place of the values (e.g. `sse(data)`)."""
        self._parts: list[bytes] = []
        for slot in SLOTS:
            before, found, whole = whole.partition(encode_basestring(slot).encode())
            if not found:
                whole = before
                break
            self._parts.append(before)
        self._parts.append(whole)

    def __call__(self, *values: str | int) -> bytes:
        """The event with `values` in the slots, in order (strings as JSON strings, ints as numbers)."""
        parts = self._parts
        out = [parts[0]]
        for value, after in zip(values, parts[1:], strict=True):
            out.append((encode_basestring(value) if isinstance(value, str) else str(int(value))).encode())
            out.append(after)
        return b"".join(out)


SSE_DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
