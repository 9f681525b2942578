"""The scheduler behind ``dgsync run``: priority slices, frequencies, leases, clean shutdown.

A *slice* is one priority class (``critical``, ``high``, ``medium``, ``low``); its slice key is
the class name. Each class has a frequency in :class:`core.settings.ScheduleSettings`:

* ``realtime`` — again ``realtime_interval_s`` after the previous run finished (polling);
* ``hourly`` / ``daily`` — one hour / one day after the previous run started (at once if
  that run took longer);
* a cron expression (5 fields or ``@hourly``-style aliases, evaluated in UTC) — the next
  matching time after the previous run finished; missed times are not caught up;
* ``off`` — never scheduled (``dgsync sync`` still covers it).

When a slice is next due is kept in the state store (``schedule_state.next_due_at``); a slice
that never ran is due at once. Due slices start in priority order, at most
``max_concurrency`` at a time, each under the lease of its slice key, so one slice never runs
twice at once — not in one process, not across processes or hosts sharing the database
(see :mod:`core.store.leases`). While a slice runs its lease is renewed every third of
``lease_ttl_s`` (at most every 30 s) and its run's heartbeat is refreshed; a lost lease stops
that run.

Before releasing a lease the scheduler writes the slice's next due time, and after taking one
it re-reads it: a second scheduler that saw the slice due a moment ago does not run it again.
Every run is ``engine.sync(priority=..., slice_key=..., trigger="scheduler", resume=True)``
(:func:`core.sync.slices.sync_slice`), so a run of the slice that was killed is resumed
automatically. Frequencies and due times live in :mod:`core.sync.frequency`.

Hot reload: before each run the scheduler asks :class:`core.config_versions.ConfigReloader`
for the services of the environment's applied configuration version; a version applied while
the scheduler runs is used from the next run on (never mid-run), and the run records it
(``scope.config_version``).

A run that raises (or ends ``failed``) is logged and the slice retried after an exponential
backoff (``backoff_base_s`` · 2^(n−1), at most ``backoff_max_s``, never sooner than the
real-time interval for a real-time slice); it never stops the loop. A run stopped by shutdown
(``aborted``) is due again at once.

:meth:`Scheduler.request_shutdown` (installed for SIGTERM and SIGINT by
:meth:`Scheduler.install_signal_handlers`) stops starting work, asks running engines to stop
after the objects in flight, waits for them and releases their leases.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from core.errors import DgsyncError
from core.log import get_logger
from core.models import Priority
from core.settings import ScheduleSettings
from core.store import repo
from core.store.db import default_holder
from core.store.leases import acquire_lease, release_lease, renew_lease
from core.store.schemas import (
    RunKind,
    RunStatus,
    ScheduleStateIn,
    default_host,
    utcnow,
)
from core.store.tables import RunRow
from core.sync.frequency import (
    DEFAULT_BACKOFF_BASE_S,
    DEFAULT_BACKOFF_MAX_S,
    PRIORITY_ORDER,
    Frequency,
    effective_next_due,
    frequencies,
    parse_frequency,
    slice_keys,
)
from core.sync.slices import (
    EngineFactory,
    SliceEngine,
    SliceOutcome,
    services_engine,
    sync_slice,
)

if TYPE_CHECKING:
    from core.services import Services
    from core.store.db import Store

log = get_logger(__name__)

#: Names that live in :mod:`core.sync.frequency` and :mod:`core.sync.slices`, still
#: importable from here.
__all__ = [
    "DEFAULT_BACKOFF_BASE_S",
    "DEFAULT_BACKOFF_MAX_S",
    "PRIORITY_ORDER",
    "EngineFactory",
    "Frequency",
    "Scheduler",
    "SliceEngine",
    "SliceOutcome",
    "effective_next_due",
    "frequencies",
    "parse_frequency",
    "slice_keys",
]

#: How often ``run_forever`` looks at the schedule when nothing else wakes it (seconds).
DEFAULT_TICK_S = 1.0
#: How often the loop runs the alert tick (escalation, periodic checks).
ALERT_TICK_S = 60.0
#: Leases are renewed (and run heartbeats refreshed) at least this often (seconds).
MAX_RENEW_EVERY_S = 30.0

@dataclass
class _Job:
    priority: Priority
    thread: threading.Thread | None = None
    engine: SliceEngine | None = None
    outcome: SliceOutcome | None = None
    #: The engine's report of the run (for the alert rules).
    report: Any = None
    lease_lost: bool = False
    renew_stop: threading.Event = field(default_factory=threading.Event)
    #: The services and configuration version the run uses (chosen when it starts).
    services: Services | None = None
    config_version: int | None = None
    config_error: DgsyncError | None = None


# ------------------------------------------------------------------------ the scheduler


class Scheduler:
    """Starts due slices in priority order under leases, with bounded concurrency."""

    def __init__(
        self,
        services: Services,
        *,
        engine_factory: EngineFactory | None = None,
        clock: Callable[[], datetime] = utcnow,
        holder: str | None = None,
        max_concurrency: int | None = None,
        tick_s: float = DEFAULT_TICK_S,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
    ) -> None:
        if engine_factory is None:
            engine_factory = services_engine
        from core.config_versions import ConfigReloader

        self.services = services
        #: Hot reload: each run uses the environment's applied configuration version.
        self.reloader = ConfigReloader(services)
        self.settings: ScheduleSettings = services.settings.schedule
        self.env: str = services.settings.env
        self.frequencies = frequencies(self.settings)
        self.engine_factory = engine_factory
        self.clock = clock
        #: Lease holder identity: ``host:pid:random`` (unique per scheduler instance).
        self.holder = holder or f"{default_holder()}:{secrets.token_hex(3)}"
        self.max_concurrency = max(1, max_concurrency or self.settings.max_concurrency)
        self.tick_s = tick_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.lease_ttl_s = self.settings.lease_ttl_s
        self._lock = threading.Condition()
        self._jobs: dict[str, _Job] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._failures: dict[str, int] = {}
        self._last_alert_tick: datetime | None = None
        #: Every outcome of this scheduler, oldest first (bounded).
        self.history: list[SliceOutcome] = []

    # -- public -----------------------------------------------------------------------
    @property
    def store(self) -> Store:
        return self.services.store()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def running_slices(self) -> list[str]:
        with self._lock:
            return sorted(self._jobs, key=lambda k: Priority(k).rank)

    def next_due(self) -> dict[Priority, datetime | None]:
        """Each class's due time (``None``: off; the minimum datetime: never ran, due now)."""
        with self.store.session(readonly=True) as session:
            states = {s.slice_key: s for s in repo.list_schedule_states(session=session)}
        return {
            p: effective_next_due(self.frequencies[p], states.get(p.value), backoff_max_s=self.backoff_max_s)
            for p in PRIORITY_ORDER
        }

    def due_slices(self, now: datetime | None = None) -> list[Priority]:
        """The classes due at ``now`` (default: the clock), in priority order."""
        now = now or self.clock()
        return [p for p, due in self.next_due().items() if due is not None and due <= now]

    def run_once(self) -> list[SliceOutcome]:
        """Run every slice due now, in priority order, ``max_concurrency`` at a time; wait
        for them and return their outcomes (skipped ones included)."""
        outcomes: list[SliceOutcome] = []
        jobs: list[_Job] = []
        for priority in self.due_slices():
            if not self._wait_for_slot():
                break
            job, skipped = self._try_start(priority)
            if job is not None:
                jobs.append(job)
            elif skipped is not None:
                outcomes.append(skipped)
        for job in jobs:
            assert job.thread is not None
            job.thread.join()
            if job.outcome is not None:
                outcomes.append(job.outcome)
        outcomes.sort(key=lambda o: Priority(o.slice_key).rank)
        return outcomes

    def run_forever(self) -> None:
        """Start due work until :meth:`request_shutdown`; then wait for running slices."""
        log.info(
            "scheduler started",
            extra={
                "holder": self.holder,
                "max_concurrency": self.max_concurrency,
                "frequencies": {p.value: f.spec for p, f in self.frequencies.items()},
            },
        )
        try:
            while not self._stop.is_set():
                wait_s = self.tick_s
                try:
                    self._alerts_tick()
                    wait_s = self._tick()
                except DgsyncError as exc:
                    log.error("scheduler tick failed", extra={"error": exc.message, "hint": exc.hint})
                except Exception:
                    log.exception("scheduler tick failed")
                self._wake.wait(timeout=max(0.0, wait_s))
                self._wake.clear()
        finally:
            self._shutdown_jobs()
            log.info("scheduler stopped", extra={"holder": self.holder})

    def request_shutdown(self) -> None:
        """Stop starting work and ask every running engine to stop (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()
        for job in list(self._jobs.values()):
            if job.engine is not None:
                job.engine.request_stop()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT → :meth:`request_shutdown` (call from the main thread)."""

        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("shutdown requested", extra={"signal": signal.Signals(signum).name})
            self.request_shutdown()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- the loop ---------------------------------------------------------------------
    def _tick(self) -> float:
        """Start what is due and fits; return how long to wait before looking again."""
        now = self.clock()
        due_times = self.next_due()
        for priority, due in due_times.items():
            if self._stop.is_set():
                break
            if due is None or due > now:
                continue
            with self._lock:
                if priority.value in self._jobs or len(self._jobs) >= self.max_concurrency:
                    continue
            self._try_start(priority)
        upcoming = [
            (due - now).total_seconds()
            for p, due in due_times.items()
            if due is not None and due > now and p.value not in self._jobs
        ]
        return min([self.tick_s, *upcoming])

    def _wait_for_slot(self) -> bool:
        with self._lock:
            while len(self._jobs) >= self.max_concurrency and not self._stop.is_set():
                self._lock.wait(timeout=0.5)
            return not self._stop.is_set()

    def _try_start(self, priority: Priority) -> tuple[_Job | None, SliceOutcome | None]:
        """Take the slice's lease, re-check it is due, and start it in a thread."""
        key = priority.value
        now = self.clock()
        with self._lock:
            if key in self._jobs or self._stop.is_set():
                return None, None
            job = _Job(priority=priority)
            self._jobs[key] = job  # reserved: this process never starts the slice twice
        try:
            taken = acquire_lease(store=self.store, slice_key=key, holder=self.holder,
                                  ttl_s=self.lease_ttl_s, now=now)
        except BaseException:
            self._finish_job(job, release=False)
            raise
        if not taken:
            self._finish_job(job, release=False)
            log.debug("slice leased by another scheduler", extra={"slice": key})
            return None, SliceOutcome(slice_key=key, status="skipped", error="lease held by another worker")
        try:
            # Another scheduler may have run it between our look at the schedule and the lease.
            due = self.next_due()[priority]
            if due is None or due > now:
                self._finish_job(job, release=True)
                return None, SliceOutcome(slice_key=key, status="skipped", next_due_at=due,
                                          error="no longer due")
            with self.store.session() as session:
                repo.set_schedule_state(session=session, state=ScheduleStateIn(slice_key=key, last_started_at=now))
        except BaseException:
            self._finish_job(job, release=True)
            raise
        try:
            # The applied configuration version, fixed for the whole run (hot reload).
            job.services, job.config_version = self.reloader.for_next_run()
        except DgsyncError as exc:
            job.config_error = exc
        job.thread = threading.Thread(target=self._run_job, args=(job, now), name=f"dgsync-slice-{key}", daemon=True)
        job.thread.start()
        return job, None

    def _run_job(self, job: _Job, started_at: datetime) -> None:
        key = job.priority.value
        renewer = threading.Thread(target=self._renew_loop, args=(job,), name=f"dgsync-lease-{key}", daemon=True)
        outcome = SliceOutcome(slice_key=key, status="error", started_at=started_at)
        try:
            if job.config_error is not None:
                raise job.config_error
            services, config_version = job.services or self.services, job.config_version
            engine = self.engine_factory(services)
            job.engine = engine
            if self._stop.is_set():
                engine.request_stop()
            renewer.start()
            log.info("slice started", extra={"slice": key, "holder": self.holder,
                                             "config_version": config_version})
            options: dict[str, Any] = {} if config_version is None else {"config_version": config_version}
            report = sync_slice(engine, slice_key=key, priority=job.priority, trigger="scheduler",
                                **options)
            job.report = report
            outcome.status = str(getattr(report, "status", "succeeded"))
            outcome.run_id = getattr(report, "run_id", None)
        except DgsyncError as exc:
            outcome.error, outcome.hint, outcome.code = exc.message, exc.hint, exc.code
            log.error("slice run failed", extra={"slice": key, "error": exc.message, "hint": exc.hint})
        except Exception as exc:
            outcome.error, outcome.code = f"{type(exc).__name__}: {exc}", "internal_error"
            log.exception("slice run crashed", extra={"slice": key})
        finally:
            job.renew_stop.set()
            if renewer.is_alive():
                renewer.join()
            if job.lease_lost and outcome.status not in ("error", "failed"):
                outcome.error = outcome.error or "lease lost while running; stopped"
            outcome.finished_at = self.clock()
            outcome.next_due_at = self._record_finish(job, outcome)
            job.outcome = outcome
            self._finish_job(job, release=True)
            self._alerts_after_run(job, outcome)
            log.info(
                "slice finished",
                extra={"slice": key, "status": outcome.status, "run": outcome.run_id,
                       "next_due_at": outcome.next_due_at.isoformat() if outcome.next_due_at else None},
            )

    def _alerts_after_run(self, job: _Job, outcome: SliceOutcome) -> None:
        """Alert rules over the slice's finished run (never raises; see core.governance)."""
        from core.governance.alerts import evaluate_after_run

        evaluate_after_run(self.services, run_id=outcome.run_id, report=job.report,
                           slice_key=outcome.slice_key, since=outcome.started_at)

    def _alerts_tick(self) -> None:
        """Escalation and periodic alert checks, at most once a minute (never raises)."""
        now = self.clock()
        if self._last_alert_tick is not None and (now - self._last_alert_tick).total_seconds() < ALERT_TICK_S:
            return
        self._last_alert_tick = now
        from core.governance.alerts import run_tick

        run_tick(self.services)

    def _record_finish(self, job: _Job, outcome: SliceOutcome) -> datetime | None:
        """Write last_finished/last_run_id/next_due_at (before the lease is released)."""
        key = job.priority.value
        assert outcome.started_at is not None and outcome.finished_at is not None
        frequency = self.frequencies[job.priority]
        failed = outcome.status in ("error", "failed")
        next_due: datetime | None
        if failed:
            failures = self._count_failure(key)
            delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (failures - 1))
            if frequency.kind == "realtime" and frequency.interval_s is not None:
                delay = max(delay, frequency.interval_s)
            next_due = outcome.finished_at + timedelta(seconds=delay)
            log.warning("slice will be retried", extra={"slice": key, "attempt": failures + 1,
                                                        "retry_in_s": round(delay, 1)})
        else:
            self._failures.pop(key, None)
            if outcome.status == "aborted" or job.lease_lost:
                next_due = outcome.finished_at  # not a whole pass: due again at once
            else:
                next_due = frequency.next_due(started_at=outcome.started_at, finished_at=outcome.finished_at)
        fields: dict[str, Any] = {"slice_key": key, "last_finished_at": outcome.finished_at, "next_due_at": next_due}
        if outcome.run_id:
            fields["last_run_id"] = outcome.run_id
        if job.lease_lost:
            return next_due  # the slice is someone else's now: leave its schedule alone
        try:
            with self.store.session() as session:
                repo.set_schedule_state(session=session, state=ScheduleStateIn(**fields))
        except DgsyncError as exc:
            log.error("could not record the slice schedule", extra={"slice": key, "error": exc.message})
        return next_due

    def _count_failure(self, key: str) -> int:
        """Consecutive failures of the slice: this process's count, or the store's if higher."""
        count = self._failures.get(key, 0) + 1
        try:
            with self.store.session(readonly=True) as session:
                statuses = session.scalars(
                    select(RunRow.status)
                    .where(RunRow.env == self.env, RunRow.slice_key == key, RunRow.kind != RunKind.PLAN.value)
                    .order_by(RunRow.started_at.desc(), RunRow.id.desc())
                    .limit(20)
                ).all()
        except DgsyncError:
            statuses = []
        stored = 0
        for status in statuses:
            if status != RunStatus.FAILED.value:
                break
            stored += 1
        count = max(count, stored)
        self._failures[key] = count
        return count

    def _renew_loop(self, job: _Job) -> None:
        key = job.priority.value
        every = max(0.05, min(self.lease_ttl_s / 3, MAX_RENEW_EVERY_S))
        while not job.renew_stop.wait(timeout=every):
            try:
                kept = renew_lease(store=self.store, slice_key=key, holder=self.holder,
                                   ttl_s=self.lease_ttl_s, now=self.clock())
            except DgsyncError as exc:
                log.warning("could not renew a lease", extra={"slice": key, "error": exc.message})
                continue
            if not kept:
                log.error("lease lost; stopping the slice", extra={"slice": key, "holder": self.holder})
                job.lease_lost = True
                if job.engine is not None:
                    job.engine.request_stop()
                return
            self._heartbeat_run(key)

    def _heartbeat_run(self, key: str) -> None:
        """Refresh the heartbeat of this process's running run of the slice (we hold its lease)."""
        host, pid = default_host(), os.getpid()
        try:
            with self.store.session() as session:
                for run in repo.list_runs(session=session, status=RunStatus.RUNNING, env=self.env, limit=200):
                    if run.slice_key == key and run.pid == pid and run.host == host:
                        repo.heartbeat_run(session=session, run_id=run.id)
        except DgsyncError as exc:
            log.warning("could not refresh a run heartbeat", extra={"slice": key, "error": exc.message})

    def _finish_job(self, job: _Job, *, release: bool) -> None:
        key = job.priority.value
        if release and not job.lease_lost:
            try:
                release_lease(store=self.store, slice_key=key, holder=self.holder)
            except DgsyncError as exc:
                log.error("could not release a lease (it expires on its own)",
                          extra={"slice": key, "error": exc.message})
        with self._lock:
            if self._jobs.get(key) is job:
                del self._jobs[key]
            if job.outcome is not None:
                self.history.append(job.outcome)
                del self.history[:-1000]
            self._lock.notify_all()
        self._wake.set()

    def _shutdown_jobs(self) -> None:
        """Ask running engines to stop and wait for them (their leases are released)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.engine is not None:
                job.engine.request_stop()
        for job in jobs:
            if job.thread is not None and job.thread is not threading.current_thread():
                job.thread.join()
