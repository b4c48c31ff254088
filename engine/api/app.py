"""The FastAPI app factory: routes, exception handlers and the security middleware, over one engine."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from engine import __version__
from engine.api import anthropic, responses, routes, routes_finetune, routes_generate, routes_pair, routes_stores
from engine.api.context import Admission
from engine.api.errors import install_handlers
from engine.api.middleware import BodyCap, HostOriginGuard, KeyAuth
from engine.api.services import Services, on_vault_thread
from engine.api.settings import ApiSettings
from engine.handle import Engine
from engine.pairing.appliance import RedeemLimiter

log = logging.getLogger("enclave.api")
SEED_LOG_ROWS = 10_000


def create_app(engine: Engine, settings: ApiSettings | None = None) -> FastAPI:
    """An app serving `engine`'s models (every backend's), with keys, request log and audit in its vault."""
    settings = settings or ApiSettings()
    if engine.vault is None:
        raise ValueError("the endpoint needs an engine with its vault open")
    vault, policy = engine.vault, engine.policy
    services = Services(engine, settings, Admission(settings.max_pending, settings.retry_after_s))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Today's token budgets survive a restart: count them again from the request log.
        try:
            entries = await on_vault_thread(vault, partial(vault.request_log.recent, SEED_LOG_ROWS))
            policy.seed(entries)
        except Exception as exc:
            log.warning("token budgets not restored from the request log: %s", type(exc).__name__)
        yield

    app = FastAPI(
        title="Enclave",
        version=__version__,
        description=(
            "OpenAI- and Anthropic-compatible endpoint of a private LLM workstation. Every /v1 route needs an API key."
        ),
        lifespan=lifespan,
        docs_url=None,  # no HTML pages: nothing for a browser to load scripts from
        redoc_url=None,
    )
    app.state.services = services
    app.state.redeem_limiter = RedeemLimiter()  # pairing-code redeem attempts per client address
    install_handlers(app)
    app.include_router(routes.public)
    app.include_router(routes.router)
    app.include_router(routes_generate.router)
    app.include_router(anthropic.router)
    app.include_router(responses.router)
    app.include_router(routes_finetune.router)
    app.include_router(routes_stores.router)
    app.include_router(routes_pair.router)
    # add_middleware wraps: the last added runs first (host/origin, then key, then body cap).
    app.add_middleware(BodyCap, settings=settings)
    app.add_middleware(KeyAuth, policy=policy, vault=vault, settings=settings)
    app.add_middleware(HostOriginGuard, settings=settings)
    return app
