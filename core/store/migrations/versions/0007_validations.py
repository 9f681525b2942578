"""Validation reports, and performance metrics recorded with each run.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "validations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("env", sa.String(length=16), nullable=False),
        sa.Column("scope_key", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("generated_at", TIMESTAMP, nullable=False),
        sa.Column("in_sync", sa.Boolean(), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=True),
        sa.Column("report", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validations")),
    )
    op.create_index(op.f("ix_validations_run_id"), "validations", ["run_id"], unique=False)
    op.create_index(
        op.f("ix_validations_scope_key_generated_at"), "validations", ["scope_key", "generated_at"],
        unique=False,
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("metrics", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("metrics")
    op.drop_index(op.f("ix_validations_scope_key_generated_at"), table_name="validations")
    op.drop_index(op.f("ix_validations_run_id"), table_name="validations")
    op.drop_table("validations")
