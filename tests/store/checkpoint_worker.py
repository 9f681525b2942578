"""A process that checkpoints assets until it is killed (used by test_checkpoint_crash)."""

from __future__ import annotations

import itertools
import time

from core.store import repo
from core.store.db import Store, make_engine
from core.store.schemas import (
    AssetStateIn,
    AssetStatus,
    AuditIn,
    AuditSystem,
    ItemAction,
    ItemStatus,
)


def checkpoint_forever(url: str, run_id: str) -> None:
    """Record one asset per transaction (item + audit + state), as the orchestrator does."""
    store = Store(make_engine(url))
    for i in itertools.count():
        name = f"T{i:05d}"
        with store.session() as s:
            repo.record_item(
                session=s, run_id=run_id, asset_key=f"S.{name}", action=ItemAction.CREATE,
                status=ItemStatus.DONE,
                audit=AuditIn(actor="dgsync", run_id=run_id, system=AuditSystem.GLUE,
                              object=f"s.{name.lower()}", action="create_table",
                              after_hash=f"h{i}"),
                state=AssetStateIn(env="dog", space="S", name=name, kind="view",
                                   status=AssetStatus.SYNCED, target_hash=f"h{i}",
                                   last_run_id=run_id),
            )
        time.sleep(0.001)
