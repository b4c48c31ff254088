"""Several generations behind one reply: a request's `n` choices, a text completion's batch of prompts.

Each choice is its own generation on the backend. Locally they decode together in the model's batch
(continuous batching), and choices of one prompt share its evaluated cells (engine.runtime.batch). The
request holds one admission slot, is one request for the key's rate limit, and its token usage is the
sum of its choices' (each prompt counted once).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import anyio
from starlette.requests import Request

from engine.api.context import RequestContext
from engine.api.services import FINAL_WAIT_S, Services
from engine.api.streaming import ChunkPump
from engine.backends import Stream
from engine.runtime import Chunk, GenerationParams

_END = object()


@dataclass
class Started:
    """One choice's generation: its pump, its first chunk, and which prompt it answers."""

    pump: ChunkPump
    first: Chunk | None
    prompt_index: int = 0
    ended: bool = False  # the pump has given its last item (or an error)


def choice_params(params: GenerationParams, choice: int, reproducible: bool) -> GenerationParams:
    """The parameters of choice number `choice`: choices of one seeded request differ by their seed (seed,
    seed + 1, …), each reproducible; a key's "reproducible" rule makes an unseeded request seeded with 0."""
    deterministic = reproducible or params.seed is not None
    if not deterministic:
        return params
    seed = ((params.seed or 0) + choice) % (2**32 - 1)
    return replace(params, seed=seed, deterministic=True)


async def start_all(
    services: Services, context: RequestContext, starts: Sequence[tuple[int, Callable[[], Stream]]]
) -> list[Started]:
    """Take one admission slot, start every choice's generation and wait for each one's first chunk.

    `starts`: (prompt index, start) per choice. Any failure (a prompt too long) cancels the others and
    becomes the request's HTTP error; the caller gives the slot back when the reply is done.
    """
    services.admission.enter()
    started: list[Started] = []
    try:
        for prompt_index, start in starts:
            # A backend's start blocks: it may load the model and waits behind the model's running request.
            generation = await anyio.to_thread.run_sync(start)
            started.append(Started(ChunkPump(generation), None, prompt_index))
        for choice in started:
            choice.first = await choice.pump.next()
        context.upstream = started[0].pump.generation.served_by  # the request log names the upstream
    except BaseException:
        for choice in started:
            choice.pump.cancel()
        services.admission.leave()
        raise
    return started


async def chunks_of(choice: Started) -> AsyncIterator[Chunk]:
    """A choice's chunks from the first on; an engine error raised by the backend comes out here."""
    chunk = choice.first
    while chunk is not None:
        yield chunk
        try:
            chunk = await choice.pump.next()
        except Exception:
            choice.ended = True
            raise
    choice.ended = True


async def collect_all(request: Request, started: list[Started]) -> list[list[Chunk]]:
    """Every chunk of every choice (a reply that is not streamed); a client that leaves cancels them."""

    async def one(choice: Started) -> list[Chunk]:
        return [chunk async for chunk in chunks_of(choice)]

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        for choice in started:
            choice.pump.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return list(await asyncio.gather(*(one(choice) for choice in started)))
    finally:
        watcher.cancel()


async def merged(sources: list[AsyncIterator[bytes]]) -> AsyncIterator[bytes]:
    """The events of several choices' streams, interleaved as they come."""
    if len(sources) == 1:  # (the common case needs no tasks)
        async for item in sources[0]:
            yield item
        return
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def drain(source: AsyncIterator[bytes]) -> None:
        try:
            async for item in source:
                queue.put_nowait(item)
        except Exception as exc:
            queue.put_nowait(exc)
        finally:
            queue.put_nowait(_END)

    tasks = [asyncio.ensure_future(drain(source)) for source in sources]
    ended = 0
    try:
        while ended < len(tasks):
            item = await queue.get()
            if item is _END:
                ended += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()


def count_usage(context: RequestContext, started: list[Started], finals: list[Chunk | None]) -> dict[str, Any]:
    """What the request log and the key's budget count, and the reply's `usage`: completion tokens of every
    choice, prompt tokens once per prompt."""
    prompt = completion = cached = 0
    seen: set[int] = set()
    for choice, final in zip(started, finals, strict=True):
        usage = final.usage if final is not None else None
        if usage is None:
            continue
        completion += usage.completion_tokens
        if choice.prompt_index not in seen:
            seen.add(choice.prompt_index)
            prompt += usage.prompt_tokens
            cached += usage.cached_prompt_tokens
    context.prompt_tokens, context.completion_tokens, context.cached_prompt_tokens = prompt, completion, cached
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def joined(texts: list[str]) -> str:
    """Several choices' texts as the request log keeps them (one choice: its text)."""
    if len(texts) == 1:
        return texts[0]
    return "\n".join(f"[choice {i}]\n{text}" for i, text in enumerate(texts))


async def release_all(
    services: Services, context: RequestContext, started: list[Started], done: bool, finals: list[Chunk | None]
) -> None:
    """Give the admission slot back; if the reply did not complete (the client left, the server stops),
    cancel what still runs and count what was generated."""
    if not done:
        context.disconnected = True
        for choice in started:
            choice.pump.cancel()
        with anyio.CancelScope(shield=True), anyio.move_on_after(FINAL_WAIT_S):
            for i, choice in enumerate(started):
                if finals[i] is not None or choice.ended:
                    continue
                try:
                    while (chunk := await choice.pump.next()) is not None:
                        if chunk.finish_reason is not None:
                            finals[i] = chunk
                except Exception:
                    continue
        count_usage(context, started, finals)
    services.admission.leave()
