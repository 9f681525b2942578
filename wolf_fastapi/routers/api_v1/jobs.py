"""Jobs for anything long: ``POST /api/v1/jobs`` (202 + ``Location``), poll
``GET /api/v1/jobs/{id}``, or follow ``GET /api/v1/jobs/{id}/events`` (server-sent events).

Polling works everywhere (Bear behind API Gateway has no streaming); the event stream sends
``progress`` whenever the status, phase or done/total change and one ``end`` with the final
job, then closes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from core.jobs import Job, JobKind, JobScope, JobService, JobStatus
from wolf_fastapi.deps import ActorDep, JobsDep
from wolf_fastapi.errors import error_responses
from wolf_fastapi.routers.api_v1 import OPERATOR, VIEWER

router = APIRouter(tags=["jobs"])

#: How often the event stream looks at the job.
EVENTS_POLL_S = 0.5
#: The event stream closes after this long even if the job goes on (the client reconnects).
EVENTS_MAX_S = 15 * 60.0

_JOB_ID = Path(max_length=32, pattern=r"^[0-9A-Za-z]+$", description="The id POST /api/v1/jobs returned.")


class JobRequest(BaseModel):
    """What to run: a plan (dry run), a sync, or a validation, over a scope. (Configuration
    jobs — `config_validate`, `config_apply` — are started by POST /api/v1/config/validate,
    apply, promote and rollback, which check the role and build the candidate.)"""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["plan", "sync", "validate"]
    scope: JobScope = Field(default_factory=JobScope)


class JobPage(BaseModel):
    items: list[Job]
    next_cursor: str | None = Field(description="Pass as `cursor` for older jobs; null on the last page.")


@router.post(
    "/jobs", status_code=202, response_model=Job, dependencies=OPERATOR,
    responses={202: {"description": "Accepted: the job is queued; poll the `Location`.",
                     "headers": {"Location": {"description": "The job's URL.", "schema": {"type": "string"}}}},
               **error_responses(409)},
)
async def submit_job(body: JobRequest, request: Request, response: Response, jobs: JobsDep, actor: ActorDep) -> Job:
    """Start a plan, sync or validate job. A sync whose scope overlaps a running or queued
    sync is refused with 409 `scope_held`, naming the holder."""
    job = await anyio.to_thread.run_sync(lambda: jobs.submit(body.kind, body.scope, actor))
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/api/v1/jobs/{job.id}"
    return job


@router.get("/jobs", response_model=JobPage, dependencies=VIEWER)
async def list_jobs(
    jobs: JobsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: Annotated[str | None, Query(max_length=32, pattern=r"^[0-9A-Za-z]+$",
                                        description="`next_cursor` of the previous page.")] = None,
    status: JobStatus | None = None,
    kind: JobKind | None = None,
) -> JobPage:
    """Jobs of this environment, newest first (they live in the store: any process sees them).
    `result` is left out (null) here — a sync's is its whole run report: GET the job for it."""
    items = await anyio.to_thread.run_sync(
        lambda: jobs.list(limit=limit, before=cursor, status=status, kind=kind))
    return JobPage(items=items, next_cursor=items[-1].id if len(items) == limit else None)


@router.get("/jobs/{job_id}", response_model=Job, dependencies=VIEWER, responses=error_responses(404))
async def get_job(jobs: JobsDep, job_id: Annotated[str, _JOB_ID]) -> Job:
    """Status (`queued`, `running`, `succeeded`, `partial`, `failed`), progress (phase,
    done/total, ETA) and, when over, the result or the error with its hint."""
    return await anyio.to_thread.run_sync(jobs.get, job_id)


async def job_events(jobs: JobService, first: Job, *, poll_s: float, max_s: float) -> AsyncIterator[dict[str, Any]]:
    """``progress`` events while the job changes, then ``end`` (see the module doc)."""
    job, last = first, None
    with anyio.move_on_after(max_s):
        while True:
            if job.finished:
                yield {"event": "end", "id": job.id, "data": job.model_dump_json()}
                return
            state = (job.status, job.phase, job.done, job.total)
            if state != last:
                last = state
                yield {"event": "progress", "id": job.id, "data": job.model_dump_json()}
            await anyio.sleep(poll_s)
            job = await anyio.to_thread.run_sync(jobs.get, job.id)


@router.get(
    "/jobs/{job_id}/events", dependencies=VIEWER, response_class=EventSourceResponse,
    responses={200: {"description": "`text/event-stream`: `progress` events (data: the job as JSON), "
                     "then one `end` event; the stream then closes.",
                     "content": {"text/event-stream": {"schema": {"type": "string"}}}},
               **error_responses(404)},
)
async def stream_job_events(request: Request, jobs: JobsDep, job_id: Annotated[str, _JOB_ID]) -> EventSourceResponse:
    """The job's progress as server-sent events (ends when the job ends)."""
    first = await anyio.to_thread.run_sync(jobs.get, job_id)  # 404 before the stream starts
    poll = float(getattr(request.app.state, "events_poll_s", EVENTS_POLL_S))
    return EventSourceResponse(job_events(jobs, first, poll_s=poll, max_s=EVENTS_MAX_S), ping=15)
