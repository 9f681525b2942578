"""Status and run listings: what ``dgsync status``, ``dgsync runs``, the dashboards and the MCP
server show.

Everything here is read from the state store (read-only sessions), so any process can report
on the schedulers and runs of any other. The models are a stable, documented contract
(``docs/sync.md``, "Status fields"): fields are only ever added, never renamed or removed, and
``schema_version`` is bumped when a field's meaning changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from core.glue.stats import is_write
from core.models import Priority
from core.store import repo
from core.store.leases import list_leases
from core.store.schemas import (
    AssetStatus,
    RunCounts,
    RunError,
    RunKind,
    RunOut,
    RunStatus,
    ScheduleStateOut,
    utcnow,
)
from core.store.tables import ConflictRow
from core.sync import exit_codes
from core.sync.scheduler import (
    DEFAULT_BACKOFF_MAX_S,
    PRIORITY_ORDER,
    effective_next_due,
    frequencies,
)

if TYPE_CHECKING:
    from core.services import Services

#: Version of the status/runs JSON contract.
STATUS_SCHEMA_VERSION = 1
#: How many recent runs the overview carries.
RECENT_RUNS = 10


class RunView(RunOut):
    """A run as listed: every stored field of :class:`RunOut` plus derived totals.

    ``glue_calls`` / ``glue_writes`` / ``datasphere_calls`` sum ``api_calls``; ``stale`` is
    true for a run that still says ``running`` but has sent no heartbeat for the lease TTL
    (its process died: the next run of its slice resumes it).
    """

    glue_calls: int = 0
    glue_writes: int = 0
    datasphere_calls: int = 0
    stale: bool = False
    #: The exit code the run's outcome implies (``docs/operations.md``); ``None`` while running.
    exit_code: int | None = None
    #: The applied configuration version the run used (``scope.config_version``); ``None``
    #: when no version was applied (the process's own settings).
    config_version: int | None = None

    @classmethod
    def of(cls, run: RunOut, *, now: datetime, stale_after_s: float) -> RunView:
        glue = run.api_calls.get("glue", {})
        last_sign = run.heartbeat_at or run.started_at
        return cls(
            **run.model_dump(),
            glue_calls=sum(glue.values()),
            glue_writes=sum(n for op, n in glue.items() if is_write(op)),
            datasphere_calls=sum(run.api_calls.get("datasphere", {}).values()),
            stale=run.status is RunStatus.RUNNING and last_sign < now - timedelta(seconds=stale_after_s),
            exit_code=exit_codes.for_run(run.status.value, run.errors),
            config_version=run.scope.config_version,
        )


class SliceStatus(BaseModel):
    """One priority class: its schedule, whether it runs now, and how it last ended."""

    model_config = ConfigDict(extra="forbid")

    slice_key: str
    priority: Priority
    #: The configured frequency: ``realtime``, ``hourly``, ``daily``, ``off`` or a cron line.
    frequency: str
    enabled: bool
    #: When it is next due; ``None`` when it never ran (due at once) or is ``off``.
    next_due_at: datetime | None
    never_run: bool
    due_now: bool
    #: A scheduler holds the slice's lease right now.
    running: bool
    lease_holder: str | None = None
    lease_expires_at: datetime | None = None
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_run_id: str | None = None
    last_status: RunStatus | None = None
    last_counts: RunCounts | None = None
    last_duration_s: float | None = None
    last_errors: list[RunError] = Field(default_factory=list)


class StatusOverview(BaseModel):
    """Everything ``dgsync status`` shows."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = STATUS_SCHEMA_VERSION
    generated_at: datetime
    env: str
    #: The state store URL, password masked.
    database: str
    running: list[RunView]
    recent: list[RunView]
    slices: list[SliceStatus]
    #: Assets by state (every :class:`AssetStatus` present, zeros included).
    assets: dict[str, int]
    assets_total: int
    open_conflicts: int


def _stale_after(services: Services) -> float:
    return float(services.settings.schedule.lease_ttl_s)


def runs_listing(
    services: Services,
    *,
    limit: int = 20,
    status: RunStatus | str | None = None,
    now: datetime | None = None,
) -> list[RunView]:
    """The most recent runs of the environment, newest first (optionally one status only)."""
    now = now or utcnow()
    env = services.settings.env
    with services.store().session(readonly=True) as session:
        runs = repo.list_runs(
            session=session, limit=limit, env=env, status=RunStatus(status) if status else None
        )
    return [RunView.of(r, now=now, stale_after_s=_stale_after(services)) for r in runs]


