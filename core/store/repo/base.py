"""Shared SQL helpers of the repository: the dialect-aware INSERT ... ON CONFLICT upsert."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.store.tables import Base


@functools.lru_cache(maxsize=64)
def upsert_stmt(dialect: str, table: str, keys: tuple[str, ...], update: tuple[str, ...]) -> Any:
    """A prebuilt (and so compile-cached) INSERT ... ON CONFLICT (keys) DO UPDATE."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(Base.metadata.tables[table])
    if not update:
        return stmt.on_conflict_do_nothing(index_elements=list(keys))
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: stmt.excluded[name] for name in update}
    )


def upsert(session: Session, table: str, values: dict[str, Any], keys: Sequence[str],
            update: Iterable[str]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET update (PostgreSQL and SQLite)."""
    dialect = session.get_bind().dialect.name
    session.execute(upsert_stmt(dialect, table, tuple(keys), tuple(sorted(update))), values)
