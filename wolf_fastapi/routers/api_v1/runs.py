"""``GET /api/v1/runs`` and ``/api/v1/runs/{id}``: recorded runs (any process's: CLI,
scheduler, Bear workers, jobs), one run with its items, their diffs and errors with hints."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from core.errors import NotFound
from core.store import repo
from core.store.schemas import (
    ItemStatus,
    RunItemOut,
    RunKind,
    RunOut,
    RunStatus,
    utcnow,
)
from core.sync.plan import FieldDiff
from core.sync.status import RunView
from wolf_fastapi.deps import ServicesDep
from wolf_fastapi.errors import error_responses
from wolf_fastapi.routers.api_v1 import VIEWER

router = APIRouter(tags=["runs"], dependencies=VIEWER)

RUN_ID = Path(max_length=32, pattern=r"^[0-9A-Za-z_-]+$", description="A run id (GET /api/v1/runs lists them).")


class RunPage(BaseModel):
    items: list[RunView]
    limit: int
    offset: int
    next_offset: int | None = Field(description="`offset` of the next page; null on the last page.")


class RunItemV1(RunItemOut):
    """One object of the run; ``diffs``: what its Glue write changed, field by field."""

    diffs: list[FieldDiff] = Field(default_factory=list)


class RunDetailV1(RunView):
    """A run with its checkpoint items: ``detail.diffs`` holds the field-level changes of each
    object, ``error``/``hint`` what failed and what to do."""

    items_by_action: dict[str, int]
    items_by_status: dict[str, int]
    items_total: int
    items: list[RunItemV1]
    items_offset: int = Field(description="Index of the first item shown (items in the order they finished).")
    items_truncated: bool = Field(description="More items follow (`next_items_offset`).")
    next_items_offset: int | None = Field(description="`items_offset` of the next page of items; null on the last.")


@router.get("/runs", response_model=RunPage)
async def list_runs(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    status: RunStatus | None = None,
    kind: RunKind | None = None,
) -> RunPage:
    """Runs of this environment, newest first."""

    def read() -> RunPage:
        stale_after = float(services.settings.schedule.lease_ttl_s)
        now = utcnow()
        with services.store().session(readonly=True) as session:
            runs = repo.list_runs(session=session, limit=limit + 1, offset=offset, status=status, kind=kind,
                                  env=services.settings.env)
        views = [RunView.of(r, now=now, stale_after_s=stale_after) for r in runs[:limit]]
        return RunPage(items=views, limit=limit, offset=offset,
                       next_offset=offset + limit if len(runs) > limit else None)

    return await anyio.to_thread.run_sync(read)


@router.get("/runs/{run_id}", response_model=RunDetailV1, responses=error_responses(404))
async def get_run(
    services: ServicesDep,
    run_id: Annotated[str, RUN_ID],
    items_limit: Annotated[int, Query(ge=0, le=1000, description="At most this many items per page.")] = 100,
    items_offset: Annotated[int, Query(ge=0, le=10_000_000, description="Skip this many items.")] = 0,
    item_status: Annotated[ItemStatus | None, Query(description="Only items with this status.")] = None,
) -> RunDetailV1:
    """One run: counts, API calls, errors (each with a hint), and a page of its items with
    diffs (a full sync of a 10,000-asset tenant has ~9,000: page with `items_offset`)."""

    def read() -> RunDetailV1:
        with services.store().session(readonly=True) as session:
            detail = repo.get_run(session=session, run_id=run_id, failed_limit=0)
            if detail is None or detail.env != services.settings.env:
                raise NotFound(f"no run {run_id!r} in environment {services.settings.env}",
                               hint="Use an id that GET /api/v1/runs lists.")
            items = repo.list_run_items(session=session, run_id=run_id, status=item_status, offset=items_offset,
                                        limit=items_limit + 1)
            # The diffs of the items shown only (a full run has a write per table).
            diffs = repo.glue_diffs(session=session, run_id=run_id,
                                    objects=[str(i.detail.get("object")) for i in items[:items_limit]])
        run = RunOut.model_validate(detail.model_dump(include=set(RunOut.model_fields)))
        view = RunView.of(run, now=utcnow(), stale_after_s=float(services.settings.schedule.lease_ttl_s))
        return RunDetailV1(
            **view.model_dump(), items_by_action=detail.items_by_action, items_by_status=detail.items_by_status,
            items_total=detail.items_total, items_offset=items_offset, items_truncated=len(items) > items_limit,
            next_items_offset=items_offset + items_limit if len(items) > items_limit else None,
            items=[RunItemV1(**i.model_dump(), diffs=diffs.get(str(i.detail.get("object")), []))
                   for i in items[:items_limit]],
        )

    return await anyio.to_thread.run_sync(read)
