"""Repository functions of the governance services: alerts, their deliveries and mutes,
streamed audit reads, retention, security-event counts. Keyword-only, one session passed
in; nothing here commits (the caller owns the transaction), like :mod:`core.store.repo`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core.errors import InputError, StoreError
from core.store.repo.audit import audit_query
from core.store.schemas import AuditFilter, AuditOut, utcnow
from core.store.tables import (
    AlertMuteRow,
    AlertNotificationRow,
    AlertRow,
    AuditRow,
    RunRow,
    SecurityEventRow,
)

AlertStatus = Literal["open", "acked", "resolved"]
#: Statuses of an alert that is still "the same alert" for deduplication.
ACTIVE: tuple[str, ...] = ("open", "acked")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class AlertOut(_Out):
    id: int
    env: str
    rule: str
    kind: str
    dedup_key: str
    severity: str
    title: str
    message: str
    hint: str | None
    status: str
    level: int
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    notified_at: datetime | None
    run_id: str | None
    acked_by: str | None
    acked_at: datetime | None
    resolved_at: datetime | None
    details: dict[str, Any]


class AlertNotificationOut(_Out):
    id: int
    alert_id: int
    ts: datetime
    channel: str
    level: int
    ok: bool
    error: str | None


class AlertMuteOut(_Out):
    id: int
    env: str
    target: str
    until: datetime
    created_by: str
    created_at: datetime
    reason: str | None


# -------------------------------------------------------------------------- alerts


def active_alert(*, session: Session, env: str, dedup_key: str) -> AlertOut | None:
    """The open or acknowledged alert of ``dedup_key`` (at most one by construction)."""
    row = session.scalars(
        select(AlertRow)
        .where(AlertRow.env == env, AlertRow.dedup_key == dedup_key, AlertRow.status.in_(ACTIVE))
        .order_by(AlertRow.id.desc())
        .limit(1)
    ).first()
    return None if row is None else AlertOut.model_validate(row)


def create_alert(
    *,
    session: Session,
    env: str,
    rule: str,
    kind: str,
    dedup_key: str,
    severity: str,
    title: str,
    message: str,
    hint: str | None,
    run_id: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AlertOut:
    ts = now or utcnow()
    row = AlertRow(
        env=env, rule=rule, kind=kind, dedup_key=dedup_key, severity=severity, title=title,
        message=message, hint=hint, status="open", level=0, occurrences=1, first_seen_at=ts,
        last_seen_at=ts, notified_at=None, run_id=run_id, details=details or {},
    )
    session.add(row)
    session.flush()
    return AlertOut.model_validate(row)


def _alert_row(session: Session, alert_id: int) -> AlertRow:
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise InputError(f"no alert {alert_id}", hint="Use an id that `dgsync alerts list` shows.")
    return row


def get_alert(*, session: Session, alert_id: int) -> AlertOut:
    return AlertOut.model_validate(_alert_row(session, alert_id))


def touch_alert(
    *,
    session: Session,
    alert_id: int,
    message: str | None = None,
    hint: str | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
) -> AlertOut:
    """The condition fired again: count it, keep the newest message (no notification).

    One atomic ``UPDATE ... SET occurrences = occurrences + 1``: concurrent evaluators never
    lose a count (a read-modify-write would, under PostgreSQL's READ COMMITTED)."""
    _alert_row(session, alert_id)  # InputError when it does not exist
    values: dict[str, Any] = {"occurrences": func.coalesce(AlertRow.occurrences, 0) + 1,
                              "last_seen_at": now or utcnow()}
    if message:
        values["message"] = message
    if hint:
        values["hint"] = hint
    if run_id:
        values["run_id"] = run_id
    session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(**values),
                    execution_options={"synchronize_session": False})
    row = session.get(AlertRow, alert_id, populate_existing=True)
    assert row is not None
    return AlertOut.model_validate(row)


def mark_notified(
    *, session: Session, alert_id: int, level: int, now: datetime | None = None
) -> AlertOut:
    row = _alert_row(session, alert_id)
    row.level = level
    row.notified_at = now or utcnow()
    session.flush()
    return AlertOut.model_validate(row)


def ack_alert(
    *, session: Session, alert_id: int, actor: str, now: datetime | None = None
) -> AlertOut:
    """Acknowledge an alert: it stops escalating. Acking twice keeps the first ack."""
    row = _alert_row(session, alert_id)
    if row.status == "resolved":
        raise StoreError(
            f"alert {alert_id} is already resolved",
            hint="Only open alerts can be acknowledged; `dgsync alerts list` shows them.",
        )
    if row.status != "acked":
        row.status = "acked"
        row.acked_by = actor
        row.acked_at = now or utcnow()
    session.flush()
    return AlertOut.model_validate(row)


