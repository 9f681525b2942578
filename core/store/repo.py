"""Repository functions of the state store: keyword-only, typed, one session passed in.

Nothing here commits: the caller owns the transaction (``with store.session() as s:``).
The checkpoint rule of the orchestrator is one session per finished asset::

    with store.session() as s:
        repo.record_item(session=s, run_id=run.id, asset_key=key, action=ItemAction.UPDATE,
                         status=ItemStatus.DONE, audit=AuditIn(...), state=AssetStateIn(...))

:func:`record_item` writes the run item, its audit record and the asset state under one
savepoint, so they land together or not at all.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    cast,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.errors import StoreError
from core.store.schemas import (
    AUDIT_CSV_COLUMNS,
    AssetStateIn,
    AssetStateOut,
    AuditFilter,
    AuditFormat,
    AuditIn,
    AuditOut,
    ConflictIn,
    ConflictOut,
    ItemAction,
    ItemStatus,
    LineageDirection,
    LineageEdgeIn,
    LineageEdgeOut,
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
    ScheduleStateIn,
    ScheduleStateOut,
    SecurityEventIn,
    SecurityEventOut,
    Trigger,
    utcnow,
)
from core.store.tables import (
    AssetStateRow,
    AuditRow,
    Base,
    ConflictRow,
    LineageEdgeRow,
    RunItemRow,
    RunRow,
    ScheduleStateRow,
    SecurityEventRow,
)

#: A run whose heartbeat is older than this is considered dead (killed, crashed).
DEFAULT_STALE_AFTER_S = 120.0
_COUNT_FIELDS: tuple[str, ...] = tuple(RunCounts.model_fields)
_MAX_RESUME_CHAIN = 1000


@functools.lru_cache(maxsize=64)
def _upsert_stmt(dialect: str, table: str, keys: tuple[str, ...], update: tuple[str, ...]) -> Any:
    """A prebuilt (and so compile-cached) INSERT ... ON CONFLICT (keys) DO UPDATE."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(Base.metadata.tables[table])
    if not update:
        return stmt.on_conflict_do_nothing(index_elements=list(keys))
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: stmt.excluded[name] for name in update}
    )


