"""Leases: at most one worker runs a slice at a time, across threads, processes and hosts.

A lease is a row in ``leases`` keyed by slice (``critical``, ``high:SALES``...). Taking it is a
single atomic statement::

    INSERT INTO leases (...) VALUES (...)
    ON CONFLICT (slice_key) DO UPDATE SET holder = excluded.holder, ...
    WHERE leases.expires_at <= excluded.acquired_at      -- only a free or expired lease
    RETURNING holder

On PostgreSQL, concurrent inserts of one key serialise on the row lock and the loser
re-evaluates the ``WHERE`` against the winner's row, so two schedulers on one database
never both win. On SQLite the statement runs in a ``BEGIN IMMEDIATE`` transaction (the
single-writer lock), with the same outcome.

Leases are not re-entrant: a holder that asks again while its lease is live gets ``False``
(use :func:`renew_lease` to extend). They expire after ``ttl_s`` unless renewed; expiry uses
the clock of the process that takes the lease, so hosts sharing a database must keep their
clocks in sync (NTP) and ``ttl_s`` should be well above any clock skew.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.errors import LeaseHeld, StoreError
from core.store.db import Store, classify_error
from core.store.schemas import LeaseOut, utcnow
from core.store.tables import LeaseRow


def _store_error(store: Store, action: str, slice_key: str, exc: SQLAlchemyError) -> StoreError:
    """What is wrong with the store (read-only, unreachable, ...: see
    :func:`core.store.db.classify_error`), or a lease error with a retry hint."""
    cause = classify_error(exc, store.url, f"{action} the lease of {slice_key!r} in")
    if type(cause) is not StoreError:
        return cause
    return StoreError(
        f"could not {action} the lease of slice {slice_key!r} ({type(exc).__name__})",
        hint="Check that the state store is reachable; the slice is retried on the next tick.",
    )


def acquire_lease(
    *,
    store: Store,
    slice_key: str,
    holder: str,
    ttl_s: float,
    now: datetime | None = None,
) -> bool:
    """Take the lease of ``slice_key`` for ``ttl_s`` seconds if it is free or expired."""
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    now = now or utcnow()
    insert = pg_insert if store.dialect == "postgresql" else sqlite_insert
    base = insert(LeaseRow).values(
        slice_key=slice_key,
        holder=holder,
        acquired_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
        heartbeat_at=now,
    )
    stmt = base.on_conflict_do_update(
        index_elements=[LeaseRow.slice_key],
        set_={
            "holder": base.excluded.holder,
            "acquired_at": base.excluded.acquired_at,
            "expires_at": base.excluded.expires_at,
            "heartbeat_at": base.excluded.heartbeat_at,
        },
        where=LeaseRow.expires_at <= base.excluded.acquired_at,
    ).returning(LeaseRow.holder)
    try:
        with store.engine.begin() as conn:
            winner = conn.execute(stmt).scalar_one_or_none()
    except SQLAlchemyError as exc:
        raise _store_error(store, "take", slice_key, exc) from exc
    return winner == holder


def renew_lease(
    *,
    store: Store,
    slice_key: str,
    holder: str,
    ttl_s: float,
    now: datetime | None = None,
) -> bool:
    """Extend a lease ``holder`` still owns (even if it just expired and nobody took it).

    ``False`` means the lease was lost: stop working on the slice.
    """
    now = now or utcnow()
    stmt = (
        update(LeaseRow)
        .where(LeaseRow.slice_key == slice_key, LeaseRow.holder == holder)
        .values(expires_at=now + timedelta(seconds=ttl_s), heartbeat_at=now)
    )
    try:
        with store.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1
    except SQLAlchemyError as exc:
        raise _store_error(store, "renew", slice_key, exc) from exc


def release_lease(*, store: Store, slice_key: str, holder: str) -> bool:
    """Give the lease back; ``False`` if ``holder`` did not hold it (any more)."""
    stmt = delete(LeaseRow).where(LeaseRow.slice_key == slice_key, LeaseRow.holder == holder)
    try:
        with store.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1
    except SQLAlchemyError as exc:
        raise _store_error(store, "release", slice_key, exc) from exc


@contextmanager
def held_lease(*, store: Store, slice_key: str, holder: str, ttl_s: float) -> Iterator[None]:
    """Hold the lease for the ``with`` block, or raise :class:`LeaseHeld` at once."""
    if not acquire_lease(store=store, slice_key=slice_key, holder=holder, ttl_s=ttl_s):
        with store.session(readonly=True) as session:
            current = get_lease(session=session, slice_key=slice_key)
        by = f" by {current.holder} until {current.expires_at:%Y-%m-%d %H:%M:%S}Z" if current else ""
        raise LeaseHeld(f"slice {slice_key!r} is being run{by}")
    try:
        yield
    finally:
        release_lease(store=store, slice_key=slice_key, holder=holder)


def get_lease(*, session: Session, slice_key: str) -> LeaseOut | None:
    row = session.get(LeaseRow, slice_key)
    return None if row is None else LeaseOut.model_validate(row)


def list_leases(
    *, session: Session, active_only: bool = False, now: datetime | None = None
) -> list[LeaseOut]:
    """Leases by slice; ``active_only`` drops expired ones."""
    stmt = select(LeaseRow).order_by(LeaseRow.slice_key)
    if active_only:
        stmt = stmt.where(LeaseRow.expires_at > (now or utcnow()))
    return [LeaseOut.model_validate(row) for row in session.scalars(stmt)]
