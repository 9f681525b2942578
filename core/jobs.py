"""Background jobs: plans, syncs, validations, configuration checks — work that outlives a request.

A web request must never block on long work (a plan of a slow tenant takes longer than API
Gateway's 29 s), so the web API *submits* a job and the client polls it (or follows its event
stream)::

    service = JobService(services, ThreadExecutor())
    job = service.submit("sync", {"spaces": ["SALES"]}, actor="key:qa/operator")  # queued
    service.get(job.id)              # status, phase, done/total, ETA, result when over
    for event in service.events(job.id): ...   # progress …, then one "end"

Jobs live in the state store (``jobs``), so they survive a page reload and any process can
read them. Who runs a job is the **executor**: :class:`ThreadExecutor` runs it in a thread of
this process (Wolf); :class:`InlineExecutor` runs it at once (tests, a CLI); Bear plugs in an
executor that sends the job id to a queue, whose worker calls :meth:`JobService.run`.
:meth:`JobService.run` is idempotent: a job is claimed (``queued`` → ``running``) once.

Progress is kept in memory on every engine callback and written to the store at most every
``persist_interval_s`` (and on each phase change), with a heartbeat every
``heartbeat_interval_s`` while a phase is silent. A job whose process died — its host's pid is
gone, or no heartbeat for :data:`STALE_FACTOR` intervals — is marked ``failed`` the next time
anyone reads it.

At most one sync per scope: :meth:`JobService.submit` refuses (:class:`~core.errors.ScopeHeld`,
HTTP 409) a sync whose scope overlaps a queued or running sync job or a held scope lease (a
CLI or scheduled sync), naming the holder; the check and the insert happen under the scope
mutex of :mod:`core.sync.liveness`. A sync that still meets a lease when it starts (one taken
in between) fails with ``scope_held`` and the holder in its message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from core.errors import DgsyncError, InputError, NotFound, ScopeHeld
from core.log import get_logger
from core.models import AssetKind, Priority
from core.store import jobs as repo
from core.store.schemas import AuditIn, AuditSystem, new_run_id, utcnow
from core.sync import liveness

if TYPE_CHECKING:
    from core.services import Services
    from core.store.db import Store

log = get_logger(__name__)

#: A running job without a heartbeat for this many heartbeat intervals is dead.
STALE_FACTOR = 3
#: A queued job no worker took within this many seconds is failed.
DEFAULT_QUEUE_TTL_S = 3600.0


class JobKind(StrEnum):
    PLAN = "plan"
    SYNC = "sync"
    VALIDATE = "validate"
    CONFIG_VALIDATE = "config_validate"  # a candidate configuration checked with its dry-run plan
    CONFIG_APPLY = "config_apply"  # …then stored as the applied version (apply, promote, rollback)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"


class JobScope(BaseModel):
    """What a job covers; empty lists mean everything configured."""

    model_config = ConfigDict(extra="forbid")

    spaces: list[str] = Field(default_factory=list, description="Only these spaces (case-sensitive ids).")
    kinds: list[AssetKind] = Field(default_factory=list, description="Only these asset kinds.")
    priority: Priority | None = Field(default=None, description="Only this priority class.")
    validate_after: bool = Field(
        default=False, description="sync only: validate the scope right after the sync; the report is stored "
        "with the run (GET /api/v1/runs/{id}/validation) and summarised in the job's result.")
    run_id: str | None = Field(
        default=None, max_length=32, pattern=r"^[0-9A-Za-z_-]+$",
        description="validate only: attach the report to this sync run (GET /api/v1/runs/{id}/validation).")


class JobError(BaseModel):
    """Why a job failed, and what to do about it."""

    code: str
    message: str
    hint: str


class Job(BaseModel):
    """A job as the API shows it."""

    id: str
    kind: JobKind
    scope: JobScope
    status: JobStatus
    phase: str | None = Field(description="check, extract, read_live, map, apply, validate, … or finished.")
    done: int
    total: int | None
    eta_s: float | None = Field(description="Seconds left in this phase, from its rate so far.")
    percent: int | None
    result: dict[str, Any] | None = Field(
        description="When over: the run report (sync), the plan report (plan), the validation summary "
        "(validate), or {action, validation, version} (config_validate, config_apply).")
    error: JobError | None
    actor: str
    executor: str
    run_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status not in (JobStatus.QUEUED, JobStatus.RUNNING)


class JobEvent(BaseModel):
    """One event of :meth:`JobService.events`: ``progress`` while it runs, ``end`` once."""

    event: str
    job: Job


# --------------------------------------------------------------------------- executors


class JobExecutor(Protocol):
    """Runs submitted jobs somewhere. ``dispatch`` must return at once; the job is run by
    calling ``service.run(job.id)`` (in a thread, a worker process, a Lambda...)."""

    name: str

    def dispatch(self, service: JobService, job: Job) -> None: ...

    def shutdown(self, timeout: float = 30.0) -> None: ...


class ThreadExecutor:
    """One daemon thread per job, in this process (Wolf)."""

    name = "thread"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._services: list[JobService] = []

    def dispatch(self, service: JobService, job: Job) -> None:
        thread = threading.Thread(target=service.run, args=(job.id,), name=f"dgsync-job-{job.id}", daemon=True)
        with self._lock:
            self._threads = {k: t for k, t in self._threads.items() if t.is_alive()}
            self._threads[job.id] = thread
            if service not in self._services:
                self._services.append(service)
        thread.start()

    def wait(self, job_id: str, timeout: float) -> bool:
        """Wait for a job's thread (tests); whether it ended."""
        with self._lock:
            thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def shutdown(self, timeout: float = 30.0) -> None:
        """Ask running syncs to stop after the objects in flight, and wait for them."""
        with self._lock:
            threads = list(self._threads.values())
            services = list(self._services)
        for service in services:
            service.request_stop()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class InlineExecutor:
    """Runs the job in ``dispatch`` itself (tests; a CLI that wants to wait)."""

    name = "inline"

    def dispatch(self, service: JobService, job: Job) -> None:
        service.run(job.id)

    def shutdown(self, timeout: float = 30.0) -> None:
        return None


