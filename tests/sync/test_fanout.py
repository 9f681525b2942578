"""core/sync/fanout.py: space slices sized by what the store knows (pure packing + estimates)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.models import Priority
from core.store import repo
from core.store.db import Store
from core.store.schemas import (
    AssetStateIn,
    AssetStatus,
    RunCounts,
    RunIn,
    RunResult,
    RunStatus,
    Trigger,
)
from core.sync.fanout import (
    DEFAULT_UNKNOWN_SPACE_S,
    class_of,
    plan_space_slices,
    slice_key_for,
    space_estimates,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = Store.from_url(f"sqlite:///{tmp_path / 'state.db'}", auto_upgrade=True)
    yield made
    made.dispose()


def test_estimates_are_known_assets_divided_by_the_recent_throughput(store: Store) -> None:
    started = datetime.now(UTC) - timedelta(hours=1)
    with store.session() as session:
        for space, n in (("SALES", 300), ("HR", 30)):
            for i in range(n):
                repo.upsert_asset_state(session=session, state=AssetStateIn(
                    env="bear", space=space, name=f"T{i}", kind="local_table", status=AssetStatus.SYNCED))
        for seconds in (100, 50, 200):  # 100 assets in each: 1, 2 and 0.5 assets/s → median 1/s
            run = repo.start_run(session=session, run=RunIn(env="bear", trigger=Trigger.LAMBDA, started_at=started))
            repo.finish_run(session=session, run_id=run.id, result=RunResult(
                status=RunStatus.SUCCEEDED, counts=RunCounts(unchanged=100),
                finished_at=started + timedelta(seconds=seconds)))
    estimates = space_estimates(store, env="bear", spaces=["SALES", "HR", "NEW"])
    assert estimates == {"SALES": pytest.approx(300.0), "HR": pytest.approx(30.0), "NEW": DEFAULT_UNKNOWN_SPACE_S}


def test_spaces_are_packed_biggest_first_into_slices_within_the_budget() -> None:
    estimates = {"BIG": 900.0, "A": 300.0, "B": 250.0, "C": 200.0, "D": 100.0, "E": 40.0}
    slices = plan_space_slices(Priority.HIGH, estimates, budget_s=600)
    assert [(s.spaces, s.estimate_s) for s in slices] == [
        (("BIG",), 900.0),  # over the budget alone: the worker stops and re-queues it
        (("A", "B", "E"), 590.0),
        (("C", "D"), 300.0),
    ]
    assert sorted(sp for s in slices for sp in s.spaces) == sorted(estimates)
    assert [s.slice_key for s in slices] == ["high:BIG", "high:A+B+E", "high:C+D"]
    assert plan_space_slices(Priority.LOW, estimates, budget_s=600) == plan_space_slices(
        Priority.LOW, dict(reversed(estimates.items())), budget_s=600)  # deterministic


def test_slice_keys_name_their_class() -> None:
    assert slice_key_for(Priority.CRITICAL) == "critical"
    assert slice_key_for(Priority.MEDIUM, ["SALES", "FINANCE"]) == "medium:FINANCE+SALES"
    assert class_of("medium:FINANCE+SALES") is Priority.MEDIUM and class_of("low") is Priority.LOW
