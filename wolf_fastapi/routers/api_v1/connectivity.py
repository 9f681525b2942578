"""``GET /api/v1/connectivity``: can we reach Datasphere, Glue and the state store?"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query

from core.connectivity import ConnectivityReport
from wolf_fastapi.deps import ConnectivityDep
from wolf_fastapi.routers.api_v1 import VIEWER

router = APIRouter(tags=["connectivity"], dependencies=VIEWER)


@router.get("/connectivity", response_model=ConnectivityReport)
async def connectivity(
    monitor: ConnectivityDep,
    history: Annotated[int, Query(ge=0, le=500, description="How many earlier checks to include.")] = 60,
    fresh: Annotated[bool, Query(description="Check now even if the last check is a few seconds old.")] = False,
) -> ConnectivityReport:
    """Token age and expiry, catalog latency and per-space access (403s named) of Datasphere;
    latency, caller identity/account and throttles of Glue; latency and schema revision of the
    store. A system that fails says so in its section (``ok: false`` with code, message and
    hint): the request itself succeeds. ``history``: the earlier checks, oldest first."""
    report = await anyio.to_thread.run_sync(lambda: monitor.check(fresh=fresh))
    points = await anyio.to_thread.run_sync(monitor.history, history) if report.store.ok else []
    return report.model_copy(update={"history": points})
