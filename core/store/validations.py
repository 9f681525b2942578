"""Repository functions of validation reports (``validations``): add and read.

The report is stored as zlib-compressed JSON (bytes) next to its summary columns; this module
never parses it (see :mod:`core.validation.store`). The caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store.tables import ValidationRow


class ValidationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    env: str
    scope_key: str
    run_id: str | None = None
    generated_at: AwareDatetime
    in_sync: bool
    summary: dict[str, Any]
    config_version: int | None = None
    report: bytes


class ValidationOut(BaseModel):
    """A stored validation without its report (cheap to list)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    env: str
    scope_key: str
    run_id: str | None
    generated_at: datetime
    in_sync: bool
    summary: dict[str, Any]
    config_version: int | None


def add_validation(*, session: Session, validation: ValidationIn) -> ValidationOut:
    row = ValidationRow(**validation.model_dump())
    session.add(row)
    session.flush()
    return ValidationOut.model_validate(row)


def validation_report(*, session: Session, validation_id: str) -> bytes | None:
    """The stored (compressed) report of one validation."""
    return session.scalar(select(ValidationRow.report).where(ValidationRow.id == validation_id))


def find_validation(
    *, session: Session, run_id: str | None = None, scope_key: str | None = None, env: str | None = None
) -> ValidationOut | None:
    """The newest validation of a run, a scope or an environment (all filters optional)."""
    rows = list_validations(session=session, run_id=run_id, scope_key=scope_key, env=env, limit=1)
    return rows[0] if rows else None


def list_validations(
    *, session: Session, run_id: str | None = None, scope_key: str | None = None, env: str | None = None,
    limit: int = 20,
) -> list[ValidationOut]:
    """Newest first."""
    stmt = select(ValidationRow).order_by(ValidationRow.generated_at.desc(), ValidationRow.id.desc()).limit(limit)
    if run_id is not None:
        stmt = stmt.where(ValidationRow.run_id == run_id)
    if scope_key is not None:
        stmt = stmt.where(ValidationRow.scope_key == scope_key)
    if env is not None:
        stmt = stmt.where(ValidationRow.env == env)
    return [ValidationOut.model_validate(r) for r in session.scalars(stmt)]
