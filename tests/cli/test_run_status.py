"""`dgsync status`, `dgsync runs` and `dgsync run` argument handling, through the entry point."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner, Result

from core.store import repo
from core.store.db import Store
from core.store.schemas import (
    RunCounts,
    RunError,
    RunIn,
    RunResult,
    RunStatus,
    ScheduleStateIn,
    Trigger,
)
from dgsync_cli.main import cli


def dgsync(url: str, *args: str, **env: str) -> Result:
    environment = {"DGSYNC_DATABASE_URL": url, "DGSYNC_ENV": "dog", **env}
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


def fill(url: str) -> dict[str, str]:
    """Three runs: a partial scheduled one with errors, a failed one, one still running."""
    now = datetime.now(UTC).replace(microsecond=0)  # at fill time: exact however slow the suite
    store = Store.from_url(url, auto_upgrade=True)
    ids: dict[str, str] = {}
    try:
        with store.session() as s:
            partial = repo.start_run(session=s, run=RunIn(env="dog", trigger=Trigger.SCHEDULER, slice_key="high",
                                                          started_at=now - timedelta(hours=2)))
            repo.finish_run(session=s, run_id=partial.id, result=RunResult(
                status=RunStatus.PARTIAL,
                counts=RunCounts(created=3, updated=2, unchanged=40, deprecated=1, deleted=0, conflicts=1, failed=2),
                api_calls={"glue": {"GetTables": 5, "CreateTable": 3, "UpdateTable": 2},
                           "datasphere": {"GET /dwaas-core/api/v1/spaces": 1}},
                retries=4, throttles=3,
                errors=[RunError(object="sales.v_orders", code="target_throttled", message="Glue throttled",
                                 hint="Lower DGSYNC_GLUE__CALLS_PER_SECOND."),
                        RunError(object="sales.v_items", code="limit_exceeded", message="too many columns",
                                 hint="Exclude columns with a mapping rule.")],
                finished_at=now - timedelta(hours=2) + timedelta(seconds=125)))
            failed = repo.start_run(session=s, run=RunIn(env="dog", started_at=now - timedelta(hours=1)))
            repo.finish_run(session=s, run_id=failed.id, result=RunResult(
                status=RunStatus.FAILED, errors=[RunError(code="auth_error", message="token refused",
                                                          hint="Check DGSYNC_DATASPHERE__CLIENT_ID.")],
                finished_at=now - timedelta(hours=1) + timedelta(seconds=3)))
            running = repo.start_run(session=s, run=RunIn(env="dog", trigger=Trigger.SCHEDULER,
                                                          slice_key="critical", started_at=now))
            repo.set_schedule_state(session=s, state=ScheduleStateIn(
                slice_key="high", last_started_at=now - timedelta(minutes=10),
                last_finished_at=now - timedelta(minutes=8),
                last_run_id=partial.id, next_due_at=now + timedelta(minutes=50)))
        ids = {"partial": partial.id, "failed": failed.id, "running": running.id}
    finally:
        store.dispose()
    return ids


def test_runs_json_is_the_full_stable_schema_newest_first(sqlite_url: str) -> None:
    ids = fill(sqlite_url)
    result = dgsync(sqlite_url, "runs", "--format", "json")
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)
    assert [r["id"] for r in runs] == [ids["running"], ids["failed"], ids["partial"]]
    partial = runs[2]
    assert partial["status"] == "partial" and partial["trigger"] == "scheduler" and partial["slice_key"] == "high"
    assert partial["counts"] == {"created": 3, "updated": 2, "unchanged": 40, "deprecated": 1, "deleted": 0,
                                 "conflicts": 1, "failed": 2, "skipped": 0}
    assert partial["api_calls"]["glue"] == {"GetTables": 5, "CreateTable": 3, "UpdateTable": 2}
    assert partial["api_calls"]["datasphere"] == {"GET /dwaas-core/api/v1/spaces": 1}
    assert (partial["glue_calls"], partial["glue_writes"], partial["datasphere_calls"]) == (10, 5, 1)
    assert (partial["retries"], partial["throttles"]) == (4, 3)
    assert partial["duration_s"] == 125.0
    assert partial["throughput"] == 49 / 125
    assert partial["errors"][0] == {"object": "sales.v_orders", "code": "target_throttled",
                                    "message": "Glue throttled", "hint": "Lower DGSYNC_GLUE__CALLS_PER_SECOND."}
    assert runs[0]["status"] == "running" and runs[0]["stale"] is False


def test_runs_filters_by_status_and_limit(sqlite_url: str) -> None:
    ids = fill(sqlite_url)
    failed = json.loads(dgsync(sqlite_url, "runs", "--status", "failed", "--format", "json").stdout)
    assert [r["id"] for r in failed] == [ids["failed"]]
    limited = json.loads(dgsync(sqlite_url, "runs", "--limit", "1", "--format", "json").stdout)
    assert [r["id"] for r in limited] == [ids["running"]]
    bad = dgsync(sqlite_url, "runs", "--status", "exploded")
    assert bad.exit_code == 2 and "exploded" in bad.output


def test_runs_table_shows_counts_duration_throughput_calls_and_error_hints(sqlite_url: str) -> None:
    ids = fill(sqlite_url)
    result = dgsync(sqlite_url, "runs")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "kind", "status", "started", "duration", "created", "updated", "unchanged",
                                "deprecated", "deleted", "conflicts", "failed", "throughput", "glue_calls",
                                "retries/throttles"]
    row = next(line for line in lines if line.startswith(ids["partial"])).split()
    assert row[1:3] == ["sync", "partial"]
    assert row[5:] == ["2m05s", "3", "2", "40", "1", "0", "1", "2", "0.4/s", "10", "4/3"]
    assert f"  {ids['partial']} target_throttled sales.v_orders: Glue throttled" in lines
    assert "    hint: Lower DGSYNC_GLUE__CALLS_PER_SECOND." in lines
    assert "    hint: Check DGSYNC_DATASPHERE__CLIENT_ID." in lines


def test_runs_on_an_empty_store_says_so(sqlite_url: str) -> None:
    result = dgsync(sqlite_url, "runs")
    assert result.exit_code == 0
    assert result.stdout.strip() == "no runs recorded yet"


def test_status_json_has_classes_running_and_recent_runs(sqlite_url: str) -> None:
    ids = fill(sqlite_url)
    result = dgsync(sqlite_url, "status", "--format", "json", DGSYNC_SCHEDULE__LOW="off")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["env"] == "dog" and body["schema_version"] == 1
    assert [r["id"] for r in body["running"]] == [ids["running"]]
    assert [r["id"] for r in body["recent"]] == [ids["running"], ids["failed"], ids["partial"]]
    slices = {s["slice_key"]: s for s in body["slices"]}
    assert list(slices) == ["critical", "high", "medium", "low"]
    assert slices["critical"]["due_now"] is True and slices["critical"]["never_run"] is True
    assert slices["high"]["due_now"] is False and slices["high"]["last_status"] == "partial"
    assert slices["high"]["last_run_id"] == ids["partial"]
    assert slices["high"]["last_errors"][1]["hint"] == "Exclude columns with a mapping rule."
    assert slices["low"]["enabled"] is False and slices["low"]["frequency"] == "off"
    assert body["assets_total"] == 0 and body["open_conflicts"] == 0


def test_status_table_shows_each_class_and_the_recent_runs(sqlite_url: str) -> None:
    ids = fill(sqlite_url)
    result = dgsync(sqlite_url, "status", DGSYNC_SCHEDULE__MEDIUM="*/15 * * * *")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    classes = {line.split()[0]: line for line in lines[2:6]}
    assert list(classes) == ["critical", "high", "medium", "low"]
    assert classes["critical"].split()[1:4] == ["realtime", "due", "now"]
    # Due 50 minutes after the fill (a little less by the time status runs; rounded to seconds).
    assert "idle" in classes["high"] and re.search(r"in (4\d|50)m", classes["high"]) and "partial" in classes["high"]
    assert "*/15 * * * *" in classes["medium"]
    assert "running:" in lines and "recent runs:" in lines
    assert any(line.startswith(ids["running"]) and " running " in line for line in lines)
    assert "open conflicts: 0" in lines


def test_run_refuses_an_invalid_frequency_with_a_hint(sqlite_url: str) -> None:
    result = dgsync(sqlite_url, "run", "--once", DGSYNC_SCHEDULE__HIGH="every tuesday")
    assert result.exit_code == 2
    assert "DGSYNC_SCHEDULE__HIGH" in result.stderr and "hint:" in result.stderr


def test_run_rejects_a_concurrency_out_of_range(sqlite_url: str) -> None:
    result = dgsync(sqlite_url, "run", "--once", "--max-concurrency", "0")
    assert result.exit_code == 2 and "--max-concurrency" in result.output


def test_runs_json_shows_the_exit_code_each_run_implies(sqlite_url: str) -> None:
    ids = fill(sqlite_url)
    runs = {r["id"]: r for r in json.loads(dgsync(sqlite_url, "runs", "--format", "json").stdout)}
    assert runs[ids["partial"]]["exit_code"] == 1
    assert runs[ids["failed"]]["exit_code"] == 3, "stopped by an auth error: could not run"
    assert runs[ids["running"]]["exit_code"] is None
