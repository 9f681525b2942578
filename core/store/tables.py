"""The state-store schema (SQLAlchemy 2 typed declarative).

This schema is what the Dog, Wolf and Bear dashboards read: keep it stable. Every change goes
through a new Alembic revision in ``core/store/migrations/versions/`` and
``tests/store/test_migrations.py`` checks that the migrations produce exactly these tables.

Tables:

* ``runs``            one row per sync / plan / resume / scheduled run, with its counts
* ``asset_state``     what dgsync last saw and wrote for each asset (per environment)
* ``run_items``       the checkpoint: one row per asset finished in a run
* ``conflicts``       every conflict met, with its resolution
* ``audit``           an append-only record of every write (never secrets)
* ``leases``          who runs which slice, until when
* ``schedule_state``  when each slice last ran and is next due
* ``security_events`` token refreshes, auth failures, suspicious activity
* ``lineage_edges``   upstream → downstream edges, replaced per downstream asset
* ``pending_deletions`` deletions/deprecations held for an operator's confirmation
* ``config_versions`` immutable versions of the effective configuration (secrets redacted)
* ``alerts``, ``alert_notifications``, ``alert_mutes``  alerts, their deliveries, silences
* ``api_keys``        API keys of the web/MCP frontends: name, role, HMAC of the key (0006)
* ``validations``     validation reports (Glue vs Datasphere), the report zlib-compressed JSON
* ``jobs``            background plan/sync/validate/config jobs of the web API, with their progress
* ``connectivity_samples``  the bounded history of connectivity checks (Wolf's panel)

Timestamps are timezone-aware UTC on every backend (see :class:`UTCDateTime`). Enumerated
values (run status, actions...) are plain strings validated by :mod:`core.store.schemas`, so a
new value needs no migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

#: Deterministic constraint names: Alembic (and SQLite batch migrations) need them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (UTC).

    SQLite has no time zones: values are stored as naive UTC there. Naive values given to
    the store are refused, so a local time can never be mistaken for UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state store; use an aware UTC time")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: JSON everywhere; JSONB on PostgreSQL (indexable, compact).
JsonType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: JsonType,
        list[dict[str, Any]]: JsonType,
        str: String(),
    }


class RunRow(Base):
    """One run: a sync, a plan, a resume or a scheduled slice."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    env: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    #: ``{"spaces": [...], "kinds": [...], "priority": ..., "assets": [...]}``
    scope: Mapped[dict[str, Any]] = mapped_column(default=dict)
    slice_key: Mapped[str | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    deprecated: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    conflicts: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    assets_total: Mapped[int] = mapped_column(Integer, default=0)
    #: Assets per second over the run's duration.
    throughput: Mapped[float | None] = mapped_column(Float)
    #: ``{"glue": {"GetTables": 3, ...}, "datasphere": {"catalog_assets": 2, ...}}``
    api_calls: Mapped[dict[str, Any]] = mapped_column(default=dict)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    throttles: Mapped[int] = mapped_column(Integer, default=0)
    #: ``[{"object": ..., "code": ..., "message": ..., "hint": ...}]``
    errors: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    resumed_from: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("runs.id", ondelete="SET NULL")
    )
    host: Mapped[str | None]
    pid: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(Text)
    #: Performance figures recorded with the run (latency histograms per system, ...);
    #: see :mod:`core.metrics`.
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JsonType)

    __table_args__ = (
        Index(None, "status"),
        Index(None, "started_at"),
        Index(None, "env", "slice_key", "started_at"),
        Index(None, "resumed_from"),
    )


class AssetStateRow(Base):
    """What dgsync last saw in the source and wrote to Glue for one asset."""

    __tablename__ = "asset_state"

    env: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: ``SPACE.NAME`` (names are case-sensitive and may contain dots).
    key: Mapped[str] = mapped_column(primary_key=True)
    space: Mapped[str]
    name: Mapped[str]
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str | None] = mapped_column(String(16))
    source_hash: Mapped[str | None]
    #: ETag the server gave, for ``If-None-Match`` on the next run.
    source_etag: Mapped[str | None]
    source_fingerprint: Mapped[str | None]
    glue_database: Mapped[str | None]
    glue_table: Mapped[str | None]
    target_hash: Mapped[str | None]
    glue_version_id: Mapped[str | None]
    status: Mapped[str] = mapped_column(String(16))
    last_run_id: Mapped[str | None] = mapped_column(String(32))
    last_synced_at: Mapped[datetime | None]
    deprecated_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(None, "env", "status"),
        Index(None, "env", "space"),
    )


class RunItemRow(Base):
    """The checkpoint: one asset finished (done or failed) in one run."""

    __tablename__ = "run_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"))
    asset_key: Mapped[str]
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    hint: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime]

    # A run page reads its items in the order they finished without sorting a 10,000-item run,
    # and counts them by action and status from the index alone (migration 0011).
    __table_args__ = (UniqueConstraint("run_id", "asset_key"),
                      Index(None, "run_id", "finished_at", "id", "action", "status"))


