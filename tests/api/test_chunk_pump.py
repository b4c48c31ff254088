"""Chunks reach the event loop in order, with one wake-up for all the chunks that are ready together."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from engine.api.streaming import ChunkPump
from engine.backends import QueueStream
from engine.runtime import Chunk


def count_wake_ups(loop: asyncio.AbstractEventLoop) -> list[int]:
    """Count the loop's thread-safe wake-ups from now on: the count is the returned list's one item."""
    count = [0]
    original = loop.call_soon_threadsafe

    def counted(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return original(*args, **kwargs)

    loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
    return count


def test_chunks_ready_together_take_one_wake_up_and_keep_their_order() -> None:
    async def main() -> tuple[list[list[str]], int]:
        wake_ups = count_wake_ups(asyncio.get_running_loop())
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
        return texts, wake_ups[0]

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


def test_the_chunks_of_a_decoding_step_reach_the_loop_in_one_hand_off(runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    """Real decoding, 3 streams at once, the loop free to wake at any time: one wake-up per step at most."""
    from engine.runtime import GenerationParams
    from engine.runtime.batch import BatchedModel

    runtime.load("tiny")
    steps = 0
    original_step = BatchedModel.step

    def counted_step(self: BatchedModel) -> None:
        nonlocal steps
        steps += 1
        original_step(self)

    async def main() -> tuple[list[str], int]:
        wake_ups = count_wake_ups(asyncio.get_running_loop())
        params = GenerationParams(max_tokens=40, temperature=0.0, ignore_eos=True)
        generations = [runtime.complete(f"story {i}:", params, model="tiny") for i in range(3)]
        pumps = [ChunkPump(generation) for generation in generations]

        async def read(pump: ChunkPump) -> str:
            parts = []
            while (chunk := await pump.next()) is not None:
                parts.append(chunk.text)
            return "".join(parts)

        texts = await asyncio.gather(*(read(pump) for pump in pumps))
        return list(texts), wake_ups[0]

    BatchedModel.step = counted_step  # type: ignore[method-assign]
    try:
        texts, wake_ups = asyncio.run(main())
    finally:
        BatchedModel.step = original_step  # type: ignore[method-assign]
    assert all(texts)
    # 3 streams x 40 tokens = 120 chunks (and 3 ends) over ~40 steps: per-chunk hand-offs would take ~120.
    assert wake_ups <= steps + 3, (wake_ups, steps)
