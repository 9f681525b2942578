"""Sync status overview (``core.sync.status.status_overview``); mounted only when it exists."""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import APIRouter

from wolf_fastapi.deps import ServicesDep

router = APIRouter(prefix="/api", tags=["status"])


def available() -> bool:
    """Whether the core offers ``status_overview`` (it is written in parallel)."""
    try:
        module = importlib.import_module("core.sync.status")
    except ModuleNotFoundError as exc:
        if exc.name != "core.sync.status":
            raise
        return False
    return hasattr(module, "status_overview")


@router.get("/status")
def status(services: ServicesDep) -> Any:
    """Per-priority sync status: last runs, asset states, what is due."""
    from core.sync.status import status_overview  # type: ignore[import-not-found, unused-ignore]

    return status_overview(services)
