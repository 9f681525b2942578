"""Runs in the state store: start, heartbeat, finish, read, list, and find or interrupt dead runs.

Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core.errors import StoreError
from core.store.schemas import (
    ItemStatus,
    RunCounts,
    RunDetail,
    RunError,
    RunIn,
    RunItemOut,
    RunKind,
    RunOut,
    RunResult,
    RunScope,
    RunStatus,
    Trigger,
    utcnow,
)
from core.store.tables import RunItemRow, RunRow

#: A run whose heartbeat is older than this is considered dead (killed, crashed).
DEFAULT_STALE_AFTER_S = 120.0
_COUNT_FIELDS: tuple[str, ...] = tuple(RunCounts.model_fields)

def _run_out(row: RunRow) -> RunOut:
    return RunOut(
        id=row.id,
        kind=RunKind(row.kind),
        env=row.env,
        status=RunStatus(row.status),
        trigger=Trigger(row.trigger),
        scope=RunScope.model_validate(row.scope or {}),
        slice_key=row.slice_key,
        started_at=row.started_at,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
        duration_s=row.duration_s,
        counts=RunCounts(**{name: getattr(row, name) or 0 for name in _COUNT_FIELDS}),
        assets_total=row.assets_total or 0,
        throughput=row.throughput,
        api_calls=row.api_calls or {},
        retries=row.retries or 0,
        throttles=row.throttles or 0,
        errors=[RunError.model_validate(e) for e in row.errors or []],
        resumed_from=row.resumed_from,
        host=row.host,
        pid=row.pid,
        summary=row.summary,
        metrics=row.metrics,
    )


def _get_run_row(session: Session, run_id: str) -> RunRow:
    row = session.get(RunRow, run_id)
    if row is None:
        raise StoreError(
            f"no run {run_id!r} in the state store",
            hint="Use an id that `dgsync runs` lists.",
        )
    return row


def start_run(*, session: Session, run: RunIn) -> RunOut:
    """Record a run as ``running``. A run that resumes another marks that one
    ``interrupted`` (if it still says ``running``)."""
    if run.resumed_from is not None:
        previous = _get_run_row(session, run.resumed_from)
        if previous.status == RunStatus.RUNNING:
            previous.status = RunStatus.INTERRUPTED.value
            previous.finished_at = previous.heartbeat_at or previous.started_at
    row = RunRow(
        id=run.id,
        kind=run.kind.value,
        env=run.env,
        status=RunStatus.RUNNING.value,
        trigger=run.trigger.value,
        scope=run.scope.model_dump(mode="json"),
        slice_key=run.slice_key,
        started_at=run.started_at,
        heartbeat_at=run.started_at,
        resumed_from=run.resumed_from,
        host=run.host,
        pid=run.pid,
        assets_total=run.assets_total,
        api_calls={},
        errors=[],
        **dict.fromkeys(_COUNT_FIELDS, 0),
        retries=0,
        throttles=0,
    )
    session.add(row)
    session.flush()
    return _run_out(row)


def heartbeat_run(
    *,
    session: Session,
    run_id: str,
    counts: RunCounts | None = None,
    assets_total: int | None = None,
    now: datetime | None = None,
) -> None:
    """Tell the store the run is alive; optionally publish its progress so far."""
    row = _get_run_row(session, run_id)
    row.heartbeat_at = now or utcnow()
    if counts is not None:
        for name in _COUNT_FIELDS:
            setattr(row, name, getattr(counts, name))
    if assets_total is not None:
        row.assets_total = assets_total
    session.flush()


def finish_run(*, session: Session, run_id: str, result: RunResult) -> RunOut:
    """Record how a run ended: status, counts, duration, throughput, API calls, errors."""
    row = _get_run_row(session, run_id)
    row.status = result.status.value
    row.finished_at = result.finished_at
    row.heartbeat_at = result.finished_at
    duration = max((result.finished_at - row.started_at).total_seconds(), 0.0)
    row.duration_s = duration
    for name in _COUNT_FIELDS:
        setattr(row, name, getattr(result.counts, name))
    if result.assets_total is not None:
        row.assets_total = result.assets_total
    processed = result.counts.processed
    row.throughput = processed / duration if duration > 0 else None
    row.api_calls = {system: dict(ops) for system, ops in result.api_calls.items()}
    row.retries = result.retries
    row.throttles = result.throttles
    row.errors = [e.model_dump(mode="json") for e in result.errors]
    row.summary = result.summary
    if result.metrics is not None:
        row.metrics = result.metrics
    session.flush()
    return _run_out(row)


def run_out(*, session: Session, run_id: str) -> RunOut | None:
    """The run row alone (no item summary: cheap for a run of 10,000 items)."""
    row = session.get(RunRow, run_id)
    return None if row is None else _run_out(row)


def get_run(*, session: Session, run_id: str, failed_limit: int = 100) -> RunDetail | None:
    """A run with a summary of its items (by action, by status, the failed ones)."""
    row = session.get(RunRow, run_id)
    if row is None:
        return None
    by_action: dict[str, int] = {}
    by_status: dict[str, int] = {}
    # One pass over the run's items (a full sync has ~9,000), not one per summary.
    items = RunItemRow.__table__.c
    for action, status, n in session.connection().execute(
        select(items.action, items.status, func.count()).where(items.run_id == run_id)
        .group_by(items.action, items.status)
    ):
        by_action[action] = by_action.get(action, 0) + n
        by_status[status] = by_status.get(status, 0) + n
    failed = session.scalars(
        select(RunItemRow)
        .where(RunItemRow.run_id == run_id, RunItemRow.status == ItemStatus.FAILED.value)
        .order_by(RunItemRow.finished_at, RunItemRow.asset_key)
        .limit(failed_limit)
    ).all() if failed_limit > 0 else []
    return RunDetail(
        **_run_out(row).model_dump(),
        items_by_action=by_action,
        items_by_status=by_status,
        items_total=sum(by_status.values()),
        failed_items=[RunItemOut.model_validate(item) for item in failed],
    )


def list_runs(
    *,
    session: Session,
    limit: int = 20,
    status: RunStatus | None = None,
    env: str | None = None,
    kind: RunKind | None = None,
    offset: int = 0,
) -> list[RunOut]:
    """The most recent runs first (``offset``: skip that many, for paging)."""
    stmt = select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id.desc()).limit(limit).offset(offset)
    if status is not None:
        stmt = stmt.where(RunRow.status == RunStatus(status).value)
    if env is not None:
        stmt = stmt.where(RunRow.env == env)
    if kind is not None:
        stmt = stmt.where(RunRow.kind == RunKind(kind).value)
    return [_run_out(row) for row in session.scalars(stmt)]


def count_runs(*, session: Session, env: str | None = None) -> dict[tuple[str, str, str], int]:
    """``(env, kind, status)`` → runs in the store."""
    stmt = select(RunRow.env, RunRow.kind, RunRow.status, func.count()).group_by(
        RunRow.env, RunRow.kind, RunRow.status)
    if env is not None:
        stmt = stmt.where(RunRow.env == env)
    return {(e, k, s): int(n) for e, k, s, n in session.execute(stmt).all()}


def _is_stale(row: RunRow, cutoff: datetime) -> bool:
    last_sign_of_life = row.heartbeat_at or row.started_at
    return last_sign_of_life < cutoff


def _slice_clause(slice_key: str | None) -> ColumnElement[bool]:
    if slice_key is None:
        return RunRow.slice_key.is_(None)
    return RunRow.slice_key == slice_key


def latest_interrupted_run(
    *,
    session: Session,
    env: str,
    slice_key: str | None = None,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    now: datetime | None = None,
) -> RunOut | None:
    """The run to resume for ``(env, slice_key)``, if any.

    That is the newest run (plans excluded) that is ``interrupted`` (killed), ``aborted``
    (stopped by Ctrl-C, SIGTERM or a lost lease), or still says ``running`` but has not sent
    a heartbeat for ``stale_after_s``, provided no later run finished or resumed it. Live
    runs (fresh heartbeat) are passed over.
    """
    cutoff = (now or utcnow()) - timedelta(seconds=stale_after_s)
    rows = session.scalars(
        select(RunRow)
        .where(RunRow.env == env, _slice_clause(slice_key), RunRow.kind != RunKind.PLAN.value)
        .order_by(RunRow.started_at.desc(), RunRow.id.desc())
        .limit(200)
    ).all()
    resumed = set(
        session.scalars(
            select(RunRow.resumed_from).where(RunRow.resumed_from.in_([r.id for r in rows]))
        )
    )
    for row in rows:
        if row.status == RunStatus.RUNNING and not _is_stale(row, cutoff):
            continue  # alive: someone else is working on it
        if row.id in resumed:
            return None  # a newer (live) run already took it over
        if row.status in (RunStatus.INTERRUPTED, RunStatus.ABORTED, RunStatus.RUNNING):
            return _run_out(row)
        return None  # the newest finished run did a whole pass: nothing to resume
    return None


def mark_stale_runs_interrupted(
    *,
    session: Session,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    now: datetime | None = None,
) -> list[str]:
    """Mark ``running`` runs without a recent heartbeat ``interrupted``; return their ids."""
    cutoff = (now or utcnow()) - timedelta(seconds=stale_after_s)
    rows = session.scalars(select(RunRow).where(RunRow.status == RunStatus.RUNNING.value)).all()
    ids = []
    for row in rows:
        if _is_stale(row, cutoff):
            row.status = RunStatus.INTERRUPTED.value
            row.finished_at = row.heartbeat_at or row.started_at
            ids.append(row.id)
    session.flush()
    return sorted(ids)
