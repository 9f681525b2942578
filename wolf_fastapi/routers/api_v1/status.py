"""``GET /api/v1/status``: per priority class its last run and when it is next due (runs of
any process — CLI, scheduler, Bear workers — are read from the store), plus active jobs."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter
from pydantic import Field

from core.jobs import Job, JobStatus
from core.sync.status import StatusOverview, status_overview
from wolf_fastapi.deps import JobsDep, ServicesDep
from wolf_fastapi.routers.api_v1 import VIEWER

router = APIRouter(tags=["status"], dependencies=VIEWER)


class StatusV1(StatusOverview):
    jobs: list[Job] = Field(description="Queued and running jobs, newest first.")


@router.get("/status", response_model=StatusV1)
async def status(services: ServicesDep, jobs: JobsDep) -> StatusV1:
    """Running and recent runs, each priority class's schedule and last result, asset and
    conflict counts, active jobs."""

    def read() -> StatusV1:
        overview = status_overview(services)
        active = [j for s in (JobStatus.RUNNING, JobStatus.QUEUED) for j in jobs.list(limit=50, status=s)]
        return StatusV1(**overview.model_dump(), jobs=sorted(active, key=lambda j: j.id, reverse=True))

    return await anyio.to_thread.run_sync(read)
