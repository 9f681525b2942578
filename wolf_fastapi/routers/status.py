"""Sync status overview (``core.sync.status.status_overview``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from core.sync.status import status_overview
from wolf_fastapi.deps import ServicesDep

router = APIRouter(prefix="/api", tags=["status"])


@router.get("/status")
def status(services: ServicesDep) -> Any:
    """Per-priority sync status: last runs, asset states, what is due."""
    return status_overview(services)
