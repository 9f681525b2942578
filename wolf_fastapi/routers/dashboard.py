"""The HTML dashboard: recent runs, refreshed by htmx from ``/partials/runs``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from core.store import repo
from wolf_fastapi.deps import SessionDep, SettingsDep
from wolf_fastapi.web import templates

router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    runs = repo.list_runs(session=session, limit=20)
    return templates().TemplateResponse(
        request,
        "wolf/index.html",
        {"runs": runs, "env": settings.env, "tenant": settings.tenant_name,
         "root": request.scope.get("root_path", "")},
    )


@router.get("/partials/runs", response_class=HTMLResponse)
def runs_rows(
    request: Request, session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> HTMLResponse:
    runs = repo.list_runs(session=session, limit=limit)
    return templates().TemplateResponse(
        request, "wolf/_runs.html", {"runs": runs, "root": request.scope.get("root_path", "")}
    )
