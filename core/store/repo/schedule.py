"""Per-slice scheduler state (last run, next due)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store.repo.base import upsert
from core.store.schemas import ScheduleStateIn, ScheduleStateOut
from core.store.tables import ScheduleStateRow


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
    upsert(session, "schedule_state", values, keys=("slice_key",), update=update)
    row = session.get_one(ScheduleStateRow, state.slice_key, populate_existing=True)
    return ScheduleStateOut.model_validate(row)
