"""Governance reads and alert handling: ``/api/v1/audit`` (+ ``/export``),
``/api/v1/security-events``, ``/api/v1/alerts`` (ack, mutes).

The same core services as ``dgsync audit``, ``dgsync security events`` and ``dgsync alerts``
(:mod:`core.governance.audit`, :class:`core.governance.alerts.AlertService`); every write is
audited with the caller's actor (``key:<name>/<role>``...).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.errors import InputError, NotFound
from core.governance import audit as audit_service
from core.governance.alerts import AlertService
from core.services import Services
from core.store import governance as g
from core.store import repo
from core.store.governance import AlertMuteOut, AlertNotificationOut, AlertOut
from core.store.schemas import AuditFilter, AuditOut, AuditSystem, SecurityEventOut
from wolf_fastapi.deps import ActorDep, ServicesDep
from wolf_fastapi.errors import error_responses
from wolf_fastapi.routers.api_v1 import OPERATOR, VIEWER

router = APIRouter(tags=["governance"])

AlertStatus = Literal["open", "acked", "resolved"]


class AuditQuery(BaseModel):
    """The filters of ``dgsync audit`` as query parameters (unknown parameters are refused)."""

    model_config = ConfigDict(extra="forbid")

    run: str | None = Field(default=None, max_length=64, description="Only records of this run id.")
    object: str | None = Field(default=None, max_length=200, description="Objects containing this text.")
    action: str | None = Field(default=None, max_length=64, description="This action (create, config_change...).")
    actor: str | None = Field(default=None, max_length=200, description="This actor (key:<name>/<role>...).")
    env: str | None = Field(default=None, max_length=16, description="This environment (default: every one).")
    system: AuditSystem | None = Field(default=None, description="About this system.")
    since: AwareDatetime | None = Field(default=None, description="From this time on (ISO 8601 with a zone).")
    until: AwareDatetime | None = Field(default=None, description="Before this time.")
    q: str | None = Field(default=None, max_length=200, description="Full text: actor, object, action, run, details.")

    def filter(self) -> AuditFilter:
        return AuditFilter(since=self.since, until=self.until, actor=self.actor or None,
                           object_contains=self.object or None, action=self.action or None,
                           run_id=self.run or None, system=self.system, env=self.env or None,
                           search=self.q or None)


class AuditPageQuery(AuditQuery):
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10_000_000)


class AuditExportQuery(AuditQuery):
    format: Literal["jsonl", "csv", "json"] = Field(default="jsonl", description="jsonl, csv or json.")


class AuditPage(BaseModel):
    items: list[AuditOut]
    total: int = Field(description="Records matching the filters.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="`offset` of the next page; null on the last page.")


@router.get("/audit", response_model=AuditPage, dependencies=VIEWER)
async def list_audit(services: ServicesDep, query: Annotated[AuditPageQuery, Query()]) -> AuditPage:
    """The audit trail, newest first (what `dgsync audit` shows): every write and user action
    with its actor; details never hold secrets."""
    filters, limit, offset = query.filter(), query.limit, query.offset

    def read() -> AuditPage:
        items = audit_service.query(services.store(), filters, limit=limit, offset=offset)
        with services.store().session(readonly=True) as session:
            total = g.count_audit(session=session, filters=filters)
        return AuditPage(items=items, total=total, limit=limit, offset=offset,
                         next_offset=offset + limit if offset + limit < total else None)

    return await anyio.to_thread.run_sync(read)


EXPORT_MEDIA = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8",
                "json": "application/json"}


@router.get(
    "/audit/export", dependencies=VIEWER,
    responses={200: {"description": "Every matching record, oldest first, streamed.",
                     "content": {m.split(";")[0]: {} for m in EXPORT_MEDIA.values()}}},
)
def export_audit(services: ServicesDep, query: Annotated[AuditExportQuery, Query()]) -> StreamingResponse:
    """Export the matching audit records, oldest first, streamed whatever their number
    (`dgsync audit --format jsonl|csv|json`); CSV has a header and `details` as JSON."""
    chunks: Iterator[str] = audit_service.export(services.store(), query.format, query.filter())
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(chunks, media_type=EXPORT_MEDIA[query.format], headers={
        "Content-Disposition": f'attachment; filename="audit-{services.settings.env}-{stamp}.{query.format}"'})


# ------------------------------------------------------------------ security events


@router.get("/security-events", response_model=list[SecurityEventOut], dependencies=VIEWER)
async def list_security_events(
    services: ServicesDep,
    kind: Annotated[str | None, Query(max_length=64, description="auth_failure, permission_denied...")] = None,
    source: Annotated[str | None, Query(max_length=200, description="Client address, datasphere, glue.")] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[SecurityEventOut]:
    """Security events, newest first (`dgsync security events`): failed sign-ins, role
    denials, credential refusals, key and configuration changes. Never a secret."""

    def read() -> list[SecurityEventOut]:
        with services.store().session(readonly=True) as s:
            return repo.list_security_events(session=s, since=since, until=until, kind=kind or None,
                                             source=source or None, actor=actor or None, limit=limit)

    return await anyio.to_thread.run_sync(read)


# ------------------------------------------------------------------ alerts


class AlertV1(AlertOut):
    """An alert with the notifications sent for it (channel, escalation level, outcome)."""

    notifications: list[AlertNotificationOut] = Field(default_factory=list)


class AlertList(BaseModel):
    items: list[AlertV1]
    mutes: list[AlertMuteOut] = Field(description="Mutes in force.")


class MuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(min_length=1, max_length=200,
                        description="A rule name, an alert kind, a dedup key or an alert id.")
    minutes: int = Field(default=60, ge=1, le=60 * 24 * 90, description="How long (minutes).")
    reason: str | None = Field(default=None, max_length=500, description="Why (kept in the audit trail).")


class UnmuteResult(BaseModel):
    target: str
    removed: int


def alert_service(services: Services) -> AlertService:
    return AlertService(services.store(), services.settings)


def alerts_with_notifications(services: Services, statuses: list[str] | None, limit: int) -> list[AlertV1]:
    service = alert_service(services)
    alerts = service.list_alerts(status=statuses, limit=limit)
    with services.store().session(readonly=True) as s:
        return [AlertV1(**a.model_dump(), notifications=g.list_notifications(session=s, alert_id=a.id))
                for a in alerts]


@router.get("/alerts", response_model=AlertList, dependencies=VIEWER)
async def list_alerts(
    services: ServicesDep,
    status: Annotated[list[AlertStatus] | None, Query(description="These statuses (default: open and acked).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertList:
    """Alerts of this environment, newest first, with their hint, escalation level and the
    notifications sent (`dgsync alerts list`)."""

    def read() -> AlertList:
        items = alerts_with_notifications(services, list(status or ["open", "acked"]), limit)
        return AlertList(items=items, mutes=alert_service(services).mutes())

    return await anyio.to_thread.run_sync(read)


def ack_alert(services: Services, alert_id: int, actor: str) -> AlertOut:
    """Acknowledge an alert of this environment (404 unknown, 409 already resolved)."""
    from core.errors import ConcurrentModification

    with services.store().session(readonly=True) as s:
        try:
            found = g.get_alert(session=s, alert_id=alert_id)
        except InputError:
            found = None
    if found is None or found.env != services.settings.env:
        raise NotFound(f"no alert {alert_id} in environment {services.settings.env}",
                       hint="Use an id that GET /api/v1/alerts lists.")
    if found.status == "resolved":
        raise ConcurrentModification(f"alert {alert_id} is already resolved",
                                     hint="Only open alerts can be acknowledged.")
    return alert_service(services).ack(alert_id, actor=actor)


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut, dependencies=OPERATOR,
             responses=error_responses(404, 409))
async def ack(services: ServicesDep, actor: ActorDep,
              alert_id: Annotated[int, Path(ge=1, le=2_147_483_647, description="An id GET /api/v1/alerts lists.")]) -> AlertOut:
    """Acknowledge an alert: it stops escalating (audited as `alert_ack` with your actor)."""
    return await anyio.to_thread.run_sync(ack_alert, services, alert_id, actor)


@router.post("/alerts/mutes", response_model=AlertMuteOut, status_code=201, dependencies=OPERATOR)
async def mute(body: MuteRequest, services: ServicesDep, actor: ActorDep) -> AlertMuteOut:
    """Silence a target for a while: its alerts are still recorded, not sent nor escalated."""
    made: AlertMuteOut = await anyio.to_thread.run_sync(lambda: alert_service(services).mute(
        body.target.strip(), duration=timedelta(minutes=body.minutes), actor=actor, reason=body.reason))
    return made


@router.delete("/alerts/mutes", response_model=UnmuteResult, dependencies=OPERATOR)
async def unmute(services: ServicesDep, actor: ActorDep,
                 target: Annotated[str, Query(min_length=1, max_length=200, description="What was muted.")]
                 ) -> UnmuteResult:
    """Lift the mutes of a target."""
    removed = await anyio.to_thread.run_sync(lambda: alert_service(services).unmute(target, actor=actor))
    return UnmuteResult(target=target, removed=removed)
