"""At most one open/acked alert per (env, dedup_key): a partial unique index.

Duplicates an earlier race may have left are resolved first (the newest one stays active).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('open', 'acked')"


def upgrade() -> None:
    op.execute(
        "UPDATE alerts SET status = 'resolved', resolved_at = last_seen_at "
        f"WHERE {ACTIVE} AND id NOT IN "
        f"(SELECT keep FROM (SELECT MAX(id) AS keep FROM alerts WHERE {ACTIVE} GROUP BY env, dedup_key) AS newest)"
    )
    op.create_index(
        "ux_alerts_active_dedup", "alerts", ["env", "dedup_key"], unique=True,
        sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("ux_alerts_active_dedup", table_name="alerts")
