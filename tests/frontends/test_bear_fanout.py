"""Bear's fan-out end to end on this machine: moto_server's SQS (and Glue), the Datasphere
emulator with a synthetic 20-space tenant, and worker *processes* (bear_lambda.local) that play
the SQS event source mapping around the real handlers."""

from __future__ import annotations

import itertools
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from core.store import repo
from core.store.tables import RunItemRow

from .bear_stack import Services, Stack, outputs, running_services, wait_for

SPACES = [f"SYN_{i:02d}" for i in range(20)]


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    """20 spaces of 3 objects each (two local tables and a fact view)."""
    with running_services(assets=60, spaces=20) as running:
        yield running


@pytest.fixture
def fresh(services: Services, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    made: list[Stack] = []

    def make(spaces: list[str], **options: Any) -> Stack:
        # Each test its own queues, store and Glue region (moto keeps one catalog per region).
        index = len(made)
        regions = {"test_twenty": "eu-west-1", "test_a_worker": "eu-west-2", "test_a_poison": "eu-west-3",
                   "test_a_slice": "eu-north-1"}
        region = next(r for prefix, r in regions.items() if request.node.name.startswith(prefix))
        stack = Stack(services, tmp_path / f"stack{index}", f"{request.node.name[:40]}-{index}", spaces, region,
                      **options)
        made.append(stack)
        return stack

    yield make
    services.faults()


def written_once(stack: Stack) -> dict[str, int]:
    """Per asset: how many runs wrote it (create or update that succeeded)."""
    store = stack.store()
    try:
        with store.session(readonly=True) as session:
            rows = session.execute(
                select(RunItemRow.asset_key, func.count())
                .where(RunItemRow.action.in_(["create", "update"]), RunItemRow.status == "done")
                .group_by(RunItemRow.asset_key)
            ).all()
    finally:
        store.dispose()
    return {str(k): int(n) for k, n in rows}


def runs_of(stack: Stack) -> list[Any]:
    store = stack.store()
    try:
        with store.session(readonly=True) as session:
            return repo.list_runs(session=session, limit=500)
    finally:
        store.dispose()


def emf(lines: list[dict[str, Any]], name: str) -> list[float]:
    values: list[float] = []
    for doc in lines:
        if "_aws" in doc and name in doc:
            value = doc[name]
            values.extend(value if isinstance(value, list) else [value])
    return values


def test_twenty_spaces_fanned_out_over_four_workers_write_every_table_exactly_once(fresh: Any) -> None:
    stack: Stack = fresh(SPACES, visibility_s=60)
    stack.env["DGSYNC_BEAR_SLICE_BUDGET_S"] = "1200"
    result, _ = stack.schedule()
    # 20 spaces never synced (2 min estimated each) → slices of 10 spaces, 2 per class.
    assert len(result["queued"]) == 8 and result["due"] == ["critical", "high", "medium", "low"]
    assert all(len(key.split(":")[1].split("+")) == 10 for key in result["queued"])
    workers = [stack.worker(timeout_s=45, idle_exit_s=4) for _ in range(4)]
    invocations = [outputs(w)[0] for w in workers]
    per_worker = [[line for line in lines if "invocation" in line] for lines in invocations]
    assert all(per_worker), "every worker process took work"
    assert sum(len(w) for w in per_worker) == 8 and not any(i["failed"] for w in per_worker for i in w)
    assert stack.depth(stack.queue_url) == 0 and stack.depth(stack.dlq_url) == 0
    tables = stack.glue_tables()
    assert len(tables) >= 40 and set(tables.values()) == {1}  # one version each: written once
    assert {db.split(".")[0] for db in tables} == {s.lower() for s in SPACES}
    once = written_once(stack)
    assert len(once) == len(tables) and set(once.values()) == {1}
    runs = runs_of(stack)
    assert len(runs) == 8 and {r.trigger.value for r in runs} == {"lambda"}
    assert {r.status.value for r in runs} <= {"succeeded", "partial"}
    # Status sees the worker runs: every class ran, none is due again yet.
    again, _ = stack.schedule()
    assert (again["due"], again["queued"]) == ([], [])


def test_a_worker_killed_mid_batch_is_redelivered_and_the_resumed_slice_writes_nothing_twice(
    fresh: Any, services: Services
) -> None:
    # Visibility (16 s) > the victim's timeout (10 s) + 5 s: its slice lease is gone by then.
    stack: Stack = fresh(["SYN_00", "SYN_01"], visibility_s=16)
    result, _ = stack.schedule({"priorities": ["high"], "force": True})
    assert result["queued"] == ["high:SYN_00+SYN_01"]
    services.faults(latency_ms=1500, match="SYN_01")  # the second space is slow to read
    victim = stack.worker(timeout_s=10, idle_exit_s=30)

    def first_space_written() -> bool:
        done = written_once(stack)
        return any(k.startswith("SYN_00.") for k in done) and any(r.status.value == "running" for r in runs_of(stack))

    wait_for(first_space_written, timeout=60, every=0.25)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    services.faults()
    killed = runs_of(stack)[0]
    assert killed.status.value == "running"  # died without a word
    # The message comes back after the visibility timeout; another worker resumes the slice.
    rescuer = stack.worker(timeout_s=6, idle_exit_s=30, exit_after=1)
    lines, _ = outputs(rescuer, timeout=120)
    assert [i["slices"] for i in lines if "invocation" in i][-1] == ["high:SYN_00+SYN_01"]
    assert stack.depth(stack.queue_url) == 0 and stack.depth(stack.dlq_url) == 0
    runs = {r.id: r for r in runs_of(stack)}
    resumed = [r for r in runs.values() if r.resumed_from == killed.id]
    assert len(resumed) == 1 and resumed[0].status.value in ("succeeded", "partial")
    assert runs[killed.id].status.value == "interrupted"
    tables = stack.glue_tables()
    assert {t.split(".")[0] for t in tables} == {"syn_00", "syn_01"} and set(tables.values()) == {1}
    assert set(written_once(stack).values()) == {1}


def test_a_poison_message_reaches_the_dead_letter_queue_and_raises_the_alarm_metrics(fresh: Any) -> None:
    stack: Stack = fresh(["SYN_02"], visibility_s=2, max_receive=2)
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody='{"priority": "urgent", "slice_key": "x"}')
    lines, err = outputs(stack.worker(timeout_s=10, idle_exit_s=5), timeout=120)
    summaries = [i for i in lines if "invocation" in i]
    assert len(summaries) == 2 and all(i["failed"] for i in summaries)  # delivered maxReceiveCount times
    assert emf(lines, "PoisonMessages") == [1.0]  # on its last delivery only
    assert "malformed slice message" in err
    assert stack.depth(stack.queue_url) == 0
    dead = stack.sqs.receive_message(QueueUrl=stack.dlq_url, VisibilityTimeout=0)["Messages"]
    assert json.loads(dead[0]["Body"])["priority"] == "urgent"
    # The next schedule tick reports the dead-letter depth (the DeadLetterAlarm's metric).
    _, docs = stack.schedule({"priorities": ["critical"]})
    assert emf(docs, "DeadLetterDepth") == [1.0]


