"""Deletions held for an operator's confirmation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pending_deletions",
        sa.Column("env", sa.String(length=16), nullable=False),
        sa.Column("object", sa.String(), nullable=False),
        sa.Column("asset", sa.String(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("env", "object", name=op.f("pk_pending_deletions")),
    )
    op.create_index(
        op.f("ix_pending_deletions_status"), "pending_deletions", ["status"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_pending_deletions_status"), table_name="pending_deletions")
    op.drop_table("pending_deletions")
