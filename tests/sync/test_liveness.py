"""Run liveness and exclusion: scope leases, the heartbeat thread, dead-run detection, and the
engine's run start/finish wrapper (every run ends in a terminal state) — on SQLite and
PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.errors import ConfigError, LeaseHeld, SourceUnavailable
from core.mapping.rules import default_rules
from core.settings import ScheduleSettings, Settings
from core.store import repo
from core.store.db import Store
from core.store.leases import acquire_lease, list_leases
from core.store.schemas import AuditIn, AuditSystem, RunIn, RunStatus, utcnow
from core.sync import liveness
from core.sync.engine import SyncEngine
from core.sync.liveness import Heartbeat, Owner, Scope, acquire_scope, process_alive, reap_dead_runs
from core.sync.report import SyncReport

LEGACY_TTL = 300.0


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def start_run(store: Store, run_id: str | None = None, **fields: Any) -> str:
    with store.session() as s:
        run = RunIn(env="dog", **fields) if run_id is None else RunIn(id=run_id, env="dog", **fields)
        return repo.start_run(session=s, run=run).id


def run_of(store: Store, run_id: str) -> Any:
    with store.session(readonly=True) as s:
        return repo.get_run(session=s, run_id=run_id)


def scope_leases(store: Store) -> list[Any]:
    with store.session(readonly=True) as s:
        return [lease for lease in list_leases(session=s) if lease.slice_key.startswith("scope:")]


# ------------------------------------------------------------------------ scopes


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (Scope.of("dog"), Scope.of("dog", ["SALES"]), True),  # all spaces overlaps everything
        (Scope.of("dog", ["SALES", "HR"]), Scope.of("dog", ["HR"]), True),
        (Scope.of("dog", ["SALES"]), Scope.of("dog", ["HR"]), False),
        (Scope.of("dog"), Scope.of("wolf"), False),  # another environment
        (Scope.of("dog", priority="high"), Scope.of("dog", priority="critical"), False),  # slices
        (Scope.of("dog", priority="high"), Scope.of("dog", priority="high"), True),
        (Scope.of("dog"), Scope.of("dog", priority="low"), True),  # a whole sync covers every class
    ],
)
def test_scopes_overlap_on_shared_spaces_and_priorities(a: Scope, b: Scope, overlap: bool) -> None:
    assert a.overlaps(b) is overlap and b.overlaps(a) is overlap


def test_a_scope_round_trips_through_its_lease_key() -> None:
    scope = Scope.of("dog", ["SALES", "HR"], "high")
    assert Scope.from_lease_key(scope.lease_key("R1")) == (scope, "R1")
    assert Scope.from_lease_key("critical") is None
    assert Scope.from_lease_key("scope:{not json") is None


# ------------------------------------------------------------------------ process checks


def test_process_alive_sees_this_process_and_not_a_dead_or_reused_pid() -> None:
    me = os.getpid()
    assert process_alive(me)
    assert process_alive(me, since=utcnow())
    assert not process_alive(dead_pid())
    # This pid belonged to a process that took its lease an hour before we started: reuse.
    assert not process_alive(me, since=datetime.fromtimestamp(time.time() - 10**7, tz=UTC))


def test_an_owner_is_local_only_on_this_host_and_boot() -> None:
    me = Owner.current("R1")
    assert me.local and Owner.parse(me.encode()) == me
    assert not Owner("R1", me.host, "another-boot", me.pid).local, "same host name, other machine"
    assert not Owner("R1", "elsewhere", me.boot, me.pid).local
    assert Owner.parse("host:123") is None


# ------------------------------------------------------------------------ acquire


def test_an_overlapping_scope_is_refused_naming_the_holder_run(store: Store) -> None:
    first = acquire_scope(store, Scope.of("dog", ["SALES"]), "RUN_A", ttl_s=60, legacy_ttl_s=LEGACY_TTL)
    with pytest.raises(LeaseHeld) as refused:
        acquire_scope(store, Scope.of("dog"), "RUN_B", ttl_s=60, legacy_ttl_s=LEGACY_TTL)
    assert "RUN_A" in refused.value.message and "SALES" in refused.value.message
    assert "--wait" in refused.value.hint
    other = acquire_scope(store, Scope.of("dog", ["HR"]), "RUN_C", ttl_s=60, legacy_ttl_s=LEGACY_TTL)
    first.release()
    with pytest.raises(LeaseHeld):  # HR is still held
        acquire_scope(store, Scope.of("dog"), "RUN_B", ttl_s=60, legacy_ttl_s=LEGACY_TTL)
    other.release()
    acquire_scope(store, Scope.of("dog"), "RUN_B", ttl_s=60, legacy_ttl_s=LEGACY_TTL).release()
    assert scope_leases(store) == []


def test_a_waiting_acquire_gets_the_scope_once_the_holder_releases_it(store: Store) -> None:
    first = acquire_scope(store, Scope.of("dog"), "RUN_A", ttl_s=60, legacy_ttl_s=LEGACY_TTL)
    got: list[liveness.ScopeLease] = []
    waiter = threading.Thread(target=lambda: got.append(acquire_scope(
        store, Scope.of("dog", ["SALES"]), "RUN_B", ttl_s=60, legacy_ttl_s=LEGACY_TTL, wait_s=60, poll_s=0.02)))
    waiter.start()
    time.sleep(0.2)
    assert not got, "it waits while the overlapping scope is held"
    first.release()
    waiter.join(timeout=30)
    assert [lease.run_id for lease in got] == ["RUN_B"]
    got[0].release()


def test_concurrent_acquires_of_one_scope_have_exactly_one_winner(store: Store) -> None:
    barrier = threading.Barrier(6)
    winners: list[str] = []
    refused: list[str] = []

    def contend(i: int) -> None:
        barrier.wait()
        try:
            acquire_scope(store, Scope.of("dog", ["SALES"]), f"RUN_{i}", ttl_s=60, legacy_ttl_s=LEGACY_TTL)
            winners.append(f"RUN_{i}")
        except LeaseHeld:
            refused.append(f"RUN_{i}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(winners) == 1 and len(refused) == 5
    assert [lease.holder.split("|")[0] for lease in scope_leases(store)] == winners


# ------------------------------------------------------------------------ dead runs


def test_a_run_whose_process_is_gone_on_this_host_is_interrupted_at_once(store: Store) -> None:
    run_id = start_run(store)
    holder = Owner(run_id, socket.gethostname(), liveness.boot_id(), dead_pid())
    key = Scope.of("dog").lease_key(run_id)
    assert acquire_lease(store=store, slice_key=key, holder=holder.encode(), ttl_s=3600)
    # The lease is far from expiry, but its owner is dead: the next sync takes over at once.
    lease = acquire_scope(store, Scope.of("dog"), "RUN_NEW", ttl_s=60, legacy_ttl_s=LEGACY_TTL)
    run = run_of(store, run_id)
    assert run.status is RunStatus.INTERRUPTED
    assert run.finished_at is not None
    assert run.errors[-1].code == "interrupted" and "is gone" in run.errors[-1].message
    assert "--resume" in (run.errors[-1].hint or "")
    assert [x.slice_key for x in scope_leases(store)] == [lease.key]
    with store.session(readonly=True) as s:
        assert repo.latest_interrupted_run(session=s, env="dog").id == run_id  # type: ignore[union-attr]


def test_a_remote_run_is_dead_only_when_its_lease_expired(store: Store) -> None:
    run_id = start_run(store)
    remote = Owner(run_id, "another-host", "another-boot", 4242)
    t0 = utcnow()
    assert acquire_lease(store=store, slice_key=Scope.of("dog").lease_key(run_id), holder=remote.encode(),
                         ttl_s=15, now=t0)
    assert reap_dead_runs(store, legacy_ttl_s=LEGACY_TTL, now=t0 + timedelta(seconds=14)) == []
    assert run_of(store, run_id).status is RunStatus.RUNNING
    assert reap_dead_runs(store, legacy_ttl_s=LEGACY_TTL, now=t0 + timedelta(seconds=16)) == [run_id]
    run = run_of(store, run_id)
    assert run.status is RunStatus.INTERRUPTED and "no heartbeat since" in run.errors[-1].message
    assert scope_leases(store) == []


def test_a_run_without_a_lease_is_judged_by_its_pid_and_legacy_heartbeat(store: Store) -> None:
    alive = start_run(store)  # this process: alive
    gone = start_run(store, pid=dead_pid())
    remote = start_run(store, host="another-host", pid=1, started_at=utcnow() - timedelta(seconds=400))
    fresh_remote = start_run(store, host="another-host", pid=1)
    assert sorted(reap_dead_runs(store, legacy_ttl_s=LEGACY_TTL)) == sorted([gone, remote])
    assert run_of(store, alive).status is RunStatus.RUNNING
    assert run_of(store, fresh_remote).status is RunStatus.RUNNING


def test_an_orphan_lease_of_a_dead_process_is_dropped(store: Store) -> None:
    """The lease is taken before the run is recorded: a process killed in between leaves a
    lease without a run."""
    owner = Owner("NEVER_STARTED", socket.gethostname(), liveness.boot_id(), dead_pid())
    assert acquire_lease(store=store, slice_key=Scope.of("dog").lease_key(owner.run_id),
                         holder=owner.encode(), ttl_s=3600)
    assert reap_dead_runs(store, legacy_ttl_s=LEGACY_TTL) == []
    assert scope_leases(store) == []


# ------------------------------------------------------------------------ heartbeat


def test_the_heartbeat_renews_the_lease_and_the_run_heartbeat(store: Store) -> None:
    run_id = "01HEARTBEATRUN000000000000"
    lease = acquire_scope(store, Scope.of("dog"), run_id, ttl_s=0.5, legacy_ttl_s=LEGACY_TTL)
    start_run(store, run_id)
    before = run_of(store, run_id).heartbeat_at
    beat = Heartbeat(lease=lease, interval_s=0.05, on_lost=lambda: None).start()
    try:
        wait_for(lambda: beat.beats >= 3)
    finally:
        beat.stop()
    assert run_of(store, run_id).heartbeat_at > before
    [held] = scope_leases(store)
    assert held.heartbeat_at > held.acquired_at and held.expires_at > held.acquired_at + timedelta(seconds=0.5)
    lease.release()


def test_a_lost_lease_stops_the_run(store: Store) -> None:
    run_id = "01LOSTLEASERUN000000000000"
    lease = acquire_scope(store, Scope.of("dog"), run_id, ttl_s=60, legacy_ttl_s=LEGACY_TTL)
    start_run(store, run_id)
    lost = threading.Event()
    beat = Heartbeat(lease=lease, interval_s=0.05, on_lost=lost.set).start()
    try:
        lease.release()  # e.g. reaped by another process that took us for dead
        assert lost.wait(timeout=10)
        assert beat.lost
    finally:
        beat.stop()


# ------------------------------------------------------------------------ the engine wrapper


class FakeServices:
    """What the engine's run wrapper needs: settings, the store, the rules."""

    def __init__(self, store: Store, **schedule: Any) -> None:
        self.settings = Settings(env="dog", schedule=ScheduleSettings(**schedule))
        self._store = store

    def store(self) -> Store:
        return self._store

    def rules(self) -> Any:
        return default_rules()


