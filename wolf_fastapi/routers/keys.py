"""``/api/v1/keys`` (admin): create, list and revoke API keys; ``/api/v1/whoami`` (any role).

The key itself appears once, in the answer to its creation; listings never carry it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from core.apikeys import ApiKeyOut
from wolf_fastapi.auth import PrincipalDep, api_keys, require_admin, require_viewer
from wolf_fastapi.security import require_csrf

router = APIRouter(prefix="/api/v1/keys", tags=["keys"], dependencies=[Depends(require_admin), Depends(require_csrf)])
whoami_router = APIRouter(prefix="/api/v1", tags=["keys"],
                          dependencies=[Depends(require_viewer), Depends(require_csrf)])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, description="Unique name (letters, digits, . _ - @).")
    role: Literal["viewer", "operator", "admin"]
    comment: str | None = Field(default=None, max_length=500)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class KeyCreated(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: ApiKeyOut
    #: The new API key: shown only in this answer; only its HMAC is stored.
    secret: str


class WhoAmI(BaseModel):
    kind: str
    name: str
    role: str
    actor: str


@router.get("")
def list_keys(request: Request, include_revoked: bool = True) -> list[ApiKeyOut]:
    """Every key (never the key itself): name, role, creator, last use, revocation."""
    return api_keys(request).list(include_revoked=include_revoked)


@router.post("", status_code=201)
def create_key(request: Request, body: KeyCreate, principal: PrincipalDep) -> KeyCreated:
    """Create a key; the answer carries it once."""
    expires = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    out, secret = api_keys(request).create(body.name, body.role, created_by=principal.actor,
                                           comment=body.comment, expires_in=expires)
    return KeyCreated(key=out, secret=secret)


@router.delete("/{name}")
def revoke_key(request: Request, name: str, principal: PrincipalDep) -> ApiKeyOut:
    """Revoke a key at once (its dashboard sessions end too)."""
    return api_keys(request).revoke(name, actor=principal.actor)


@whoami_router.get("/whoami")
def whoami(principal: PrincipalDep) -> WhoAmI:
    """Who the caller is authenticated as (the audit actor) and its role."""
    data: dict[str, Any] = {"kind": principal.kind, "name": principal.name, "role": principal.role,
                            "actor": principal.actor}
    return WhoAmI(**data)
