"""``/connectivity``: can we reach both systems? The live panel (htmx polls
``/connectivity/_panel`` every 5 s; the monitor caches a check for a few seconds, so several
tabs cost the tenant one check): Datasphere token age and expiry, catalog latency, access per
space (403s named, with the fix), Glue latency, identity and throttles, the state store; and
sparklines of the latency history (server-rendered SVG)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from core.connectivity import ConnectivityReport, HistoryPoint
from wolf_fastapi.charts import sparkline
from wolf_fastapi.jobs_ui import connectivity_of
from wolf_fastapi.ui import render

router = APIRouter(tags=["dashboard"], include_in_schema=False)

HISTORY = 60


def _panel(request: Request, fresh: bool = False) -> dict[str, Any]:
    monitor = connectivity_of(request)
    report: ConnectivityReport = monitor.check(fresh=fresh)
    history: list[HistoryPoint] = monitor.history(HISTORY)
    lines = {
        name: sparkline([getattr(p, f"{name}_ms") for p in history], label=f"{name} latency (ms)", width=220, height=36)
        for name in ("datasphere", "glue", "store")
    }
    return {"c": report, "history": history, "lines": lines}


@router.get("/connectivity", response_class=HTMLResponse)
def connectivity_page(request: Request, refresh: bool = False) -> HTMLResponse:
    api = any(getattr(r, "path", "") == "/api/v1/connectivity" for r in request.app.routes)
    return render(request, "wolf/connectivity/index.html", {**_panel(request, fresh=refresh), "api": api},
                  active="connectivity")


@router.get("/connectivity/_panel", response_class=HTMLResponse)
def connectivity_panel(request: Request) -> HTMLResponse:
    return render(request, "wolf/connectivity/_panel.html", _panel(request))