def engine_with(store: Store, body: Callable[[SyncEngine, str], str], **schedule: Any) -> SyncEngine:
    """An engine whose run body (``_run``) is ``body(engine, run_id)`` → final status."""
    engine = SyncEngine(FakeServices(store, **schedule))  # type: ignore[arg-type]

    def sync_run(ctx: Any, checkpoint: Any, *args: Any) -> SyncReport:
        run_id = ctx.run_id
        status = body(engine, run_id)
        from core.store.schemas import RunResult

        with store.session() as s:
            repo.finish_run(session=s, run_id=run_id, result=RunResult(status=RunStatus(status)))
        return SyncReport(run_id=run_id, dry_run=False, status=status, started_at=utcnow())

    engine._run = sync_run  # type: ignore[method-assign]
    return engine


def runs(store: Store) -> list[Any]:
    with store.session(readonly=True) as s:
        return repo.list_runs(session=s)


@pytest.mark.parametrize(
    ("raised", "status", "code"),
    [
        (RuntimeError("bug in a connector"), RunStatus.FAILED, "runtime_error"),
        (KeyError("Columns"), RunStatus.FAILED, "key_error"),
        (SourceUnavailable("tenant unreachable"), RunStatus.FAILED, "source_unavailable"),
        (KeyboardInterrupt(), RunStatus.ABORTED, "keyboard_interrupt"),
    ],
)
def test_whatever_is_raised_the_run_ends_terminal_with_the_error_class_and_a_hint(
    store: Store, raised: BaseException, status: RunStatus, code: str
) -> None:
    def explode(engine: SyncEngine, run_id: str) -> str:
        raise raised

    with pytest.raises(type(raised)):
        engine_with(store, explode).sync()
    [run] = runs(store)
    assert run.status is status and run.finished_at is not None
    assert run.errors[-1].code == code and run.errors[-1].hint
    assert scope_leases(store) == [], "the scope lease is released"


