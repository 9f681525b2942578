"""Run metrics: latency histograms (pure), then figures of real runs against the emulator and
the moto server — they must equal what the run's report counted — and the Prometheus text,
parsed with prometheus_client's own parser."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from core.glue.stats import is_write
from core.metrics import metrics_of, prometheus_text, recent_metrics, run_metrics
from core.perf import BUCKETS, Histogram, LatencyRecorder, bucket_of, upper_bound
from core.services import build_services
from core.store.schemas import RunCounts, RunKind, RunOut, RunScope, RunStatus, Trigger
from core.validation import save_validation, validate
from dgsync_cli.main import cli
from doubles.emulator.faults import FaultConfig, ThrottleFault

pytestmark = pytest.mark.timeout(240)


# -- histograms ---------------------------------------------------------------------------------


def test_bucket_bounds_hold_their_values() -> None:
    for value in (0.0, 0.0001, 0.0005, 0.00051, 0.01, 0.3, 1.0, 7.5, 119.0):
        bucket = bucket_of(value)
        assert value <= upper_bound(bucket)
        assert bucket == 0 or value > upper_bound(bucket - 1)
    assert bucket_of(10_000.0) == BUCKETS and upper_bound(BUCKETS) == float("inf")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quantiles_are_within_ten_percent_of_the_exact_ones(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(-3.5, 1.0) for _ in range(5000)]
    recorder = LatencyRecorder()
    for v in values:
        recorder.observe(v)
    hist = recorder.snapshot()
    ordered = sorted(values)
    for q in (0.5, 0.95, 0.99):
        exact = ordered[max(0, int(q * len(ordered)) - 1)]
        estimate = hist.quantile(q)
        assert estimate is not None and abs(estimate - exact) / exact < 0.10, (q, exact, estimate)
    assert hist.quantile(0.95) >= hist.quantile(0.5)  # type: ignore[operator]
    assert hist.count == 5000 and abs(hist.sum_s - sum(values)) < 1e-3


def test_snapshots_subtract_and_add() -> None:
    recorder = LatencyRecorder()
    for v in (0.001, 0.002, 0.004):
        recorder.observe(v)
    before = recorder.snapshot()
    for v in (0.5, 0.6):
        recorder.observe(v)
    run = recorder.snapshot().minus(before)
    assert run.count == 2 and sum(run.buckets.values()) == 2
    assert 0.45 < (run.quantile(0.5) or 0) <= 0.6
    assert before.plus(run).count == 5
    assert Histogram().quantile(0.5) is None
    # JSON object keys are strings: a stored histogram reads back equal.
    assert Histogram.model_validate(json.loads(run.model_dump_json())) == run


def test_a_run_recorded_before_latencies_has_counts_but_no_percentiles() -> None:
    run = RunOut(
        id="01OLD", kind=RunKind.SYNC, env="dog", status=RunStatus.SUCCEEDED, trigger=Trigger.CLI,
        scope=RunScope(), slice_key=None, started_at=datetime(2026, 1, 1, tzinfo=UTC),
        finished_at=datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC), heartbeat_at=None, duration_s=10.0,
        counts=RunCounts(created=4, unchanged=16), assets_total=20, throughput=2.0,
        api_calls={"glue": {"CreateTable": 4, "GetTables": 2}, "datasphere": {"/spaces": 3}},
        retries=1, throttles=2, errors=[], resumed_from=None, host=None, pid=None, summary=None,
    )
    m = metrics_of(run)
    assert m.assets_per_s == 2.0 and m.objects == 20 and m.glue_writes == 4 and m.glue_reads == 2
    assert m.retries == 1 and m.throttles == 2 and not m.latency_recorded
    assert m.systems["glue"].calls == 6 and m.systems["glue"].p50_ms is None


# -- real runs ---------------------------------------------------------------------------------


def test_metrics_of_a_real_run_equal_what_the_run_counted(make_settings: Any, emulator: Any) -> None:
    settings = make_settings()
    # Two throttled Datasphere answers (Retry-After: 0): retried, counted as retries and throttles.
    emulator.tenant.faults.apply(FaultConfig(throttle=ThrottleFault(count=2, retry_after=0), match="/localtables"))
    with build_services(settings) as services:
        report = services.engine().sync(spaces=["SALES", "MCT_DEMO"])
        m = run_metrics(services.store(), report.run_id)
    emulator.tenant.faults.clear()
    assert report.status == "succeeded" and m is not None

    glue, ds = m.systems["glue"], m.systems["datasphere"]
    assert glue.by_operation == report.api_calls["glue"]
    assert glue.calls == sum(report.api_calls["glue"].values())
    assert glue.timed_calls == glue.calls  # one latency per logical Glue call
    assert ds.by_operation == report.api_calls["datasphere"]
    # Datasphere counts attempts per route; latency is per logical request (retries inside).
    assert ds.timed_calls == ds.calls - ds.retries
    assert ds.retries == 2 and ds.throttles == 2
    assert m.glue_writes == report.glue_writes == sum(n for op, n in glue.by_operation.items() if is_write(op))
    assert m.assets == report.extraction.assets and m.duration_s
    assert m.assets_per_s == pytest.approx(m.assets / m.duration_s, rel=1e-3)
    for system in (glue, ds):
        assert system.p50_ms is not None and system.p95_ms is not None and system.p99_ms is not None
        assert 0 < system.p50_ms <= system.p95_ms <= system.p99_ms <= (system.max_ms or 0) + 1e-9
    assert m.retries == glue.retries + ds.retries and m.latency_recorded


def test_prometheus_text_parses_and_carries_the_last_run(make_settings: Any) -> None:
    settings = make_settings()
    with build_services(settings) as services:
        engine = services.engine()
        first = engine.sync(spaces=["SALES"])
        second = engine.sync(spaces=["SALES"])
        save_validation(services.store(), validate(services, spaces=["SALES"]))
        text = prometheus_text(services.store(), services=services)
        recent = recent_metrics(services.store(), limit=5)
        assert [r.run_id for r in recent] == [second.run_id, first.run_id]
        assert [r.run_id for r in recent_metrics(services.store(), limit=1)] == [second.run_id]

    families = {f.name: f for f in text_string_to_metric_families(text)}
    runs = {s.labels["status"]: s.value for s in families["dgsync_runs"].samples if s.name == "dgsync_runs_total"}
    assert runs == {"succeeded": 2.0}
    info = families["dgsync_last_run_info"].samples
    assert [s.labels["run_id"] for s in info] == [second.run_id]
    calls = {(s.labels["system"], s.labels["operation"]): s.value for s in families["dgsync_last_run_api_calls"].samples}
    assert {op: int(v) for (system, op), v in calls.items() if system == "glue"} == second.api_calls["glue"]
    quantiles = {(s.labels["system"], s.labels["quantile"]): s.value
                 for s in families["dgsync_last_run_latency_seconds"].samples}
    assert quantiles[("glue", "0.95")] >= quantiles[("glue", "0.5")] > 0
    assert [s.value for s in families["dgsync_validation_in_sync"].samples] == [1.0]
    buckets = [s for s in families["dgsync_process_api_latency_seconds"].samples
               if s.name.endswith("_bucket") and s.labels["system"] == "glue"]
    values = [s.value for s in buckets]
    assert values == sorted(values) and buckets[-1].labels["le"] == "+Inf"


def test_cli_metrics(make_settings: Any, tmp_path: Path) -> None:
    from test_validation import cli_env

    settings = make_settings()
    with build_services(settings) as services:
        report = services.engine().sync(spaces=["SALES"])
    env = cli_env(settings, tmp_path)
    runner = CliRunner()
    one = runner.invoke(cli, ["metrics", "--run", report.run_id, "--format", "json"], env=env)
    assert one.exit_code == 0, one.output
    body = json.loads(one.stdout)
    assert body["run_id"] == report.run_id and body["systems"]["glue"]["by_operation"] == report.api_calls["glue"]
    table = runner.invoke(cli, ["metrics", "--last", "3"], env=env)
    assert table.exit_code == 0 and report.run_id in table.output
    prom = runner.invoke(cli, ["metrics", "--format", "prometheus"], env=env)
    assert prom.exit_code == 0
    assert {f.name for f in text_string_to_metric_families(prom.stdout)} >= {"dgsync_runs", "dgsync_last_run_info"}
    missing = runner.invoke(cli, ["metrics", "--run", "NOPE"], env=env)
    assert missing.exit_code == 2 and "dgsync runs" in missing.output
