"""Repository functions of configuration versions (``config_versions``): append and read.

Versions are immutable: nothing here updates or deletes one. The newest version of an
environment is its applied (active) configuration. The caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.store.schemas import utcnow
from core.store.tables import ConfigVersionRow


class ConfigVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    env: str
    hash: str
    settings: dict[str, Any]
    rules: str = ""
    action: str = "apply"
    source_id: int | None = None
    author: str
    comment: str | None = None
    created_at: AwareDatetime = Field(default_factory=utcnow)


class ConfigVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    env: str
    hash: str
    settings: dict[str, Any]
    rules: str
    action: str
    source_id: int | None
    author: str
    comment: str | None
    created_at: datetime


def add_version(*, session: Session, version: ConfigVersionIn) -> ConfigVersionOut:
    row = ConfigVersionRow(**version.model_dump())
    session.add(row)
    session.flush()
    return ConfigVersionOut.model_validate(row)


def get_version(*, session: Session, version_id: int) -> ConfigVersionOut | None:
    row = session.get(ConfigVersionRow, version_id)
    return ConfigVersionOut.model_validate(row) if row is not None else None


def active_version(*, session: Session, env: str) -> ConfigVersionOut | None:
    """The newest (applied) version of ``env``, or ``None`` when it has none."""
    row = session.scalars(
        select(ConfigVersionRow).where(ConfigVersionRow.env == env)
        .order_by(ConfigVersionRow.id.desc()).limit(1)
    ).first()
    return ConfigVersionOut.model_validate(row) if row is not None else None


def active_version_id(*, session: Session, env: str) -> int | None:
    """Just the id of the applied version (a cheap check before every run)."""
    value = session.scalar(select(func.max(ConfigVersionRow.id)).where(ConfigVersionRow.env == env))
    return int(value) if value is not None else None


def list_versions(
    *, session: Session, env: str | None = None, limit: int = 100
) -> list[ConfigVersionOut]:
    """Newest first."""
    stmt = select(ConfigVersionRow).order_by(ConfigVersionRow.id.desc()).limit(limit)
    if env is not None:
        stmt = stmt.where(ConfigVersionRow.env == env)
    return [ConfigVersionOut.model_validate(r) for r in session.scalars(stmt)]
