"""Runs: start, heartbeat, finish, listing, and the queries resume relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import StoreError
from core.store import repo
from core.store.db import Store
from core.store.schemas import (
    ItemAction,
    ItemStatus,
    RunCounts,
    RunError,
    RunIn,
    RunKind,
    RunResult,
    RunScope,
    RunStatus,
    Trigger,
    new_run_id,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _start(store: Store, **fields: object) -> str:
    fields.setdefault("env", "dog")
    with store.session() as s:
        return repo.start_run(session=s, run=RunIn.model_validate(fields)).id


def _finish(store: Store, run_id: str, status: RunStatus, at: datetime | None = None) -> None:
    with store.session() as s:
        repo.finish_run(session=s, run_id=run_id,
                        result=RunResult(status=status, finished_at=at or T0 + timedelta(hours=1)))


def _done(store: Store, run_id: str, *keys: str, status: ItemStatus = ItemStatus.DONE) -> None:
    for key in keys:
        with store.session() as s:
            repo.record_item(session=s, run_id=run_id, asset_key=key,
                             action=ItemAction.CREATE, status=status)


def test_run_ids_are_sortable_by_creation_time() -> None:
    ids = [new_run_id(T0 + timedelta(milliseconds=i)) for i in range(50)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 50
    assert all(len(i) == 26 for i in ids)


def test_start_run_records_a_running_run_with_its_scope(store: Store) -> None:
    scope = RunScope(spaces=["SALES"], kinds=["view"], priority="high")
    run_id = _start(store, kind=RunKind.SCHEDULED, trigger=Trigger.SCHEDULER, scope=scope,
                    slice_key="high:SALES", started_at=T0, assets_total=7)
    with store.session(readonly=True) as s:
        run = repo.get_run(session=s, run_id=run_id)
    assert run is not None
    assert run.status is RunStatus.RUNNING
    assert run.kind is RunKind.SCHEDULED and run.trigger is Trigger.SCHEDULER
    assert run.scope == scope and run.slice_key == "high:SALES"
    assert run.started_at == T0 and run.heartbeat_at == T0
    assert run.counts == RunCounts() and run.assets_total == 7
    assert run.host and run.pid


def test_finish_run_stores_counts_duration_throughput_calls_and_errors(store: Store) -> None:
    run_id = _start(store, started_at=T0)
    counts = RunCounts(created=10, updated=5, unchanged=80, failed=2, conflicts=1, skipped=2)
    result = RunResult(
        status=RunStatus.PARTIAL,
        counts=counts,
        assets_total=100,
        api_calls={"glue": {"GetTables": 3, "CreateTable": 10}, "datasphere": {"catalog": 2}},
        retries=4,
        throttles=1,
        errors=[RunError(object="SALES.V1", code="mapping_error", message="no columns",
                         hint="Add an override.")],
        summary="10 created, 5 updated",
        finished_at=T0 + timedelta(seconds=50),
    )
    with store.session() as s:
        out = repo.finish_run(session=s, run_id=run_id, result=result)
    assert out.duration_s == 50
    assert out.throughput == pytest.approx(100 / 50)
    with store.session(readonly=True) as s:
        run = repo.get_run(session=s, run_id=run_id)
    assert run is not None
    assert run.status is RunStatus.PARTIAL
    assert run.counts == counts
    assert run.api_calls["glue"] == {"GetTables": 3, "CreateTable": 10}
    assert run.retries == 4 and run.throttles == 1
    assert run.errors[0].hint == "Add an override."
    assert run.finished_at == T0 + timedelta(seconds=50)
    assert run.summary == "10 created, 5 updated"


def test_heartbeat_publishes_progress(store: Store) -> None:
    run_id = _start(store, started_at=T0)
    with store.session() as s:
        repo.heartbeat_run(session=s, run_id=run_id, counts=RunCounts(created=3),
                           assets_total=40, now=T0 + timedelta(seconds=5))
    with store.session(readonly=True) as s:
        run = repo.get_run(session=s, run_id=run_id)
    assert run is not None
    assert run.heartbeat_at == T0 + timedelta(seconds=5)
    assert run.counts.created == 3 and run.assets_total == 40


def test_unknown_run_is_none_for_get_and_an_error_for_updates(store: Store) -> None:
    with store.session(readonly=True) as s:
        assert repo.get_run(session=s, run_id="nope") is None
    with pytest.raises(StoreError, match="no run"), store.session() as s:
        repo.heartbeat_run(session=s, run_id="nope")


def test_get_run_summarises_items(store: Store) -> None:
    run_id = _start(store)
    with store.session() as s:
        for key, action, status in [
            ("S.A", ItemAction.CREATE, ItemStatus.DONE),
            ("S.B", ItemAction.CREATE, ItemStatus.DONE),
            ("S.C", ItemAction.NOOP, ItemStatus.DONE),
            ("S.D", ItemAction.FAIL, ItemStatus.FAILED),
        ]:
            repo.record_item(session=s, run_id=run_id, asset_key=key, action=action,
                             status=status, error="boom" if status == "failed" else None,
                             hint="retry" if status == "failed" else None)
    with store.session(readonly=True) as s:
        run = repo.get_run(session=s, run_id=run_id)
    assert run is not None
    assert run.items_by_action == {"create": 2, "noop": 1, "fail": 1}
    assert run.items_by_status == {"done": 3, "failed": 1}
    assert run.items_total == 4
    assert [(i.asset_key, i.error, i.hint) for i in run.failed_items] == [("S.D", "boom", "retry")]


def test_list_runs_newest_first_with_status_filter_and_limit(store: Store) -> None:
    ids = [_start(store, started_at=T0 + timedelta(minutes=i)) for i in range(4)]
    _finish(store, ids[0], RunStatus.SUCCEEDED)
    _finish(store, ids[2], RunStatus.FAILED)
    with store.session(readonly=True) as s:
        assert [r.id for r in repo.list_runs(session=s)] == ids[::-1]
        assert [r.id for r in repo.list_runs(session=s, limit=2)] == ids[:1:-1]
        assert [r.id for r in repo.list_runs(session=s, status=RunStatus.RUNNING)] == [
            ids[3], ids[1]]
        assert [r.id for r in repo.list_runs(session=s, status=RunStatus.FAILED)] == [ids[2]]
        assert repo.list_runs(session=s, env="wolf") == []


# ---------------------------------------------------------------------- resume

NOW = T0 + timedelta(hours=2)


def _interrupted(store: Store, *, started: datetime, slice_key: str | None = None) -> str:
    """A run that was killed: still 'running', last heartbeat at ``started``."""
    return _start(store, started_at=started, slice_key=slice_key)


def test_killed_run_with_stale_heartbeat_is_found_for_resume(store: Store) -> None:
    killed = _interrupted(store, started=T0)
    with store.session(readonly=True) as s:
        found = repo.latest_interrupted_run(session=s, env="dog", now=NOW)
    assert found is not None and found.id == killed


def test_live_run_is_not_offered_for_resume(store: Store) -> None:
    _start(store, started_at=NOW - timedelta(seconds=10))
    with store.session(readonly=True) as s:
        assert repo.latest_interrupted_run(session=s, env="dog", now=NOW) is None


def test_run_marked_interrupted_is_found(store: Store) -> None:
    run_id = _start(store, started_at=NOW - timedelta(seconds=5))
    _finish(store, run_id, RunStatus.INTERRUPTED, at=NOW)
    with store.session(readonly=True) as s:
        found = repo.latest_interrupted_run(session=s, env="dog", now=NOW)
    assert found is not None and found.id == run_id


def test_nothing_to_resume_after_a_later_finished_run(store: Store) -> None:
    _interrupted(store, started=T0)
    later = _start(store, started_at=T0 + timedelta(minutes=10))
    _finish(store, later, RunStatus.SUCCEEDED)
    with store.session(readonly=True) as s:
        assert repo.latest_interrupted_run(session=s, env="dog", now=NOW) is None


def test_resume_is_scoped_by_env_and_slice(store: Store) -> None:
    sales = _interrupted(store, started=T0, slice_key="high:SALES")
    _interrupted(store, started=T0 + timedelta(minutes=1), slice_key="critical")
    with store.session(readonly=True) as s:
        found = repo.latest_interrupted_run(session=s, env="dog", slice_key="high:SALES", now=NOW)
        assert found is not None and found.id == sales
        assert repo.latest_interrupted_run(session=s, env="dog", now=NOW) is None
        assert repo.latest_interrupted_run(session=s, env="wolf", slice_key="critical",
                                           now=NOW) is None


def test_plans_are_never_resumed(store: Store) -> None:
    _start(store, kind=RunKind.PLAN, started_at=T0)
    with store.session(readonly=True) as s:
        assert repo.latest_interrupted_run(session=s, env="dog", now=NOW) is None


def test_resuming_marks_the_old_run_interrupted_and_hides_it(store: Store) -> None:
    killed = _interrupted(store, started=T0)
    resumer = _start(store, kind=RunKind.RESUME, resumed_from=killed, started_at=NOW)
    with store.session(readonly=True) as s:
        old = repo.get_run(session=s, run_id=killed)
        assert old is not None and old.status is RunStatus.INTERRUPTED
        # the resumer is alive: nothing else to resume
        assert repo.latest_interrupted_run(session=s, env="dog", now=NOW) is None
    _finish(store, resumer, RunStatus.SUCCEEDED, at=NOW + timedelta(minutes=1))
    with store.session(readonly=True) as s:
        assert repo.latest_interrupted_run(
            session=s, env="dog", now=NOW + timedelta(hours=1)) is None


def test_completed_items_follow_the_resume_chain_and_skip_failures(store: Store) -> None:
    first = _interrupted(store, started=T0)
    _done(store, first, "S.A", "S.B")
    _done(store, first, "S.X", status=ItemStatus.FAILED)
    second = _start(store, kind=RunKind.RESUME, resumed_from=first,
                    started_at=T0 + timedelta(minutes=5))
    _done(store, second, "S.C")
    third = _start(store, kind=RunKind.RESUME, resumed_from=second,
                   started_at=T0 + timedelta(minutes=9))
    with store.session(readonly=True) as s:
        found = repo.latest_interrupted_run(session=s, env="dog", now=NOW)
        assert found is not None and found.id == third  # killed too: resume the newest
        assert repo.completed_items(session=s, run_id=third) == {"S.A", "S.B", "S.C"}
        assert repo.completed_items(session=s, run_id=second, include_resumed=False) == {"S.C"}
        assert repo.completed_items(session=s, run_id=first) == {"S.A", "S.B"}


def test_mark_stale_runs_interrupted(store: Store) -> None:
    stale = _interrupted(store, started=T0)
    live = _start(store, started_at=NOW - timedelta(seconds=1))
    with store.session() as s:
        assert repo.mark_stale_runs_interrupted(session=s, stale_after_s=60, now=NOW) == [stale]
    with store.session(readonly=True) as s:
        assert {r.id: r.status for r in repo.list_runs(session=s)} == {
            stale: RunStatus.INTERRUPTED, live: RunStatus.RUNNING}
