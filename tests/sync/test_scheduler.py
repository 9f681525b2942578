"""The scheduler: frequencies, due slices, priority order, bounded concurrency, leases,
backoff, shutdown — with a fake clock and a fake engine; SIGTERM through `dgsync run`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core.errors import ConfigError, SourceUnavailable
from core.models import Priority
from core.settings import ScheduleSettings, Settings
from core.store import repo
from core.store.db import Store, make_engine
from core.store.leases import acquire_lease, get_lease, list_leases, release_lease
from core.store.schemas import RunIn, RunStatus, ScheduleStateOut, Trigger
from core.sync.scheduler import (
    Frequency,
    Scheduler,
    effective_next_due,
    frequencies,
    parse_frequency,
)

T0 = datetime(2026, 3, 2, 12, 7, 30, tzinfo=UTC)
ALL = ["critical", "high", "medium", "low"]


# ------------------------------------------------------------------------ fakes


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeServices:
    """Just what the scheduler uses: settings and the store."""

    def __init__(self, store: Store, env: str = "dog", **schedule: Any) -> None:
        self.settings = Settings(env=env, schedule=ScheduleSettings(**schedule))
        self._store = store

    def store(self) -> Store:
        return self._store


@dataclass
class Recorder:
    """Shared by every fake engine of a test: who ran, concurrently with whom."""

    behaviour: dict[str, Callable[[FakeEngine], str]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    active: dict[str, int] = field(default_factory=dict)
    max_active: dict[str, int] = field(default_factory=dict)
    total_active: int = 0
    max_total_active: int = 0
    engines: list[FakeEngine] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def factory(self, services: Any) -> FakeEngine:
        engine = FakeEngine(self, services)
        with self.lock:
            self.engines.append(engine)
        return engine

    def started(self) -> list[str]:
        with self.lock:
            return [key for key, _ in self.calls]


class FakeEngine:
    def __init__(self, recorder: Recorder, services: Any) -> None:
        self.recorder = recorder
        self.services = services
        self.stop = threading.Event()

    def request_stop(self) -> None:
        self.stop.set()

    def sync(self, *, resume: bool, trigger: str, slice_key: str | None, priority: Priority | None) -> Any:
        rec = self.recorder
        assert slice_key is not None
        with rec.lock:
            rec.calls.append((slice_key, {"resume": resume, "trigger": trigger, "priority": priority}))
            rec.active[slice_key] = rec.active.get(slice_key, 0) + 1
            rec.max_active[slice_key] = max(rec.max_active.get(slice_key, 0), rec.active[slice_key])
            rec.total_active += 1
            rec.max_total_active = max(rec.max_total_active, rec.total_active)
        try:
            status = rec.behaviour.get(slice_key, lambda e: "succeeded")(self)
        finally:
            with rec.lock:
                rec.active[slice_key] -= 1
                rec.total_active -= 1
        return SimpleNamespace(run_id=f"run-{slice_key}-{len(rec.calls)}", status=status)


def block_until_stopped(engine: FakeEngine) -> str:
    engine.stop.wait(timeout=30)
    return "aborted"


def raise_unavailable(engine: FakeEngine) -> str:
    raise SourceUnavailable("tenant unreachable", hint="Check DGSYNC_DATASPHERE__BASE_URL.")


def make_scheduler(
    store: Store, recorder: Recorder, *, clock: Callable[[], datetime] | None = None, **kwargs: Any
) -> Scheduler:
    schedule = {k: kwargs.pop(k) for k in list(kwargs) if k in ScheduleSettings.model_fields}
    services = FakeServices(store, **schedule)
    return Scheduler(services, engine_factory=recorder.factory,  # type: ignore[arg-type]
                     clock=clock or FakeClock(), **kwargs)


def state_of(store: Store, key: str) -> ScheduleStateOut:
    with store.session(readonly=True) as s:
        state = repo.get_schedule_state(session=s, slice_key=key)
    assert state is not None
    return state


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


# ------------------------------------------------------------------------ frequencies


@pytest.mark.parametrize(
    ("spec", "kind", "interval"),
    [
        ("realtime", "realtime", 45.0),
        ("Hourly", "interval", 3600.0),
        ("daily", "interval", 86400.0),
        ("off", "off", None),
        ("*/15 * * * *", "cron", None),
        ("@hourly", "cron", None),
    ],
)
def test_frequencies_parse(spec: str, kind: str, interval: float | None) -> None:
    freq = parse_frequency(spec, realtime_interval_s=45)
    assert (freq.kind, freq.interval_s) == (kind, interval)
    assert freq.enabled is (kind != "off")


@pytest.mark.parametrize("spec", ["every minute", "61 * * * *", "", "* * *"])
def test_an_invalid_frequency_is_a_config_error_naming_the_setting(spec: str) -> None:
    with pytest.raises(ConfigError) as err:
        frequencies(ScheduleSettings(high=spec))
    assert "DGSYNC_SCHEDULE__HIGH" in err.value.message
    assert "cron" in err.value.hint


@pytest.mark.parametrize(
    ("spec", "started", "finished", "expected"),
    [
        # realtime: the interval after the previous run *finished*
        ("realtime", T0, T0 + timedelta(seconds=5), T0 + timedelta(seconds=65)),
        # hourly/daily: one period after the previous start...
        ("hourly", T0, T0 + timedelta(minutes=5), T0 + timedelta(hours=1)),
        ("daily", T0, T0 + timedelta(minutes=5), T0 + timedelta(days=1)),
        # ...or at once when the run took longer than the period
        ("hourly", T0, T0 + timedelta(minutes=70), T0 + timedelta(minutes=70)),
        # cron: the next match after the finish, in UTC; missed matches are not caught up
        ("*/15 * * * *", T0, T0 + timedelta(minutes=1), datetime(2026, 3, 2, 12, 15, tzinfo=UTC)),
        ("*/15 * * * *", T0, T0 + timedelta(minutes=40), datetime(2026, 3, 2, 13, 0, tzinfo=UTC)),
        ("30 2 * * *", T0, T0, datetime(2026, 3, 3, 2, 30, tzinfo=UTC)),
        ("off", T0, T0, None),
    ],
)
def test_next_due_per_frequency(spec: str, started: datetime, finished: datetime, expected: datetime | None) -> None:
    freq = parse_frequency(spec, realtime_interval_s=60)
    assert freq.next_due(started_at=started, finished_at=finished) == expected


def test_a_stored_due_time_is_capped_by_the_current_frequency() -> None:
    """A slice switched from daily to realtime in the config does not wait a day."""
    realtime = Frequency(spec="realtime", kind="realtime", interval_s=60)
    state = ScheduleStateOut(slice_key="critical", last_started_at=T0, last_finished_at=T0,
                             last_run_id="r", next_due_at=T0 + timedelta(days=1))
    assert effective_next_due(realtime, state, backoff_max_s=900) == T0 + timedelta(seconds=960)
    assert effective_next_due(realtime, None) is not None
    assert effective_next_due(Frequency(spec="off", kind="off"), state) is None


# ------------------------------------------------------------------------ due slices


def test_slices_that_never_ran_are_due_at_once_in_priority_order(sqlite_store: Store, recorder: Recorder) -> None:
    sched = make_scheduler(sqlite_store, recorder)
    assert [p.value for p in sched.due_slices()] == ALL


def test_an_off_class_is_never_due(sqlite_store: Store, recorder: Recorder) -> None:
    sched = make_scheduler(sqlite_store, recorder, medium="off")
    assert [p.value for p in sched.due_slices()] == ["critical", "high", "low"]
    sched.run_once()
    assert "medium" not in recorder.started()


def test_run_once_runs_each_due_slice_through_the_engine_with_resume(sqlite_store: Store, recorder: Recorder) -> None:
    sched = make_scheduler(sqlite_store, recorder, max_concurrency=1)
    outcomes = sched.run_once()
    assert [o.slice_key for o in outcomes] == ALL
    assert all(o.status == "succeeded" and o.ok for o in outcomes)
    assert recorder.started() == ALL, "one at a time, in priority order"
    for key, kwargs in recorder.calls:
        assert kwargs == {"resume": True, "trigger": "scheduler", "priority": Priority(key)}
    with sqlite_store.session(readonly=True) as s:
        assert list_leases(session=s) == [], "every lease is given back"


def test_after_a_run_each_class_is_due_by_its_frequency(sqlite_store: Store, recorder: Recorder) -> None:
    clock = FakeClock()
    sched = make_scheduler(sqlite_store, recorder, clock=clock, critical="realtime", realtime_interval_s=60,
                           high="hourly", medium="*/15 * * * *", low="daily")
    sched.run_once()
    expected = {
        "critical": T0 + timedelta(seconds=60),
        "high": T0 + timedelta(hours=1),
        "medium": datetime(2026, 3, 2, 12, 15, tzinfo=UTC),
        "low": T0 + timedelta(days=1),
    }
    for key, due in expected.items():
        state = state_of(sqlite_store, key)
        assert state.next_due_at == due
        assert state.last_started_at == T0 and state.last_finished_at == T0
        assert state.last_run_id is not None and state.last_run_id.startswith(f"run-{key}-")
    assert sched.due_slices(T0 + timedelta(seconds=59)) == []
    assert sched.due_slices(T0 + timedelta(seconds=60)) == [Priority.CRITICAL]
    assert sched.due_slices(datetime(2026, 3, 2, 12, 15, tzinfo=UTC)) == [Priority.CRITICAL, Priority.MEDIUM]
    assert sched.due_slices(T0 + timedelta(days=1)) == [Priority(k) for k in ALL]
    clock.advance(61)
    assert [o.slice_key for o in sched.run_once()] == ["critical"]
    assert state_of(sqlite_store, "critical").next_due_at == T0 + timedelta(seconds=121)


def test_nothing_runs_when_nothing_is_due(sqlite_store: Store, recorder: Recorder) -> None:
    sched = make_scheduler(sqlite_store, recorder)
    sched.run_once()
    recorder.calls.clear()
    assert sched.run_once() == []
    assert recorder.calls == []


# ------------------------------------------------------------------------ concurrency


def test_concurrency_is_bounded_and_slots_go_in_priority_order(sqlite_store: Store, recorder: Recorder) -> None:
    release = threading.Event()
    for key in ALL:
        recorder.behaviour[key] = lambda e: "succeeded" if release.wait(timeout=30) else "failed"
    sched = make_scheduler(sqlite_store, recorder, max_concurrency=2)
    result: list[Any] = []
    runner = threading.Thread(target=lambda: result.append(sched.run_once()))
    runner.start()
    wait_for(lambda: len(recorder.started()) == 2)
    time.sleep(0.2)  # the two others must wait for a free slot
    # The two slots go to the two most important classes (their threads start in any order).
    assert sorted(recorder.started()) == ["critical", "high"]
    assert sorted(sched.running_slices()) == ["critical", "high"]
    release.set()
    runner.join(timeout=30)
    assert sorted(recorder.started()[2:]) == ["low", "medium"]
    assert recorder.max_total_active == 2
    assert [o.status for o in result[0]] == ["succeeded"] * 4


def test_a_slice_leased_by_someone_else_is_skipped(sqlite_store: Store, recorder: Recorder) -> None:
    assert acquire_lease(store=sqlite_store, slice_key="high", holder="other-host:1", ttl_s=600)
    sched = make_scheduler(sqlite_store, recorder, max_concurrency=1)
    outcomes = {o.slice_key: o for o in sched.run_once()}
    assert outcomes["high"].status == "skipped"
    assert "high" not in recorder.started()
    assert recorder.started() == ["critical", "medium", "low"]
    with sqlite_store.session(readonly=True) as s:
        lease = get_lease(session=s, slice_key="high")
        assert lease is not None and lease.holder == "other-host:1", "someone else's lease is left alone"
        assert repo.get_schedule_state(session=s, slice_key="high") is None


def test_a_slice_run_by_another_scheduler_meanwhile_is_not_run_again(store: Store, recorder: Recorder) -> None:
    """The due time is re-read once the lease is taken: a stale view does not cause a rerun."""
    first = make_scheduler(store, recorder)
    second = make_scheduler(store, recorder)
    stale_view = first.due_slices()
    second.run_once()  # runs everything while `first` still believes it is due
    first.due_slices = lambda now=None: stale_view  # type: ignore[method-assign]
    outcomes = first.run_once()
    assert {o.status for o in outcomes} == {"skipped"}
    assert all(o.error == "no longer due" for o in outcomes)
    assert sorted(recorder.started()) == sorted(ALL), "each slice ran exactly once"
    with store.session(readonly=True) as s:
        assert list_leases(session=s) == []


def test_two_schedulers_on_one_database_never_run_a_slice_twice_at_once(store: Store, store_url: str) -> None:
    """Two schedulers (own engines and pools, as two processes would have) on SQLite and
    PostgreSQL: slices always due, so both constantly try to run every one of them."""
    recorder = Recorder()
    for key in ALL:
        recorder.behaviour[key] = lambda e: (time.sleep(0.01), "succeeded")[1]
    stores = [Store(make_engine(store_url)) for _ in range(2)]
    scheds = [
        Scheduler(FakeServices(s, critical="realtime", high="realtime", medium="realtime", low="realtime",
                               realtime_interval_s=0.001, max_concurrency=4),  # type: ignore[arg-type]
                  engine_factory=recorder.factory, tick_s=0.005)  # type: ignore[arg-type]
        for s in stores
    ]
    threads = [threading.Thread(target=s.run_forever) for s in scheds]

    def enough() -> bool:
        ran = recorder.started()
        return all(ran.count(k) >= 3 for k in ALL) and all(
            any(o.status == "succeeded" for o in list(h.history)) for h in scheds
        )

    try:
        for t in threads:
            t.start()
        wait_for(enough, timeout=60)
        time.sleep(0.3)  # and some more contention
    finally:
        for s in scheds:
            s.request_shutdown()
        for t in threads:
            t.join(timeout=30)
        for s in stores:
            s.dispose()
    assert not any(t.is_alive() for t in threads)
    assert recorder.max_active == dict.fromkeys(ALL, 1), "a slice never ran twice at once"
    ran = recorder.started()
    assert all(ran.count(k) >= 3 for k in ALL), ran
    by_holder = {h.holder: sum(o.status == "succeeded" for o in h.history) for h in scheds}
    assert all(n > 0 for n in by_holder.values()), f"both schedulers did work: {by_holder}"
    with store.session(readonly=True) as s:
        assert list_leases(session=s) == []


# ------------------------------------------------------------------------ leases while running


def test_the_lease_is_renewed_and_the_run_heartbeat_refreshed_while_a_slice_runs(
    sqlite_store: Store, recorder: Recorder
) -> None:
    release = threading.Event()
    run_ids: list[str] = []

    def long_run(engine: FakeEngine) -> str:
        with sqlite_store.session() as s:
            run = repo.start_run(session=s, run=RunIn(env="dog", trigger=Trigger.SCHEDULER, slice_key="critical"))
        run_ids.append(run.id)
        release.wait(timeout=30)
        return "succeeded"

    recorder.behaviour["critical"] = long_run
    sched = make_scheduler(sqlite_store, recorder, clock=lambda: datetime.now(UTC), lease_ttl_s=0.3,
                           high="off", medium="off", low="off")
    runner = threading.Thread(target=sched.run_once)
    runner.start()
    try:
        wait_for(lambda: bool(run_ids))
        time.sleep(0.8)  # well past the TTL: only renewal keeps the lease
        assert not acquire_lease(store=sqlite_store, slice_key="critical", holder="intruder", ttl_s=60)
        with sqlite_store.session(readonly=True) as s:
            lease = get_lease(session=s, slice_key="critical")
            run = repo.get_run(session=s, run_id=run_ids[0])
        assert lease is not None and lease.holder == sched.holder
        assert lease.heartbeat_at > lease.acquired_at
        assert run is not None and run.heartbeat_at is not None and run.heartbeat_at > run.started_at
    finally:
        release.set()
        runner.join(timeout=30)
    with sqlite_store.session(readonly=True) as s:
        assert list_leases(session=s) == []


def test_a_lost_lease_stops_the_run_and_leaves_the_new_holder_alone(sqlite_store: Store, recorder: Recorder) -> None:
    recorder.behaviour["critical"] = block_until_stopped
    sched = make_scheduler(sqlite_store, recorder, lease_ttl_s=0.3, high="off", medium="off", low="off")
    sched.clock = lambda: datetime.now(UTC)
    result: list[Any] = []
    runner = threading.Thread(target=lambda: result.append(sched.run_once()))
    runner.start()
    wait_for(lambda: bool(recorder.started()))
    # Someone took the slice over (e.g. our process stalled past the TTL).
    assert release_lease(store=sqlite_store, slice_key="critical", holder=sched.holder)
    assert acquire_lease(store=sqlite_store, slice_key="critical", holder="thief", ttl_s=600)
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert recorder.engines[0].stop.is_set(), "the engine was asked to stop"
    [outcome] = result[0]
    assert outcome.status == "aborted" and "lease lost" in (outcome.error or "")
    with sqlite_store.session(readonly=True) as s:
        lease = get_lease(session=s, slice_key="critical")
        assert lease is not None and lease.holder == "thief"
        assert repo.get_schedule_state(session=s, slice_key="critical").last_finished_at is None  # type: ignore[union-attr]


# ------------------------------------------------------------------------ failures


def test_a_run_that_raises_is_retried_with_growing_backoff_and_others_still_run(
    sqlite_store: Store, recorder: Recorder
) -> None:
    clock = FakeClock()
    recorder.behaviour["high"] = raise_unavailable
    sched = make_scheduler(sqlite_store, recorder, clock=clock, backoff_base_s=30, backoff_max_s=100)
    outcomes = {o.slice_key: o for o in sched.run_once()}
    assert outcomes["high"].status == "error" and not outcomes["high"].ok
    assert outcomes["high"].error == "tenant unreachable"
    assert outcomes["high"].hint == "Check DGSYNC_DATASPHERE__BASE_URL."
    assert {k: o.status for k, o in outcomes.items() if k != "high"} == dict.fromkeys(["critical", "medium", "low"], "succeeded")
    assert state_of(sqlite_store, "high").next_due_at == T0 + timedelta(seconds=30)
    delays = []
    for _ in range(3):
        clock.now = state_of(sqlite_store, "high").next_due_at  # type: ignore[assignment]
        start = clock.now
        sched.run_once()
        delays.append((state_of(sqlite_store, "high").next_due_at - start).total_seconds())  # type: ignore[operator]
    assert delays == [60, 100, 100], "doubling, capped"
    recorder.behaviour.pop("high")
    clock.now = state_of(sqlite_store, "high").next_due_at  # type: ignore[assignment]
    start = clock.now
    sched.run_once()
    assert state_of(sqlite_store, "high").next_due_at == start + timedelta(hours=1), "success resets the backoff"


def test_a_failing_realtime_slice_never_retries_faster_than_its_interval(sqlite_store: Store, recorder: Recorder) -> None:
    recorder.behaviour["critical"] = lambda e: "failed"
    sched = make_scheduler(sqlite_store, recorder, realtime_interval_s=120, backoff_base_s=5,
                           high="off", medium="off", low="off")
    [outcome] = sched.run_once()
    assert outcome.status == "failed"
    assert state_of(sqlite_store, "critical").next_due_at == T0 + timedelta(seconds=120)


def test_the_loop_survives_a_crashing_engine(sqlite_store: Store, recorder: Recorder) -> None:
    attempts: list[int] = []

    def flaky(engine: FakeEngine) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("bug in a connector")
        return "succeeded"

    recorder.behaviour["critical"] = flaky
    sched = make_scheduler(sqlite_store, recorder, high="off", medium="off", low="off",
                           backoff_base_s=0.05, realtime_interval_s=0.05, tick_s=0.01)
    sched.clock = lambda: datetime.now(UTC)
    runner = threading.Thread(target=sched.run_forever)
    runner.start()
    try:
        wait_for(lambda: len(attempts) >= 2)
    finally:
        sched.request_shutdown()
        runner.join(timeout=10)
    assert not runner.is_alive()
    assert [o.status for o in sched.history[:2]] == ["error", "succeeded"]
    assert "RuntimeError: bug in a connector" in (sched.history[0].error or "")


# ------------------------------------------------------------------------ shutdown


def test_shutdown_stops_running_engines_releases_leases_and_makes_the_slice_due_again(
    sqlite_store: Store, recorder: Recorder
) -> None:
    for key in ALL:
        recorder.behaviour[key] = block_until_stopped
    sched = make_scheduler(sqlite_store, recorder, max_concurrency=2, tick_s=0.01)
    sched.clock = lambda: datetime.now(UTC)
    runner = threading.Thread(target=sched.run_forever)
    runner.start()
    wait_for(lambda: len(recorder.started()) == 2)
    with sqlite_store.session(readonly=True) as s:
        assert len(list_leases(session=s)) == 2
    t = time.monotonic()
    sched.request_shutdown()
    runner.join(timeout=10)
    assert not runner.is_alive() and time.monotonic() - t < 5
    # Both start at once in two threads: which one records first is not defined.
    assert sorted(recorder.started()) == ["critical", "high"], "nothing new starts after shutdown"
    assert all(e.stop.is_set() for e in recorder.engines)
    with sqlite_store.session(readonly=True) as s:
        assert list_leases(session=s) == []
    for key in ("critical", "high"):
        state = state_of(sqlite_store, key)
        assert state.next_due_at == state.last_finished_at, "an aborted pass is due again at once"


# ------------------------------------------------------------------------ SIGTERM via `dgsync run`

# Runs the real `dgsync run` entry point with the engine replaced by one that records a run
# in the store and then works until it is asked to stop.
_WORKER = textwrap.dedent(
    """
    import sys, threading
    from core.store import repo
    from core.store.schemas import RunCounts, RunIn, RunResult, RunStatus, Trigger
    import core.sync.engine as engine_module

    class BlockingEngine:
        def __init__(self, services, progress=None):
            self.services = services
            self.stop = threading.Event()

        def request_stop(self):
            self.stop.set()

        def sync(self, *, resume, trigger, slice_key, priority, **_):
            store = self.services.store()
            with store.session() as s:
                run = repo.start_run(session=s, run=RunIn(env="dog", trigger=Trigger(trigger), slice_key=slice_key))
            self.stop.wait(timeout=60)
            with store.session() as s:
                repo.finish_run(session=s, run_id=run.id, result=RunResult(status=RunStatus.ABORTED, counts=RunCounts()))
            from types import SimpleNamespace
            return SimpleNamespace(run_id=run.id, status="aborted")

    engine_module.SyncEngine = BlockingEngine
    from dgsync_cli.main import main
    sys.argv = ["dgsync", "run", "--max-concurrency", "2"]
    main()
    """
)


@pytest.fixture
def dgsync_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGSYNC_")}
    env.update({"DGSYNC_DATABASE_URL": url, "DGSYNC_STATE_DIR": str(tmp_path / "state"), "DGSYNC_ENV": "dog"})
    yield env, url


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_dgsync_run_exits_0_on_a_signal_and_releases_its_leases(
    sig: signal.Signals, dgsync_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, url = dgsync_env
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store: Store | None = None
    try:
        deadline = time.monotonic() + 30
        leases: list[Any] = []
        while time.monotonic() < deadline and len(leases) < 2:
            assert proc.poll() is None, proc.communicate()
            if store is None and (tmp_path / "state.db").exists():
                store = Store(make_engine(url))
            if store is not None:
                try:
                    with store.session(readonly=True) as s:
                        leases = list_leases(session=s)
                except Exception:
                    leases = []  # schema not created yet
            time.sleep(0.05)
        assert [lease.slice_key for lease in leases] == ["critical", "high"]
        t = time.monotonic()
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert time.monotonic() - t < 5
        assert store is not None
        with store.session(readonly=True) as s:
            assert list_leases(session=s) == []
            runs = repo.list_runs(session=s)
        assert sorted(r.slice_key or "" for r in runs) == ["critical", "high"]
        assert {r.status for r in runs} == {RunStatus.ABORTED}, "the engines were told to stop"
        assert "shutdown requested" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if store is not None:
            store.dispose()


# ------------------------------------------------------------------------ end to end


def test_dgsync_run_once_syncs_the_due_slices_of_the_embedded_default(
    dgsync_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, url = dgsync_env
    env["DGSYNC_SCHEDULE__MAX_CONCURRENCY"] = "4"  # all four slices at once: shared databases
    env["DGSYNC_DATASPHERE__SPACES"] = '["HR"]'  # one space of the emulated tenant: quicker
    dgsync = str(Path(sys.executable).with_name("dgsync"))
    first = subprocess.run([dgsync, "run", "--once"], env=env, cwd=tmp_path, capture_output=True,
                           text=True, timeout=240)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ALL
    store = Store(make_engine(url))
    try:
        with store.session(readonly=True) as s:
            runs = repo.list_runs(session=s)
            states = {st.slice_key: st for st in repo.list_schedule_states(session=s)}
            assets = repo.asset_status_counts(session=s, env="dog")
            leases = list_leases(session=s)
        assert sorted(r.slice_key or "" for r in runs) == sorted(ALL)
        assert all(r.trigger is Trigger.SCHEDULER and r.scope.priority == r.slice_key for r in runs)
        assert all(r.status is RunStatus.SUCCEEDED for r in runs), [r.errors for r in runs]
        assert sum(r.counts.created for r in runs) > 0
        assert assets.get("synced", 0) > 0
        assert leases == []
        now = datetime.now(UTC)
        assert all(states[k].next_due_at is not None and states[k].next_due_at > now for k in ALL)  # type: ignore[operator]
        assert {states[k].last_run_id for k in ALL} == {r.id for r in runs}
    finally:
        store.dispose()
    again = subprocess.run([dgsync, "run", "--once"], env=env, cwd=tmp_path, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "nothing due"


def test_a_source_change_seen_by_another_slice_is_not_lost(tmp_path: Path) -> None:
    """Slices share one extraction cache: a change to a view (high) fetched by a critical run
    must still be written by the next high run."""
    from core.services import build_services
    from core.settings import DatasphereSettings
    from core.sync.engine import SyncEngine
    from doubles.emulator.mutate import mutate

    settings = Settings(
        env="dog", database_url=f"sqlite:///{tmp_path / 'state.db'}", state_dir=tmp_path / "state",
        datasphere=DatasphereSettings(spaces=["HR"]),
        schedule=ScheduleSettings(critical="realtime", realtime_interval_s=60, high="hourly",
                                  medium="off", low="off", max_concurrency=1),
    )
    clock = FakeClock(datetime.now(UTC))
    with build_services(settings) as services:
        sched = Scheduler(services, clock=clock)
        assert [o.status for o in sched.run_once()] == ["succeeded"] * 2
        changes = mutate(services.emulator.tenant, count=3, seed=7, space="HR",
                         operations=("add_column", "change_column"))
        assert changes
        clock.advance(61)
        assert [o.slice_key for o in sched.run_once()] == ["critical"]
        clock.advance(3600)
        assert [o.slice_key for o in sched.run_once()] == ["critical", "high"]
        leftover = SyncEngine(services).plan(incremental=False)
        writes = [i.object for i in leftover.plan.items if i.action.writes]
        assert writes == [], f"changes lost: {changes} still to write: {writes}"
