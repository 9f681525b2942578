"""Run performance: ``GET /api/v1/metrics/runs`` (JSON, per run) and ``GET /metrics``
(Prometheus text for a scraper with a viewer key)."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query
from fastapi.responses import Response

from core.metrics import CONTENT_TYPE, RunMetrics, prometheus_text, recent_metrics
from wolf_fastapi.deps import ServicesDep
from wolf_fastapi.routers.api_v1 import VIEWER

router = APIRouter(tags=["metrics"], dependencies=VIEWER)
prometheus = APIRouter(tags=["metrics"], dependencies=VIEWER)


@router.get("/metrics/runs", response_model=list[RunMetrics])
async def run_metrics(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    kind: Annotated[str, Query(pattern="^(sync|plan|resume|all)$", description="Run kind, or `all`.")] = "sync",
) -> list[RunMetrics]:
    """Per finished run, newest first: duration, assets/s, API calls per operation, p50/p95
    latency per system, retries, throttles, writes."""
    kinds = () if kind == "all" else (kind,)
    return await anyio.to_thread.run_sync(
        lambda: recent_metrics(services.store(), limit=limit, env=services.settings.env, kinds=kinds))


@prometheus.get(
    "/metrics", response_class=Response,
    responses={200: {"description": "Prometheus text format 0.0.4.",
                     "content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(services: ServicesDep) -> Response:
    """Recent runs, run counts, the latest validation and this process's live call counters
    and latency histograms, in the Prometheus text format."""
    text = await anyio.to_thread.run_sync(
        lambda: prometheus_text(services.store(), env=services.settings.env, services=services))
    return Response(text, media_type=CONTENT_TYPE)
