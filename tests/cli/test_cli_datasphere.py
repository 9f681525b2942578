"""`dgsync extract`, `dgsync check`, `dgsync login` through the click entry point (dog: emulator)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.models import AssetKind
from dgsync_cli.main import cli


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("DGSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DGSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    for name in (
        "DGSYNC_ENV",
        "DGSYNC_DATASPHERE__BASE_URL",
        "DGSYNC_DATASPHERE__CLIENT_ID",
        "DGSYNC_DATASPHERE__CLIENT_SECRET",
        "DGSYNC_DATASPHERE__TOKEN_URL",
        "DGSYNC_CONFIG_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_extract_json_shows_every_kind_with_exact_types(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["extract", "--format", "json"])
    assert result.exit_code == 0, result.output
    assets = json.loads(result.stdout)
    assert {a["kind"] for a in assets} == {k.value for k in AssetKind}
    for asset in assets:
        assert {"space", "name", "kind", "label", "columns", "upstream"} <= asset.keys()
        for col in asset["columns"]:
            assert {
                "name",
                "type",
                "length",
                "precision",
                "scale",
                "key",
                "label",
                "role",
            } <= col.keys()
            assert col["type"] != "unresolved", (asset["name"], col["name"])
    by_key = {(a["space"], a["name"]): a for a in assets}
    items = by_key[("MCT_DEMO", "MCT_OpportunityItems")]
    qty = next(c for c in items["columns"] if c["name"] == "Quantity")
    assert (qty["type"], qty["precision"], qty["scale"], qty["role"]) == (
        "cds.Decimal",
        20,
        3,
        "measure",
    )
    csrd = by_key[("DP_SALARY", "3VF_SALARY_CSRD")]
    assert sorted(csrd["upstream"]) == [
        "ABC21B84BF4D4A7BA549.3VF_SALARY",
        "D8D90336A0E24D678F9D.3VD_EMPLOYEE_CSRD_ATTR_VIEW",
    ]


def test_extract_reports_shared_objects_and_never_lists_them_as_the_consumers(
    runner: CliRunner,
) -> None:
    result = runner.invoke(cli, ["extract", "--space", "DP_SALARY", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [(a["space"], a["name"]) for a in json.loads(result.stdout)] == [
        ("DP_SALARY", "3VF_SALARY_CSRD")
    ]
    assert (
        "shared D8D90336A0E24D678F9D.3VD_EMPLOYEE_CSRD_ATTR_VIEW: listed by space DP_SALARY"
        in result.stderr
    )
    assert "shared ABC21B84BF4D4A7BA549.3VF_SALARY:" in result.stderr
    assert "lineage node only, no Glue table" in result.stderr


def test_extract_filters_by_space_and_kind_as_a_table(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["extract", "--space", "SALES", "--kind", "analytic_model"])
    assert result.exit_code == 0, result.output
    assert "AM_SALES" in result.stdout
    assert "V_SALES_ORDER" not in result.stdout
    assert "assets in 1 spaces" in result.stderr


def test_check_passes_on_the_embedded_tenant(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["token"]["ok"] and report["catalog"]["ok"]


def test_check_explains_bad_credentials_and_exits_1(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_SECRET", "not-the-secret")
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 1
    assert "FAIL" in result.stdout
    assert "bad credentials" in result.stdout
    assert "not-the-secret" not in result.output


def test_commands_are_registered(runner: CliRunner) -> None:
    for command in ("extract", "check", "login"):
        result = runner.invoke(cli, [command, "--help"])
        assert result.exit_code == 0, result.output
