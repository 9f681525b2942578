"""Liveness (``/health``, public, no I/O) and readiness (``/ready``: the state store answers)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from wolf_fastapi.deps import ServicesDep, SettingsDep

public = APIRouter(tags=["health"])
router = APIRouter(tags=["health"])


@public.get("/health")
async def health(settings: SettingsDep) -> dict[str, Any]:
    """Liveness: the process serves requests. Touches no database or network."""
    return {"status": "ok", "env": settings.env}


@router.get("/ready")
def ready(services: ServicesDep) -> dict[str, Any]:
    """Readiness: the state store is reachable (and, outside dog, migrated)."""
    store = services.store()
    with store.session(readonly=True) as session:
        session.execute(text("SELECT 1"))
    return {"status": "ready", "env": services.settings.env, "store": {"dialect": store.dialect}}