class ConflictRow(Base):
    """A conflict met while planning or applying (naming, unmanaged table, ...)."""

    __tablename__ = "conflicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("runs.id", ondelete="SET NULL")
    )
    #: The Glue object, ``database.table``.
    object: Mapped[str]
    asset_key: Mapped[str | None]
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    resolution: Mapped[str | None]
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]

    __table_args__ = (
        Index(None, "run_id"),
        Index(None, "created_at"),
        Index(None, "object"),
    )


class AuditRow(Base):
    """One write (or security-relevant change) made by dgsync. Append-only; never secrets."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime]
    actor: Mapped[str]
    #: No foreign key: the audit trail outlives pruned runs.
    run_id: Mapped[str | None] = mapped_column(String(32))
    system: Mapped[str] = mapped_column(String(16))
    object: Mapped[str]
    action: Mapped[str] = mapped_column(String(32))
    before_hash: Mapped[str | None]
    after_hash: Mapped[str | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The environment (0004); NULL on older records and on records of a run (the run's
    #: environment applies, see :func:`core.store.repo.query_audit`).
    env: Mapped[str | None] = mapped_column(String(16), default=None)

    __table_args__ = (
        Index(None, "ts"),
        Index(None, "run_id"),
        Index(None, "object"),
        Index(None, "actor"),
        Index(None, "env"),
    )


class LeaseRow(Base):
    """Who runs a slice, until when. See :mod:`core.store.leases`."""

    __tablename__ = "leases"

    slice_key: Mapped[str] = mapped_column(primary_key=True)
    holder: Mapped[str]
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


class ScheduleStateRow(Base):
    """When a slice (``critical``, ``high:SALES``...) last ran and is next due."""

    __tablename__ = "schedule_state"

    slice_key: Mapped[str] = mapped_column(primary_key=True)
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_run_id: Mapped[str | None] = mapped_column(String(32))
    next_due_at: Mapped[datetime | None]


class SecurityEventRow(Base):
    """A security-relevant event: token refresh, auth failure, suspicious activity."""

    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Where it came from: a client address, ``datasphere``, ``glue``... (0004).
    source: Mapped[str | None] = mapped_column(default=None)
    env: Mapped[str | None] = mapped_column(String(16), default=None)

    __table_args__ = (Index(None, "ts"), Index(None, "kind"), Index(None, "source"))


class LineageEdgeRow(Base):
    """``upstream`` → ``downstream`` (asset keys), optionally ``via`` a flow."""

    __tablename__ = "lineage_edges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    upstream: Mapped[str]
    downstream: Mapped[str]
    kind: Mapped[str] = mapped_column(String(32))
    via: Mapped[str | None]
    run_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index(None, "downstream"), Index(None, "upstream"))


class AssetCacheRow(Base):
    """The last extracted version of an asset (domain model JSON) and its ETag.

    Incremental sync reads unchanged objects conditionally (304) and takes what it needs of
    them (flows for lineage, assets edited out of band in Glue) from here.
    """

    __tablename__ = "asset_cache"

    env: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    etag: Mapped[str | None]
    asset: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class PendingDeletionRow(Base):
    """A deletion or deprecation the planner held for confirmation (``dgsync deletions``).

    ``status``: ``pending`` (held, waiting), ``approved`` (an operator confirmed it; the next
    sync applies it), ``applied`` (done), ``cancelled`` (the source came back, or rejected).
    """

    __tablename__ = "pending_deletions"

    env: Mapped[str] = mapped_column(String(16), primary_key=True)
    object: Mapped[str] = mapped_column(primary_key=True)
    asset: Mapped[str | None]
    kind: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    run_id: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None]
    decided_at: Mapped[datetime | None]

    __table_args__ = (Index(None, "status"),)


class ConfigVersionRow(Base):
    """One immutable version of an environment's effective configuration (settings + mapping
    rules, secrets redacted). The newest version of an environment is the one applied."""

    __tablename__ = "config_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    env: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the canonical JSON of ``settings`` + ``rules``.
    hash: Mapped[str] = mapped_column(String(64))
    #: The settings (JSON, secrets replaced by ``<redacted>``; ``sync.rules_file`` left out).
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The mapping rules YAML text (empty: the built-in defaults).
    rules: Mapped[str] = mapped_column(Text, default="")
    #: ``apply``, ``promote`` or ``rollback``.
    action: Mapped[str] = mapped_column(String(16))
    #: The version this one was promoted or rolled back from.
    source_id: Mapped[int | None] = mapped_column(Integer)
    author: Mapped[str]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    __table_args__ = (Index(None, "env", "id"),)


class AlertRow(Base):
    """An alert: one per condition (``dedup_key``) until it is resolved.

    ``status``: ``open`` (notified, escalating), ``acked`` (someone took it), ``resolved``
    (quiet for ``alerts.resolve_after_s``). ``level`` is the index of the last channel of its
    rule's escalation chain that was notified. See :mod:`core.governance.alerts`.
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    env: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str]
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str]
    message: Mapped[str] = mapped_column(Text)
    hint: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer, default=0)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    notified_at: Mapped[datetime | None]
    run_id: Mapped[str | None] = mapped_column(String(32))
    acked_by: Mapped[str | None]
    acked_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        Index(None, "dedup_key", "status"),
        Index(None, "status"),
        # At most one open/acked alert per condition, whoever evaluates it (0009): two
        # evaluators racing on the same condition cannot both open it.
        Index("ux_alerts_active_dedup", "env", "dedup_key", unique=True,
              sqlite_where=text("status IN ('open', 'acked')"),
              postgresql_where=text("status IN ('open', 'acked')")),
    )


