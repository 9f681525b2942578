"""Initial schema: runs, asset_state, run_items, conflicts, audit, leases, schedule_state,
security_events, lineage_edges.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Types are spelled out here (not imported from ``core.store.tables``) so this revision stays
what it was when later revisions change the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

TABLES = (
    "run_items",
    "conflicts",
    "security_events",
    "schedule_state",
    "lineage_edges",
    "leases",
    "audit",
    "asset_state",
    "runs",
)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("env", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("scope", JSON, nullable=False),
        sa.Column("slice_key", sa.String(), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("deprecated", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("assets_total", sa.Integer(), nullable=False),
        sa.Column("throughput", sa.Float(), nullable=True),
        sa.Column("api_calls", JSON, nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("throttles", sa.Integer(), nullable=False),
        sa.Column("errors", JSON, nullable=False),
        sa.Column("resumed_from", sa.String(length=32), nullable=True),
        sa.Column("host", sa.String(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resumed_from"],
            ["runs.id"],
            name=op.f("fk_runs_resumed_from_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index(
        op.f("ix_runs_env_slice_key_started_at"), "runs", ["env", "slice_key", "started_at"]
    )
    op.create_index(op.f("ix_runs_resumed_from"), "runs", ["resumed_from"])
    op.create_index(op.f("ix_runs_started_at"), "runs", ["started_at"])
    op.create_index(op.f("ix_runs_status"), "runs", ["status"])

    op.create_table(
        "asset_state",
        sa.Column("env", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("space", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("source_hash", sa.String(), nullable=True),
        sa.Column("source_etag", sa.String(), nullable=True),
        sa.Column("source_fingerprint", sa.String(), nullable=True),
        sa.Column("glue_database", sa.String(), nullable=True),
        sa.Column("glue_table", sa.String(), nullable=True),
        sa.Column("target_hash", sa.String(), nullable=True),
        sa.Column("glue_version_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_run_id", sa.String(length=32), nullable=True),
        sa.Column("last_synced_at", TIMESTAMP, nullable=True),
        sa.Column("deprecated_at", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("env", "key", name=op.f("pk_asset_state")),
    )
    op.create_index(op.f("ix_asset_state_env_space"), "asset_state", ["env", "space"])
    op.create_index(op.f("ix_asset_state_env_status"), "asset_state", ["env", "status"])

    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ts", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.Column("object", sa.String(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("before_hash", sa.String(), nullable=True),
        sa.Column("after_hash", sa.String(), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    op.create_index(op.f("ix_audit_actor"), "audit", ["actor"])
    op.create_index(op.f("ix_audit_object"), "audit", ["object"])
    op.create_index(op.f("ix_audit_run_id"), "audit", ["run_id"])
    op.create_index(op.f("ix_audit_ts"), "audit", ["ts"])

    op.create_table(
        "leases",
        sa.Column("slice_key", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("acquired_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("slice_key", name=op.f("pk_leases")),
    )

    op.create_table(
        "lineage_edges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("upstream", sa.String(), nullable=False),
        sa.Column("downstream", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("via", sa.String(), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_edges")),
    )
    op.create_index(op.f("ix_lineage_edges_downstream"), "lineage_edges", ["downstream"])
    op.create_index(op.f("ix_lineage_edges_upstream"), "lineage_edges", ["upstream"])

    op.create_table(
        "schedule_state",
        sa.Column("slice_key", sa.String(), nullable=False),
        sa.Column("last_started_at", TIMESTAMP, nullable=True),
        sa.Column("last_finished_at", TIMESTAMP, nullable=True),
        sa.Column("last_run_id", sa.String(length=32), nullable=True),
        sa.Column("next_due_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("slice_key", name=op.f("pk_schedule_state")),
    )

    op.create_table(
        "security_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ts", TIMESTAMP, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(), nullable=True),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_events")),
    )
    op.create_index(op.f("ix_security_events_kind"), "security_events", ["kind"])
    op.create_index(op.f("ix_security_events_ts"), "security_events", ["ts"])

    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("object", sa.String(), nullable=False),
        sa.Column("asset_key", sa.String(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("resolution", sa.String(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_conflicts_run_id_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
    )
    op.create_index(op.f("ix_conflicts_created_at"), "conflicts", ["created_at"])
    op.create_index(op.f("ix_conflicts_object"), "conflicts", ["object"])
    op.create_index(op.f("ix_conflicts_run_id"), "conflicts", ["run_id"])

    op.create_table(
        "run_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("asset_key", sa.String(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("hint", sa.Text(), nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_items_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_items")),
        sa.UniqueConstraint("run_id", "asset_key", name=op.f("uq_run_items_run_id_asset_key")),
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
