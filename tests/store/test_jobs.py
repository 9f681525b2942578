"""core/jobs.py on SQLite and PostgreSQL: lifecycle, throttled progress, one sync per scope,
dead jobs, cursors, events, audit — with stand-in runners (the real plan/sync/validate runs
are tested through the Wolf API against the emulator and moto)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update

from core.errors import ScopeHeld, SourceUnavailable
from core.jobs import (
    InlineExecutor,
    JobKind,
    JobScope,
    JobService,
    JobStatus,
    ThreadExecutor,
)
from core.store import repo
from core.store.db import Store
from core.store.leases import acquire_lease
from core.store.schemas import AuditFilter, utcnow
from core.store.tables import JobRow
from core.sync.liveness import Owner, Scope


class _Services:
    """What JobService needs of Services: settings and the store."""

    def __init__(self, store: Store, *, env: str = "dog", spaces: list[str] | None = None) -> None:
        self._store = store
        self.settings = SimpleNamespace(
            env=env,
            schedule=SimpleNamespace(heartbeat_interval_s=0.2, lease_ttl_s=300.0),
            datasphere=SimpleNamespace(spaces=spaces or []),
        )

    def store(self) -> Store:
        return self._store


def _succeeds(services: Any, scope: JobScope, actor: str, progress: Any) -> Any:
    for i in range(1, 4):
        progress("extract", i, 3)
    progress("apply", 3, 3)
    return JobStatus.SUCCEEDED, {"counts": {"created": 3}, "actor": actor, "spaces": scope.spaces}, "RUN-1"


class _Gate:
    """A runner that reports progress, then waits until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, services: Any, scope: JobScope, actor: str, progress: Any) -> Any:
        progress("extract", 1, 4)
        self.started.set()
        assert self.release.wait(20)
        progress("apply", 4, 4)
        return JobStatus.PARTIAL, {"done": True}, None


def _service(store: Store, executor: Any = None, **runners: Any) -> JobService:
    return JobService(
        _Services(store), executor or InlineExecutor(), persist_interval_s=0.05, heartbeat_interval_s=0.2,
        runners={JobKind(k): v for k, v in runners.items()},
    )


def test_a_job_runs_to_success_with_its_result_progress_and_audit(store: Store) -> None:
    service = _service(store, plan=_succeeds)
    job = service.submit("plan", {"spaces": ["SALES"]}, actor="key:qa/operator")
    assert job.status is JobStatus.SUCCEEDED
    assert job.result == {"counts": {"created": 3}, "actor": "key:qa/operator", "spaces": ["SALES"]}
    assert (job.phase, job.done, job.total, job.percent) == ("finished", 3, 3, 100)
    assert job.run_id == "RUN-1"
    assert job.started_at is not None and job.finished_at is not None and job.error is None
    with store.session(readonly=True) as s:
        audit = repo.query_audit(session=s, filters=AuditFilter(actor="key:qa/operator"))
    assert sorted(a.action for a in audit) == ["job.finish", "job.submit"]
    assert {a.object for a in audit} == {f"job:{job.id}"}


def test_a_failed_job_carries_the_core_errors_code_message_and_hint(store: Store) -> None:
    def down(*args: Any) -> Any:
        raise SourceUnavailable("tenant unreachable", hint="Check the proxy.")

    job = _service(store, sync=down).submit("sync", {}, actor="me")
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.model_dump() == {"code": "source_unavailable", "message": "tenant unreachable",
                                      "hint": "Check the proxy."}


def test_a_crashing_runner_fails_the_job_without_internal_text(store: Store) -> None:
    def bug(*args: Any) -> Any:
        raise KeyError("secret internal detail")

    job = _service(store, plan=bug).submit("plan", None, actor="me")
    assert job.status is JobStatus.FAILED
    assert job.error is not None and "KeyError" in job.error.message
    assert "secret internal detail" not in job.error.message
    assert "bug" in job.error.hint


def test_unknown_kinds_and_scope_fields_are_refused(store: Store) -> None:
    service = _service(store)
    with pytest.raises(Exception, match="unknown job kind"):
        service.submit("deploy", {}, actor="me")
    with pytest.raises(ValueError, match="force"):
        service.submit("plan", {"force": True}, actor="me")


