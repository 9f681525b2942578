"""``/performance``: how fast were the last N runs? Server-rendered SVG charts (no script) of
duration, assets/s, p50/p95 latency per system, throttles and retries, and API calls
(``core.metrics.metrics_of`` of each stored run), with the numbers in a table below."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from core.metrics import RunMetrics, recent_metrics
from wolf_fastapi.charts import Series, chart
from wolf_fastapi.deps import ServicesDep
from wolf_fastapi.ui import render

router = APIRouter(tags=["dashboard"], include_in_schema=False)


def _latency(runs: list[RunMetrics], system: str, key: str) -> list[float | None]:
    out: list[float | None] = []
    for r in runs:
        found = r.systems.get(system)
        out.append(getattr(found, key) if found is not None else None)
    return out


def _calls(runs: list[RunMetrics], system: str) -> list[float | None]:
    return [float(r.systems[system].calls) if system in r.systems else 0.0 for r in runs]


@router.get("/performance", response_class=HTMLResponse)
def performance_page(
    request: Request, services: ServicesDep,
    last: Annotated[int, Query(ge=2, le=200)] = 20,
    kind: Annotated[str, Query(pattern="^(sync|plan|all)$")] = "sync",
) -> HTMLResponse:
    kinds = () if kind == "all" else (kind, "scheduled", "resume") if kind == "sync" else (kind,)
    runs = recent_metrics(services.store(), limit=last, env=services.settings.env, kinds=kinds)
    runs.reverse()  # oldest first, left to right
    labels = [r.started_at.strftime("%m-%d %H:%M") for r in runs]
    charts = {
        "duration": chart(labels, [Series("duration", [r.duration_s for r in runs])], title="Run duration", unit="s"),
        "throughput": chart(labels, [Series("assets/s", [r.assets_per_s for r in runs])], title="Assets per second",
                            unit="assets/s", kind="line"),
        "latency_ds": chart(labels, [Series("p50", _latency(runs, "datasphere", "p50_ms")),
                                     Series("p95", _latency(runs, "datasphere", "p95_ms"), "b")],
                            title="Datasphere latency", unit="ms", kind="line"),
        "latency_glue": chart(labels, [Series("p50", _latency(runs, "glue", "p50_ms")),
                                       Series("p95", _latency(runs, "glue", "p95_ms"), "b")],
                              title="Glue latency", unit="ms", kind="line"),
        "throttles": chart(labels, [Series("throttles", [float(r.throttles) for r in runs], "b"),
                                    Series("retries", [float(r.retries) for r in runs], "c")],
                           title="Throttles and retries", unit="count"),
        "calls": chart(labels, [Series("Datasphere", _calls(runs, "datasphere")), Series("Glue", _calls(runs, "glue"), "b")],
                       title="API calls", unit="calls"),
    }
    return render(
        request, "wolf/performance.html",
        {"runs": list(reversed(runs)), "charts": charts, "last": last, "kind": kind,
         "has_latency": any(r.latency_recorded for r in runs)},
        active="performance",
    )
