"""A run killed with SIGKILL mid-checkpoint leaves a consistent, resumable store."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from datetime import timedelta

from sqlalchemy import func, select

from core.store import repo
from core.store.db import Store
from core.store.schemas import RunIn, RunKind, utcnow
from core.store.tables import AssetStateRow, AuditRow, RunItemRow

from .checkpoint_worker import checkpoint_forever


def _count(store: Store, model: type[object]) -> int:
    with store.session(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_kill_9_during_checkpoints_loses_nothing_and_is_resumable(
    store: Store, store_url: str
) -> None:
    with store.session() as s:
        run = repo.start_run(session=s, run=RunIn(env="dog", started_at=utcnow()))
    proc = multiprocessing.get_context("spawn").Process(
        target=checkpoint_forever, args=(store_url, run.id))
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while _count(store, RunItemRow) < 25 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=30)
    assert proc.exitcode == -signal.SIGKILL

    items, audits, states = (_count(store, m) for m in (RunItemRow, AuditRow, AssetStateRow))
    assert items >= 25
    assert items == audits == states, "a checkpoint landed without its audit record or state"

    later = utcnow() + timedelta(minutes=10)
    with store.session() as s:
        found = repo.latest_interrupted_run(session=s, env="dog", now=later)
        assert found is not None and found.id == run.id
        done = repo.completed_items(session=s, run_id=run.id)
        resumed = repo.start_run(session=s, run=RunIn(env="dog", kind=RunKind.RESUME,
                                                      resumed_from=run.id))
    assert len(done) == items
    with store.session(readonly=True) as s:
        assert repo.completed_items(session=s, run_id=resumed.id) == done
        assert set(repo.get_asset_states(session=s, env="dog")) == done
