"""Repository functions of background jobs (``jobs``) and the connectivity history
(``connectivity_samples``). Keyword-only and typed; nothing here commits (the caller owns the
transaction). The service on top is :mod:`core.jobs`; the checks are :mod:`core.connectivity`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core.store.schemas import utcnow
from core.store.tables import ConnectivitySampleRow, JobRow

#: Job statuses that are over (a job in one of them never changes again).
FINISHED_STATUSES: frozenset[str] = frozenset({"succeeded", "partial", "failed"})
ACTIVE_STATUSES: tuple[str, ...] = ("queued", "running")


class JobIn(BaseModel):
    """A new job (queued)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    env: str
    kind: str
    scope: dict[str, Any] = Field(default_factory=dict)
    actor: str
    executor: str
    worker: str | None = None
    created_at: AwareDatetime = Field(default_factory=utcnow)
    payload: dict[str, Any] | None = None


class JobRecord(BaseModel):
    """A job row as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    env: str
    kind: str
    scope: dict[str, Any]
    status: str
    phase: str | None
    done: int
    total: int | None
    eta_s: float | None
    result: dict[str, Any] | None
    error_code: str | None
    error: str | None
    hint: str | None
    actor: str
    executor: str
    worker: str | None
    run_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    payload: dict[str, Any] | None = None


def add_job(*, session: Session, job: JobIn) -> JobRecord:
    row = JobRow(**job.model_dump(), status="queued", done=0)
    session.add(row)
    session.flush()
    return JobRecord.model_validate(row)


def get_job(*, session: Session, job_id: str) -> JobRecord | None:
    row = session.get(JobRow, job_id)
    return JobRecord.model_validate(row) if row is not None else None


def list_jobs(
    *,
    session: Session,
    env: str,
    limit: int = 50,
    before: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    with_result: bool = True,
) -> list[JobRecord]:
    """Newest first (ids are ULIDs); ``before``: only jobs older than that id (a cursor).
    ``with_result=False`` leaves the (possibly large) results and payloads unread (``None``)."""
    columns = [c for c in JobRow.__table__.c if with_result or c.name not in ("result", "payload")]
    stmt = select(*columns).where(JobRow.env == env).order_by(JobRow.id.desc()).limit(limit)
    if before is not None:
        stmt = stmt.where(JobRow.id < before)
    if status is not None:
        stmt = stmt.where(JobRow.status == status)
    if kind is not None:
        stmt = stmt.where(JobRow.kind == kind)
    return [JobRecord.model_validate({"result": None, "payload": None, **row._mapping}) for row in session.execute(stmt)]


def active_jobs(*, session: Session, env: str, kind: str | None = None) -> list[JobRecord]:
    """Queued and running jobs of ``env`` (oldest first)."""
    stmt = select(JobRow).where(JobRow.env == env, JobRow.status.in_(ACTIVE_STATUSES)).order_by(JobRow.id)
    if kind is not None:
        stmt = stmt.where(JobRow.kind == kind)
    return [JobRecord.model_validate(r) for r in session.scalars(stmt)]


def claim_job(*, session: Session, job_id: str, worker: str, now: datetime | None = None) -> bool:
    """``queued`` → ``running`` for ``worker``; ``False`` when it is not queued (taken, over)."""
    now = now or utcnow()
    result = session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.status == "queued")
        .values(status="running", worker=worker, started_at=now, heartbeat_at=now, phase="starting")
    )
    return bool(getattr(result, "rowcount", 0))


def update_progress(
    *,
    session: Session,
    job_id: str,
    phase: str | None,
    done: int,
    total: int | None,
    eta_s: float | None,
    run_id: str | None = None,
    now: datetime | None = None,
) -> None:
    """Progress and heartbeat of a running job (nothing happens once it is over)."""
    values: dict[str, Any] = {"phase": phase, "done": done, "total": total, "eta_s": eta_s,
                              "heartbeat_at": now or utcnow()}
    if run_id is not None:
        values["run_id"] = run_id
    session.execute(update(JobRow).where(JobRow.id == job_id, JobRow.status == "running").values(**values))


def finish_job(
    *,
    session: Session,
    job_id: str,
    status: str,
    result: dict[str, Any] | None = None,
    error_code: str | None = None,
    error: str | None = None,
    hint: str | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """End an active job; ``False`` when it had already ended (it is never changed again)."""
    if status not in FINISHED_STATUSES:
        raise ValueError(f"not a final job status: {status!r}")
    now = now or utcnow()
    values: dict[str, Any] = {
        "status": status, "result": result, "error_code": error_code, "error": error, "hint": hint,
        "finished_at": now, "phase": "finished", "eta_s": None,
    }
    if run_id is not None:
        values["run_id"] = run_id
    if status != "failed":  # over and done: the progress bar is full
        values["done"] = func.coalesce(JobRow.total, JobRow.done)
    outcome = session.execute(
        update(JobRow).where(JobRow.id == job_id, JobRow.status.in_(ACTIVE_STATUSES)).values(**values)
    )
    return bool(getattr(outcome, "rowcount", 0))


# ------------------------------------------------------------------ connectivity history


class ConnectivitySample(BaseModel):
    """One stored connectivity check."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    env: str
    checked_at: datetime
    ok: bool
    datasphere_ms: float | None
    glue_ms: float | None
    store_ms: float | None
    report: dict[str, Any]


def add_sample(
    *,
    session: Session,
    env: str,
    ok: bool,
    report: dict[str, Any],
    datasphere_ms: float | None,
    glue_ms: float | None,
    store_ms: float | None,
    keep: int,
    checked_at: datetime | None = None,
) -> ConnectivitySample:
    """Append a sample and drop the oldest beyond ``keep`` for ``env``."""
    row = ConnectivitySampleRow(
        env=env, checked_at=checked_at or utcnow(), ok=ok, report=report,
        datasphere_ms=datasphere_ms, glue_ms=glue_ms, store_ms=store_ms,
    )
    session.add(row)
    session.flush()
    count = session.scalar(select(func.count()).select_from(ConnectivitySampleRow)
                           .where(ConnectivitySampleRow.env == env)) or 0
    if count > keep:
        cutoff = session.scalar(
            select(ConnectivitySampleRow.id).where(ConnectivitySampleRow.env == env)
            .order_by(ConnectivitySampleRow.id.desc()).offset(keep).limit(1)
        )
        if cutoff is not None:
            session.execute(delete(ConnectivitySampleRow).where(
                ConnectivitySampleRow.env == env, ConnectivitySampleRow.id <= cutoff))
    return ConnectivitySample.model_validate(row)


def list_samples(*, session: Session, env: str, limit: int = 100) -> list[ConnectivitySample]:
    """The newest ``limit`` samples of ``env``, oldest first (ready to draw)."""
    rows = session.scalars(
        select(ConnectivitySampleRow).where(ConnectivitySampleRow.env == env)
        .order_by(ConnectivitySampleRow.id.desc()).limit(limit)
    ).all()
    return [ConnectivitySample.model_validate(r) for r in reversed(rows)]