def test_progress_is_visible_while_running_and_persisted_for_other_processes(store: Store) -> None:
    gate = _Gate()
    executor = ThreadExecutor()
    service = _service(store, executor, plan=gate)
    job = service.submit("plan", {}, actor="me")
    assert gate.started.wait(10)
    live = service.get(job.id)
    assert (live.status, live.phase, live.done, live.total) == (JobStatus.RUNNING, "extract", 1, 4)
    # Another process (a new service over the same store) sees it from the store.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        other = _service(store).get(job.id)
        if other.phase == "extract":
            break
        time.sleep(0.05)
    assert (other.status, other.phase, other.done) == (JobStatus.RUNNING, "extract", 1)
    gate.release.set()
    assert executor.wait(job.id, 10)
    final = _service(store).get(job.id)
    assert (final.status, final.done, final.total) == (JobStatus.PARTIAL, 4, 4)


def test_progress_writes_are_throttled_not_one_per_object(store: Store) -> None:
    writes: list[int] = []

    def many(services: Any, scope: JobScope, actor: str, progress: Any) -> Any:
        for i in range(2000):
            progress("apply", i, 2000)
        return JobStatus.SUCCEEDED, {}, None

    service = JobService(_Services(store), InlineExecutor(), persist_interval_s=5.0, heartbeat_interval_s=5.0,
                         runners={JobKind.PLAN: many})
    from core.store import jobs as job_repo

    original = job_repo.update_progress

    def counting(**kwargs: Any) -> None:
        writes.append(kwargs["done"])
        original(**kwargs)

    job_repo.update_progress = counting  # type: ignore[assignment]
    try:
        job = service.submit("plan", {}, actor="me")
    finally:
        job_repo.update_progress = original  # type: ignore[assignment]
    assert (job.done, job.total) == (2000, 2000)  # over: the bar is full
    assert 1 <= len(writes) <= 5


def test_a_second_sync_on_an_overlapping_scope_is_refused_naming_the_first(store: Store) -> None:
    gate = _Gate()
    executor = ThreadExecutor()
    service = _service(store, executor, sync=gate, plan=_succeeds)
    first = service.submit("sync", {"spaces": ["SALES"]}, actor="alice")
    assert gate.started.wait(10)
    with pytest.raises(ScopeHeld) as info:
        service.submit("sync", {}, actor="bob")  # all spaces overlap SALES
    assert first.id in info.value.message and "alice" in info.value.message
    assert first.id in info.value.hint
    # Another space, and a plan of the same space, are fine.
    assert service.submit("sync", {"spaces": ["HR"]}, actor="bob").status in (JobStatus.QUEUED, JobStatus.RUNNING)
    assert service.submit("plan", {"spaces": ["SALES"]}, actor="bob").id
    gate.release.set()
    assert executor.wait(first.id, 10)
    again = service.submit("sync", {"spaces": ["SALES"]}, actor="bob")  # free again
    assert executor.wait(again.id, 10)
    executor.shutdown(10)


def test_a_sync_overlapping_a_held_scope_lease_is_refused_naming_the_run(store: Store) -> None:
    scope = Scope.of("dog", ["SALES"])
    holder = Owner.current("RUN-CLI").encode()
    assert acquire_lease(store=store, slice_key=scope.lease_key("RUN-CLI"), holder=holder, ttl_s=60)
    with pytest.raises(ScopeHeld, match="run RUN-CLI"):
        _service(store, sync=_succeeds).submit("sync", {"spaces": ["SALES"]}, actor="me")
    with store.session(readonly=True) as s:
        assert s.query(JobRow).count() == 0  # nothing queued


