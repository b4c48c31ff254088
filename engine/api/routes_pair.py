"""`POST /v1/pair/redeem`: a desktop spends the one-time token of its pairing code and receives its key.

The only /v1 route without an API key (the device has none yet): the token is the credential. It is
rate-limited per client address, compared in constant time against stored hashes, and spent on the
vault's own thread, so two redeems of one code cannot both succeed (engine.pairing.appliance).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from engine.api.errors import ApiError
from engine.api.services import on_vault_thread, services_of
from engine.pairing.appliance import MAX_TOKEN_CHARS, RedeemLimiter, RedeemRefused, redeem_pairing

PATH = "/v1/pair/redeem"
log = logging.getLogger("enclave.api")
router = APIRouter()
RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        400: "Invalid body", 404: "Unknown pairing code", 409: "The device's name is taken by another key",
        410: "The pairing code was already used, has expired or was revoked", 413: "Body too large",
        429: "Too many attempts from this address",
    }.items()
}


class PairRedeemRequest(BaseModel):
    """The one-time token from a pairing code."""

    model_config = ConfigDict(extra="ignore")
    token: Annotated[StrictStr, Field(min_length=1, max_length=MAX_TOKEN_CHARS)]


class PairRedeemResponse(BaseModel):
    """The device's API key, returned this once."""

    api_key: str
    device: str


@router.post(PATH, responses=RESPONSES, tags=["pairing"], response_model=PairRedeemResponse)
async def redeem(body: PairRedeemRequest, request: Request) -> dict[str, str]:
    """Redeem a pairing code's one-time token for the device's API key (no API key needed)."""
    client = request.client.host if request.client else ""
    limiter: RedeemLimiter = request.app.state.redeem_limiter
    wait = limiter.admit(client)
    if wait is not None:
        raise ApiError(429, "too many pairing attempts; try again in a minute", code="rate_limited",
                       headers={"Retry-After": str(wait)})
    vault = services_of(request).vault
    try:
        pairing, secret = await on_vault_thread(vault, lambda: redeem_pairing(vault, body.token, client=client))
    except RedeemRefused as exc:
        if exc.status == 404:
            log.warning("an unknown pairing code was presented from %s", client)
        raise ApiError(exc.status, str(exc), code=exc.code) from None
    return {"api_key": secret, "device": pairing.name}
