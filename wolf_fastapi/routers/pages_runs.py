"""Run pages: ``/runs`` (filterable list) and ``/runs/{id}``: every created, updated, deleted
or failed object of the run with its field-level diff and hint, errors, retries and throttles,
API calls and the configuration version it used."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from core.errors import NotFound
from core.store import repo
from core.store.schemas import ItemStatus, RunStatus
from wolf_fastapi.deps import SessionDep, SettingsDep
from wolf_fastapi.ui import render

router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    request: Request, session: SessionDep, settings: SettingsDep,
    status: RunStatus | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> HTMLResponse:
    runs = repo.list_runs(session=session, limit=limit, status=status, env=settings.env)
    return render(
        request, "wolf/runs/index.html",
        {"runs": runs, "status": status.value if status else "", "statuses": list(RunStatus), "limit": limit},
        active="runs",
    )


#: Objects per page of a run page (a full sync of a 10,000-asset tenant has ~9,000).
ITEMS_PAGE = 100


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request, run_id: str, session: SessionDep,
    show: Annotated[str, Query(pattern="^(changed|all|failed)$")] = "changed",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    run = repo.get_run(session=session, run_id=run_id, failed_limit=0)
    if run is None:
        raise NotFound(f"no run {run_id!r} in the state store", hint="Pick a run from the Runs page.")
    items = repo.list_run_items(
        session=session, run_id=run_id, status=ItemStatus.FAILED if show == "failed" else None,
        changed_only=show == "changed", offset=(page - 1) * ITEMS_PAGE, limit=ITEMS_PAGE + 1)
    return render(
        request, "wolf/runs/detail.html",
        {"run": run, "items": items[:ITEMS_PAGE], "show": show, "by_action": run.items_by_action,
         "page": page, "first": (page - 1) * ITEMS_PAGE + 1, "has_next": len(items) > ITEMS_PAGE},
        active="runs",
    )