def _upsert(session: Session, table: str, values: dict[str, Any], keys: Sequence[str],
            update: Iterable[str]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET update (PostgreSQL and SQLite)."""
    dialect = session.get_bind().dialect.name
    session.execute(_upsert_stmt(dialect, table, tuple(keys), tuple(sorted(update))), values)


# --------------------------------------------------------------------------- runs


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
    session.flush()
    return _run_out(row)


def get_run(*, session: Session, run_id: str, failed_limit: int = 100) -> RunDetail | None:
    """A run with a summary of its items (by action, by status, the failed ones)."""
    row = session.get(RunRow, run_id)
    if row is None:
        return None
    by_action: dict[str, int] = dict(
        session.execute(
            select(RunItemRow.action, func.count())
            .where(RunItemRow.run_id == run_id)
            .group_by(RunItemRow.action)
        ).all()
    )
    by_status: dict[str, int] = dict(
        session.execute(
            select(RunItemRow.status, func.count())
            .where(RunItemRow.run_id == run_id)
            .group_by(RunItemRow.status)
        ).all()
    )
    failed = session.scalars(
        select(RunItemRow)
        .where(RunItemRow.run_id == run_id, RunItemRow.status == ItemStatus.FAILED.value)
        .order_by(RunItemRow.finished_at, RunItemRow.asset_key)
        .limit(failed_limit)
    ).all()
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
) -> list[RunOut]:
    """The most recent runs first."""
    stmt = select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(RunRow.status == RunStatus(status).value)
    if env is not None:
        stmt = stmt.where(RunRow.env == env)
    if kind is not None:
        stmt = stmt.where(RunRow.kind == RunKind(kind).value)
    return [_run_out(row) for row in session.scalars(stmt)]


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


# ----------------------------------------------------------------- checkpoint items


def record_item(
    *,
    session: Session,
    run_id: str,
    asset_key: str,
    action: ItemAction,
    status: ItemStatus,
    detail: dict[str, Any] | None = None,
    error: str | None = None,
    hint: str | None = None,
    audit: AuditIn | None = None,
    state: AssetStateIn | None = None,
    now: datetime | None = None,
) -> RunItemOut:
    """Checkpoint one asset of a run, with its audit record and new asset state, atomically.

    Recording the same ``(run_id, asset_key)`` again replaces the item (a retry within a
    run). If any of the three writes fails, none of them is kept (savepoint) and
    :class:`StoreError` is raised.
    """
    if state is not None and state.key != asset_key:
        raise ValueError(f"asset state is for {state.key!r}, not {asset_key!r}")
    finished_at = now or utcnow()
    values: dict[str, Any] = {
        "run_id": run_id,
        "asset_key": asset_key,
        "action": ItemAction(action).value,
        "status": ItemStatus(status).value,
        "detail": detail or {},
        "error": error,
        "hint": hint,
        "finished_at": finished_at,
    }
    try:
        with session.begin_nested():
            _upsert(
                session,
                "run_items",
                values,
                keys=("run_id", "asset_key"),
                update=("action", "status", "detail", "error", "hint", "finished_at"),
            )
            if audit is not None:
                _add_audit(session, audit)
            if state is not None:
                _upsert_state(session, state)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"could not checkpoint {asset_key} in run {run_id} ({type(exc).__name__})",
            hint="Nothing of this asset was recorded; the next run (or --resume) redoes it.",
        ) from exc
    return RunItemOut.model_validate(values)


def _resume_chain(session: Session, run_id: str) -> list[str]:
    chain: list[str] = []
    current: str | None = run_id
    while current is not None and current not in chain and len(chain) < _MAX_RESUME_CHAIN:
        chain.append(current)
        current = session.scalar(select(RunRow.resumed_from).where(RunRow.id == current))
    return chain


def completed_items(*, session: Session, run_id: str, include_resumed: bool = True) -> set[str]:
    """Asset keys finished (``done``) by a run and, by default, by the runs it resumed
    (``resumed_from`` chain): what a resuming run must not redo. Failed items are retried."""
    ids = _resume_chain(session, run_id) if include_resumed else [run_id]
    return set(
        session.scalars(
            select(RunItemRow.asset_key).where(
                RunItemRow.run_id.in_(ids), RunItemRow.status == ItemStatus.DONE.value
            )
        )
    )


def list_run_items(
    *, session: Session, run_id: str, status: ItemStatus | None = None
) -> list[RunItemOut]:
    """Items of a run in the order they finished."""
    stmt = select(RunItemRow).where(RunItemRow.run_id == run_id)
    if status is not None:
        stmt = stmt.where(RunItemRow.status == ItemStatus(status).value)
    stmt = stmt.order_by(RunItemRow.finished_at, RunItemRow.id)
    return [RunItemOut.model_validate(row) for row in session.scalars(stmt)]


# -------------------------------------------------------------------- asset state


def _upsert_state(session: Session, state: AssetStateIn) -> None:
    values = state.model_dump(mode="python")
    values["status"] = state.status.value
    values["key"] = state.key
    update = sorted((state.model_fields_set | {"status", "kind"}) - {"env", "space", "name"})
    _upsert(session, "asset_state", values, keys=("env", "key"), update=update)


def upsert_asset_state(*, session: Session, state: AssetStateIn) -> AssetStateOut:
    """Insert or update one asset's state (only the fields set on ``state`` change)."""
    _upsert_state(session, state)
    row = session.get_one(AssetStateRow, (state.env, state.key), populate_existing=True)
    return AssetStateOut.model_validate(row)


def set_glue_versions(*, session: Session, env: str, versions: dict[str, str]) -> None:
    """Remember the Glue ``VersionId`` last verified for these assets' tables."""
    if not versions:
        return
    table = AssetStateRow.__table__
    session.execute(
        update(table)  # type: ignore[arg-type]
        .where(table.c.env == env, table.c.key == bindparam("k"))
        .values(glue_version_id=bindparam("v")),
        [{"k": k, "v": v} for k, v in versions.items()],
    )


def get_asset_states(
    *, session: Session, env: str, keys: Iterable[str] | None = None
) -> dict[str, AssetStateOut]:
    """Asset states of an environment by key (all, or only ``keys``)."""
    stmt = select(AssetStateRow).where(AssetStateRow.env == env)
    wanted = None if keys is None else sorted(set(keys))
    out: dict[str, AssetStateOut] = {}
    if wanted is None:
        rows: Iterable[AssetStateRow] = session.scalars(stmt.execution_options(yield_per=1000))
        for row in rows:
            out[row.key] = AssetStateOut.model_validate(row)
        return out
    for start in range(0, len(wanted), 500):  # stay under bind-parameter limits
        chunk = wanted[start : start + 500]
        for row in session.scalars(stmt.where(AssetStateRow.key.in_(chunk))):
            out[row.key] = AssetStateOut.model_validate(row)
    return out


def asset_status_counts(*, session: Session, env: str) -> dict[str, int]:
    """How many assets of an environment are in each status."""
    return dict(
        session.execute(
            select(AssetStateRow.status, func.count())
            .where(AssetStateRow.env == env)
            .group_by(AssetStateRow.status)
        ).all()
    )


# ---------------------------------------------------------------------- conflicts


def record_conflict(*, session: Session, conflict: ConflictIn) -> ConflictOut:
    """Persist a conflict (naming, unmanaged, out-of-band edit, ...)."""
    row = ConflictRow(
        run_id=conflict.run_id,
        object=conflict.object,
        asset_key=conflict.asset_key,
        kind=conflict.kind.value,
        detail=conflict.detail,
        resolution=conflict.resolution,
        created_at=conflict.created_at,
    )
    session.add(row)
    session.flush()
    return ConflictOut.model_validate(row)


def list_conflicts(
    *,
    session: Session,
    run_id: str | None = None,
    unresolved_only: bool = False,
    limit: int = 100,
) -> list[ConflictOut]:
    """Conflicts, newest first."""
    stmt = select(ConflictRow).order_by(ConflictRow.created_at.desc(), ConflictRow.id.desc())
    if run_id is not None:
        stmt = stmt.where(ConflictRow.run_id == run_id)
    if unresolved_only:
        stmt = stmt.where(ConflictRow.resolved_at.is_(None))
    return [ConflictOut.model_validate(row) for row in session.scalars(stmt.limit(limit))]


def resolve_conflict(
    *, session: Session, conflict_id: int, resolution: str, now: datetime | None = None
) -> ConflictOut:
    """Mark a conflict resolved (``resolution`` says how)."""
    row = session.get(ConflictRow, conflict_id)
    if row is None:
        raise StoreError(f"no conflict {conflict_id}", hint="Use an id that the conflict list shows.")
    row.resolution = resolution
    row.resolved_at = now or utcnow()
    session.flush()
    return ConflictOut.model_validate(row)


# -------------------------------------------------------------------------- audit


def _add_audit(session: Session, entry: AuditIn) -> AuditRow:
    row = AuditRow(
        ts=entry.ts,
        actor=entry.actor,
        run_id=entry.run_id,
        system=entry.system.value,
        object=entry.object,
        action=entry.action,
        before_hash=entry.before_hash,
        after_hash=entry.after_hash,
        details=entry.details,
        env=entry.env,
    )
    session.add(row)
    session.flush()
    return row


def record_audit(*, session: Session, entry: AuditIn) -> AuditOut:
    """Append one audit record (outside a checkpoint: config changes, manual actions)."""
    return AuditOut.model_validate(_add_audit(session, entry))


def _audit_query(filters: AuditFilter | None) -> Select[AuditRow]:
    stmt = select(AuditRow)
    f = filters or AuditFilter()
    if f.since is not None:
        stmt = stmt.where(AuditRow.ts >= f.since)
    if f.until is not None:
        stmt = stmt.where(AuditRow.ts < f.until)
    if f.actor is not None:
        stmt = stmt.where(AuditRow.actor == f.actor)
    if f.object_contains:
        stmt = stmt.where(
            func.lower(AuditRow.object).contains(f.object_contains.lower(), autoescape=True)
        )
    if f.action is not None:
        stmt = stmt.where(AuditRow.action == f.action)
    if f.run_id is not None:
        stmt = stmt.where(AuditRow.run_id == f.run_id)
    if f.system is not None:
        stmt = stmt.where(AuditRow.system == f.system.value)
    if f.env is not None:
        of_runs = select(RunRow.id).where(RunRow.env == f.env)
        stmt = stmt.where(
            or_(AuditRow.env == f.env, and_(AuditRow.env.is_(None), AuditRow.run_id.in_(of_runs)))
        )
    if f.search:
        needle = f.search.lower()
        stmt = stmt.where(
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (
                        AuditRow.actor,
                        AuditRow.object,
                        AuditRow.action,
                        func.coalesce(AuditRow.run_id, ""),
                        cast(AuditRow.details, String),
                    )
                )
            )
        )
    return stmt


