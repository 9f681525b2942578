"""Per-asset sync state (status, Glue versions) and recorded conflicts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from core.errors import StoreError
from core.store.repo.base import upsert
from core.store.schemas import AssetStateIn, AssetStateOut, ConflictIn, ConflictOut, utcnow
from core.store.tables import AssetStateRow, ConflictRow

# -------------------------------------------------------------------- asset state


def upsert_state(session: Session, state: AssetStateIn) -> None:
    values = state.model_dump(mode="python")
    values["status"] = state.status.value
    values["key"] = state.key
    update = sorted((state.model_fields_set | {"status", "kind"}) - {"env", "space", "name"})
    upsert(session, "asset_state", values, keys=("env", "key"), update=update)


def upsert_asset_state(*, session: Session, state: AssetStateIn) -> AssetStateOut:
    """Insert or update one asset's state (only the fields set on ``state`` change)."""
    upsert_state(session, state)
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
