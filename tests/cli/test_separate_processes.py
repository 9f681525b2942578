"""The documented set-up with every part its own process: `dgsync emulator`, `moto_server`,
and `dgsync plan` / `dgsync sync` pointed at them through DGSYNC_* variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from processes import separate_systems

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def systems() -> Iterator[dict[str, Any]]:
    with separate_systems() as found:
        yield found


def _env(systems: dict[str, str], tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGSYNC_")}
    env.update(
        {
            "DGSYNC_ENV": "wolf",
            "DGSYNC_DATASPHERE__BASE_URL": systems["emulator"],
            "DGSYNC_DATASPHERE__TOKEN_URL": systems["emulator"] + "/oauth/token",
            "DGSYNC_DATASPHERE__CLIENT_ID": "dgsync-demo",
            "DGSYNC_DATASPHERE__CLIENT_SECRET": "dgsync-demo-secret",
            "DGSYNC_GLUE__ENDPOINT_URL": systems["glue"],
            "DGSYNC_GLUE__CALLS_PER_SECOND": "500",
            "DGSYNC_GLUE__BURST": "500",
            "DGSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
            "DGSYNC_STATE_DIR": str(tmp_path / "state"),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
    )
    return env


def _dgsync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "dgsync"), *args], env=env, capture_output=True, text=True, timeout=200
    )


def _glue(systems: dict[str, str]) -> Any:
    return boto3.client(
        "glue", endpoint_url=systems["glue"], region_name="eu-central-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


def test_plan_then_sync_then_resync_across_processes(systems, tmp_path) -> None:
    env = _env(systems, tmp_path)
    assert _dgsync(env, "db", "upgrade").returncode == 0

    plan = _dgsync(env, "plan", "--format", "json")
    assert plan.returncode == 0, plan.stderr[-2000:]
    planned = json.loads(plan.stdout)
    assert planned["glue_writes"] == 0 and planned["counts"]["created"] > 50
    assert _glue(systems).get_databases()["DatabaseList"] == []

    first = _dgsync(env, "sync", "--format", "json")
    assert first.returncode == 0, first.stderr[-2000:]
    report = json.loads(first.stdout)
    assert report["counts"]["failed"] == 0
    assert report["glue_writes"] == report["counts"]["created"]
    glue = _glue(systems)
    table = glue.get_table(DatabaseName="mct_demo", Name="mct_opportunityitems")["Table"]
    types = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert types["quantity"] == "decimal(20,3)"
    assert table["Parameters"]["dgsync.managed_by"] == "dgsync"

    second = _dgsync(env, "sync", "--format", "json")
    assert second.returncode == 0
    again = json.loads(second.stdout)
    assert again["glue_writes"] == 0
    assert again["counts"]["unchanged"] >= report["counts"]["created"]
    assert glue.get_table_versions(DatabaseName="mct_demo", TableName="mct_opportunityitems")[
        "TableVersions"
    ].__len__() == 1

    status = _dgsync(env, "runs", "--format", "json")
    assert status.returncode == 0
    runs = json.loads(status.stdout)
    assert [r["status"] for r in runs[:2]] == ["succeeded", "succeeded"]


def test_bad_credentials_are_a_clear_error_and_exit_2(systems, tmp_path) -> None:
    env = _env(systems, tmp_path)
    env["DGSYNC_DATASPHERE__CLIENT_SECRET"] = "wrong-secret-value"
    result = _dgsync(env, "check")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "wrong-secret-value" not in out
    assert "credential" in out.lower() or "client" in out.lower()
