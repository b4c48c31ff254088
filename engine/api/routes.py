"""`GET /health`, `GET /v1/models[/{id}]` and `POST /v1/embeddings`."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import numpy as np
from fastapi import APIRouter, Request, Security
from starlette.responses import JSONResponse

from engine.api.errors import ApiError
from engine.api.routes_generate import ERRORS, bearer
from engine.api.schemas import EmbeddingRequest
from engine.api.services import context_of, on_vault_thread, resolve_model, services_of
from engine.backends import ModelRef
from engine.runtime import PromptTooLong

OWNER = "enclave"
public = APIRouter()
router = APIRouter(dependencies=[Security(bearer)])


@public.get("/health", tags=["service"])
async def health() -> dict[str, str]:
    """Liveness: says only that the server answers."""
    return {"status": "ok"}


def _model_card(model: ModelRef) -> dict[str, Any]:
    return {"id": model.name, "object": "model", "created": model.created, "owned_by": OWNER}


@router.get("/v1/models", responses=ERRORS, tags=["openai"])
async def list_models(request: Request) -> dict[str, Any]:
    """The models this API key may use (local ones, then those of upstreams)."""
    services, context = services_of(request), context_of(request)
    engine = services.engine.for_key(context.key)
    models = await on_vault_thread(services.vault, engine.models)
    return {"object": "list", "data": [_model_card(m) for m in models]}


@router.get("/v1/models/{model_id:path}", responses=ERRORS, tags=["openai"])
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    """One model (404 if unknown, 403 if this key may not use it)."""
    _, model = await resolve_model(services_of(request), context_of(request), model_id)
    return _model_card(model)


@router.post("/v1/embeddings", responses=ERRORS, tags=["openai"])
async def embeddings(body: EmbeddingRequest, request: Request) -> JSONResponse:
    """Create embeddings (OpenAI-compatible; float or base64)."""
    services, context = services_of(request), context_of(request)
    texts = body.texts()
    if len(texts) > services.settings.max_embedding_inputs:
        raise ApiError(400, f"at most {services.settings.max_embedding_inputs} inputs per request", param="input")
    backend, model = await resolve_model(services, context, body.model)
    services.policy.token_allowance(context.key)
    services.admission.enter()
    try:
        result = await anyio.to_thread.run_sync(lambda: backend.embed(model, texts))
    except PromptTooLong as exc:  # the same 400 as generation's, naming this route's parameter
        raise ApiError(400, str(exc), param="input", code="context_length_exceeded") from None
    finally:
        services.admission.leave()
    context.prompt_tokens = tokens = result.prompt_tokens
    context.upstream = result.served_by
    data = []
    for index, vector in enumerate(result.vectors):
        value: Any = vector
        if body.encoding_format == "base64":  # little-endian float32, as OpenAI encodes it
            value = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse({"object": "list", "data": data, "model": model.name, "usage": usage})
