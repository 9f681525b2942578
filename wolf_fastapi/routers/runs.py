"""Sync runs recorded in the state store."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from core.errors import NotFound
from core.store import repo
from core.store.schemas import RunDetail, RunKind, RunOut, RunStatus
from wolf_fastapi.deps import SessionDep

router = APIRouter(prefix="/api/runs", tags=["runs"])


@router.get("")
def list_runs(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    status: RunStatus | None = None,
    kind: RunKind | None = None,
    env: str | None = None,
) -> list[RunOut]:
    """The most recent runs first."""
    return repo.list_runs(session=session, limit=limit, status=status, kind=kind, env=env)


@router.get("/{run_id}")
def get_run(run_id: str, session: SessionDep) -> RunDetail:
    """One run with its items summarised by action and status, and the failed ones."""
    run = repo.get_run(session=session, run_id=run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r} in the state store", hint="Use an id that GET /api/runs lists.")
    return run