def test_bad_input_is_refused_before_any_run_is_recorded(store: Store) -> None:
    engine = engine_with(store, lambda e, r: "succeeded")
    with pytest.raises(ConfigError) as refused:
        engine.sync(kinds=["bogus"])
    assert "bogus" in refused.value.message and "analytic_model" in refused.value.hint
    assert runs(store) == [] and scope_leases(store) == []


def test_two_concurrent_syncs_on_one_store_exactly_one_writes(store: Store) -> None:
    barrier = threading.Barrier(2)
    inside = threading.Event()
    release = threading.Event()
    outcomes: dict[str, Any] = {}

    def write(engine: SyncEngine, run_id: str) -> str:
        inside.set()
        with store.session() as s:  # the run's writes: one audit record per "table"
            for i in range(5):
                repo.record_audit(session=s, entry=AuditIn(actor="dgsync", run_id=run_id,
                                                            system=AuditSystem.GLUE, object=f"db.t{i}",
                                                            action="update"))
        release.wait(timeout=30)
        return "succeeded"

    def contender(name: str) -> None:
        barrier.wait()
        try:
            outcomes[name] = engine_with(store, write).sync()
        except LeaseHeld as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=contender, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    assert inside.wait(timeout=30)
    wait_for(lambda: len(outcomes) == 1)  # the loser is refused while the winner works
    release.set()
    for t in threads:
        t.join(timeout=30)
    reports = [o for o in outcomes.values() if isinstance(o, SyncReport)]
    refused = [o for o in outcomes.values() if isinstance(o, LeaseHeld)]
    assert len(reports) == 1 and len(refused) == 1
    assert reports[0].run_id in refused[0].message, "the message names the holder run"
    with store.session(readonly=True) as s:
        writers = {a.run_id for a in repo.query_audit(session=s)}
    assert writers == {reports[0].run_id}
    assert [r.id for r in runs(store)] == [reports[0].run_id], "the refused sync recorded no run"


