"""`GET /health`, `GET /v1/models[/{id}]` and `POST /v1/embeddings`."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import anyio
import numpy as np
from fastapi import APIRouter, Request, Security
from starlette.responses import JSONResponse

from engine.api.errors import ApiError
from engine.api.routes_generate import ERRORS, bearer
from engine.api.schemas import EmbeddingRequest
from engine.api.services import context_of, resolve_model, services_of
from engine.models.registry import ModelRecord
from engine.runtime import PromptTooLong
from engine.upstreams import proxy as upstream_proxy

OWNER = "enclave"
public = APIRouter()
router = APIRouter(dependencies=[Security(bearer)])


@public.get("/health", tags=["service"])
async def health() -> dict[str, str]:
    """Liveness: says only that the server answers."""
    return {"status": "ok"}


def _model_card(record: ModelRecord) -> dict[str, Any]:
    try:
        created = int(datetime.fromisoformat(record.imported_at).timestamp())
    except ValueError:
        created = 0
    return {"id": record.name, "object": "model", "created": created, "owned_by": OWNER}


@router.get("/v1/models", responses=ERRORS, tags=["openai"])
async def list_models(request: Request) -> dict[str, Any]:
    """The models this API key may use."""
    services, context = services_of(request), context_of(request)
    records = await anyio.to_thread.run_sync(services.runtime.registry.list)
    cards = [_model_card(r) for r in records if context.key.allows_model(r.name)]
    cards += await upstream_proxy.model_cards(request, {r.name for r in records})
    return {"object": "list", "data": cards}


@router.get("/v1/models/{model_id:path}", responses=ERRORS, tags=["openai"])
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    """One model (404 if unknown, 403 if this key may not use it)."""
    if (card := await upstream_proxy.model_card(request, model_id)) is not None:
        return card
    services, context = services_of(request), context_of(request)
    return _model_card(await resolve_model(services, context, model_id))


@router.post("/v1/embeddings", responses=ERRORS, tags=["openai"])
async def embeddings(body: EmbeddingRequest, request: Request) -> JSONResponse:
    """Create embeddings (OpenAI-compatible; float or base64)."""
    services, context = services_of(request), context_of(request)
    texts = body.texts()
    if len(texts) > services.settings.max_embedding_inputs:
        raise ApiError(400, f"at most {services.settings.max_embedding_inputs} inputs per request", param="input")
    if (forwarded := await upstream_proxy.forward_embeddings(request, body)) is not None:
        return forwarded
    record = await resolve_model(services, context, body.model)
    services.policy.token_allowance(context.key)
    services.admission.enter()
    try:
        vectors, tokens = await anyio.to_thread.run_sync(lambda: services.runtime.embed(texts, model=record.name))
    except PromptTooLong as exc:  # the same 400 as generation's, naming this route's parameter
        raise ApiError(400, str(exc), param="input", code="context_length_exceeded") from None
    finally:
        services.admission.leave()
    context.prompt_tokens = tokens
    data = []
    for index, vector in enumerate(vectors):
        value: Any = vector
        if body.encoding_format == "base64":  # little-endian float32, as OpenAI encodes it
            value = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse({"object": "list", "data": data, "model": record.name, "usage": usage})
