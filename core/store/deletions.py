"""Deletions held for confirmation: the planner holds, an operator approves, a sync applies.

A deletion (or deprecation) needs positive evidence; when the evidence is weak — a listing
that dropped sharply or to zero, more than ``max_deletes_per_run`` at once — the planner
*holds* it. The engine records each hold here (``pending``); ``dgsync deletions approve``
marks it ``approved`` (audited, with the operator), and the next sync applies it if the table
is still an orphan (then ``applied``). A held table whose source came back is ``cancelled``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.store.repo.audit import add_audit
from core.store.schemas import AuditIn, AuditSystem, utcnow
from core.store.tables import PendingDeletionRow

PENDING = "pending"
APPROVED = "approved"
APPLIED = "applied"
CANCELLED = "cancelled"


class PendingDeletion(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    env: str
    object: str
    asset: str | None = None
    kind: str | None = None
    action: str
    reason: str
    status: str
    first_seen_at: datetime
    last_seen_at: datetime
    run_id: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None


def hold(
    *,
    session: Session,
    env: str,
    object: str,
    asset: str | None,
    kind: str | None,
    action: str,
    reason: str,
    run_id: str | None,
) -> None:
    """Record (or refresh) a held deletion; an approved one stays approved."""
    now = utcnow()
    row = session.get(PendingDeletionRow, (env, object))
    if row is None:
        session.add(
            PendingDeletionRow(
                env=env, object=object, asset=asset, kind=kind, action=action, reason=reason,
                status=PENDING, first_seen_at=now, last_seen_at=now, run_id=run_id,
            )
        )
        return
    row.last_seen_at = now
    row.reason = reason
    row.action = action
    row.run_id = run_id
    if row.status in (APPLIED, CANCELLED):
        row.status = PENDING
        row.first_seen_at = now
        row.decided_by = None
        row.decided_at = None


def approved_objects(*, session: Session, env: str) -> set[str]:
    rows = session.scalars(
        select(PendingDeletionRow.object).where(
            PendingDeletionRow.env == env, PendingDeletionRow.status == APPROVED
        )
    )
    return set(rows)


def mark_applied(*, session: Session, env: str, object: str) -> None:
    session.execute(
        update(PendingDeletionRow)
        .where(PendingDeletionRow.env == env, PendingDeletionRow.object == object)
        .values(status=APPLIED, last_seen_at=utcnow())
    )


def cancel_resolved(*, session: Session, env: str, objects: Iterable[str]) -> int:
    """Cancel the pending/approved holds of ``objects`` (tables a run found wanted again:
    their source came back). Returns how many were cancelled."""
    wanted = sorted(set(objects))
    count = 0
    for start in range(0, len(wanted), 500):
        rows = session.scalars(
            select(PendingDeletionRow).where(
                PendingDeletionRow.env == env,
                PendingDeletionRow.status.in_((PENDING, APPROVED)),
                PendingDeletionRow.object.in_(wanted[start : start + 500]),
            )
        )
        for row in rows:
            row.status = CANCELLED
            row.last_seen_at = utcnow()
            count += 1
    return count


def list_pending(
    *, session: Session, env: str, statuses: Iterable[str] = (PENDING, APPROVED)
) -> list[PendingDeletion]:
    rows = session.scalars(
        select(PendingDeletionRow)
        .where(PendingDeletionRow.env == env, PendingDeletionRow.status.in_(tuple(statuses)))
        .order_by(PendingDeletionRow.object)
    )
    return [PendingDeletion.model_validate(r) for r in rows]


def decide(
    *, session: Session, env: str, objects: Iterable[str] | None, actor: str, approve: bool
) -> list[str]:
    """Approve (or reject) held deletions: ``objects`` by name, or all pending when ``None``.
    Each decision is audited. Returns the objects decided."""
    query = select(PendingDeletionRow).where(
        PendingDeletionRow.env == env, PendingDeletionRow.status == PENDING
    )
    if objects is not None:
        query = query.where(PendingDeletionRow.object.in_(tuple(objects)))
    decided: list[str] = []
    now = utcnow()
    for row in session.scalars(query.order_by(PendingDeletionRow.object)):
        row.status = APPROVED if approve else CANCELLED
        row.decided_by = actor
        row.decided_at = now
        decided.append(row.object)
        add_audit(
            session,
            AuditIn(
                actor=actor,
                system=AuditSystem.DGSYNC,
                object=row.object,
                action="approve_deletion" if approve else "reject_deletion",
                details={"asset": row.asset, "planned": row.action, "reason": row.reason},
                env=env,
            ),
        )
    return decided
