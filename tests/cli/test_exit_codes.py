"""Exit codes: the one mapping (run status / report / exception → code), and the probes of
issue 8 through the `dgsync` entry point: bad input exits 2 before any run is recorded; an
unexpected error is one line (no traceback unless --debug) and exit 3."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result

from core.errors import (
    AccessDenied,
    AuthError,
    ConfigError,
    DgsyncError,
    LeaseHeld,
    RulesError,
    SourceUnavailable,
    StoreError,
    SyncAborted,
    TargetAccessDenied,
)
from core.store.db import Store
from core.store.schemas import RunError
from core.sync import exit_codes
from core.sync.report import ExtractionSummary, SyncReport
from dgsync_cli.cmd_run import _outcome_code
from dgsync_cli.main import cli

NOW = "2026-11-27T07:00:00Z"


def dgsync(tmp_path: Path, *args: str, **env: str) -> Result:
    environment = {
        "DGSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "DGSYNC_STATE_DIR": str(tmp_path / "state"),
        "DGSYNC_ENV": "dog",
        **env,
    }
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


def recorded_runs(tmp_path: Path) -> list[Any]:
    if not (tmp_path / "state.db").exists():
        return []
    store = Store.from_url(f"sqlite:///{tmp_path / 'state.db'}", auto_upgrade=True)
    try:
        from core.store import repo

        with store.session(readonly=True) as s:
            return repo.list_runs(session=s)
    finally:
        store.dispose()


def report(status: str, *, failed: int = 0, errors: int = 0, skipped: int = 0, dry_run: bool = False) -> SyncReport:
    extraction = ExtractionSummary(
        errors=[{"asset": f"S.A{i}", "code": "csn_error", "message": "bad"} for i in range(errors)],
        skipped_spaces={f"S{i}": "not a member (403)" for i in range(skipped)},
    )
    return SyncReport(dry_run=dry_run, status=status, started_at=NOW, counts={"failed": failed},
                      extraction=extraction)


# ------------------------------------------------------------------------ the mapping


@pytest.mark.parametrize(
    ("rep", "code"),
    [
        (report("succeeded"), 0),
        (report("partial", failed=3), 1),
        (report("failed", failed=5), 1),
        (report("aborted"), 1),
        (report("succeeded", skipped=1), 1),  # a space skipped after 403/429 is not "in sync"
        (report("succeeded", errors=2), 1),
        (report("succeeded", failed=1), 1),
        (report("planned", dry_run=True), 0),  # a plan that could be made
        (report("planned", dry_run=True, errors=1), 1),  # ... with extraction errors
        (report("planned", dry_run=True, skipped=1), 1),
    ],
)
def test_reports_map_to_codes(rep: SyncReport, code: int) -> None:
    assert exit_codes.for_report(rep) == code


def test_a_report_that_says_why_it_is_not_in_sync_exits_1() -> None:
    rep = SimpleNamespace(dry_run=False, status="succeeded", failed=0, extraction=ExtractionSummary(),
                          not_in_sync=["2 conflict(s) left unresolved"])
    assert exit_codes.for_report(rep) == 1


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConfigError("x"), 2),
        (RulesError("x"), 2),
        (AuthError("x"), 3),
        (SourceUnavailable("x"), 3),
        (AccessDenied("x"), 3),
        (TargetAccessDenied("x"), 3),
        (StoreError("x"), 3),
        (LeaseHeld("x"), 3),
        (DgsyncError("x"), 3),
        (RuntimeError("x"), 3),
        (SyncAborted("x"), 1),
        (KeyboardInterrupt(), 1),
    ],
)
def test_exceptions_map_to_codes(exc: BaseException, code: int) -> None:
    assert exit_codes.for_exception(exc) == code
    assert exit_codes.for_exception(type(exc)) == code


@pytest.mark.parametrize(
    ("status", "errors", "code"),
    [
        ("succeeded", [], 0),
        ("partial", [RunError(object="S.V", code="item_failed", message="m")], 1),
        ("failed", [RunError(object="S.V", code="item_failed", message="m")], 1),
        ("failed", [RunError(code="auth_error", message="token refused")], 3),
        ("failed", [RunError(code="rules_error", message="bad rules")], 2),
        ("failed", [RunError(code="runtime_error", message="bug")], 3),
        ("interrupted", [RunError(code="interrupted", message="died")], 1),
        ("aborted", [], 1),
        ("running", [], None),
    ],
)
def test_recorded_runs_map_to_codes(status: str, errors: list[RunError], code: int | None) -> None:
    assert exit_codes.for_run(status, errors) == code


def test_error_classes_are_found_by_code() -> None:
    assert exit_codes.error_class("auth_error") is AuthError
    assert exit_codes.error_class("lease_held") is LeaseHeld
    assert exit_codes.error_class("no_such_thing") is None
    from core.errors import IncompleteAsset  # takes (key, reason): found without instantiating

    assert exit_codes.error_class("incomplete_asset") is IncompleteAsset


@pytest.mark.parametrize(
    ("status", "code", "stopping", "expected"),
    [
        ("succeeded", None, False, 0),
        ("skipped", None, False, 0),  # another scheduler runs the slice
        ("aborted", None, True, 0),  # stopped by SIGTERM
        ("aborted", None, False, 1),
        ("partial", None, False, 1),
        ("error", "source_unavailable", False, 3),
        ("error", "config_error", False, 2),
        ("error", "internal_error", False, 3),
    ],
)
def test_run_once_outcomes_map_to_codes(status: str, code: str | None, stopping: bool, expected: int) -> None:
    assert _outcome_code(SimpleNamespace(status=status, code=code), stopping=stopping) == expected


# ------------------------------------------------------------------------ probes (issue 8)


def test_help_documents_the_exit_codes() -> None:
    for args in (["--help"], ["sync", "--help"], ["plan", "--help"]):
        out = CliRunner().invoke(cli, args).output
        assert "Exit codes" in out and "could not run" in out and "bad input" in out, args
    assert "--debug" in CliRunner().invoke(cli, ["--help"]).output
    assert "--no-wait" in CliRunner().invoke(cli, ["sync", "--help"]).output


def test_an_unknown_kind_exits_2_naming_the_valid_kinds_before_any_run(tmp_path: Path) -> None:
    result = dgsync(tmp_path, "sync", "--kind", "bogus")
    assert result.exit_code == 2
    assert "bogus" in result.output and "analytic_model" in result.output and "local_table" in result.output
    assert recorded_runs(tmp_path) == []


def test_an_invalid_region_exits_2_naming_the_setting(tmp_path: Path) -> None:
    result = dgsync(tmp_path, "sync", DGSYNC_GLUE__REGION="eu central 1")
    assert result.exit_code == 2
    assert "DGSYNC_GLUE__REGION" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.output
    assert recorded_runs(tmp_path) == []


def test_a_rules_file_with_invalid_utf8_exits_2_for_sync_and_validate(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_bytes(b"version: 1\ndatabases:\n  template: 'caf\xe9_{space}'\n")
    synced = dgsync(tmp_path, "sync", DGSYNC_SYNC__RULES_FILE=str(bad))
    assert synced.exit_code == 2, synced.output
    assert "not valid UTF-8" in synced.stderr and "line 3" in synced.stderr and "hint:" in synced.stderr
    assert recorded_runs(tmp_path) == []
    validated = dgsync(tmp_path, "rules", "validate", str(bad))
    assert validated.exit_code == 2
    assert "not valid UTF-8" in validated.stderr and "line 3" in validated.stderr
    assert "Traceback" not in validated.output
    planned = dgsync(tmp_path, "plan", DGSYNC_SYNC__RULES_FILE=str(bad))
    assert planned.exit_code == 2 and "not valid UTF-8" in planned.stderr


def test_a_space_in_the_wrong_case_exits_2_naming_the_known_spaces(tmp_path: Path) -> None:
    result = dgsync(tmp_path, "sync", "--space", "sales")
    assert result.exit_code == 2, result.output
    assert "'sales'" in result.stderr and "SALES" in result.stderr and "HR" in result.stderr
    assert "did you mean SALES" in result.stderr
    assert "nothing to change" not in result.output
    assert recorded_runs(tmp_path) == []
    planned = dgsync(tmp_path, "plan", "--space", "sales")
    assert planned.exit_code == 2 and "SALES" in planned.stderr


def test_an_unexpected_error_is_one_line_exit_3_and_a_traceback_only_with_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.sync.engine import SyncEngine

    def broken(self: Any, **kwargs: Any) -> Any:
        raise KeyError("Columns")

    monkeypatch.setattr(SyncEngine, "sync", broken)
    plain = dgsync(tmp_path, "sync")
    assert plain.exit_code == 3
    lines = [line for line in plain.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "KeyError" in lines[0] and "hint:" in lines[0]
    assert "Traceback" not in plain.stderr
    debug = dgsync(tmp_path, "--debug", "sync")
    assert debug.exit_code == 3
    assert "Traceback" in debug.stderr and "KeyError" in debug.stderr


def test_a_store_error_exits_3(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("x")
    result = dgsync(tmp_path, "runs", DGSYNC_DATABASE_URL=f"sqlite:///{tmp_path / 'not-a-dir' / 'state.db'}")
    assert result.exit_code == 3, result.output
    assert "hint:" in result.stderr


def test_sync_json_carries_the_exit_code_and_the_process_exits_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.sync.engine import SyncEngine

    monkeypatch.setattr(SyncEngine, "sync", lambda self, **kw: report("partial", failed=2).model_copy(
        update={"run_id": "R1"}))
    result = dgsync(tmp_path, "sync", "--format", "json")
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["status"] == "partial" and body["exit_code"] == 1


def test_sigterm_asks_a_cli_sync_to_stop_and_the_handler_is_restored_after() -> None:
    import os
    import signal

    from dgsync_cli.cmd_sync import _stop_on_sigterm

    stopped: list[bool] = []
    engine = SimpleNamespace(request_stop=lambda: stopped.append(True))
    before = signal.getsignal(signal.SIGTERM)
    with _stop_on_sigterm(engine):
        os.kill(os.getpid(), signal.SIGTERM)  # handled in this (main) thread before the next line
    assert stopped == [True]
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_auth_failure_exits_3_and_the_run_records_why(tmp_path: Path) -> None:
    secret = "wrong-secret-value"
    result = dgsync(tmp_path, "sync", DGSYNC_DATASPHERE__CLIENT_ID="dgsync-demo",
                    DGSYNC_DATASPHERE__CLIENT_SECRET=secret)
    assert result.exit_code == 3, result.output
    assert secret not in result.output
    [run] = recorded_runs(tmp_path)
    assert run.status.value == "failed" and run.errors[-1].code == "auth_error"
    listed = json.loads(dgsync(tmp_path, "runs", "--format", "json").stdout)
    assert listed[0]["exit_code"] == 3
