"""What the routes share: the engine handle, the settings and the admission cap; and how a route starts
a generation on any backend and waits for its chunks on the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
from starlette.requests import Request

from engine.api.context import STATE_KEY, Admission, RequestContext
from engine.api.settings import ApiSettings
from engine.api.streaming import ChunkPump, watch_disconnect
from engine.backends import Backend, ModelRef, Stream
from engine.handle import Engine
from engine.policy.keys import KeyPolicy
from engine.runtime import Chunk, Runtime
from engine.vault import Vault
from engine.vault.ports import ServingVault

FINAL_WAIT_S = 5.0
T = TypeVar("T")


@dataclass
class Services:
    """The engine behind the endpoint (one per app)."""

    engine: Engine
    settings: ApiSettings
    admission: Admission

    @property
    def runtime(self) -> Runtime:
        """The local runtime."""
        return self.engine.runtime

    @property
    def vault(self) -> Vault:
        """The vault (the endpoint never runs without one)."""
        assert self.engine.vault is not None
        return self.engine.vault

    @property
    def policy(self) -> KeyPolicy:
        """API-key rules and budgets."""
        return self.engine.policy


def services_of(request: Request) -> Services:
    """The app's Services."""
    services: Services = request.app.state.services
    return services


def context_of(request: Request) -> RequestContext:
    """The request's context, set by the auth middleware."""
    context: RequestContext = request.scope["state"][STATE_KEY]
    return context


async def on_vault_thread(vault: ServingVault, fn: Callable[[], T]) -> T:
    """`fn()` run on the vault's own thread (`Vault.schedule`): a request's checks, however many vault
    reads they make, cost one hand-over there and one back (a worker thread in between would add a pair)."""
    return await asyncio.wrap_future(vault.schedule(fn))


async def resolve_model(services: Services, context: RequestContext, name: str) -> tuple[Backend, ModelRef]:
    """The backend and model `name` if this key may use it (404 unknown, 403 not allowed; refusals audited)."""
    context.model = name
    engine = services.engine.for_key(context.key)
    return await on_vault_thread(services.vault, lambda: engine.resolve(name))


async def start_generation(
    services: Services, context: RequestContext, start: Callable[[], Stream]
) -> tuple[ChunkPump, Chunk | None]:
    """Take an admission slot, start the generation and wait for its first chunk.

    Waiting for the first chunk before answering turns engine errors (prompt too long) into a plain
    HTTP error even for streamed requests. The caller releases the slot when the reply is done.
    """
    services.admission.enter()
    try:
        # A backend's chat() blocks: it may load the model and waits behind the model's running request.
        generation = await anyio.to_thread.run_sync(start)
        pump = ChunkPump(generation)
        try:
            first = await pump.next()
        except BaseException:
            pump.cancel()
            raise
        context.upstream = generation.served_by  # the request log names the upstream that answered
    except BaseException:
        services.admission.leave()
        raise
    return pump, first


async def collect(request: Request, pump: ChunkPump, first: Chunk | None) -> list[Chunk]:
    """Every chunk of a reply that is not streamed; a client that leaves cancels it."""
    chunks = [first] if first is not None else []
    watcher = asyncio.ensure_future(watch_disconnect(request.receive, pump))
    try:
        while (chunk := await pump.next()) is not None:
            chunks.append(chunk)
    finally:
        watcher.cancel()
    return chunks


async def drain_after_cancel(pump: ChunkPump) -> Chunk | None:
    """After cancelling, wait briefly for the final chunk (its usage goes to the request log)."""
    final = None
    with anyio.CancelScope(shield=True), anyio.move_on_after(FINAL_WAIT_S):
        while (chunk := await pump.next()) is not None:
            if chunk.finish_reason is not None:
                final = chunk
    return final
