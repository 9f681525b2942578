"""Fan-out of due work into *space slices* for independent workers (Bear's scheduler Lambda).

The in-process :class:`~core.sync.scheduler.Scheduler` runs whole priority classes. A
serverless deployment cannot: one worker invocation lasts at most 15 minutes. Here a due class
is split into slices of whole spaces, each sized to finish well inside a worker's time budget:

1. :func:`due_classes` — the classes whose ``schedule_state`` says they are due (exactly the
   rule ``dgsync run`` and ``dgsync status`` use: :func:`~core.sync.frequency.effective_next_due`).
2. :func:`plan_space_slices` — first-fit-decreasing packing of the spaces into slices of at
   most ``budget_s`` estimated seconds. A space's estimate is its number of known assets
   divided by the recent sync throughput (:func:`space_estimates`); a space not synced yet
   gets ``unknown_space_s``. A space bigger than the budget is a slice of its own: the worker
   stops it before its time runs out and re-queues it, and the next delivery resumes the run.
3. :func:`mark_dispatched` — the class is recorded as started and its next due time written
   *when the messages are queued*, so the next schedule tick does not queue it again while
   workers still run it.

Slice keys are ``<class>`` (the whole class) or ``<class>:<SPACE>[+<SPACE>...]``; the run of a
slice is recorded under its key, and :func:`record_slice_run` writes the class's schedule
state when a worker finishes one, so status shows worker runs exactly like scheduler runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from core.models import Priority
from core.store import repo
from core.store.schemas import RunKind, RunStatus, ScheduleStateIn, utcnow
from core.store.tables import AssetStateRow, RunRow
from core.sync.frequency import PRIORITY_ORDER, effective_next_due, frequencies

if TYPE_CHECKING:
    from core.services import Services
    from core.settings import ScheduleSettings
    from core.store.db import Store

#: Slices are sized to this many estimated seconds (a worker may run 900 s at most).
DEFAULT_BUDGET_S = 600.0
#: The estimate for a space dgsync has not synced yet (two unknown spaces share a slice).
DEFAULT_UNKNOWN_SPACE_S = 120.0
#: Assets per second assumed before any run has been recorded.
DEFAULT_THROUGHPUT = 5.0


@dataclass(frozen=True)
class SpaceSlice:
    """One message's worth of work: some spaces of one priority class."""

    priority: Priority
    spaces: tuple[str, ...]
    estimate_s: float

    @property
    def slice_key(self) -> str:
        return slice_key_for(self.priority, self.spaces)


def slice_key_for(priority: Priority, spaces: Sequence[str] = ()) -> str:
    """``high`` for the whole class, ``high:SALES+HR`` for some of its spaces."""
    return priority.value if not spaces else f"{priority.value}:{'+'.join(sorted(spaces))}"


def class_of(slice_key: str) -> Priority:
    """The priority class a slice key belongs to (``high:SALES`` → ``high``)."""
    return Priority(slice_key.split(":", 1)[0])


def due_classes(services: Services, *, now: datetime | None = None) -> list[Priority]:
    """The priority classes due at ``now``, most important first (``off`` ones never)."""
    now = now or utcnow()
    freqs = frequencies(services.settings.schedule)
    with services.store().session(readonly=True) as session:
        states = {s.slice_key: s for s in repo.list_schedule_states(session=session)}
    return [
        p for p in PRIORITY_ORDER
        if (due := effective_next_due(freqs[p], states.get(p.value))) is not None and due <= now
    ]


def space_estimates(
    store: Store, *, env: str, spaces: Sequence[str], unknown_space_s: float = DEFAULT_UNKNOWN_SPACE_S
) -> dict[str, float]:
    """Estimated seconds to sync each space: its known assets ÷ the recent throughput."""
    with store.session(readonly=True) as session:
        counts = dict(
            session.execute(
                select(AssetStateRow.space, func.count())
                .where(AssetStateRow.env == env, AssetStateRow.space.in_(list(spaces)))
                .group_by(AssetStateRow.space)
            ).all()
        )
        rates = session.scalars(
            select(RunRow.throughput)
            .where(RunRow.env == env, RunRow.kind != RunKind.PLAN.value,
                   RunRow.status.in_([RunStatus.SUCCEEDED.value, RunStatus.PARTIAL.value]),
                   RunRow.throughput.is_not(None))
            .order_by(RunRow.started_at.desc())
            .limit(20)
        ).all()
    known = [float(r) for r in rates if r is not None]
    throughput = max(statistics.median(known) if known else DEFAULT_THROUGHPUT, 0.01)
    return {sp: (counts[sp] / throughput if counts.get(sp) else unknown_space_s) for sp in spaces}


def plan_space_slices(
    priority: Priority, estimates: Mapping[str, float], *, budget_s: float = DEFAULT_BUDGET_S
) -> list[SpaceSlice]:
    """Pack the spaces into slices of at most ``budget_s`` estimated seconds (first fit,
    biggest space first; deterministic: ties broken by name)."""
    bins: list[tuple[list[str], float]] = []
    for space in sorted(estimates, key=lambda sp: (-estimates[sp], sp)):
        cost = max(estimates[space], 0.0)
        for index, (members, total) in enumerate(bins):
            if total + cost <= budget_s:
                bins[index] = ([*members, space], total + cost)
                break
        else:
            bins.append(([space], cost))
    return [SpaceSlice(priority, tuple(sorted(members)), total) for members, total in bins]


def mark_dispatched(services: Services, priority: Priority, *, now: datetime | None = None) -> datetime | None:
    """Record that the class's slices were queued at ``now``; return its next due time."""
    now = now or utcnow()
    frequency = frequencies(services.settings.schedule)[priority]
    next_due = frequency.next_due(started_at=now, finished_at=now)
    with services.store().session() as session:
        repo.set_schedule_state(
            session=session,
            state=ScheduleStateIn(slice_key=priority.value, last_started_at=now, next_due_at=next_due),
        )
    return next_due


def record_slice_run(*, store: Store, schedule: ScheduleSettings, slice_key: str, run_id: str | None) -> None:
    """Write the class's schedule state after a worker ran one of its slices.

    Every finished run sets the class's last run and finish time. A run of the whole class
    (slice key = class) also sets its start and next due time, as the scheduler does; for a
    space slice the scheduler set them when it queued the slices (:func:`mark_dispatched`).
    A failed run leaves the due time alone: the queue retries the message.
    """
    if not run_id or slice_key.split(":", 1)[0] not in {p.value for p in Priority}:
        return
    priority = class_of(slice_key)
    with store.session() as session:
        run = session.get(RunRow, run_id)
        if run is None or run.finished_at is None:
            return
        fields: dict[str, object] = {"slice_key": priority.value, "last_finished_at": run.finished_at,
                                     "last_run_id": run_id}
        if slice_key == priority.value and run.status != RunStatus.FAILED.value:
            frequency = frequencies(schedule)[priority]
            fields["last_started_at"] = run.started_at
            fields["next_due_at"] = frequency.next_due(started_at=run.started_at, finished_at=run.finished_at)
        repo.set_schedule_state(session=session, state=ScheduleStateIn.model_validate(fields))


__all__ = [
    "DEFAULT_BUDGET_S",
    "SpaceSlice",
    "class_of",
    "due_classes",
    "mark_dispatched",
    "plan_space_slices",
    "record_slice_run",
    "slice_key_for",
    "space_estimates",
]