def list_alerts(
    *,
    session: Session,
    env: str | None = None,
    status: Iterable[str] | None = None,
    limit: int = 100,
) -> list[AlertOut]:
    """Alerts, newest first."""
    stmt = select(AlertRow)
    if env is not None:
        stmt = stmt.where(AlertRow.env == env)
    if status is not None:
        stmt = stmt.where(AlertRow.status.in_(tuple(status)))
    stmt = stmt.order_by(AlertRow.last_seen_at.desc(), AlertRow.id.desc()).limit(limit)
    return [AlertOut.model_validate(r) for r in session.scalars(stmt)]


def resolve_quiet_alerts(*, session: Session, env: str, quiet_since: datetime,
                         now: datetime | None = None) -> list[int]:
    """Resolve active alerts not seen since ``quiet_since``; return their ids."""
    rows = session.scalars(
        select(AlertRow).where(
            AlertRow.env == env, AlertRow.status.in_(ACTIVE), AlertRow.last_seen_at < quiet_since
        )
    ).all()
    for row in rows:
        row.status = "resolved"
        row.resolved_at = now or utcnow()
    session.flush()
    return sorted(r.id for r in rows)


def record_notification(
    *,
    session: Session,
    alert_id: int,
    channel: str,
    level: int,
    ok: bool,
    error: str | None = None,
    now: datetime | None = None,
) -> AlertNotificationOut:
    row = AlertNotificationRow(alert_id=alert_id, ts=now or utcnow(), channel=channel,
                               level=level, ok=ok, error=error)
    session.add(row)
    session.flush()
    return AlertNotificationOut.model_validate(row)


def list_notifications(*, session: Session, alert_id: int | None = None,
                       limit: int = 1000) -> list[AlertNotificationOut]:
    """Deliveries, oldest first."""
    stmt = select(AlertNotificationRow)
    if alert_id is not None:
        stmt = stmt.where(AlertNotificationRow.alert_id == alert_id)
    stmt = stmt.order_by(AlertNotificationRow.ts, AlertNotificationRow.id).limit(limit)
    return [AlertNotificationOut.model_validate(r) for r in session.scalars(stmt)]


# --------------------------------------------------------------------------- mutes


