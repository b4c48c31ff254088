"""What the routes share: the engine objects, the settings, key policy and the admission cap."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from starlette.requests import Request

from engine.api.context import STATE_KEY, Admission, RequestContext
from engine.api.settings import ApiSettings
from engine.api.streaming import ChunkPump, watch_disconnect
from engine.models.registry import ModelRecord
from engine.policy import allowlist
from engine.policy.audit_events import record as record_event
from engine.policy.keys import KeyPolicy
from engine.policy.limits import ModelNotAllowed
from engine.runtime import Chunk, Generation, Runtime

FINAL_WAIT_S = 5.0
T = TypeVar("T")


@dataclass
class Services:
    """The engine behind the endpoint (one per app)."""

    runtime: Runtime
    vault: Any  # engine.vault.Vault; typed loosely so tests can pass a stand-in
    settings: ApiSettings
    policy: KeyPolicy
    admission: Admission


def services_of(request: Request) -> Services:
    """The app's Services."""
    services: Services = request.app.state.services
    return services


def context_of(request: Request) -> RequestContext:
    """The request's context, set by the auth middleware."""
    context: RequestContext = request.scope["state"][STATE_KEY]
    return context


async def on_vault_thread(vault: Any, fn: Callable[[], T]) -> T:
    """`fn()` run on the vault's own thread (`Vault.schedule`): a request's checks, however many vault
    reads they make, cost one hand-over there and one back (a worker thread in between would add a pair)."""
    return await asyncio.wrap_future(vault.schedule(fn))


async def resolve_model(services: Services, context: RequestContext, name: str) -> ModelRecord:
    """The registered model `name` if this key may use it (404 unknown, 403 not allowed)."""
    context.model = name
    actor = f"api:{context.key.name}"

    def check() -> ModelRecord:
        record = services.runtime.registry.get(name)
        try:
            services.policy.check_model(context.key, record.name)
        except ModelNotAllowed:
            details = {"rule": "key_models", "key": context.key.name, "model": record.name}
            record_event(services.vault, "policy_violation", actor=actor, details=details)
            raise
        # The model allowlist (when an admin turned it on) applies to what the endpoint loads too.
        allowlist.check_loadable(services.vault, record, actor=actor)
        return record

    return await on_vault_thread(services.vault, check)


async def start_generation(services: Services, start: Callable[[], Generation]) -> tuple[ChunkPump, Chunk | None]:
    """Take an admission slot, start the generation and wait for its first chunk.

    Waiting for the first chunk before answering turns engine errors (prompt too long) into a plain
    HTTP error even for streamed requests. The caller releases the slot when the reply is done.
    """
    services.admission.enter()
    try:
        # runtime.chat blocks: it may load the model and waits behind the model's running request.
        generation = await anyio.to_thread.run_sync(start)
        pump = ChunkPump(generation)
        try:
            first = await pump.next()
        except BaseException:
            pump.cancel()
            raise
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
