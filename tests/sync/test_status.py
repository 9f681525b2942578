"""Status overview and run listings, read from the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.models import Priority
from core.settings import ScheduleSettings, Settings
from core.store import repo
from core.store.db import Store
from core.store.leases import acquire_lease
from core.store.schemas import (
    AssetStateIn,
    AssetStatus,
    ConflictIn,
    ConflictKind,
    RunCounts,
    RunError,
    RunIn,
    RunResult,
    RunStatus,
    ScheduleStateIn,
    Trigger,
)
from core.sync.status import STATUS_SCHEMA_VERSION, runs_listing, status_overview

NOW = datetime.now(UTC).replace(microsecond=0)


class FakeServices:
    def __init__(self, store: Store, env: str = "dog", **schedule: Any) -> None:
        self.settings = Settings(env=env, schedule=ScheduleSettings(**schedule))
        self._store = store

    def store(self) -> Store:
        return self._store


def add_run(
    store: Store,
    *,
    started: datetime,
    status: RunStatus | None = RunStatus.SUCCEEDED,
    env: str = "dog",
    slice_key: str | None = None,
    duration_s: float = 10.0,
    counts: dict[str, int] | None = None,
    api_calls: dict[str, dict[str, int]] | None = None,
    errors: list[RunError] | None = None,
    heartbeat: datetime | None = None,
) -> str:
    with store.session() as s:
        run = repo.start_run(session=s, run=RunIn(env=env, trigger=Trigger.SCHEDULER, slice_key=slice_key,
                                                  started_at=started))
        if status is None:  # still running
            repo.heartbeat_run(session=s, run_id=run.id, now=heartbeat or started)
            return run.id
        repo.finish_run(session=s, run_id=run.id, result=RunResult(
            status=status, counts=RunCounts(**(counts or {})), api_calls=api_calls or {},
            retries=2, throttles=1, errors=errors or [], finished_at=started + timedelta(seconds=duration_s)))
    return run.id


def test_runs_are_listed_newest_first_with_derived_call_totals(store: Store) -> None:
    services = FakeServices(store)
    old = add_run(store, started=NOW - timedelta(hours=2), status=RunStatus.FAILED,
                  errors=[RunError(object="sales.v_orders", code="target_throttled", message="throttled",
                                   hint="Lower DGSYNC_GLUE__CALLS_PER_SECOND.")])
    new = add_run(store, started=NOW - timedelta(hours=1), counts={"created": 4, "updated": 2, "unchanged": 4},
                  api_calls={"glue": {"GetTables": 3, "CreateTable": 4, "UpdateTable": 2, "BatchGetPartition": 1},
                             "datasphere": {"GET /api/v1/dwc/catalog/spaces": 2, "GET csn": 5}})
    add_run(store, started=NOW, env="wolf")  # another environment: not listed
    runs = runs_listing(services)  # type: ignore[arg-type]
    assert [r.id for r in runs] == [new, old]
    first = runs[0]
    assert (first.glue_calls, first.glue_writes, first.datasphere_calls) == (10, 6, 7)
    assert first.counts.created == 4 and first.duration_s == 10.0
    assert first.throughput == pytest.approx(1.0)
    assert (first.retries, first.throttles) == (2, 1)
    assert first.api_calls["glue"]["GetTables"] == 3
    assert runs[1].errors[0].hint == "Lower DGSYNC_GLUE__CALLS_PER_SECOND."
    assert [r.id for r in runs_listing(services, status="failed")] == [old]  # type: ignore[arg-type]
    assert [r.id for r in runs_listing(services, limit=1)] == [new]  # type: ignore[arg-type]


def test_a_running_run_without_a_recent_heartbeat_is_flagged_stale(store: Store) -> None:
    services = FakeServices(store, lease_ttl_s=300)
    dead = add_run(store, started=NOW - timedelta(hours=1), status=None, slice_key="high",
                   heartbeat=NOW - timedelta(minutes=10))
    alive = add_run(store, started=NOW - timedelta(minutes=30), status=None, slice_key="critical",
                    heartbeat=NOW - timedelta(seconds=20))
    runs = {r.id: r for r in runs_listing(services, now=NOW)}  # type: ignore[arg-type]
    assert runs[dead].stale and not runs[alive].stale
    overview = status_overview(services, now=NOW)  # type: ignore[arg-type]
    assert {r.id: r.stale for r in overview.running} == {dead: True, alive: False}


def test_status_shows_each_class_schedule_lease_and_last_result(store: Store) -> None:
    services = FakeServices(store, critical="realtime", high="hourly", medium="off", low="0 3 * * *")
    last = add_run(store, started=NOW - timedelta(minutes=5), slice_key="high", status=RunStatus.PARTIAL,
                   counts={"created": 1, "failed": 1},
                   errors=[RunError(object="hr.x", code="item_failed", message="boom", hint="retry")])
    with store.session() as s:
        repo.set_schedule_state(session=s, state=ScheduleStateIn(
            slice_key="high", last_started_at=NOW - timedelta(minutes=5),
            last_finished_at=NOW - timedelta(minutes=4), last_run_id=last,
            next_due_at=NOW + timedelta(minutes=55)))
        repo.set_schedule_state(session=s, state=ScheduleStateIn(
            slice_key="low", last_started_at=NOW - timedelta(days=2), last_finished_at=NOW - timedelta(days=2),
            next_due_at=NOW - timedelta(days=1)))
    assert acquire_lease(store=store, slice_key="low", holder="host-b:42:abc", ttl_s=600, now=NOW)
    overview = status_overview(services, now=NOW)  # type: ignore[arg-type]
    by_key = {s.slice_key: s for s in overview.slices}
    assert [s.slice_key for s in overview.slices] == ["critical", "high", "medium", "low"]
    assert [s.priority for s in overview.slices] == list(Priority)

    critical = by_key["critical"]
    assert critical.never_run and critical.due_now and critical.next_due_at is None
    assert not critical.running and critical.last_status is None

    high = by_key["high"]
    assert (high.frequency, high.due_now, high.running) == ("hourly", False, False)
    assert high.next_due_at == NOW + timedelta(minutes=55)
    assert high.last_status is RunStatus.PARTIAL and high.last_run_id == last
    assert high.last_counts is not None and high.last_counts.failed == 1
    assert high.last_errors[0].hint == "retry"

    assert not by_key["medium"].enabled and not by_key["medium"].due_now

    low = by_key["low"]
    assert low.running and low.lease_holder == "host-b:42:abc" and not low.due_now, "running, so not 'due'"
    assert low.frequency == "0 3 * * *"


def test_status_counts_assets_by_state_and_open_conflicts(store: Store) -> None:
    services = FakeServices(store)
    with store.session() as s:
        for i, status in enumerate([AssetStatus.SYNCED, AssetStatus.SYNCED, AssetStatus.FAILED, AssetStatus.CONFLICT]):
            repo.upsert_asset_state(session=s, state=AssetStateIn(env="dog", space="SALES", name=f"A{i}",
                                                                  kind="view", status=status))
        repo.upsert_asset_state(session=s, state=AssetStateIn(env="wolf", space="SALES", name="W",
                                                              kind="view", status=AssetStatus.SYNCED))
        open_one = repo.record_conflict(session=s, conflict=ConflictIn(object="sales.a", kind=ConflictKind.NAMING))
        repo.record_conflict(session=s, conflict=ConflictIn(object="sales.b", kind=ConflictKind.UNMANAGED))
        repo.resolve_conflict(session=s, conflict_id=open_one.id, resolution="renamed")
    overview = status_overview(services)  # type: ignore[arg-type]
    assert overview.assets == {"synced": 2, "failed": 1, "deprecated": 0, "deleted": 0, "skipped": 0, "conflict": 1}
    assert overview.assets_total == 4
    assert overview.open_conflicts == 1


def test_the_json_contract_keeps_its_documented_fields(store: Store) -> None:
    """Dashboards and the MCP server read these names: renaming one must fail a test."""
    services = FakeServices(store)
    add_run(store, started=NOW - timedelta(minutes=1), slice_key="critical")
    body = status_overview(services).model_dump(mode="json")  # type: ignore[arg-type]
    assert body["schema_version"] == STATUS_SCHEMA_VERSION == 1
    assert set(body) == {"schema_version", "generated_at", "env", "database", "running", "recent", "slices",
                         "assets", "assets_total", "open_conflicts"}
    assert set(body["slices"][0]) == {
        "slice_key", "priority", "frequency", "enabled", "next_due_at", "never_run", "due_now", "running",
        "lease_holder", "lease_expires_at", "last_started_at", "last_finished_at", "last_run_id",
        "last_status", "last_counts", "last_duration_s", "last_errors"}
    run = body["recent"][0]
    assert set(run) == {
        "id", "kind", "env", "status", "trigger", "scope", "slice_key", "started_at", "finished_at",
        "heartbeat_at", "duration_s", "counts", "assets_total", "throughput", "api_calls", "retries",
        "throttles", "errors", "resumed_from", "host", "pid", "summary", "glue_calls", "glue_writes",
        "datasphere_calls", "stale", "exit_code", "config_version", "metrics"}
    assert set(run["counts"]) == {"created", "updated", "unchanged", "deprecated", "deleted", "conflicts",
                                  "failed", "skipped"}
    assert "sqlite" in body["database"] or "postgresql" in body["database"]