def query_audit(
    *,
    session: Session,
    filters: AuditFilter | None = None,
    limit: int | None = 1000,
    offset: int = 0,
    newest_first: bool = True,
) -> list[AuditOut]:
    """Audit records matching ``filters`` (time range ``[since, until)``, actor, object
    substring, action, run id, system)."""
    stmt = _audit_query(filters)
    order = (AuditRow.ts.desc(), AuditRow.id.desc()) if newest_first else (AuditRow.ts, AuditRow.id)
    stmt = stmt.order_by(*order).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [AuditOut.model_validate(row) for row in session.scalars(stmt)]


def export_audit(
    *, session: Session, fmt: AuditFormat, filters: AuditFilter | None = None
) -> str:
    """Every matching audit record, oldest first, as JSON (a list) or CSV (with header;
    ``details`` as a JSON string)."""
    rows = session.scalars(
        _audit_query(filters).order_by(AuditRow.ts, AuditRow.id).execution_options(yield_per=1000)
    )
    records = (AuditOut.model_validate(row).model_dump(mode="json") for row in rows)
    if fmt == "json":
        return json.dumps(list(records), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=AUDIT_CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            record["details"] = json.dumps(record["details"], sort_keys=True, ensure_ascii=False)
            writer.writerow(record)
        return buffer.getvalue()
    raise ValueError(f"unknown audit export format {fmt!r}")


# ------------------------------------------------------------------------ lineage


def replace_lineage(
    *,
    session: Session,
    downstream: str,
    edges: Iterable[LineageEdgeIn],
    run_id: str | None = None,
) -> int:
    """Replace every edge into ``downstream`` with ``edges`` (deduplicated); return how
    many are stored. An empty ``edges`` removes the asset's upstream lineage."""
    unique: dict[tuple[str, str, str, str | None], LineageEdgeIn] = {}
    for edge in edges:
        if edge.downstream != downstream:
            raise ValueError(f"edge into {edge.downstream!r} given for {downstream!r}")
        unique.setdefault((edge.upstream, edge.downstream, edge.kind, edge.via), edge)
    session.execute(delete(LineageEdgeRow).where(LineageEdgeRow.downstream == downstream))
    session.add_all(
        LineageEdgeRow(
            upstream=e.upstream, downstream=e.downstream, kind=e.kind, via=e.via, run_id=run_id
        )
        for e in unique.values()
    )
    session.flush()
    return len(unique)


def _walk(session: Session, asset: str, depth: int, upstream: bool) -> list[LineageEdgeOut]:
    near = LineageEdgeRow.downstream if upstream else LineageEdgeRow.upstream
    seen_nodes = {asset}
    frontier = {asset}
    out: list[LineageEdgeOut] = []
    for level in range(1, depth + 1):
        if not frontier:
            break
        rows = session.scalars(
            select(LineageEdgeRow)
            .where(near.in_(sorted(frontier)))
            .order_by(LineageEdgeRow.upstream, LineageEdgeRow.downstream, LineageEdgeRow.kind)
        ).all()
        next_frontier: set[str] = set()
        for row in rows:
            out.append(
                LineageEdgeOut(
                    upstream=row.upstream,
                    downstream=row.downstream,
                    kind=row.kind,
                    via=row.via,
                    run_id=row.run_id,
                    depth=level,
                )
            )
            far = row.upstream if upstream else row.downstream
            if far not in seen_nodes:
                seen_nodes.add(far)
                next_frontier.add(far)
        frontier = next_frontier
    return out


def lineage_graph(*, session: Session) -> dict[str, set[str]]:
    """Every stored edge as ``upstream → {downstream}`` (one query; for impact analysis)."""
    graph: dict[str, set[str]] = {}
    for upstream, downstream in session.execute(
        select(LineageEdgeRow.upstream, LineageEdgeRow.downstream)
    ):
        graph.setdefault(upstream, set()).add(downstream)
    return graph


def query_lineage(
    *,
    session: Session,
    asset: str,
    direction: LineageDirection = "both",
    depth: int = 1,
) -> list[LineageEdgeOut]:
    """Edges around ``asset`` up to ``depth`` hops (cycles are safe), nearest first."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    edges: list[LineageEdgeOut] = []
    if direction in ("upstream", "both"):
        edges += _walk(session, asset, depth, upstream=True)
    if direction in ("downstream", "both"):
        edges += _walk(session, asset, depth, upstream=False)
    return edges


# ------------------------------------------------------------------ schedule state


def get_schedule_state(*, session: Session, slice_key: str) -> ScheduleStateOut | None:
    row = session.get(ScheduleStateRow, slice_key)
    return None if row is None else ScheduleStateOut.model_validate(row)


def list_schedule_states(*, session: Session) -> list[ScheduleStateOut]:
    rows = session.scalars(select(ScheduleStateRow).order_by(ScheduleStateRow.slice_key))
    return [ScheduleStateOut.model_validate(row) for row in rows]


def set_schedule_state(*, session: Session, state: ScheduleStateIn) -> ScheduleStateOut:
    """Insert or update a slice's schedule state (only the fields set on ``state``)."""
    values = state.model_dump(mode="python")
    update = sorted(state.model_fields_set - {"slice_key"})
    _upsert(session, "schedule_state", values, keys=("slice_key",), update=update)
    row = session.get_one(ScheduleStateRow, state.slice_key, populate_existing=True)
    return ScheduleStateOut.model_validate(row)


# ----------------------------------------------------------------- security events


def record_security_event(*, session: Session, event: SecurityEventIn) -> SecurityEventOut:
    row = SecurityEventRow(ts=event.ts, kind=event.kind, actor=event.actor, detail=event.detail,
                           source=event.source, env=event.env)
    session.add(row)
    session.flush()
    return SecurityEventOut.model_validate(row)


def list_security_events(
    *,
    session: Session,
    since: datetime | None = None,
    kind: str | None = None,
    limit: int = 100,
    source: str | None = None,
    actor: str | None = None,
    until: datetime | None = None,
) -> list[SecurityEventOut]:
    """Security events, newest first."""
    stmt = select(SecurityEventRow)
    if since is not None:
        stmt = stmt.where(SecurityEventRow.ts >= since)
    if until is not None:
        stmt = stmt.where(SecurityEventRow.ts < until)
    if kind is not None:
        stmt = stmt.where(SecurityEventRow.kind == kind)
    if source is not None:
        stmt = stmt.where(SecurityEventRow.source == source)
    if actor is not None:
        stmt = stmt.where(SecurityEventRow.actor == actor)
    stmt = stmt.order_by(SecurityEventRow.ts.desc(), SecurityEventRow.id.desc()).limit(limit)
    return [SecurityEventOut.model_validate(row) for row in session.scalars(stmt)]


__all__ = [
    "DEFAULT_STALE_AFTER_S",
    "asset_status_counts",
    "completed_items",
    "export_audit",
    "finish_run",
    "get_asset_states",
    "get_run",
    "get_schedule_state",
    "heartbeat_run",
    "latest_interrupted_run",
    "list_conflicts",
    "list_run_items",
    "list_runs",
    "list_schedule_states",
    "list_security_events",
    "mark_stale_runs_interrupted",
    "query_audit",
    "query_lineage",
    "record_audit",
    "record_conflict",
    "record_item",
    "record_security_event",
    "replace_lineage",
    "resolve_conflict",
    "set_schedule_state",
    "start_run",
    "upsert_asset_state",
]
