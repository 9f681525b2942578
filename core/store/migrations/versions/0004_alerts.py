"""Alerts, their deliveries and silences; audit environment; security event source.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("env", sa.String(length=16), nullable=True))
        batch.create_index(op.f("ix_audit_env"), ["env"], unique=False)
    with op.batch_alter_table("security_events") as batch:
        batch.add_column(sa.Column("source", sa.String(), nullable=True))
        batch.add_column(sa.Column("env", sa.String(length=16), nullable=True))
        batch.create_index(op.f("ix_security_events_source"), ["source"], unique=False)

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("env", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("dedup_key", sa.String(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("hint", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.Column("notified_at", TIMESTAMP, nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("acked_by", sa.String(), nullable=True),
        sa.Column("acked_at", TIMESTAMP, nullable=True),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_dedup_key_status"), "alerts", ["dedup_key", "status"])
    op.create_index(op.f("ix_alerts_status"), "alerts", ["status"])

    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("ts", TIMESTAMP, nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_notifications_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_notifications")),
    )
    op.create_index(
        op.f("ix_alert_notifications_alert_id"), "alert_notifications", ["alert_id"]
    )

    op.create_table(
        "alert_mutes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("env", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("until", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_mutes")),
    )
    op.create_index(op.f("ix_alert_mutes_env_until"), "alert_mutes", ["env", "until"])


def downgrade() -> None:
    op.drop_index(op.f("ix_alert_mutes_env_until"), table_name="alert_mutes")
    op.drop_table("alert_mutes")
    op.drop_index(op.f("ix_alert_notifications_alert_id"), table_name="alert_notifications")
    op.drop_table("alert_notifications")
    op.drop_index(op.f("ix_alerts_status"), table_name="alerts")
    op.drop_index(op.f("ix_alerts_dedup_key_status"), table_name="alerts")
    op.drop_table("alerts")
    with op.batch_alter_table("security_events") as batch:
        batch.drop_index(op.f("ix_security_events_source"))
        batch.drop_column("env")
        batch.drop_column("source")
    with op.batch_alter_table("audit") as batch:
        batch.drop_index(op.f("ix_audit_env"))
        batch.drop_column("env")
