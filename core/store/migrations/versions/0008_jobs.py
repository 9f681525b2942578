"""Background jobs of the web API and the connectivity history.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("env", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=32), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("hint", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("executor", sa.String(length=32), nullable=False),
        sa.Column("worker", sa.String(), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_env_id"), "jobs", ["env", "id"], unique=False)
    op.create_index(op.f("ix_jobs_status"), "jobs", ["status"], unique=False)
    op.create_table(
        "connectivity_samples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("env", sa.String(length=16), nullable=False),
        sa.Column("checked_at", TIMESTAMP, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("datasphere_ms", sa.Float(), nullable=True),
        sa.Column("glue_ms", sa.Float(), nullable=True),
        sa.Column("store_ms", sa.Float(), nullable=True),
        sa.Column("report", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connectivity_samples")),
    )
    op.create_index(
        op.f("ix_connectivity_samples_env_id"), "connectivity_samples", ["env", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_connectivity_samples_env_id"), table_name="connectivity_samples")
    op.drop_table("connectivity_samples")
    op.drop_index(op.f("ix_jobs_status"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_env_id"), table_name="jobs")
    op.drop_table("jobs")
