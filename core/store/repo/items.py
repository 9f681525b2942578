"""Checkpoint items of a run: one asset's item, audit record and state written atomically,
and what a run (and the runs it resumed) already finished.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.errors import StoreError
from core.store.repo.assets import upsert_state
from core.store.repo.audit import add_audit
from core.store.repo.base import upsert
from core.store.schemas import AssetStateIn, AuditIn, ItemAction, ItemStatus, RunItemOut, utcnow
from core.store.tables import RunItemRow, RunRow

_MAX_RESUME_CHAIN = 1000
_ITEM_COLUMNS = [RunItemRow.__table__.c[name] for name in RunItemOut.model_fields]


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
            upsert(
                session,
                "run_items",
                values,
                keys=("run_id", "asset_key"),
                update=("action", "status", "detail", "error", "hint", "finished_at"),
            )
            if audit is not None:
                add_audit(session, audit)
            if state is not None:
                upsert_state(session, state)
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
    *, session: Session, run_id: str, status: ItemStatus | None = None, limit: int | None = None,
    offset: int = 0, changed_only: bool = False,
) -> list[RunItemOut]:
    """Items of a run in the order they finished (``limit`` of them from ``offset``);
    ``changed_only``: those that changed something or failed (not the no-ops)."""
    # Columns, not ORM objects: a run detail reads hundreds of items, and an ORM instance per
    # row cost most of the request (identity map, instance state) for nothing to update.
    c = RunItemRow.__table__.c
    stmt = select(*_ITEM_COLUMNS).where(c.run_id == run_id)
    if status is not None:
        stmt = stmt.where(c.status == ItemStatus(status).value)
    if changed_only:
        stmt = stmt.where(or_(c.action != ItemAction.NOOP.value, c.status == ItemStatus.FAILED.value))
    stmt = stmt.order_by(c.finished_at, c.id).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [RunItemOut.model_validate(dict(row)) for row in session.connection().execute(stmt).mappings()]
