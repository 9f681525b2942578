"""Validation end to end: the emulator (real HTTP) → sync → moto server (real HTTP) → validate.

Glue is edited behind dgsync's back through a plain boto3 client; the validation must name
exactly the field that differs. The scope holds a realistic space (SALES) and the spaces the
emulator builds from the two real SAP CSN exports (MCT_DEMO from ER_MCT_MEDIUM.json, DP_SALARY
from DP_Salary_Analysis.json, whose shared objects belong to other spaces).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from e2e_support import run_sync, tables_of
from pydantic import SecretStr

from core.errors import ConfigError
from core.services import build_services
from core.settings import Settings
from core.specs import MANAGED_BY, SOURCE, SOURCE_KIND
from core.validation import (
    checks_from_csv,
    from_json,
    get_validation,
    iter_csv,
    latest_validation,
    validate,
    validate_after_sync,
)
from dgsync_cli.main import cli

pytestmark = pytest.mark.timeout(240)

SCOPE = ["SALES", "MCT_DEMO", "DP_SALARY"]
TABLE_KEYS = ("Name", "Description", "TableType", "StorageDescriptor", "PartitionKeys", "Parameters",
              "ViewOriginalText", "ViewExpandedText")


def table_input(table: dict[str, Any]) -> dict[str, Any]:
    """A live table as an ``UpdateTable`` input (what an out-of-band editor sends)."""
    return {k: copy.deepcopy(table[k]) for k in TABLE_KEYS if k in table}


def update(raw_glue: Any, key: str, table: dict[str, Any]) -> None:
    db, _ = key.split(".", 1)
    raw_glue.update_table(DatabaseName=db, TableInput=table)


def run_validation(settings: Settings, **kwargs: Any) -> Any:
    with build_services(settings) as services:
        return validate(services, **kwargs)


@pytest.fixture
def synced(make_settings: Any, raw_glue: Any) -> tuple[Settings, str, dict[str, dict[str, Any]]]:
    """SCOPE synced; (settings, database prefix, live tables ``db.table`` → Table)."""
    settings = make_settings()
    report = run_sync(settings, spaces=SCOPE)
    assert report.status == "succeeded", report.not_in_sync
    return settings, make_settings.prefix, tables_of(raw_glue, make_settings.prefix)


def failed_fields(report: Any, key: str) -> set[str]:
    db, name = key.split(".", 1)
    check = report.table(db, name)
    assert check is not None, f"{key} not in the report"
    return {c.field for c in check.failed}


def test_a_synced_scope_is_in_sync_with_every_column_and_parameter_checked(synced: Any) -> None:
    settings, _, live = synced
    report = run_validation(settings, spaces=SCOPE)

    assert report.in_sync, report.reasons
    assert report.reasons == [] and report.summary.failed_checks == 0
    assert {t.status for t in report.tables} == {"ok"}
    # One table check per synced table, and each of its columns and parameters compared.
    assert {t.object for t in report.tables} == set(live)
    for key, table in live.items():
        check = report.table(*key.split(".", 1))
        fields = {c.field: c for c in check.checks}
        for col in table["StorageDescriptor"]["Columns"]:
            assert fields[f"columns.{col['Name']}.type"].actual == col["Type"]
            assert fields[f"columns.{col['Name']}.type"].expected == col["Type"]
            for param, value in (col.get("Parameters") or {}).items():
                assert fields[f"columns.{col['Name']}.parameters.{param}"].actual == value
        for param, value in table["Parameters"].items():
            if param not in ("dgsync.run_id", "dgsync.target_hash", "dgsync.synced_at"):
                assert fields[f"parameters.{param}"].expected == value
    assert report.summary.columns == sum(
        len(t["StorageDescriptor"]["Columns"]) + len(t.get("PartitionKeys") or []) for t in live.values())
    # Both SAP exports are in scope, with their business context compared.
    assert {t.space for t in report.tables} == set(SCOPE)
    assert any(c.field == "parameters.dgsync.hierarchies" for t in report.tables if t.space == "MCT_DEMO"
               for c in t.checks)
    # The data product's shared objects belong to other spaces: reported, never expected here.
    assert report.shared and all(key.split(".", 1)[0] != "DP_SALARY" for key in report.shared)
    assert not any(t.asset in report.shared for t in report.tables)


def test_out_of_band_edits_are_drift_on_exactly_the_edited_field(synced: Any, raw_glue: Any) -> None:
    settings, prefix, live = synced
    keys = sorted(k for k, t in live.items() if len(t["StorageDescriptor"]["Columns"]) >= 2
                  and k.startswith(f"{prefix}mct_demo."))
    retyped, commented, parameter, dropped = keys[:4]
    edits: dict[str, set[str]] = {}

    t = table_input(live[retyped])
    col = t["StorageDescriptor"]["Columns"][0]
    col["Type"] = "string" if col["Type"] != "string" else "int"
    update(raw_glue, retyped, t)
    edits[retyped] = {f"columns.{col['Name']}.type"}

    t = table_input(live[commented])
    col = t["StorageDescriptor"]["Columns"][1]
    col["Comment"] = "edited by hand in the Glue console"
    update(raw_glue, commented, t)
    edits[commented] = {f"columns.{col['Name']}.comment"}

    t = table_input(live[parameter])
    t["Parameters"]["dgsync.label"] = "a label nobody synced"
    t["Parameters"]["owner_team"] = "analytics"  # Glue-side business metadata: kept by sync
    update(raw_glue, parameter, t)
    edits[parameter] = {"parameters.dgsync.label"}

    t = table_input(live[dropped])
    gone = t["StorageDescriptor"]["Columns"].pop()
    update(raw_glue, dropped, t)
    edits[dropped] = {f"columns.{gone['Name']}"}

    report = run_validation(settings, spaces=["MCT_DEMO"])

    assert not report.in_sync
    assert report.reasons == ["4 table(s) differ from the source (drift)"]
    for key, fields in edits.items():
        assert failed_fields(report, key) == fields, key
        assert report.table(*key.split(".", 1)).status == "drift"
    assert {t.object for t in report.tables if t.status == "drift"} == set(edits)
    kept = next(c for c in report.table(*parameter.split(".", 1)).checks if c.field == "parameters.owner_team")
    assert kept.ok and kept.expected is None and kept.actual == "analytics" and "keeps" in (kept.note or "")
    retype = next(c for c in report.table(*retyped.split(".", 1)).failed)
    assert retype.expected == live[retyped]["StorageDescriptor"]["Columns"][0]["Type"]
    dropped_check = report.table(*dropped.split(".", 1)).failed[0]
    assert dropped_check.expected == gone["Type"] and dropped_check.actual is None


def test_missing_extra_and_unmanaged_tables(synced: Any, raw_glue: Any) -> None:
    settings, prefix, live = synced
    database = f"{prefix}sales"
    deleted = sorted(k for k in live if k.startswith(f"{database}."))[0]
    raw_glue.delete_table(DatabaseName=database, Name=deleted.split(".", 1)[1])
    managed = {MANAGED_BY: "dgsync", SOURCE: "SALES.GONE_LONG_AGO", SOURCE_KIND: "local_table"}
    raw_glue.create_table(DatabaseName=database, TableInput={
        "Name": "gone_long_ago", "Parameters": managed,
        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "int"}]}})
    raw_glue.create_table(DatabaseName=database, TableInput={
        "Name": "hand_made", "StorageDescriptor": {"Columns": [{"Name": "x", "Type": "string"}]}})

    report = run_validation(settings, spaces=["SALES"])

    by_status = {t.status: [] for t in report.tables}
    for t in report.tables:
        by_status[t.status].append(t)
    assert [t.object for t in by_status["missing"]] == [deleted]
    assert by_status["missing"][0].failed[0].field == "table"
    assert [(t.object, t.asset) for t in by_status["extra"]] == [(f"{database}.gone_long_ago", "SALES.GONE_LONG_AGO")]
    assert [t.object for t in by_status["unmanaged"]] == [f"{database}.hand_made"]
    assert by_status["unmanaged"][0].checks == []  # listed, never judged
    assert report.reasons == ["1 table(s) missing in Glue",
                              "1 managed table(s) in Glue without a source asset (extra)"]

    # An unmanaged table alone does not make a scope out of sync.
    raw_glue.delete_table(DatabaseName=database, Name="gone_long_ago")
    run_sync(settings, spaces=["SALES"])
    again = run_validation(settings, spaces=["SALES"])
    assert again.in_sync and again.summary.unmanaged == 1


def test_a_space_without_access_is_not_judged(synced: Any, make_settings: Any, raw_glue: Any, emulator: Any) -> None:
    settings, prefix, _ = synced
    run_sync(settings, spaces=["HR"])
    hr = tables_of(raw_glue, f"{prefix}hr")
    assert hr
    gone = sorted(hr)[0]
    raw_glue.delete_table(DatabaseName=gone.split(".")[0], Name=gone.split(".", 1)[1])
    restricted = settings.model_copy(update={"datasphere": settings.datasphere.model_copy(update={
        "client_id": "dgsync-restricted", "client_secret": SecretStr("dgsync-restricted-secret")})})

    report = run_validation(restricted, spaces=["HR", "SALES"])

    hr_checks = [t for t in report.tables if t.space == "HR"]
    assert [(t.status, t.table) for t in hr_checks] == [("skipped", None)]
    assert "HR" in report.skipped_spaces
    assert all(t.status == "ok" for t in report.tables if t.space == "SALES")
    assert report.summary.missing == 0  # the deleted HR table is not judged
    assert not report.in_sync and report.reasons == ["1 space(s) not checked (no access)"]


def test_kinds_limit_what_is_expected_and_what_is_extra(synced: Any) -> None:
    settings, prefix, live = synced
    report = run_validation(settings, spaces=["MCT_DEMO"], kinds=["view"])
    assert report.in_sync, report.reasons
    views = {k for k, t in live.items() if t["Parameters"][SOURCE_KIND] == "view" and ".mct_demo" not in k
             and k.startswith(f"{prefix}mct_demo.")}
    assert {t.object for t in report.tables} == views and views


def test_assets_limit_the_report_to_their_tables(synced: Any, raw_glue: Any) -> None:
    settings, prefix, live = synced
    key, table = next((k, t) for k, t in sorted(live.items()) if k.startswith(f"{prefix}sales."))
    asset = table["Parameters"][SOURCE]
    report = run_validation(settings, assets=[asset, "SALES.NO_SUCH_ASSET"])
    assert report.scope.spaces == ["SALES"] and report.scope.assets == sorted([asset, "SALES.NO_SUCH_ASSET"])
    assert [(t.asset, t.status) for t in report.tables] == [(asset, "ok"), ("SALES.NO_SUCH_ASSET", "skipped")]
    assert report.tables[0].object == key and not report.in_sync
    with pytest.raises(ConfigError):
        run_validation(settings, assets=["NODOT"])


def test_unknown_space_is_an_input_error_naming_the_known_spaces(make_settings: Any) -> None:
    with pytest.raises(ConfigError) as info:
        run_validation(make_settings(), spaces=["NOPE"])
    assert "NOPE" in info.value.message and "SALES" in info.value.message


def test_validate_after_sync_is_stored_with_the_run(make_settings: Any, raw_glue: Any) -> None:
    settings = make_settings()
    with build_services(settings) as services:
        report = services.engine().sync(spaces=["SALES"])
        checked = validate_after_sync(services, report)
        assert checked.run_id == report.run_id and checked.in_sync
        assert checked.scope.spaces == ["SALES"]
        stored = get_validation(services.store(), report.run_id)
        assert stored == checked
        assert latest_validation(services.store(), checked.scope) == checked


def test_exports_read_back_exactly(synced: Any, raw_glue: Any) -> None:
    settings, prefix, live = synced
    key = sorted(k for k in live if k.startswith(f"{prefix}sales."))[0]
    t = table_input(live[key])
    t["Description"] = "=HYPERLINK(\"http://example.invalid\")"  # a formula: escaped in the CSV
    update(raw_glue, key, t)
    report = run_validation(settings, spaces=["SALES"])
    assert from_json(report.model_dump_json()) == report
    lines = list(iter_csv(report))
    assert len(lines) == 1 + sum(max(1, len(t.checks)) for t in report.tables)
    assert checks_from_csv(lines) == report.tables
    assert any(',"\'=HYPERLINK(' in line for line in lines)


# -- CLI -------------------------------------------------------------------------------------------


def cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    ds = settings.datasphere
    return {
        "DGSYNC_ENV": "dog",
        "DGSYNC_DATASPHERE__BASE_URL": ds.base_url or "",
        "DGSYNC_DATASPHERE__TOKEN_URL": ds.token_url or "",
        "DGSYNC_DATASPHERE__CLIENT_ID": ds.client_id or "",
        "DGSYNC_DATASPHERE__CLIENT_SECRET": ds.client_secret.get_secret_value() if ds.client_secret else "",
        "DGSYNC_GLUE__ENDPOINT_URL": settings.glue.endpoint_url or "",
        "DGSYNC_SYNC__RULES_FILE": str(settings.sync.rules_file),
        "DGSYNC_DATABASE_URL": settings.database_url,
        "DGSYNC_STATE_DIR": str(tmp_path / "cli-state"),
    }


def test_cli_exit_codes_and_formats(synced: Any, raw_glue: Any, tmp_path: Path) -> None:
    settings, prefix, live = synced
    env = cli_env(settings, tmp_path)
    runner = CliRunner()

    ok = runner.invoke(cli, ["validate", "--space", "SALES"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "in sync" in ok.output

    key = sorted(k for k in live if k.startswith(f"{prefix}sales."))[0]
    t = table_input(live[key])
    col = t["StorageDescriptor"]["Columns"][0]
    col_type = col["Type"]
    col["Type"] = "string" if col["Type"] != "string" else "int"
    update(raw_glue, key, t)
    out_csv = tmp_path / "report.csv"
    drift = runner.invoke(cli, ["validate", "--space", "SALES", "--format", "csv", "--output", str(out_csv)], env=env)
    assert drift.exit_code == 1, drift.output
    rows = checks_from_csv(out_csv.read_text(encoding="utf-8").splitlines(keepends=True))
    assert [c.field for r in rows for c in r.failed] == [f"columns.{col['Name']}.type"]

    as_json = runner.invoke(cli, ["validate", "--space", "SALES", "--format", "json", "--no-save"], env=env)
    assert as_json.exit_code == 1
    body = json.loads(as_json.stdout)
    assert body["in_sync"] is False and body["summary"]["drift"] == 1

    table = runner.invoke(cli, ["validate", "--space", "SALES"], env=env)
    assert table.exit_code == 1, table.output
    assert f"!! columns.{col['Name']}.type: expected {col_type!r}, found {col['Type']!r}" in table.output

    unknown = runner.invoke(cli, ["validate", "--space", "NOPE"], env=env)
    assert unknown.exit_code == 2
    assert "NOPE" in unknown.output and "SALES" in unknown.output

    usage = runner.invoke(cli, ["validate", "--output", str(tmp_path / "x.txt")], env=env)
    assert usage.exit_code == 2

    synced_again = runner.invoke(cli, ["sync", "--space", "SALES", "--validate", "--format", "json"], env=env)
    assert synced_again.exit_code == 0, synced_again.output
    assert json.loads(synced_again.stdout)["validation"]["in_sync"] is True