def _state_from_run(p: Priority, freq: Any, state: Any, run: RunOut | None) -> Any:
    """The class's schedule state, completed from its newest run when the state lacks one.

    Runs made outside the scheduler (Bear's workers, before they recorded the class's state)
    still count: the class last ran then and is next due when its frequency says.
    """
    if run is None or (state is not None and state.next_due_at is not None and state.last_run_id):
        return state
    assert run.finished_at is not None
    next_due = freq.next_due(started_at=run.started_at, finished_at=run.finished_at)
    return ScheduleStateOut(
        slice_key=p.value,
        last_started_at=(state.last_started_at if state and state.last_started_at else run.started_at),
        last_finished_at=run.finished_at,
        last_run_id=run.id,
        next_due_at=(state.next_due_at if state and state.next_due_at else next_due),
    )


def _latest_class_runs(session: Any, env: str) -> dict[str, RunOut]:
    """The newest finished run (plans excluded) of each class: its own slice key or one of its
    space slices (``high``, ``high:SALES``...). A run still running is no "last run" yet."""
    newest: dict[str, RunOut] = {}
    for run in repo.list_runs(session=session, limit=200, env=env):
        if run.kind is RunKind.PLAN or not run.slice_key or run.finished_at is None:
            continue
        key = run.slice_key.split(":", 1)[0]
        if key in {p.value for p in PRIORITY_ORDER}:
            newest.setdefault(key, run)
    return newest


def _slice_status(
    p: Priority, freq: Any, state: Any, lease: Any, last: RunOut | None, now: datetime
) -> SliceStatus:
    due = effective_next_due(freq, state, backoff_max_s=DEFAULT_BACKOFF_MAX_S)
    never_run = state is None or state.next_due_at is None
    return SliceStatus(
        slice_key=p.value,
        priority=p,
        frequency=freq.spec,
        enabled=freq.enabled,
        next_due_at=None if (due is None or never_run) else due,
        never_run=never_run,
        due_now=due is not None and due <= now and lease is None,
        running=lease is not None,
        lease_holder=lease.holder if lease else None,
        lease_expires_at=lease.expires_at if lease else None,
        last_started_at=state.last_started_at if state else None,
        last_finished_at=state.last_finished_at if state else None,
        last_run_id=state.last_run_id if state else None,
        last_status=last.status if last else None,
        last_counts=last.counts if last else None,
        last_duration_s=last.duration_s if last else None,
        last_errors=last.errors[:20] if last else [],
    )


def status_overview(services: Services, *, now: datetime | None = None, recent: int = RECENT_RUNS) -> StatusOverview:
    """Current and recent runs, each class's schedule and last result, asset and conflict counts."""
    now = now or utcnow()
    settings = services.settings
    env = settings.env
    store = services.store()
    stale_after = _stale_after(services)
    freqs = frequencies(settings.schedule)
    with store.session(readonly=True) as session:
        running = repo.list_runs(session=session, limit=100, env=env, status=RunStatus.RUNNING)
        recent_runs = repo.list_runs(session=session, limit=recent, env=env)
        states = {s.slice_key: s for s in repo.list_schedule_states(session=session)}
        leases = {lease.slice_key: lease for lease in list_leases(session=session, active_only=True, now=now)}
        newest = _latest_class_runs(session, env)
        last_runs: dict[str, RunOut] = {}
        for p in PRIORITY_ORDER:
            state = _state_from_run(p, freqs[p], states.get(p.value), newest.get(p.value))
            if state is not None:
                states[p.value] = state
            if state is not None and state.last_run_id:
                last = repo.run_out(session=session, run_id=state.last_run_id)
                if last is not None:
                    last_runs[p.value] = last
        counts = repo.asset_status_counts(session=session, env=env)
        open_conflicts = int(
            session.scalar(select(func.count()).select_from(ConflictRow).where(ConflictRow.resolved_at.is_(None)))
            or 0
        )
    slices = [
        _slice_status(p, freqs[p], states.get(p.value), leases.get(p.value), last_runs.get(p.value), now)
        for p in PRIORITY_ORDER
    ]
    assets = {s.value: 0 for s in AssetStatus}
    assets.update({str(k): int(v) for k, v in counts.items()})
    return StatusOverview(
        generated_at=now,
        env=env,
        database=store.url,
        running=[RunView.of(r, now=now, stale_after_s=stale_after) for r in running],
        recent=[RunView.of(r, now=now, stale_after_s=stale_after) for r in recent_runs],
        slices=slices,
        assets=assets,
        assets_total=sum(assets.values()),
        open_conflicts=open_conflicts,
    )


__all__ = [
    "RECENT_RUNS",
    "STATUS_SCHEMA_VERSION",
    "RunView",
    "SliceStatus",
    "StatusOverview",
    "runs_listing",
    "status_overview",
]
