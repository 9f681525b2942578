"""`dgsync extract`, `dgsync check`, `dgsync login` through the click entry point (dog: emulator)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.datasphere.csn import UNRESOLVED_TYPE
from core.models import Asset, AssetKind, CdsType, Column
from dgsync_cli.cmd_datasphere import type_origins
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


# -- dgsync extract shows where each type came from --------------------------------------------------


def test_extract_shows_type_origins_in_json_and_table(runner: CliRunner) -> None:
    args = ["extract", "--space", "SALES", "--kind", "analytic_model", "--kind", "view"]
    result = runner.invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assets = json.loads(result.stdout)
    model = next(a for a in assets if a["kind"] == "analytic_model")
    origins = {c["name"]: c["type_origin"] for c in model["columns"]}
    assert all(o is not None for o in origins.values()), origins
    assert any(o.startswith("source:") for o in origins.values())
    for view in (a for a in assets if a["kind"] == "view"):
        assert {c["type_origin"] for c in view["columns"]} == {"csn"}

    table = runner.invoke(cli, [*args, "--format", "table"], env={"COLUMNS": "220"})
    assert table.exit_code == 0, table.output
    assert "types from" in table.stdout
    row = next(line for line in table.stdout.splitlines() if model["name"] in line)
    assert "source" in row
    counts = type_origins(
        Asset(space="S", name="A", kind=AssetKind.VIEW, columns=[
            Column(name="a", type=CdsType(name="cds.Integer"), type_origin="csn"),
            Column(name="b", type=CdsType(name="cds.Double"), type_origin="source:OWNER.SALARY.x"),
            Column(name="c", type=CdsType(name="cds.Double"), type_origin="source:S.T.y"),
            Column(name="d", type=CdsType(name=UNRESOLVED_TYPE)),
        ])
    )
    assert counts == "csn 1, source 2, unresolved 1"