def test_a_job_whose_process_died_is_failed_on_read(store: Store) -> None:
    gate = _Gate()
    executor = ThreadExecutor()
    service = _service(store, executor, sync=gate)
    job = service.submit("sync", {}, actor="me")
    assert gate.started.wait(10)
    # Another process reads it after its owner died: stale heartbeat, dead pid.
    with store.session() as s:
        s.execute(update(JobRow).where(JobRow.id == job.id).values(
            worker=Owner(job.id, Owner.current("x").host, Owner.current("x").boot, 2**22 + 7).encode(),
            heartbeat_at=utcnow() - timedelta(minutes=5)))
    reader = _service(store, sync=_succeeds)
    dead = reader.get(job.id)
    assert dead.status is JobStatus.FAILED
    assert dead.error is not None and "died" in dead.error.message and "is gone" in dead.error.message
    assert "again" in dead.error.hint
    # The dead sync no longer blocks its scope.
    assert reader.submit("sync", {}, actor="me").id
    gate.release.set()
    executor.shutdown(10)
    assert service.get(job.id).status is JobStatus.FAILED  # an ended job is never changed again


def test_a_queued_job_that_no_worker_took_fails_after_the_queue_ttl(store: Store) -> None:
    class Nowhere:
        name = "sqs"

        def dispatch(self, service: Any, job: Any) -> None:
            return None

        def shutdown(self, timeout: float = 30.0) -> None:
            return None

    service = JobService(_Services(store), Nowhere(), queue_ttl_s=60)
    job = service.submit("plan", {}, actor="me")
    assert service.get(job.id).status is JobStatus.QUEUED
    with store.session() as s:
        s.execute(update(JobRow).where(JobRow.id == job.id).values(created_at=utcnow() - timedelta(minutes=2)))
    failed = service.get(job.id)
    assert failed.status is JobStatus.FAILED and failed.error is not None
    assert "no worker took it" in failed.error.message


def test_run_is_idempotent_for_a_redelivered_message(store: Store) -> None:
    calls: list[str] = []

    class Queue:
        name = "sqs"

        def __init__(self) -> None:
            self.sent: list[str] = []

        def dispatch(self, service: Any, job: Any) -> None:
            self.sent.append(job.id)

        def shutdown(self, timeout: float = 30.0) -> None:
            return None

    def counted(*args: Any) -> Any:
        calls.append("run")
        return JobStatus.SUCCEEDED, {}, None

    queue = Queue()
    producer = JobService(_Services(store), queue, runners={JobKind.PLAN: counted})
    job = producer.submit("plan", {}, actor="me")
    worker = JobService(_Services(store), InlineExecutor(), runners={JobKind.PLAN: counted})
    assert worker.run(queue.sent[0]).status is JobStatus.SUCCEEDED
    assert worker.run(job.id).status is JobStatus.SUCCEEDED  # redelivered: not run again
    assert calls == ["run"]


def test_list_is_newest_first_with_a_cursor_and_filters(store: Store) -> None:
    service = _service(store, plan=_succeeds, validate=_succeeds)
    ids = [service.submit("plan" if i % 2 else "validate", {}, actor="me").id for i in range(5)]
    page = service.list(limit=2)
    assert [j.id for j in page] == ids[::-1][:2]
    assert [j.id for j in service.list(limit=2, before=page[-1].id)] == ids[::-1][2:4]
    assert {j.kind for j in service.list(kind=JobKind.PLAN)} == {JobKind.PLAN}
    other_env = JobService(_Services(store, env="wolf"), InlineExecutor())
    assert other_env.list() == []
    with pytest.raises(Exception, match="no job"):
        other_env.get(ids[0])


def test_events_report_progress_then_one_end(store: Store) -> None:
    gate = _Gate()
    executor = ThreadExecutor()
    service = _service(store, executor, plan=gate)
    job = service.submit("plan", {}, actor="me")
    events = service.events(job.id, poll_s=0.02)
    first = next(events)
    assert first.event == "progress"
    assert gate.started.wait(10)
    threading.Timer(0.3, gate.release.set).start()
    rest = list(events)
    assert rest[-1].event == "end" and rest[-1].job.status is JobStatus.PARTIAL
    assert all(e.event == "progress" for e in rest[:-1])
    assert any(e.job.phase == "extract" for e in [first, *rest])
    executor.shutdown(10)  # the audit record of its end is written after the end event
