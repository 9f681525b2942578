"""The dashboard's view of ``core.jobs`` and ``core.connectivity``: the app's JobService and
ConnectivityMonitor (built in the lifespan by the API; built here on first use when the app has
none) and the typed results the templates render."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from core.connectivity import ConnectivityMonitor
from core.jobs import Job, JobKind, JobService
from core.sync.report import SyncReport
from core.validation import ValidationReport

_LOCK = threading.Lock()


def jobs_of(request: Request) -> JobService:
    """The app's job service (``app.state.jobs``)."""
    state = request.app.state
    found: JobService | None = getattr(state, "jobs", None)
    if found is None:
        with _LOCK:
            found = getattr(state, "jobs", None)
            if found is None:
                found = JobService(state.services)
                state.jobs = found
    return found


def report_of(job: Job) -> SyncReport | None:
    """The plan or sync report of a finished plan/sync job."""
    if job.kind in (JobKind.PLAN, JobKind.SYNC) and job.result:
        # The result also carries what the job adds (config_version, validation).
        return SyncReport.model_validate({k: v for k, v in job.result.items() if k in SyncReport.model_fields})
    return None


@dataclass(frozen=True)
class ValidationVerdict:
    """What a validate job's result says: the verdict, why, the counts and the stored report."""

    id: str
    in_sync: bool
    reasons: list[str]
    summary: dict[str, Any]


def validation_of(job: Job) -> ValidationVerdict | None:
    """The verdict of a finished validate job (its report is stored: ``report_id``)."""
    result = job.result or {}
    if job.kind is not JobKind.VALIDATE or "in_sync" not in result:
        return None
    report_id = str(result.get("validation_id") or result.get("id") or job.id)
    return ValidationVerdict(id=report_id, in_sync=bool(result["in_sync"]), reasons=list(result.get("reasons") or []),
                             summary=dict(result.get("summary") or {}))


def report_of_job(job: Job) -> ValidationReport | None:
    """A validate job's result when it is the whole report (older results), else ``None``."""
    if job.kind is JobKind.VALIDATE and job.result and "tables" in job.result:
        return ValidationReport.model_validate(job.result)
    return None


def job_context(job: Job) -> dict[str, Any]:
    return {"job": job, "report": report_of(job), "validation": validation_of(job)}


def connectivity_of(request: Request) -> ConnectivityMonitor:
    """The app's connectivity monitor (``app.state.connectivity``; built on first use)."""
    state = request.app.state
    found: ConnectivityMonitor | None = getattr(state, "connectivity", None)
    if found is None:
        with _LOCK:
            found = getattr(state, "connectivity", None)
            if found is None:
                found = ConnectivityMonitor(state.services)
                state.connectivity = found
    return found
