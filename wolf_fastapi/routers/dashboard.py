"""The Overview (``/``): each priority class (last run, next due), the last runs (refreshed by
htmx from ``/partials/runs``), open alerts, conflicts, the drift of the latest stored
validation, and the assets by state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from core.store import repo
from core.store.governance import list_alerts
from core.sync.status import status_overview
from core.validation import list_validations
from wolf_fastapi.deps import ServicesDep, SessionDep
from wolf_fastapi.ui import render

router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(request: Request, services: ServicesDep, session: SessionDep) -> HTMLResponse:
    overview = status_overview(services, recent=20)
    alerts = list_alerts(session=session, env=services.settings.env, status=["open", "acknowledged"], limit=20)
    latest = list_validations(services.store(), env=services.settings.env, limit=1)
    return render(
        request, "wolf/index.html",
        {"overview": overview, "runs": overview.recent, "alerts": alerts, "validation": latest[0] if latest else None},
        active="overview",
    )


@router.get("/partials/runs", response_class=HTMLResponse)
def runs_rows(
    request: Request, session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> HTMLResponse:
    runs = repo.list_runs(session=session, limit=limit)
    return render(request, "wolf/_runs.html", {"runs": runs})