# --------------------------------------------------------------------------- progress


class _Tracker:
    """Progress of one running job: updated per callback, persisted throttled, heartbeat."""

    def __init__(self, service: JobService, job_id: str, *, persist_s: float, heartbeat_s: float) -> None:
        self.service = service
        self.job_id = job_id
        self.persist_s = persist_s
        self.heartbeat_s = heartbeat_s
        self.phase: str | None = "starting"
        self.done = 0
        self.total: int | None = None
        self.run_id: str | None = None
        self.engine: Any = None
        self.config_version: int | None = None  # the applied configuration version it runs
        self.payload: dict[str, Any] | None = None  # the job's payload (configuration jobs)
        self._phase_started = time.monotonic()
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"dgsync-job-progress-{job_id}", daemon=True)

    def start(self) -> _Tracker:
        self._thread.start()
        return self

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        """The engine's progress callback (called from its worker threads)."""
        with self._lock:
            if phase != self.phase:
                self._phase_started = time.monotonic()
                self._dirty.set()  # a phase change is written at once
            self.phase, self.done, self.total = phase, done, total
            if self.run_id is None and self.engine is not None:
                self.run_id = getattr(self.engine, "run_id", None)

    def eta_s(self) -> float | None:
        if not self.total or not self.done or self.done >= self.total:
            return None
        spent = time.monotonic() - self._phase_started
        return round(spent / self.done * (self.total - self.done), 1)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"phase": self.phase, "done": self.done, "total": self.total, "eta_s": self.eta_s(),
                    "run_id": self.run_id}

    def persist(self) -> None:
        snap = self.snapshot()
        with self.service.store.session() as session:
            repo.update_progress(session=session, job_id=self.job_id, **snap)

    def _loop(self) -> None:
        """Write the progress at most every ``persist_s`` (a phase change at once), and a
        heartbeat every ``heartbeat_s`` when nothing moved."""
        last_write, last_snap = time.monotonic(), self.snapshot()
        while not self._stop.is_set():
            self._dirty.wait(timeout=self.persist_s)
            self._dirty.clear()
            if self._stop.is_set():
                return
            snap = self.snapshot()
            if snap == last_snap and time.monotonic() - last_write < self.heartbeat_s:
                continue
            try:
                self.persist()
                last_write, last_snap = time.monotonic(), snap
            except DgsyncError as exc:  # the next beat retries; the job goes on
                log.warning("could not record job progress", extra={"job": self.job_id, "error": exc.message})
            time.sleep(0 if self._stop.is_set() else min(self.persist_s, 0.2))

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=30)


# --------------------------------------------------------------------------- the service


class JobProgress(Protocol):
    """What a job kind gets to report progress: call it like an engine's progress callback;
    set ``engine`` to the engine it runs (its run id is picked up, a shutdown stops it)."""

    engine: Any
    run_id: str | None
    config_version: int | None
    payload: dict[str, Any] | None

    def __call__(self, phase: str, done: int, total: int | None) -> None: ...


