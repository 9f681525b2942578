"""The audit log (record, filter, export as JSON/CSV) and security events."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from core.store.schemas import (
    AUDIT_CSV_COLUMNS,
    AuditFilter,
    AuditFormat,
    AuditIn,
    AuditOut,
    AuditSystem,
    SecurityEventIn,
    SecurityEventOut,
)
from core.store.tables import AuditRow, RunRow, SecurityEventRow

# -------------------------------------------------------------------------- audit


def add_audit(session: Session, entry: AuditIn) -> AuditRow:
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
    return AuditOut.model_validate(add_audit(session, entry))


def audit_query(filters: AuditFilter | None) -> Select[AuditRow]:
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
    stmt = audit_query(filters)
    order = (AuditRow.ts.desc(), AuditRow.id.desc()) if newest_first else (AuditRow.ts, AuditRow.id)
    stmt = stmt.order_by(*order).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [AuditOut.model_validate(row) for row in session.scalars(stmt)]


def glue_diffs(*, session: Session, run_id: str, objects: list[str]) -> dict[str, list[Any]]:
    """``details.diffs`` of the run's Glue writes to ``objects`` (the newest write of each
    object wins): what a run page shows for the items it lists, without reading every write
    of a 10,000-table run."""
    out: dict[str, list[Any]] = {}
    wanted = sorted(set(objects))
    c = AuditRow.__table__.c  # Core rows: no ORM loading for a page of records
    for start in range(0, len(wanted), 500):
        rows = session.connection().execute(
            select(c.object, c.details)
            .where(c.run_id == run_id, c.system == AuditSystem.GLUE.value, c.object.in_(wanted[start:start + 500]))
            .order_by(c.ts, c.id)
        )
        for obj, details in rows:
            out[obj] = list((details or {}).get("diffs") or [])
    return out


def export_audit(
    *, session: Session, fmt: AuditFormat, filters: AuditFilter | None = None
) -> str:
    """Every matching audit record, oldest first, as JSON (a list) or CSV (with header;
    ``details`` as a JSON string)."""
    rows = session.scalars(
        audit_query(filters).order_by(AuditRow.ts, AuditRow.id).execution_options(yield_per=1000)
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
