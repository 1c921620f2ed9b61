"""`/.well-known/minwon-checkpoint-key`: the public key that checks the store's
signed checkpoints (domain.checkpoint), published so that an auditor needs nothing
from the installation but this key to verify an exported bundle or the live store."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from domain.checkpoint import ALGORITHM
from privacy.signing import SigningKeyError, key_id, public_key
from web.api import desk_of

router = APIRouter()


@router.get(
    "/.well-known/minwon-checkpoint-key",
    summary="The public key that verifies the store's signed checkpoints",
    responses={"404": {"description": "No checkpoint key is configured"}},
)
async def checkpoint_key(request: Request) -> JSONResponse:
    try:
        text = public_key(desk_of(request).settings.env)
    except SigningKeyError:
        # A machine reads this address: the problem document, never the HTML page.
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "No checkpoint key",
                "status": 404,
                "detail": "this installation publishes no checkpoint key "
                "(MINWON_CHECKPOINT_PUBLIC_KEY)",
            },
            status_code=404,
            media_type="application/problem+json",
        )
    return JSONResponse(
        {
            "algorithm": "Ed25519",
            "public_key": text,
            "key_id": key_id(text),
            "checkpoints": ALGORITHM,
        }
    )