Outcome = tuple[JobStatus, dict[str, Any] | None, str | None]
#: Runs one job kind: (services, scope, actor, progress) → (status, result, run id).
Runner = Callable[["Services", JobScope, str, JobProgress], Outcome]


class JobService:
    """Submit, run, read and follow jobs of one environment (framework-free, thread-safe)."""

    def __init__(
        self,
        services: Services,
        executor: JobExecutor | None = None,
        *,
        persist_interval_s: float = 1.0,
        heartbeat_interval_s: float | None = None,
        queue_ttl_s: float = DEFAULT_QUEUE_TTL_S,
        runners: Mapping[JobKind, Runner] | None = None,
    ) -> None:
        self.services = services
        self.executor: JobExecutor = executor or ThreadExecutor()
        self.persist_interval_s = persist_interval_s
        interval = heartbeat_interval_s or float(services.settings.schedule.heartbeat_interval_s)
        self.heartbeat_interval_s = interval
        self.stale_after_s = max(STALE_FACTOR * interval, 3 * persist_interval_s)
        self.queue_ttl_s = queue_ttl_s
        from core.job_kinds import default_runners

        self.runners: dict[JobKind, Runner] = {**default_runners(), **(runners or {})}
        from core.config_versions import ConfigReloader

        self.reloader = ConfigReloader(services)  # each job runs the version applied at its start
        self._lock = threading.Lock()
        self._live: dict[str, _Tracker] = {}

    @property
    def store(self) -> Store:
        return self.services.store()

    @property
    def env(self) -> str:
        return self.services.settings.env

    # -- submit --------------------------------------------------------------------------
    def submit(self, kind: JobKind | str, scope: JobScope | Mapping[str, Any] | None, actor: str,
               payload: Mapping[str, Any] | None = None) -> Job:
        """Queue a job (``payload``: a config job's candidate), dispatch it; returns at once.

        Raises :class:`ScopeHeld` for a sync whose scope another sync holds or has queued.
        """
        try:
            kind = JobKind(kind)
        except ValueError:
            raise InputError(f"unknown job kind {kind!r}",
                             hint=f"Use one of: {', '.join(k.value for k in JobKind)}.") from None
        scope = scope if isinstance(scope, JobScope) else JobScope.model_validate(scope or {})
        record = repo.JobIn(
            id=new_run_id(), env=self.env, kind=kind.value, scope=scope.model_dump(mode="json"), actor=actor,
            executor=self.executor.name, worker=liveness.Owner.current("submit").encode(),
            payload=dict(payload) if payload is not None else None)
        if kind is JobKind.SYNC:
            with liveness.scope_mutex(self.store):
                self._refuse_overlap(scope)
                job = self._insert(record)
        else:
            job = self._insert(record)
        self._audit(actor, job, "job.submit", {"kind": kind.value, "scope": record.scope})
        try:
            self.executor.dispatch(self, job)
        except DgsyncError as exc:
            self._finish(job.id, JobStatus.FAILED, error=exc)
            raise
        return self.get(job.id)

    def _insert(self, record: repo.JobIn) -> Job:
        with self.store.session() as session:
            return self._view(repo.add_job(session=session, job=record))

    def lock_scope(self, scope: JobScope) -> liveness.Scope:
        return liveness.Scope.of(self.env, scope.spaces or self.services.settings.datasphere.spaces, scope.priority)

    def _refuse_overlap(self, scope: JobScope) -> None:
        wanted = self.lock_scope(scope)
        with self.store.session(readonly=True) as session:
            active = repo.active_jobs(session=session, env=self.env, kind=JobKind.SYNC.value)
            holders = [h for h in liveness.scope_holders(session) if h.scope.overlaps(wanted)]
        now = utcnow()
        for record in active:
            other = JobScope.model_validate(record.scope)
            if self.lock_scope(other).overlaps(wanted) and self._death(record, now) is None:
                raise ScopeHeld(
                    f"another sync job works on an overlapping scope: job {record.id} ({record.status}, "
                    f"by {record.actor}), scope {self.lock_scope(other).describe()}",
                    hint=f"Wait for job {record.id} to end (GET /api/v1/jobs/{record.id}), or narrow the scope.",
                )
        live = [h for h in holders if h.lease.expires_at > now]
        if live:
            raise ScopeHeld(
                f"another sync works on an overlapping scope: {live[0].describe()}",
                hint="Wait for it to finish (`dgsync status` shows running runs), or narrow the scope.",
            )

    # -- run (in the executor) -----------------------------------------------------------
    def run(self, job_id: str) -> Job:
        """Run a queued job here and now (what an executor calls); a job that is not queued
        (already taken by another worker, or over) is returned as it is."""
        owner = liveness.Owner.current(job_id).encode()
        with self.store.session() as session:
            claimed = repo.claim_job(session=session, job_id=job_id, worker=owner)
            record = repo.get_job(session=session, job_id=job_id)
        if record is None:
            raise NotFound(f"no job {job_id!r}", hint="Submit the job first (POST /api/v1/jobs).")
        if not claimed:
            return self._view(record)
        job = self._view(record)
        tracker = _Tracker(self, job_id, persist_s=self.persist_interval_s,
                           heartbeat_s=self.heartbeat_interval_s)
        tracker.payload = record.payload
        with self._lock:
            self._live[job_id] = tracker
        tracker.start()
        error: DgsyncError | None = None
        status, result, run_id = JobStatus.FAILED, None, None
        try:
            services, tracker.config_version = self.reloader.for_next_run()
            status, result, run_id = self.runners[job.kind](services, job.scope, job.actor, tracker)
        except DgsyncError as exc:  # a failure may carry a result (an invalid configuration's validation)
            error, result = exc, getattr(exc, "result", None)  # core.config_jobs.InvalidConfig
        except Exception as exc:  # a bug: the job must still end, with a hint
            log.exception("job crashed", extra={"job": job_id})
            error = DgsyncError(f"the job crashed: {type(exc).__name__}",
                                hint="This is a dgsync bug: the server log has the traceback.")
        finally:
            tracker.stop()
        try:
            tracker.persist()  # the last progress, then the end
        except DgsyncError:
            log.warning("could not record the last progress of a job", extra={"job": job_id})
        try:
            self._finish(job_id, status if error is None else JobStatus.FAILED, result=result, error=error,
                         run_id=run_id or tracker.run_id)
        finally:
            with self._lock:
                self._live.pop(job_id, None)
        return self.get(job_id)

    def request_stop(self) -> None:
        """Ask every sync running in this process to stop after the objects in flight."""
        with self._lock:
            trackers = list(self._live.values())
        for tracker in trackers:
            if tracker.engine is not None:
                tracker.engine.request_stop()

    def _finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: dict[str, Any] | None = None,
        error: DgsyncError | None = None,
        run_id: str | None = None,
    ) -> None:
        with self.store.session() as session:
            ended = repo.finish_job(
                session=session, job_id=job_id, status=status.value, result=result, run_id=run_id,
                error_code=error.code if error else None, error=error.message if error else None,
                hint=error.hint if error else None,
            )
            record = repo.get_job(session=session, job_id=job_id)
        if ended and record is not None:
            details: dict[str, Any] = {"status": status.value, "run_id": run_id}
            if error is not None:
                details["error"] = error.code
            self._audit(record.actor, self._view(record), "job.finish", details)

    # -- read ----------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        """The job (live progress when it runs in this process); a dead one is failed now."""
        with self.store.session(readonly=True) as session:
            record = repo.get_job(session=session, job_id=job_id)
        if record is None or record.env != self.env:
            raise NotFound(f"no job {job_id!r} in environment {self.env}",
                           hint="Use an id that POST /api/v1/jobs returned or GET /api/v1/jobs lists.")
        return self._view(self._reap(record))

    def list(
        self, *, limit: int = 50, before: str | None = None, status: JobStatus | None = None,
        kind: JobKind | None = None, with_result: bool = False,
    ) -> list[Job]:
        """Newest first; ``before`` a job id (the cursor of the next page). Results (a whole
        run report each) are left out unless ``with_result``: get one job for it."""
        with self.store.session(readonly=True) as session:
            records = repo.list_jobs(session=session, env=self.env, limit=limit, before=before, with_result=with_result,
                                     status=status.value if status else None, kind=kind.value if kind else None)
        return [self._view(self._reap(r, keep_result=with_result)) for r in records]

    def events(self, job_id: str, *, poll_s: float = 0.5, timeout_s: float | None = None) -> Iterator[JobEvent]:
        """``progress`` whenever status, phase or done/total change, then one ``end`` when the
        job is over (or a last ``progress`` when ``timeout_s`` passes first)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last: tuple[Any, ...] | None = None
        while True:
            job = self.get(job_id)
            if job.finished:
                yield JobEvent(event="end", job=job)
                return
            state = (job.status, job.phase, job.done, job.total)
            if state != last:
                last = state
                yield JobEvent(event="progress", job=job)
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(poll_s)

    def wait(self, job_id: str, *, timeout_s: float = 60.0, poll_s: float = 0.1) -> Job:
        """Poll until the job is over (tests, a CLI); the job as it is at the deadline."""
        deadline = time.monotonic() + timeout_s
        job = self.get(job_id)
        while not job.finished and time.monotonic() < deadline:
            time.sleep(poll_s)
            job = self.get(job_id)
        return job

    # -- liveness ------------------------------------------------------------------------
    def _death(self, record: repo.JobRecord, now: datetime) -> str | None:
        """Why an active job is dead, or ``None``."""
        with self._lock:
            if record.id in self._live:
                return None
        owner = liveness.Owner.parse(record.worker or "")
        if record.status == JobStatus.RUNNING.value:
            if owner is not None and owner.local and not liveness.process_alive(owner.pid, since=record.started_at):
                return f"its process (pid {owner.pid} on {owner.host}) is gone"
            last = record.heartbeat_at or record.started_at or record.created_at
            if last < now - timedelta(seconds=self.stale_after_s):
                return f"no heartbeat since {last:%Y-%m-%d %H:%M:%S}Z"
        elif record.status == JobStatus.QUEUED.value:
            if (record.executor in (ThreadExecutor.name, InlineExecutor.name) and owner is not None and owner.local
                    and not liveness.process_alive(owner.pid, since=record.created_at)):
                return f"the process that queued it (pid {owner.pid} on {owner.host}) is gone"
            if record.created_at < now - timedelta(seconds=self.queue_ttl_s):
                return f"no worker took it within {self.queue_ttl_s:.0f} s"
        return None

    def _reap(self, record: repo.JobRecord, *, keep_result: bool = True) -> repo.JobRecord:
        if record.status in repo.FINISHED_STATUSES:
            return record
        reason = self._death(record, utcnow())
        if reason is None:
            return record
        log.warning("dead job marked failed", extra={"job": record.id, "reason": reason})
        self._finish(record.id, JobStatus.FAILED, run_id=record.run_id, error=DgsyncError(
            f"job {record.id} died: {reason}",
            hint="Submit it again; a sync resumes where it stopped (finished objects are kept)."))
        with self.store.session(readonly=True) as session:
            reaped = repo.get_job(session=session, job_id=record.id) or record
        return reaped if keep_result else reaped.model_copy(update={"result": None})

    # -- helpers -------------------------------------------------------------------------
    def _view(self, record: repo.JobRecord) -> Job:
        phase, done, total, eta_s, run_id = record.phase, record.done, record.total, record.eta_s, record.run_id
        with self._lock:
            tracker = self._live.get(record.id)
        if tracker is not None and record.status == JobStatus.RUNNING.value:  # running here: live progress
            snap = tracker.snapshot()
            phase, done, total, eta_s = snap["phase"], snap["done"], snap["total"], snap["eta_s"]
            run_id = snap["run_id"] or run_id
        error = (JobError(code=record.error_code or "error", message=record.error or "", hint=record.hint or "")
                 if record.status == JobStatus.FAILED.value and record.error else None)
        return Job(
            id=record.id, kind=JobKind(record.kind), scope=JobScope.model_validate(record.scope),
            status=JobStatus(record.status), phase=phase, done=done, total=total,
            eta_s=eta_s, percent=min(100, int(100 * done / total)) if total else None,
            result=record.result, error=error, actor=record.actor, executor=record.executor,
            run_id=run_id, created_at=record.created_at, started_at=record.started_at,
            finished_at=record.finished_at, heartbeat_at=record.heartbeat_at,
        )

    def _audit(self, actor: str, job: Job, action: str, details: dict[str, Any]) -> None:
        from core.store import repo as store_repo

        with self.store.session() as session:
            store_repo.record_audit(session=session, entry=AuditIn(
                actor=actor, system=AuditSystem.DGSYNC, object=f"job:{job.id}", action=action,
                run_id=job.run_id, details=details, env=self.env))


__all__ = [
    "InlineExecutor",
    "Job",
    "JobError",
    "JobEvent",
    "JobExecutor",
    "JobKind",
    "JobProgress",
    "JobScope",
    "JobService",
    "JobStatus",
    "Outcome",
    "Runner",
    "ThreadExecutor",
]
