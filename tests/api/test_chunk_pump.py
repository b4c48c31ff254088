"""Chunks reach the event loop in order, with one wake-up for all the chunks that are ready together."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from engine.api.streaming import ChunkPump
from engine.backends import QueueStream
from engine.runtime import Chunk


def test_chunks_ready_together_take_one_wake_up_and_keep_their_order() -> None:
    async def main() -> tuple[list[list[str]], int]:
        loop = asyncio.get_running_loop()
        wake_ups = 0
        original = loop.call_soon_threadsafe

        def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal wake_ups
            wake_ups += 1
            return original(*args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        streams = [QueueStream("tiny"), QueueStream("tiny")]
        pumps = [ChunkPump(stream) for stream in streams]

        def produce() -> None:  # as a decoding step does: every stream's next piece, step after step
            for i in range(50):
                for n, stream in enumerate(streams):
                    stream.put(Chunk(text=f"{n}:{i} "))
            for stream in streams:
                stream.put(Chunk(text="", finish_reason="stop"))
                stream.end()

        # The loop is held up while the producer runs (as when it is busy with another request's write):
        # everything produced meanwhile is handed over with a single wake-up.
        producer = threading.Thread(target=produce)
        producer.start()
        producer.join()
        texts: list[list[str]] = [[], []]
        for n, pump in enumerate(pumps):
            while (chunk := await pump.next()) is not None:
                texts[n].append(chunk.text)
                # Everything is here at once: a route may write what follows with this chunk.
                assert pump.ready()
        return texts, wake_ups

    texts, wake_ups = asyncio.run(main())
    for n in range(2):
        assert "".join(texts[n]) == "".join(f"{n}:{i} " for i in range(50))
    assert wake_ups == 1


def test_a_pump_on_a_closed_loop_does_not_raise_on_the_producer_thread() -> None:
    stream = QueueStream("tiny")

    async def make() -> ChunkPump:
        return ChunkPump(stream)

    asyncio.run(make())  # the loop is closed once this returns
    stream.put(Chunk(text="late"))  # a server stopping mid-generation: the chunk is dropped quietly
    stream.end()
