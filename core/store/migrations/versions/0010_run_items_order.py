"""An index on run_items (run_id, finished_at, id): the items of a run in the order they
finished, without sorting the whole run (a full sync of a 10,000-asset tenant has ~9,000).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_run_items_run_id_finished_at_id"


def upgrade() -> None:
    op.create_index(NAME, "run_items", ["run_id", "finished_at", "id"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="run_items")
