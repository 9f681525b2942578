"""One slice run: the engine seam, the outcome, and "sync one slice under its lease".

Every frontend that runs a slice (the scheduler, the Lambda worker) calls the engine through
:func:`sync_slice` — always ``engine.sync(resume=True, trigger=..., slice_key=...,
priority=...)``, so a killed run of the slice is resumed. :func:`run_slice_under_lease` adds
the lease for a caller that runs one slice and stops (the Lambda worker): the lease is held for
the run or :class:`~core.errors.LeaseHeld` is raised at once. The scheduler takes its leases
itself (a held lease is a skip there, not an error, and it renews them while the run lasts).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from core.models import Priority
from core.store.leases import held_lease

if TYPE_CHECKING:
    from core.services import Services
    from core.settings import ScheduleSettings
    from core.store.db import Store


class SliceEngine(Protocol):
    """What the scheduler needs of an engine (``core.sync.engine.SyncEngine`` fits)."""

    def sync(
        self, *, resume: bool, trigger: str, slice_key: str | None, priority: Priority | None
    ) -> Any: ...

    def request_stop(self) -> None: ...


EngineFactory = Callable[["Services"], SliceEngine]


def services_engine(services: Services) -> SliceEngine:
    """The default engine factory: the composition root builds the engine."""
    return services.engine()


@dataclass
class SliceOutcome:
    """What happened to one due slice in a scheduler pass.

    ``status``: a run status (``succeeded``, ``partial``, ``failed``, ``aborted``...),
    ``error`` (the engine raised), or ``skipped`` (another scheduler holds the lease, or the
    slice was no longer due once the lease was taken).
    """

    slice_key: str
    status: str
    run_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    next_due_at: datetime | None = None
    error: str | None = None
    hint: str | None = None
    #: The error class (``DgsyncError.code``) when the engine raised; ``internal_error`` for
    #: anything else.
    code: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "partial", "aborted", "skipped")


def sync_slice(
    engine: SliceEngine, *, slice_key: str, priority: Priority | None, trigger: str, **options: Any
) -> Any:
    """Run one slice's sync (resumed if a run of it was killed); the engine's report."""
    return engine.sync(resume=True, trigger=trigger, slice_key=slice_key, priority=priority, **options)


def run_slice_under_lease(
    engine: SliceEngine,
    *,
    store: Store,
    slice_key: str,
    priority: Priority | None,
    holder: str,
    ttl_s: float,
    trigger: str,
    stop_after_s: float | None = None,
    schedule: ScheduleSettings | None = None,
    **options: Any,
) -> Any:
    """:func:`sync_slice` while holding the slice's lease (:class:`~core.errors.LeaseHeld` at
    once when another holder has it); with ``stop_after_s`` the engine is asked to stop
    after that many seconds (it finishes the objects in flight).

    With ``schedule`` the class's schedule state is written after the run, as the scheduler
    does (:func:`core.sync.fanout.record_slice_run`), so ``dgsync status`` counts the run."""
    timer = None
    if stop_after_s is not None:
        timer = threading.Timer(max(stop_after_s, 0.0), engine.request_stop)
        timer.daemon = True
        timer.start()
    try:
        with held_lease(store=store, slice_key=slice_key, holder=holder, ttl_s=ttl_s):
            report = sync_slice(engine, slice_key=slice_key, priority=priority, trigger=trigger, **options)
            if schedule is not None:
                from core.sync.fanout import record_slice_run

                record_slice_run(store=store, schedule=schedule, slice_key=slice_key,
                                 run_id=getattr(report, "run_id", None))
            return report
    finally:
        if timer is not None:
            timer.cancel()
