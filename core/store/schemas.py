"""Typed records going into (``...In``) and coming out of (``...Out``) the state store.

Frontends and the orchestrator only ever see these pydantic models, never ORM rows. The
``...Out`` models are what dashboards render and what ``--format json`` prints
(``model_dump(mode="json")``).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from core.log import redact_value
from core.specs import Action


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind of time the store accepts)."""
    return datetime.now(UTC)


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_run_id(now: datetime | None = None) -> str:
    """A ULID: 26 characters, sortable by creation time (ms), 80 random bits."""
    ms = int((now.timestamp() if now else time.time()) * 1000)
    value = (ms << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def default_host() -> str:
    return socket.gethostname()


class RunKind(StrEnum):
    SYNC = "sync"
    PLAN = "plan"
    RESUME = "resume"
    SCHEDULED = "scheduled"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIAL = "partial"
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self is not RunStatus.RUNNING


class Trigger(StrEnum):
    CLI = "cli"
    SCHEDULER = "scheduler"
    API = "api"
    LAMBDA = "lambda"


class AssetStatus(StrEnum):
    SYNCED = "synced"
    FAILED = "failed"
    DEPRECATED = "deprecated"
    DELETED = "deleted"
    SKIPPED = "skipped"
    CONFLICT = "conflict"


#: The action a run item records: the one :class:`core.specs.Action` enum (``fail`` for an item
#: whose write failed).
ItemAction = Action


class ItemStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"


class ConflictKind(StrEnum):
    NAMING = "naming"
    UNMANAGED = "unmanaged"
    OUT_OF_BAND_EDIT = "out_of_band_edit"
    CONCURRENT_MODIFICATION = "concurrent_modification"
    COLLISION = "collision"


class AuditSystem(StrEnum):
    GLUE = "glue"
    DATASPHERE = "datasphere"
    DGSYNC = "dgsync"
    CONFIG = "config"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


# --------------------------------------------------------------------------- runs


class RunScope(_In):
    """What a run covers; empty lists mean "everything"."""

    spaces: list[str] = Field(default_factory=list)
    kinds: list[str] = Field(default_factory=list)
    priority: str | None = None
    assets: list[str] = Field(default_factory=list)
    #: The configuration version the run used (``config_versions.id``), when one is applied.
    config_version: int | None = None


class RunCounts(_In):
    """Per-action outcome counts of a run (real integer columns in ``runs``)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deprecated: int = 0
    deleted: int = 0
    conflicts: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def processed(self) -> int:
        return sum(self.model_dump().values())


class RunError(_In):
    """One error of a run, with the remediation hint shown to the user."""

    object: str | None = None
    code: str
    message: str
    hint: str | None = None


#: ``system → operation → count``, e.g. ``{"glue": {"GetTables": 3}}``.
ApiCalls = dict[str, dict[str, int]]


class RunIn(_In):
    """A run about to start."""

    id: str = Field(default_factory=new_run_id)
    kind: RunKind = RunKind.SYNC
    env: str
    trigger: Trigger = Trigger.CLI
    scope: RunScope = Field(default_factory=RunScope)
    slice_key: str | None = None
    started_at: AwareDatetime = Field(default_factory=utcnow)
    resumed_from: str | None = None
    host: str | None = Field(default_factory=default_host)
    pid: int | None = Field(default_factory=os.getpid)
    assets_total: int = 0



class RunResult(_In):
    """How a run ended (given to ``finish_run``)."""

    status: RunStatus
    counts: RunCounts = Field(default_factory=RunCounts)
    assets_total: int | None = None
    api_calls: ApiCalls = Field(default_factory=dict)
    retries: int = 0
    throttles: int = 0
    errors: list[RunError] = Field(default_factory=list)
    summary: str | None = None
    finished_at: AwareDatetime = Field(default_factory=utcnow)
    #: Performance figures (:class:`core.perf.RunPerf` as JSON).
    metrics: dict[str, Any] | None = None



class RunOut(_Out):
    id: str
    kind: RunKind
    env: str
    status: RunStatus
    trigger: Trigger
    scope: RunScope
    slice_key: str | None
    started_at: datetime
    finished_at: datetime | None
    heartbeat_at: datetime | None
    duration_s: float | None
    counts: RunCounts
    assets_total: int
    throughput: float | None
    api_calls: ApiCalls
    retries: int
    throttles: int
    errors: list[RunError]
    resumed_from: str | None
    host: str | None
    pid: int | None
    summary: str | None
    #: Performance figures recorded at the end (:class:`core.perf.RunPerf` as JSON).
    metrics: dict[str, Any] | None = None


class RunDetail(RunOut):
    """A run with a summary of its checkpoint items."""

    items_by_action: dict[str, int] = Field(default_factory=dict)
    items_by_status: dict[str, int] = Field(default_factory=dict)
    items_total: int = 0
    failed_items: list[RunItemOut] = Field(default_factory=list)


# ---------------------------------------------------------------------- run items


class RunItemOut(_Out):
    run_id: str
    asset_key: str
    action: ItemAction
    status: ItemStatus
    detail: dict[str, Any]
    error: str | None
    hint: str | None
    finished_at: datetime


# -------------------------------------------------------------------- asset state


class AssetStateIn(_In):
    """What to remember about one asset. On update, only the fields that were set are
    written (``model_fields_set``), so a failure can record ``last_error`` without
    forgetting the last good ``target_hash``."""

    env: str
    space: str
    name: str
    kind: str
    status: AssetStatus
    priority: str | None = None
    source_hash: str | None = None
    source_etag: str | None = None
    source_fingerprint: str | None = None
    glue_database: str | None = None
    glue_table: str | None = None
    target_hash: str | None = None
    glue_version_id: str | None = None
    last_run_id: str | None = None
    last_synced_at: AwareDatetime | None = None
    deprecated_at: AwareDatetime | None = None
    last_error: str | None = None


    @property
    def key(self) -> str:
        return f"{self.space}.{self.name}"


class AssetStateOut(_Out):
    env: str
    key: str
    space: str
    name: str
    kind: str
    priority: str | None
    source_hash: str | None
    source_etag: str | None
    source_fingerprint: str | None
    glue_database: str | None
    glue_table: str | None
    target_hash: str | None
    glue_version_id: str | None
    status: AssetStatus
    last_run_id: str | None
    last_synced_at: datetime | None
    deprecated_at: datetime | None
    last_error: str | None


# ---------------------------------------------------------------------- conflicts


class ConflictIn(_In):
    run_id: str | None = None
    #: The Glue object, ``database.table``.
    object: str
    asset_key: str | None = None
    kind: ConflictKind
    detail: dict[str, Any] = Field(default_factory=dict)
    resolution: str | None = None
    created_at: AwareDatetime = Field(default_factory=utcnow)



class ConflictOut(_Out):
    id: int
    run_id: str | None
    object: str
    asset_key: str | None
    kind: ConflictKind
    detail: dict[str, Any]
    resolution: str | None
    created_at: datetime
    resolved_at: datetime | None


# -------------------------------------------------------------------------- audit


class AuditIn(_In):
    """One write. ``details`` is redacted before it is stored (secret-named keys masked)."""

    ts: AwareDatetime = Field(default_factory=utcnow)
    actor: str
    run_id: str | None = None
    system: AuditSystem
    object: str
    action: str
    before_hash: str | None = None
    after_hash: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    #: The environment; may stay empty for records of a run (the run's environment applies).
    env: str | None = None

    @field_validator("details")
    @classmethod
    def _redact(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {k: redact_value(str(k), v) for k, v in value.items()}


class AuditOut(_Out):
    id: int
    ts: datetime
    actor: str
    run_id: str | None
    system: str
    object: str
    action: str
    before_hash: str | None
    after_hash: str | None
    details: dict[str, Any]
    env: str | None = None


class AuditFilter(_In):
    """Filters of an audit query; all optional, combined with AND."""

    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    actor: str | None = None
    #: Case-insensitive substring of the object name.
    object_contains: str | None = None
    action: str | None = None
    run_id: str | None = None
    system: AuditSystem | None = None
    #: The record's environment, or that of its run.
    env: str | None = None
    #: Case-insensitive full text: actor, object, action, run id or details.
    search: str | None = None


AuditFormat = Literal["json", "csv"]

#: Column order of the CSV export.
AUDIT_CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "ts",
    "actor",
    "run_id",
    "system",
    "object",
    "action",
    "before_hash",
    "after_hash",
    "details",
    "env",
)


# ------------------------------------------------------------------------ lineage

LineageDirection = Literal["upstream", "downstream", "both"]


class LineageEdgeIn(_In):
    """``upstream`` → ``downstream`` as asset keys (``SPACE.NAME``)."""

    upstream: str
    downstream: str
    kind: str
    via: str | None = None

    @classmethod
    def from_spec(cls, edge: Any) -> LineageEdgeIn:
        """From a :class:`core.specs.LineageEdge` (refs rendered as ``SPACE.NAME``)."""
        return cls(
            upstream=str(edge.upstream),
            downstream=str(edge.downstream),
            kind=str(edge.kind),
            via=str(edge.via) if edge.via is not None else None,
        )


class LineageEdgeOut(_Out):
    upstream: str
    downstream: str
    kind: str
    via: str | None
    run_id: str | None
    #: Distance from the queried asset (1 = direct neighbour); 0 outside lineage queries.
    depth: int = 0


# ------------------------------------------------------------- schedule / security


class ScheduleStateIn(_In):
    """Schedule bookkeeping of a slice; on update only the fields set are written."""

    slice_key: str
    last_started_at: AwareDatetime | None = None
    last_finished_at: AwareDatetime | None = None
    last_run_id: str | None = None
    next_due_at: AwareDatetime | None = None



class ScheduleStateOut(_Out):
    slice_key: str
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_run_id: str | None
    next_due_at: datetime | None


class SecurityEventIn(_In):
    """``kind``: ``token_refresh``, ``auth_failure``, ``suspicious_activity``... ``detail``
    is redacted before it is stored."""

    ts: AwareDatetime = Field(default_factory=utcnow)
    kind: str
    actor: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    #: Where it came from: a client address, ``datasphere``, ``glue``...
    source: str | None = None
    env: str | None = None

    @field_validator("detail")
    @classmethod
    def _redact(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {k: redact_value(str(k), v) for k, v in value.items()}


class SecurityEventOut(_Out):
    id: int
    ts: datetime
    kind: str
    actor: str | None
    detail: dict[str, Any]
    source: str | None = None
    env: str | None = None


class LeaseOut(_Out):
    slice_key: str
    holder: str
    acquired_at: datetime
    expires_at: datetime
    heartbeat_at: datetime


RunDetail.model_rebuild()