def test_a_slice_near_the_time_limit_stops_cleanly_and_requeues_the_rest(fresh: Any, services: Services) -> None:
    stack: Stack = fresh(["SYN_03", "SYN_04"], visibility_s=20)
    result, _ = stack.schedule({"priorities": ["high"], "force": True})
    assert result["queued"] == ["high:SYN_03+SYN_04"]
    services.faults(latency_ms=1200, match="SYN_04")
    worker = stack.worker(timeout_s=4, idle_exit_s=4)  # stop requested 1 s before the 4 s limit
    wait_for(lambda: any(r.status.value == "aborted" for r in runs_of(stack)), timeout=60, every=0.1)
    services.faults()
    lines, err = outputs(worker, timeout=120)
    summaries = [i for i in lines if "invocation" in i]
    assert len(summaries) >= 2 and not any(i["failed"] for i in summaries)  # never a retry: re-queued
    assert sum(emf(lines, "SlicesRequeued")) >= 1
    assert '"out_of_time": true' in err
    runs = sorted(runs_of(stack), key=lambda r: r.started_at)
    assert runs[0].status.value == "aborted" and runs[-1].status.value in ("succeeded", "partial")
    assert all(later.resumed_from == earlier.id for earlier, later in itertools.pairwise(runs))
    assert stack.depth(stack.queue_url) == 0 and stack.depth(stack.dlq_url) == 0
    tables = stack.glue_tables()
    assert {t.split(".")[0] for t in tables} == {"syn_03", "syn_04"} and set(tables.values()) == {1}
    assert set(written_once(stack).values()) == {1}
