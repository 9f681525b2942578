"""Issue 7's acceptance, every part its own process: `dgsync emulator` (the default tenant,
with objects shared into DP_SALARY from a visible and from an invisible owner space),
`moto_server` behind a counting proxy (calls counted OUTSIDE dgsync, as the benchmark does),
and `dgsync sync` / `dgsync plan`."""

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

from core.glue.stats import is_write
from doubles.glue_faults import CountingProxy

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.timeout(300)

HIDDEN_OWNER = "ABC21B84BF4D4A7BA549"
VISIBLE_OWNER = "D8D90336A0E24D678F9D"


@pytest.fixture(scope="module")
def systems() -> Iterator[dict[str, Any]]:
    with separate_systems(counting=True) as found:
        yield found


def _env(systems: dict[str, Any], tmp_path: Path, prefix: str) -> dict[str, str]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"version: 1\ndatabases:\n  env_prefix: {{wolf: {prefix}}}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGSYNC_")}
    env.update({
        "DGSYNC_ENV": "wolf",
        "DGSYNC_DATASPHERE__BASE_URL": systems["emulator"],
        "DGSYNC_DATASPHERE__TOKEN_URL": systems["emulator"] + "/oauth/token",
        "DGSYNC_DATASPHERE__CLIENT_ID": "dgsync-demo",
        "DGSYNC_DATASPHERE__CLIENT_SECRET": "dgsync-demo-secret",
        "DGSYNC_GLUE__ENDPOINT_URL": systems["glue"],
        "DGSYNC_GLUE__CALLS_PER_SECOND": "500",
        "DGSYNC_GLUE__BURST": "500",
        "DGSYNC_SYNC__RULES_FILE": str(rules),
        "DGSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "DGSYNC_STATE_DIR": str(tmp_path / "state"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    })
    return env


def _dgsync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "dgsync"), *args], env=env, capture_output=True, text=True, timeout=240)


def _databases(systems: dict[str, Any], prefix: str) -> set[str]:
    glue = boto3.client("glue", endpoint_url=systems["moto"], region_name="eu-central-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    return {d["Name"] for d in glue.get_databases()["DatabaseList"] if d["Name"].startswith(prefix)}


def test_two_syncs_with_shared_objects_the_second_writes_nothing_and_nothing_is_rejected(
    systems: dict[str, Any], tmp_path: Path
) -> None:
    prefix = "acc7_"
    env = _env(systems, tmp_path, prefix)
    assert _dgsync(env, "db", "upgrade").returncode == 0
    proxy: CountingProxy = systems["proxy"]

    first = _dgsync(env, "sync", "--format", "json")
    assert first.returncode == 0, first.stderr[-3000:]
    report = json.loads(first.stdout)
    assert report["status"] == "succeeded" and report["rejected"] == {}
    databases = _databases(systems, prefix)
    # No Glue database for a space the tenant does not show; the visible owner's objects are
    # written once, in the owner's own database.
    assert f"{prefix}{HIDDEN_OWNER.lower()}" not in databases
    assert f"{prefix}{VISIBLE_OWNER.lower()}" in databases
    shared = report["shared"]
    assert any(k.startswith(f"{HIDDEN_OWNER}.") and "lineage node only" in v for k, v in shared.items())

    before_calls, before_rejected = proxy.snapshot(), dict(proxy.rejected)
    second = _dgsync(env, "sync", "--format", "json")
    assert second.returncode == 0, second.stderr[-3000:]
    calls = proxy.snapshot() - before_calls
    rejected = {op: n - before_rejected.get(op, 0) for op, n in proxy.rejected.items()}
    assert {op: n for op, n in calls.items() if is_write(op)} == {}, "0 mutating Glue calls"
    assert {op: n for op, n in rejected.items() if n} == {}, "0 rejected Glue calls"

    plan = _dgsync(env, "plan", "--format", "json")
    assert plan.returncode == 0, plan.stderr[-3000:]
    items = json.loads(plan.stdout)["items"]
    assert items and {i["action"] for i in items} == {"noop"}, "plan after a sync lists only noops"


def test_sync_of_one_consumer_space_writes_only_that_spaces_database(
    systems: dict[str, Any], tmp_path: Path
) -> None:
    prefix = "acc7x_"
    env = _env(systems, tmp_path, prefix)
    assert _dgsync(env, "db", "upgrade").returncode == 0
    result = _dgsync(env, "sync", "--space", "DP_SALARY", "--format", "json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _databases(systems, prefix) == {f"{prefix}dp_salary"}
    report = json.loads(result.stdout)
    assert all(i["object"].startswith(f"{prefix}dp_salary") for i in report["items"])
    assert any(k.startswith(f"{VISIBLE_OWNER}.") for k in report["shared"])
