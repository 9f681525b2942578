"""The audit trail as a service: record user actions (with a before/after diff), query by
any field and full text, export streamed JSON Lines / CSV / JSON, prune by retention.

Writes of a sync are audited by the engine's checkpoint (:mod:`core.sync.checkpoint`) under
the run's actor; everything else a user does (plan, validate, config or key change, login,
alert ack/mute, deletion approval) goes through :func:`record_action`. Details are redacted
before they are stored; secrets never reach the audit trail.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from core.log import redact_value
from core.store.schemas import (
    AUDIT_CSV_COLUMNS,
    AuditFilter,
    AuditIn,
    AuditOut,
    AuditSystem,
    utcnow,
)

if TYPE_CHECKING:
    from core.store.db import Store

ExportFormat = Literal["jsonl", "csv", "json"]
#: Field diffs kept in one audit record (the hashes cover the whole object).
MAX_DIFFS = 200


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or ({prefix: {}} if prefix else {})
    return {prefix: value}


def redacted(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A copy with secret-named keys masked and known secrets removed from text."""
    if value is None:
        return None
    return {str(k): redact_value(str(k), v) for k, v in value.items()}


def content_hash(value: Mapping[str, Any] | None) -> str | None:
    """SHA-256 of the canonical JSON of the (redacted) value."""
    if value is None:
        return None
    text = json.dumps(redacted(value), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def field_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """``[{"field": "a.b", "before": 1, "after": 2}, ...]`` over the flattened, redacted values."""
    flat_before = _flatten(redacted(before) or {})
    flat_after = _flatten(redacted(after) or {})
    out = []
    for key in sorted(flat_before.keys() | flat_after.keys()):
        old, new = flat_before.get(key), flat_after.get(key)
        if old != new:
            out.append({"field": key, "before": old, "after": new})
    return out


def record_action(
    store: Store,
    *,
    actor: str,
    action: str,
    object: str,
    env: str | None = None,
    system: AuditSystem = AuditSystem.DGSYNC,
    run_id: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditOut:
    """Audit one user action (``plan``, ``validate``, ``config_change``, ``key_created``,
    ``login``, ``alert_ack``...). ``before``/``after`` give hashes and a field diff."""
    from core.store import repo

    body = dict(details or {})
    if before is not None or after is not None:
        diffs = field_diff(before, after)
        body["diff"] = diffs[:MAX_DIFFS]
        if len(diffs) > MAX_DIFFS:
            body["diff_truncated"] = len(diffs)
    entry = AuditIn(
        ts=now or utcnow(), actor=actor, run_id=run_id, system=system, object=object,
        action=action, before_hash=content_hash(before), after_hash=content_hash(after),
        details=body, env=env,
    )
    with store.session() as session:
        return repo.record_audit(session=session, entry=entry)


def query(
    store: Store, filters: AuditFilter | None = None, *, limit: int | None = 1000, offset: int = 0
) -> list[AuditOut]:
    """Matching records, newest first (what dashboards and ``dgsync audit`` show)."""
    from core.store import repo

    with store.session(readonly=True) as session:
        return list(repo.query_audit(session=session, filters=filters, limit=limit, offset=offset))


def iter_records(
    store: Store, filters: AuditFilter | None = None, *, batch: int = 500
) -> Iterator[AuditOut]:
    """Every matching record, oldest first, read ``batch`` rows at a time (a generator)."""
    from core.store.governance import stream_audit

    with store.session(readonly=True) as session:
        yield from stream_audit(session=session, filters=filters, batch=batch)


def _csv_line(values: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    csv.DictWriter(buffer, fieldnames=AUDIT_CSV_COLUMNS, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def export(
    store: Store,
    fmt: ExportFormat,
    filters: AuditFilter | None = None,
    *,
    batch: int = 500,
) -> Iterator[str]:
    """Stream the matching records, oldest first, as text chunks (one record each, plus a
    header/brackets): ``jsonl`` (JSON Lines), ``csv`` (header; ``details`` as JSON) or
    ``json`` (one array). Memory does not depend on how many records match."""
    if fmt not in ("jsonl", "csv", "json"):
        raise ValueError(f"unknown audit export format {fmt!r}")
    if fmt == "csv":
        yield ",".join(AUDIT_CSV_COLUMNS) + "\n"
    elif fmt == "json":
        yield "["
    first = True
    for record in iter_records(store, filters, batch=batch):
        data = record.model_dump(mode="json")
        if fmt == "csv":
            data["details"] = json.dumps(data["details"], sort_keys=True, ensure_ascii=False)
            yield _csv_line(data)
        elif fmt == "jsonl":
            yield json.dumps(data, ensure_ascii=False) + "\n"
        else:
            yield ("\n  " if first else ",\n  ") + json.dumps(data, ensure_ascii=False)
        first = False
    if fmt == "json":
        yield "\n]\n" if not first else "]\n"


@dataclass(frozen=True)
class PruneResult:
    before: datetime | None
    audit: int
    security_events: int


def prune(
    store: Store, *, retention_days: int, now: datetime | None = None, dry_run: bool = False
) -> PruneResult:
    """Delete audit records and security events older than ``retention_days`` (0: keep
    everything). With ``dry_run``, count only."""
    if retention_days <= 0:
        return PruneResult(before=None, audit=0, security_events=0)
    from sqlalchemy import func, select

    from core.store.governance import count_audit, prune_audit, prune_security_events
    from core.store.tables import SecurityEventRow

    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    with store.session(readonly=dry_run) as session:
        if dry_run:
            events = session.scalar(
                select(func.count()).select_from(SecurityEventRow).where(SecurityEventRow.ts < cutoff)
            )
            return PruneResult(
                before=cutoff,
                audit=count_audit(session=session, filters=AuditFilter(until=cutoff)),
                security_events=int(events or 0),
            )
        return PruneResult(
            before=cutoff,
            audit=prune_audit(session=session, before=cutoff),
            security_events=prune_security_events(session=session, before=cutoff),
        )


__all__ = [
    "ExportFormat",
    "PruneResult",
    "content_hash",
    "export",
    "field_diff",
    "iter_records",
    "prune",
    "query",
    "record_action",
    "redacted",
]