def add_mute(
    *,
    session: Session,
    env: str,
    target: str,
    until: datetime,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> AlertMuteOut:
    row = AlertMuteRow(env=env, target=target, until=until, created_by=actor,
                       created_at=now or utcnow(), reason=reason)
    session.add(row)
    session.flush()
    return AlertMuteOut.model_validate(row)


def active_mutes(*, session: Session, env: str, now: datetime | None = None) -> list[AlertMuteOut]:
    rows = session.scalars(
        select(AlertMuteRow)
        .where(AlertMuteRow.env == env, AlertMuteRow.until > (now or utcnow()))
        .order_by(AlertMuteRow.until)
    )
    return [AlertMuteOut.model_validate(r) for r in rows]


def remove_mutes(*, session: Session, env: str, target: str) -> int:
    result = session.execute(
        delete(AlertMuteRow).where(AlertMuteRow.env == env, AlertMuteRow.target == target)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --------------------------------------------------------------------------- audit


def stream_audit(
    *,
    session: Session,
    filters: AuditFilter | None = None,
    batch: int = 500,
    newest_first: bool = False,
) -> Iterator[AuditOut]:
    """Every matching audit record, oldest first by default, fetched ``batch`` rows at a
    time (server-side cursor on PostgreSQL): memory does not grow with the result."""
    order = (AuditRow.ts.desc(), AuditRow.id.desc()) if newest_first else (AuditRow.ts, AuditRow.id)
    stmt = audit_query(filters).order_by(*order).execution_options(yield_per=batch)
    for row in session.scalars(stmt):
        yield AuditOut.model_validate(row)
        session.expunge(row)


def prune_audit(*, session: Session, before: datetime) -> int:
    """Delete audit records older than ``before``; return how many."""
    result = session.execute(delete(AuditRow).where(AuditRow.ts < before))
    return int(getattr(result, "rowcount", 0) or 0)


def prune_security_events(*, session: Session, before: datetime) -> int:
    result = session.execute(delete(SecurityEventRow).where(SecurityEventRow.ts < before))
    return int(getattr(result, "rowcount", 0) or 0)


def count_audit(*, session: Session, filters: AuditFilter | None = None) -> int:
    return int(session.scalar(select(func.count()).select_from(audit_query(filters).subquery())) or 0)


# ------------------------------------------------------------------ security events


def count_security_events(
    *,
    session: Session,
    kinds: Iterable[str],
    since: datetime,
    source: str | None = None,
    env: str | None = None,
) -> int:
    stmt = select(func.count()).select_from(SecurityEventRow).where(
        SecurityEventRow.kind.in_(tuple(kinds)), SecurityEventRow.ts >= since
    )
    if source is not None:
        stmt = stmt.where(SecurityEventRow.source == source)
    if env is not None:
        stmt = stmt.where(SecurityEventRow.env == env)
    return int(session.scalar(stmt) or 0)


def sources_of_actor(
    *, session: Session, actor: str, kinds: Iterable[str], before: datetime | None = None
) -> set[str]:
    """Every source an actor was seen from (in events of ``kinds``)."""
    stmt = select(SecurityEventRow.source).where(
        SecurityEventRow.actor == actor, SecurityEventRow.kind.in_(tuple(kinds)),
        SecurityEventRow.source.is_not(None),
    )
    if before is not None:
        stmt = stmt.where(SecurityEventRow.ts < before)
    return {s for s in session.scalars(stmt.distinct()) if s is not None}


# --------------------------------------------------------------------------- runs


def recent_deletions(*, session: Session, env: str, exclude_run: str | None = None,
                     limit: int = 20) -> list[int]:
    """Deleted + deprecated counts of the last finished syncs of ``env`` (newest first)."""
    stmt = (
        select(RunRow.deleted, RunRow.deprecated, RunRow.id)
        .where(RunRow.env == env, RunRow.kind != "plan", RunRow.finished_at.is_not(None))
        .order_by(RunRow.started_at.desc(), RunRow.id.desc())
        .limit(limit + 1)
    )
    out = [int(d or 0) + int(p or 0) for d, p, rid in session.execute(stmt) if rid != exclude_run]
    return out[:limit]


def recent_statuses(*, session: Session, env: str, slice_key: str | None,
                    limit: int) -> list[str]:
    """Statuses of the last finished non-plan runs of ``(env, slice_key)``, newest first."""
    stmt = select(RunRow.status).where(
        RunRow.env == env, RunRow.kind != "plan", RunRow.finished_at.is_not(None)
    )
    stmt = stmt.where(RunRow.slice_key.is_(None) if slice_key is None else RunRow.slice_key == slice_key)
    stmt = stmt.order_by(RunRow.started_at.desc(), RunRow.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def latest_finished_run_id(*, session: Session, env: str, slice_key: str | None = None,
                           any_slice: bool = True, since: datetime | None = None) -> str | None:
    """The newest finished non-plan run (of a slice; started at or after ``since``)."""
    stmt = select(RunRow.id).where(RunRow.env == env, RunRow.finished_at.is_not(None),
                                   RunRow.kind != "plan")
    if since is not None:
        stmt = stmt.where(RunRow.started_at >= since)
    if not any_slice:
        stmt = stmt.where(RunRow.slice_key.is_(None) if slice_key is None else RunRow.slice_key == slice_key)
    return session.scalar(stmt.order_by(RunRow.finished_at.desc(), RunRow.id.desc()).limit(1))


def glue_writes_of_run(*, session: Session, run_id: str) -> list[AuditOut]:
    """The Glue write audit records of a run (oldest first)."""
    rows = session.scalars(
        select(AuditRow).where(AuditRow.run_id == run_id, AuditRow.system == "glue")
        .order_by(AuditRow.ts, AuditRow.id)
    )
    return [AuditOut.model_validate(r) for r in rows]


__all__ = [
    "ACTIVE",
    "AlertMuteOut",
    "AlertNotificationOut",
    "AlertOut",
    "AlertStatus",
    "ack_alert",
    "active_alert",
    "active_mutes",
    "add_mute",
    "count_audit",
    "count_security_events",
    "create_alert",
    "get_alert",
    "glue_writes_of_run",
    "latest_finished_run_id",
    "list_alerts",
    "list_notifications",
    "mark_notified",
    "prune_audit",
    "prune_security_events",
    "recent_deletions",
    "recent_statuses",
    "record_notification",
    "remove_mutes",
    "resolve_quiet_alerts",
    "sources_of_actor",
    "stream_audit",
    "touch_alert",
]
