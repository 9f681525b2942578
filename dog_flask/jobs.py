"""Background sync jobs of one Dog app: a thread each, owned by the app, polled by the page.

``JobRunner.start(services, scope, preview)`` returns at once with a :class:`Job`; the thread
runs ``services.engine(progress=...).sync(...)``, records the stage, done/total and the report
(or the core error), then persists the embedded Glue (``services.save_glue()``) so the CLI sees
the result even if Dog is killed later. ``shutdown()`` (on app close) asks running engines to
stop after the objects in flight and waits for them.

Dry-run reports are kept (the last :data:`KEEP` of them) as *previews*: the Apply button
names one, so the run page can show the field-level diffs that were approved.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.errors import DgsyncError, NotFound
from core.governance.hooks import run_with_governance
from core.log import get_logger
from dog_flask.scope import Scope

if TYPE_CHECKING:
    from core.services import Services
    from core.sync.plan import FieldDiff
    from core.sync.report import SyncReport

log = get_logger(__name__)

KEEP = 20
STAGES = ("queued", "extract", "read_live", "map", "apply", "saving", "finished")


@dataclass
class Preview:
    id: str
    scope: Scope
    report: SyncReport
    made_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def diffs(self) -> dict[str, list[FieldDiff]]:
        plan = self.report.plan
        return {i.object: list(i.diffs) for i in (plan.items if plan else [])}

    def impact(self) -> dict[str, list[str]]:
        plan = self.report.plan
        return {i.object: list(i.impact) for i in (plan.items if plan else []) if i.impact}


@dataclass
class Job:
    id: str
    scope: Scope
    preview: Preview | None = None
    state: str = "queued"  # queued → running → finished | failed
    stage: str = "queued"
    done: int = 0
    total: int | None = None
    started_at: float = field(default_factory=time.monotonic)
    stage_started_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    report: SyncReport | None = None
    error: DgsyncError | None = None
    stages_seen: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def elapsed_s(self) -> float:
        return (self.finished_at or time.monotonic()) - self.started_at

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, int(100 * self.done / self.total))

    @property
    def eta_s(self) -> float | None:
        """Seconds left in this stage, from its rate so far (``None`` when unknown)."""
        if not self.total or not self.done or self.done >= self.total:
            return None
        spent = time.monotonic() - self.stage_started_at
        return spent / self.done * (self.total - self.done)

    def on_progress(self, stage: str, done: int, total: int | None) -> None:
        if stage != self.stage:
            self.stage_started_at = time.monotonic()
            if stage not in self.stages_seen:
                self.stages_seen.append(stage)
        self.state, self.stage, self.done, self.total = "running", stage, done, total


class JobRunner:
    """The jobs and previews of one app (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._previews: OrderedDict[str, Preview] = OrderedDict()
        self._threads: dict[str, threading.Thread] = {}
        self._engines: dict[str, Any] = {}

    # -- previews -------------------------------------------------------------------------
    def keep_preview(self, scope: Scope, report: SyncReport) -> Preview:
        preview = Preview(id=uuid.uuid4().hex[:12], scope=scope, report=report)
        with self._lock:
            self._previews[preview.id] = preview
            while len(self._previews) > KEEP:
                self._previews.popitem(last=False)
        return preview

    def preview(self, preview_id: str) -> Preview:
        with self._lock:
            found = self._previews.get(preview_id)
        if found is None:
            raise NotFound(
                f"no preview {preview_id!r} (Dog keeps the last {KEEP}, in memory)",
                hint="Preview the sync again, then apply it.",
            )
        return found

    # -- jobs -----------------------------------------------------------------------------
    def start(self, services: Services, scope: Scope, preview: Preview | None = None) -> Job:
        """Start a sync of ``scope`` in a background thread; returns at once."""
        job = Job(id=uuid.uuid4().hex[:12], scope=scope, preview=preview)
        engine = services.engine(progress=job.on_progress)
        thread = threading.Thread(
            target=self._run, args=(services, engine, job), name=f"dog-job-{job.id}", daemon=True
        )
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].running:
                    break
                self._jobs.popitem(last=False)
            self._threads[job.id] = thread
            self._engines[job.id] = engine
        thread.start()
        return job

    def _run(self, services: Services, engine: Any, job: Job) -> None:
        job.state = "running"
        try:
            # Audit the user action and evaluate the alert rules after the run (also when it
            # raises): the one governance hook every frontend calls.
            job.report = run_with_governance(services, lambda: engine.sync(
                spaces=job.scope.spaces or None,
                kinds=job.scope.kinds or None,
                priority=job.scope.priority,
                trigger="api",
                actor="dog",
            ), actor="dog")
        except DgsyncError as exc:
            job.error = exc
        except Exception as exc:  # a bug: keep the thread's failure visible on the page
            log.exception("sync job crashed", extra={"job": job.id})
            job.error = DgsyncError(
                f"the sync crashed: {type(exc).__name__}: {exc}",
                hint="This is a dgsync bug: the Dog log has the traceback.",
            )
        job.stage = "saving"
        try:
            services.save_glue()
        except Exception:  # the snapshot is written again when Dog stops
            log.warning("could not save the embedded Glue after a job", exc_info=True)
        job.state = "failed" if job.error is not None else "finished"
        job.stage = "finished"
        job.finished_at = time.monotonic()
        with self._lock:
            self._engines.pop(job.id, None)

    def get(self, job_id: str) -> Job:
        with self._lock:
            found = self._jobs.get(job_id)
        if found is None:
            raise NotFound(
                f"no job {job_id!r} in this Dog (jobs live in memory until Dog stops)",
                hint="Finished syncs are listed under Runs.",
            )
        return found

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(reversed(self._jobs.values()))

    def wait(self, job_id: str, timeout: float) -> bool:
        """Wait for a job's thread (tests, shutdown); returns whether it finished."""
        with self._lock:
            thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def shutdown(self, timeout: float = 30.0) -> None:
        """Ask running syncs to stop after the objects in flight, and wait for them."""
        with self._lock:
            engines = list(self._engines.values())
            threads = list(self._threads.values())
        for engine in engines:
            engine.request_stop()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