class AlertNotificationRow(Base):
    """One delivery attempt of an alert to a channel."""

    __tablename__ = "alert_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    ts: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool]
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "alert_id"),)


class AlertMuteRow(Base):
    """Silence for a rule name, an alert kind or a dedup key until ``until``."""

    __tablename__ = "alert_mutes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    env: Mapped[str] = mapped_column(String(16))
    target: Mapped[str]
    until: Mapped[datetime]
    created_by: Mapped[str]
    created_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "env", "until"),)


class ApiKeyRow(Base):
    """An API key of the web/MCP frontends. Only an HMAC-SHA256 of the key (peppered with
    ``DGSYNC_WEB__API_KEY_PEPPER``) is stored; see :mod:`core.apikeys`."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: ``viewer``, ``operator`` or ``admin``.
    role: Mapped[str] = mapped_column(String(16))
    #: Hex HMAC-SHA256 of the key.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None]
    last_used_at: Mapped[datetime | None]
    last_used_source: Mapped[str | None]
    comment: Mapped[str | None] = mapped_column(Text)


class ValidationRow(Base):
    """One validation report (see :mod:`core.validation`): its summary as columns, the whole
    report as zlib-compressed JSON (it holds one entry per compared field)."""

    __tablename__ = "validations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    env: Mapped[str] = mapped_column(String(16))
    #: :attr:`core.validation.ValidationScope.key` (env, spaces, kinds).
    scope_key: Mapped[str] = mapped_column(Text)
    #: The sync run validated (``validate_after_sync``); no foreign key: runs may be pruned.
    run_id: Mapped[str | None] = mapped_column(String(32))
    generated_at: Mapped[datetime]
    in_sync: Mapped[bool] = mapped_column(Boolean)
    #: :class:`core.validation.ValidationSummary` as JSON.
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config_version: Mapped[int | None] = mapped_column(Integer)
    report: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index(None, "run_id"), Index(None, "scope_key", "generated_at"))


# -- jobs and connectivity (Wolf API) ------------------------------------------------------


class JobRow(Base):
    """A plan, sync or validate job of the web API (see :mod:`core.jobs`)."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    env: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    scope: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str | None] = mapped_column(String(32))
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    eta_s: Mapped[float | None] = mapped_column(Float)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    hint: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str]
    #: ``thread``, ``inline``, ``sqs``...: who runs it.
    executor: Mapped[str] = mapped_column(String(32))
    #: ``<job id>|<host>|<boot id>|<pid>`` of the process that queued or runs it.
    worker: Mapped[str | None]
    run_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    #: What a configuration job checks or applies (:mod:`core.config_jobs`); null for others.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JsonType)

    __table_args__ = (Index(None, "env", "id"), Index(None, "status"))


class ConnectivitySampleRow(Base):
    """One connectivity check: per-system health and latency, the full report as JSON."""

    __tablename__ = "connectivity_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    env: Mapped[str] = mapped_column(String(16))
    checked_at: Mapped[datetime]
    ok: Mapped[bool]
    datasphere_ms: Mapped[float | None] = mapped_column(Float)
    glue_ms: Mapped[float | None] = mapped_column(Float)
    store_ms: Mapped[float | None] = mapped_column(Float)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (Index(None, "env", "id"),)


#: Every table, children first (the order to empty them in).
ALL_TABLES: tuple[str, ...] = (
    "api_keys",
    "validations",
    "jobs",
    "connectivity_samples",
    "config_versions",
    "alert_notifications",
    "alerts",
    "alert_mutes",
    "pending_deletions",
    "asset_cache",
    "run_items",
    "conflicts",
    "audit",
    "leases",
    "schedule_state",
    "security_events",
    "lineage_edges",
    "asset_state",
    "runs",
)
