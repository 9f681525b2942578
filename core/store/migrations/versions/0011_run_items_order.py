"""An index on run_items (run_id, finished_at, id, action, status): the items of a run in the
order they finished without sorting the whole run (a full sync of a 10,000-asset tenant has
~9,000), and its counts by action and status read from the index alone. SQLite, 9,000 items:
the first page 2.07 → 0.12 ms, the counts 3.6 → 2.6 ms.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_run_items_run_id_finished_at_id_action_status"


def upgrade() -> None:
    op.create_index(NAME, "run_items", ["run_id", "finished_at", "id", "action", "status"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="run_items")
