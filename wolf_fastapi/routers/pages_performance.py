"""``/performance``: how fast were the last N runs? Server-rendered SVG charts (no script) of
duration, assets/s, p50/p95 latency per system, throttles and retries, and API calls, with
the numbers in a table below."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from core.store import repo
from core.store.schemas import RunOut
from wolf_fastapi.charts import Series, chart
from wolf_fastapi.deps import ServicesDep, SessionDep
from wolf_fastapi.ui import render

router = APIRouter(tags=["dashboard"], include_in_schema=False)


def run_metrics(services: Any, runs: list[RunOut]) -> dict[str, dict[str, Any]]:
    """Per run id: ``{"latency": {system: {"p50_ms", "p95_ms"}}}`` from ``core.metrics`` when
    this build has it, else nothing (the charts say "no data")."""
    try:
        from core import metrics  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return {}
    per_run = getattr(metrics, "metrics_for_runs", None)
    if per_run is None:
        return {}
    found: dict[str, dict[str, Any]] = per_run(services, [r.id for r in runs])
    return found


@router.get("/performance", response_class=HTMLResponse)
def performance_page(
    request: Request, services: ServicesDep, session: SessionDep,
    last: Annotated[int, Query(ge=2, le=200)] = 20,
) -> HTMLResponse:
    runs = [r for r in repo.list_runs(session=session, limit=last, env=services.settings.env) if r.finished_at]
    runs.reverse()  # oldest first, left to right
    labels = [r.started_at.strftime("%m-%d %H:%M") for r in runs]
    metrics = run_metrics(services, runs)

    def latency(system: str, key: str) -> list[float | None]:
        return [metrics.get(r.id, {}).get("latency", {}).get(system, {}).get(key) for r in runs]

    def calls(run: RunOut, system: str) -> int:
        return sum(run.api_calls.get(system, {}).values())

    charts = {
        "duration": chart(labels, [Series("duration", [r.duration_s for r in runs])], title="Run duration", unit="s"),
        "throughput": chart(labels, [Series("assets/s", [r.throughput for r in runs])], title="Throughput", unit="assets/s", kind="line"),
        "latency_ds": chart(labels, [Series("p50", latency("datasphere", "p50_ms")), Series("p95", latency("datasphere", "p95_ms"), "b")],
                            title="Datasphere latency", unit="ms", kind="line"),
        "latency_glue": chart(labels, [Series("p50", latency("glue", "p50_ms")), Series("p95", latency("glue", "p95_ms"), "b")],
                              title="Glue latency", unit="ms", kind="line"),
        "throttles": chart(labels, [Series("throttles", [r.throttles for r in runs], "b"), Series("retries", [r.retries for r in runs], "c")],
                           title="Throttles and retries", unit="count"),
        "calls": chart(labels, [Series("Datasphere", [calls(r, "datasphere") for r in runs]), Series("Glue", [calls(r, "glue") for r in runs], "b")],
                       title="API calls", unit="calls"),
    }
    return render(
        request, "wolf/performance.html",
        {"runs": list(reversed(runs)), "charts": charts, "last": last, "metrics": metrics, "has_latency": bool(metrics)},
        active="performance",
    )