def test_a_waiting_sync_runs_after_the_holder_finished(store: Store) -> None:
    release = threading.Event()
    first_inside = threading.Event()

    def slow(engine: SyncEngine, run_id: str) -> str:
        first_inside.set()
        release.wait(timeout=30)
        return "succeeded"

    holder = threading.Thread(target=lambda: engine_with(store, slow).sync())
    holder.start()
    assert first_inside.wait(timeout=30)
    waiter_report: list[SyncReport] = []
    waiter = threading.Thread(target=lambda: waiter_report.append(
        engine_with(store, lambda e, r: "succeeded").sync(spaces=None, wait_s=60)))
    waiter.start()
    time.sleep(0.3)
    assert not waiter_report
    release.set()
    holder.join(timeout=30)
    waiter.join(timeout=60)
    first, second = sorted(runs(store), key=lambda r: r.started_at)
    assert waiter_report[0].run_id == second.id
    assert second.started_at >= first.finished_at


def test_the_engine_heartbeats_in_the_background_while_a_run_works(store: Store) -> None:
    seen: list[datetime] = []

    def long_space(engine: SyncEngine, run_id: str) -> str:
        start = run_of(store, run_id).heartbeat_at
        wait_for(lambda: run_of(store, run_id).heartbeat_at > start)  # no per-space heartbeat
        seen.append(run_of(store, run_id).heartbeat_at)
        return "succeeded"

    report = engine_with(store, long_space, heartbeat_interval_s=0.05).sync()
    assert report.status == "succeeded" and seen


def test_a_run_that_loses_its_lease_is_asked_to_stop(store: Store) -> None:
    def reaped_meanwhile(engine: SyncEngine, run_id: str) -> str:
        [lease] = scope_leases(store)
        from core.store.leases import release_lease

        release_lease(store=store, slice_key=lease.slice_key, holder=lease.holder)
        wait_for(engine._ctx.stop.is_set)
        return "aborted"

    report = engine_with(store, reaped_meanwhile, heartbeat_interval_s=0.05).sync()
    assert report.status == "aborted"
