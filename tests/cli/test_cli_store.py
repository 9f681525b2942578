"""`dgsync db upgrade|current` and `dgsync audit` through the CLI entry point."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from core.store import repo
from core.store.db import Store
from core.store.schemas import AuditIn, AuditSystem
from dgsync_cli.cmd_store import parse_time
from dgsync_cli.main import cli

WOLF_ENV = {
    "DGSYNC_ENV": "wolf",
    "DGSYNC_DATASPHERE__BASE_URL": "https://tenant.eu10.hcs.cloud.sap",
    "DGSYNC_DATASPHERE__CLIENT_ID": "sb-client",
    "DGSYNC_DATASPHERE__CLIENT_SECRET": "a-real-looking-secret",
}


def _dgsync(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    environment = {"DGSYNC_DATABASE_URL": url, "DGSYNC_ENV": "dog", **(env or {})}
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


def _fill_audit(url: str) -> None:
    store = Store.from_url(url, auto_upgrade=True)
    now = datetime.now(UTC)
    with store.session() as s:
        for i, (actor, obj, action, run) in enumerate([
            ("dgsync", "sales.v_orders", "create_table", "run-1"),
            ("dgsync", "sales.v_customers", "update_table", "run-1"),
            ("alice", "rules.yaml", "change_rules", None),
        ]):
            repo.record_audit(session=s, entry=AuditIn(
                ts=now - timedelta(hours=3 - i), actor=actor, run_id=run,
                system=AuditSystem.CONFIG if actor == "alice" else AuditSystem.GLUE,
                object=obj, action=action, before_hash=None, after_hash=f"hash{i}"))
    store.dispose()


def test_db_upgrade_creates_the_schema_and_current_reports_it(sqlite_url: str) -> None:
    before = _dgsync(sqlite_url, "db", "current", "--check")
    assert before.exit_code == 1
    assert "no schema yet" in before.stdout
    up = _dgsync(sqlite_url, "db", "upgrade")
    assert up.exit_code == 0, up.output
    assert "upgraded from empty to 0011" in up.stdout
    again = _dgsync(sqlite_url, "db", "upgrade")
    assert "already at revision 0011" in again.stdout
    now = _dgsync(sqlite_url, "db", "current", "--check")
    assert now.exit_code == 0
    assert "revision 0011 (head)" in now.stdout


def test_db_upgrade_sql_prints_the_ddl_without_touching_the_database(sqlite_url: str) -> None:
    result = _dgsync(sqlite_url, "db", "upgrade", "--sql")
    assert result.exit_code == 0
    assert "CREATE TABLE runs" in result.stdout and "CREATE TABLE audit" in result.stdout
    assert _dgsync(sqlite_url, "db", "current").stdout.count("no schema yet") == 1


def test_relative_sqlite_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _dgsync("sqlite:///rel/state.db", "db", "upgrade").exit_code == 0
    assert (tmp_path / "rel" / "state.db").exists()


def test_audit_table_lists_newest_first(sqlite_url: str) -> None:
    _fill_audit(sqlite_url)
    result = _dgsync(sqlite_url, "audit")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["time", "(UTC)", "actor"]
    assert [line.split()[2] for line in lines[1:]] == ["alice", "dgsync", "dgsync"]
    assert "hash2" in lines[1]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--actor", "alice"], ["rules.yaml"]),
        (["--object", "V_CUST"], ["sales.v_customers"]),
        (["--action", "create_table"], ["sales.v_orders"]),
        (["--run", "run-1"], ["sales.v_orders", "sales.v_customers"]),
        (["--system", "config"], ["rules.yaml"]),
        (["--since", "150m"], ["sales.v_customers", "rules.yaml"]),
        (["--until", "150m"], ["sales.v_orders"]),
        (["--since", "2000-01-01", "--actor", "dgsync", "--object", "orders"],
         ["sales.v_orders"]),
    ],
)
def test_audit_json_export_applies_the_filters(
    sqlite_url: str, args: list[str], expected: list[str]
) -> None:
    _fill_audit(sqlite_url)
    result = _dgsync(sqlite_url, "audit", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    assert [r["object"] for r in json.loads(result.stdout)] == expected


def test_audit_csv_export(sqlite_url: str) -> None:
    _fill_audit(sqlite_url)
    result = _dgsync(sqlite_url, "audit", "--format", "csv", "--run", "run-1")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["object"], r["after_hash"]) for r in rows] == [
        ("sales.v_orders", "hash0"), ("sales.v_customers", "hash1")]


def test_audit_in_dog_migrates_a_new_store_on_its_own(sqlite_url: str) -> None:
    result = _dgsync(sqlite_url, "audit", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_bad_since_is_a_clear_error(sqlite_url: str) -> None:
    result = _dgsync(sqlite_url, "audit", "--since", "yesterday")
    assert result.exit_code == 2
    assert "error: --since 'yesterday'" in result.stderr
    assert "hint:" in result.stderr


def test_parse_time_forms() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_time("24h", option="--since", now=now) == now - timedelta(hours=24)
    assert parse_time("7d", option="--since", now=now) == now - timedelta(days=7)
    assert parse_time("2026-02-01", option="--since") == datetime(2026, 2, 1, tzinfo=UTC)
    assert parse_time("2026-02-01T10:00:00+02:00", option="--since") == datetime(
        2026, 2, 1, 8, 0, tzinfo=UTC)


@pytest.mark.postgres
def test_wolf_on_postgres_needs_an_explicit_upgrade(
    make_postgres_database: Callable[[], str],
) -> None:
    url = make_postgres_database().replace("postgresql+psycopg://", "postgresql://")
    refused = _dgsync(url, "audit", env=WOLF_ENV)
    assert refused.exit_code == 3, "a store that cannot be used: could not run"
    assert "no schema yet" in refused.stderr
    assert "dgsync db upgrade" in refused.stderr
    assert _dgsync(url, "db", "current", "--check", env=WOLF_ENV).exit_code == 1
    up = _dgsync(url, "db", "upgrade", env=WOLF_ENV)
    assert up.exit_code == 0, up.output
    assert "a-real-looking-secret" not in up.output
    assert _dgsync(url, "db", "current", "--check", env=WOLF_ENV).exit_code == 0
    _fill_audit(url)
    listed = _dgsync(url, "audit", "--format", "json", "--actor", "alice", env=WOLF_ENV)
    assert [r["object"] for r in json.loads(listed.stdout)] == ["rules.yaml"]
