"""Run pages: ``/runs`` (filterable list) and ``/runs/{id}``: every created, updated, deleted
or failed object of the run with its field-level diff and hint, errors, retries and throttles,
API calls and the configuration version it used."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from core.errors import NotFound
from core.store import repo
from core.store.schemas import RunStatus
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


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request, run_id: str, session: SessionDep,
    show: Annotated[str, Query(pattern="^(changed|all|failed)$")] = "changed",
) -> HTMLResponse:
    run = repo.get_run(session=session, run_id=run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r} in the state store", hint="Pick a run from the Runs page.")
    items = repo.list_run_items(session=session, run_id=run_id)
    by_action = Counter(i.action.value for i in items)
    if show == "changed":
        items = [i for i in items if i.action.value != "noop" or i.status.value == "failed"]
    elif show == "failed":
        items = [i for i in items if i.status.value == "failed"]
    return render(
        request, "wolf/runs/detail.html",
        {"run": run, "items": items, "show": show, "by_action": dict(by_action)},
        active="runs",
    )
