"""`dgsync rules validate|test|defaults` through the click entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from core.mapping.rules import parse_rules
from dgsync_cli.main import cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "rules.yaml"
_CSN_DIRS = [REPO / "tests" / "datasphere" / "fixtures" / "csn", REPO.parent / "shared" / "fixtures" / "csn"]
ER_EXPORT = next((p for p in _CSN_DIRS if p.is_dir()), _CSN_DIRS[0]) / "ER_MCT_MEDIUM.json"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("DGSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DGSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.delenv("DGSYNC_ENV", raising=False)
    return CliRunner()


@pytest.fixture
def bad_rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\ndatabases:\n  template: '{prefix}{foo}{space}'\n", encoding="utf-8")
    return path


def test_validate_accepts_the_example(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["rules", "validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout


def test_validate_reports_the_line_and_exits_2(runner: CliRunner, bad_rules: Path) -> None:
    result = runner.invoke(cli, ["rules", "validate", str(bad_rules)])
    assert result.exit_code == 2
    assert f"{bad_rules} line 3: databases.template: unknown placeholder {{foo}}" in result.stderr
    assert "hint:" in result.stderr


def test_validate_json_lists_problems(runner: CliRunner, bad_rules: Path) -> None:
    result = runner.invoke(cli, ["rules", "validate", str(bad_rules), "--format", "json"])
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert body["valid"] is False
    assert body["problems"][0]["line"] == 3
    assert body["problems"][0]["path"] == "databases.template"


def test_validate_missing_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["rules", "validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot read rules file" in result.stderr


def test_test_refuses_invalid_rules_before_reading_any_asset(
    runner: CliRunner, bad_rules: Path
) -> None:
    result = runner.invoke(
        cli, ["rules", "test", str(bad_rules), "--asset", "SALES.X", "--csn", str(ER_EXPORT)]
    )
    assert result.exit_code == 2
    assert "line 3" in result.stderr


def test_test_shows_how_an_asset_maps_as_a_table(runner: CliRunner) -> None:
    result = runner.invoke(
        cli,
        ["--env", "wolf", "rules", "test", str(EXAMPLE), "--asset",
         "MCT_DEMO.MCT_OpportunityItems", "--csn", str(ER_EXPORT)],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "qa_mct_demo.mct_opportunityitems" in out
    assert "decimal(20,3)" in out
    assert "dgsync.managed_by" in out
    assert "issues: none" in out


def test_test_json_has_the_table_input(runner: CliRunner) -> None:
    result = runner.invoke(
        cli,
        ["rules", "test", str(EXAMPLE), "--asset", "MCT_DEMO.SAP.TIME.VIEW_DIMENSION_DAY",
         "--csn", str(ER_EXPORT), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["asset"] == "MCT_DEMO.SAP.TIME.VIEW_DIMENSION_DAY"
    assert body["table"]["database"] == "dev_mct_demo"
    assert body["table"]["priority"] == "high"
    ti = body["table_input"]
    assert ti["Name"] == "sap_time_view_dimension_day"
    assert ti["StorageDescriptor"]["Location"] == (
        "s3://acme-datalake-dog/MCT_DEMO/sap_time_view_dimension_day/"
    )
    assert ti["Parameters"]["dgsync.source"] == "MCT_DEMO.SAP.TIME.VIEW_DIMENSION_DAY"


def test_test_shows_the_skip_reason(runner: CliRunner, tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("exclude:\n  assets: ['MCT_*']\n", encoding="utf-8")
    result = runner.invoke(
        cli, ["rules", "test", str(rules), "--asset", "MCT_DEMO.MCT_Products", "--csn",
              str(ER_EXPORT), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["table"] is None
    assert body["skipped"] == "excluded by exclude.assets 'MCT_*'"


def test_test_unknown_asset_exits_2_and_lists_names(runner: CliRunner) -> None:
    result = runner.invoke(
        cli, ["rules", "test", str(EXAMPLE), "--asset", "MCT_DEMO.NOPE", "--csn", str(ER_EXPORT)]
    )
    assert result.exit_code == 2
    assert "MCT_DEMO.NOPE not found" in result.stderr
    assert "MCT_Products" in result.stderr


def test_test_asset_must_be_space_qualified(runner: CliRunner) -> None:
    result = runner.invoke(
        cli, ["rules", "test", str(EXAMPLE), "--asset", "NODOT", "--csn", str(ER_EXPORT)]
    )
    assert result.exit_code == 2
    assert "SPACE.NAME" in result.stderr


def test_defaults_print_valid_rules(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["rules", "defaults"])
    assert result.exit_code == 0
    assert parse_rules(result.stdout) == parse_rules("")
    assert yaml.safe_load(result.stdout)["decimal_float"] == {
        "policy": "decimal", "precision": 34, "scale": 4
    }


def test_test_reads_the_asset_from_the_embedded_tenant(runner: CliRunner) -> None:
    result = runner.invoke(
        cli,
        ["rules", "test", str(EXAMPLE), "--asset", "MCT_DEMO.MCT_Products", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["table"]["name"] == "mct_products"
