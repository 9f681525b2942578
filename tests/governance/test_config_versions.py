"""Configuration versions end to end: apply, promote dog → wolf, rollback (hash-equal), the
next scheduled run reports the version it used, broken rules rejected with line numbers,
secrets redacted in every stored version and every output."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from core import config_versions as cv
from core.services import build_services
from core.settings import EmulatorSettings, load_settings
from core.store import repo
from core.sync.scheduler import Scheduler
from dgsync_cli.main import cli
from doubles.emulator.server import start_in_thread

pytestmark = pytest.mark.timeout(240)
API_TOKEN = "tok-" + "Zq8vN2xLr4Kc9Ws1"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    emu = start_in_thread(EmulatorSettings(port=0))
    yield emu
    emu.stop()


@pytest.fixture
def world(tmp_path: Path, emulator: Any, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """One state store shared by dog and wolf; wolf is a "real" tenant (the emulator) and Glue
    (moto over HTTP); rules with a prefix of this test so tests share moto safely."""
    prefix = f"c{secrets.token_hex(3)}_"
    for var in ("DGSYNC_ENV", "DGSYNC_CONFIG_FILE", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    rules = {}
    for name in ("wolf", "dog"):
        path = tmp_path / f"{name}-rules.yaml"
        path.write_text(
            "version: 1\ndatabases:\n  template: '{prefix}{space}'\n"
            f"  env_prefix: {{dog: {prefix}, wolf: {prefix}}}\n", encoding="utf-8")
        rules[name] = path
    rules["dog"].write_text(rules["dog"].read_text() + "exclude:\n  assets: ['SAP_*']\n", encoding="utf-8")
    common = {
        "DGSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "DGSYNC_STATE_DIR": str(tmp_path / "state"),
        "DGSYNC_GLUE__ENDPOINT_URL": moto_endpoint,
        "DGSYNC_GLUE__CALLS_PER_SECOND": "1000",
        "DGSYNC_GLUE__BURST": "1000",
        "DGSYNC_API_TOKEN": API_TOKEN,
    }
    wolf = {
        **common,
        "DGSYNC_DATASPHERE__BASE_URL": emulator.base_url,
        "DGSYNC_DATASPHERE__TOKEN_URL": emulator.token_url,
        "DGSYNC_DATASPHERE__CLIENT_ID": emulator.client_id,
        "DGSYNC_DATASPHERE__CLIENT_SECRET": emulator.client_secret,
        "DGSYNC_SCHEDULE__HIGH": "off", "DGSYNC_SCHEDULE__MEDIUM": "off", "DGSYNC_SCHEDULE__LOW": "off",
    }
    return {"common": common, "wolf": wolf, "rules": rules, "tmp": tmp_path, "prefix": prefix,
            "secret": emulator.client_secret}


def dgsync(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def show(env: dict[str, str], name: str, version: int | None = None) -> dict[str, Any]:
    args = ["--env", name, "config", "show", "--format", "json"]
    if version is not None:
        args.insert(4, str(version))
    return json.loads(ok(dgsync(env, *args)).stdout)


def test_promote_then_rollback_returns_the_exact_previous_configuration_and_runs_report_it(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    wolf, common, rules = world["wolf"], world["common"], world["rules"]
    outputs: list[str] = []

    def run(env: dict[str, str], *args: str) -> Result:
        result = ok(dgsync(env, *args))
        outputs.append(result.output)
        return result

    run(wolf, "--env", "wolf", "db", "upgrade")
    run(wolf, "--env", "wolf", "config", "apply", "--rules", str(rules["wolf"]), "-m", "wolf base",
        "--no-plan")
    before = show(wolf, "wolf")
    assert before["id"] == 1 and before["rules"] == rules["wolf"].read_text()
    run(common, "--env", "dog", "config", "apply", "--rules", str(rules["dog"]), "-m", "dog rules",
        "--no-plan", "--format", "json")

    promoted = json.loads(run(wolf, "--env", "wolf", "config", "promote", "--from", "dog", "--to",
                              "wolf", "--format", "json").stdout)
    assert promoted["action"] == "promote" and promoted["source_id"] == 2
    assert promoted["validation"]["planned"] is True  # the dry-run plan ran against wolf
    assert promoted["validation"]["plan_counts"]["created"] > 0
    assert all(c["action"] == "create" for c in promoted["validation"]["plan_changes"] if c["object"].startswith(world["prefix"]))
    after = show(wolf, "wolf")
    assert after["rules"] == rules["dog"].read_text()
    assert after["settings"]["datasphere"]["base_url"] == wolf["DGSYNC_DATASPHERE__BASE_URL"]
    assert after["settings"]["env"] == "wolf" and after["hash"] != before["hash"]
    diff = run(wolf, "--env", "wolf", "config", "diff", "1", "3").stdout
    assert "+  exclude:" in diff and "+    assets: ['SAP_*']" in diff

    rolled = json.loads(run(wolf, "--env", "wolf", "config", "rollback", "--to", "1", "--no-plan",
                            "--format", "json").stdout)
    now = show(wolf, "wolf")
    assert rolled["id"] == now["id"] == 4 and now["action"] == "rollback" and now["source_id"] == 1
    assert now["hash"] == before["hash"]
    assert (now["settings"], now["rules"]) == (before["settings"], before["rules"])
    assert "no differences" in run(wolf, "--env", "wolf", "config", "diff", "1", "4").stdout
    hist = json.loads(run(wolf, "--env", "wolf", "config", "history", "--format", "json").stdout)
    assert [(h["id"], h["action"]) for h in hist] == [(4, "rollback"), (3, "promote"), (1, "apply")]

    # The next scheduled run uses version 4 and says so.
    for key, value in wolf.items():
        monkeypatch.setenv(key, value)
    services = build_services(load_settings(env="wolf"))
    try:
        scheduler = Scheduler(services, backoff_base_s=0.01)
        outcomes = scheduler.run_once()
        assert [o.slice_key for o in outcomes] == ["critical"]
        assert outcomes[0].status in ("succeeded", "partial"), outcomes[0]
        with services.store().session(readonly=True) as s:
            used = repo.get_run(session=s, run_id=outcomes[0].run_id)
        assert used is not None and used.scope.config_version == 4
        runs = json.loads(run(wolf, "--env", "wolf", "runs", "--format", "json").stdout)
        assert any(r.get("scope", {}).get("config_version") == 4 for r in runs)
        services_4, v4 = scheduler.reloader.for_next_run()
        assert v4 == 4 and services_4.settings.sync.rules_file is not None
        assert services_4.settings.sync.rules_file.read_text() == before["rules"]
        # A version applied now is picked up by the next run, not by one already started.
        run(wolf, "--env", "wolf", "config", "rollback", "--to", "3", "--no-plan")
        services_5, v5 = scheduler.reloader.for_next_run()
        assert v5 == 5 and services_5 is not services_4
        assert services_5.rules().exclude != services_4.rules().exclude
    finally:
        services.close()

    for text in outputs:
        assert world["secret"] not in text and API_TOKEN not in text
    raw = (world["tmp"] / "state.db").read_bytes()
    assert world["secret"].encode() not in raw and API_TOKEN.encode() not in raw


def test_broken_rules_are_rejected_with_line_numbers_and_nothing_is_stored(world: dict[str, Any]) -> None:
    env = world["common"]
    broken = world["tmp"] / "broken.yaml"
    broken.write_text("version: 1\ndatabases:\n  template: '{space}'\nexclude: 12\n"
                      "overrides:\n  - match: 'A.B'\n    partition_keys: [{name: x}]\n", encoding="utf-8")
    res = dgsync(env, "--env", "dog", "config", "validate", "--rules", str(broken), "--no-plan")
    assert res.exit_code == 2
    assert "broken.yaml line 4: exclude" in res.output
    assert "line 7" in res.output
    res = dgsync(env, "--env", "dog", "config", "apply", "--rules", str(broken), "--no-plan")
    assert res.exit_code == 2 and "hint:" in res.output
    hist = json.loads(ok(dgsync(env, "--env", "dog", "config", "history", "--format", "json")).stdout)
    assert hist == []


def test_rollback_to_another_environments_version_is_refused(world: dict[str, Any]) -> None:
    env = world["common"]
    ok(dgsync(env, "--env", "dog", "config", "apply", "--no-plan"))
    res = dgsync(world["wolf"], "--env", "wolf", "config", "rollback", "--to", "1", "--no-plan")
    assert res.exit_code == 2 and "belongs to dog" in res.output
    res = dgsync(world["wolf"], "--env", "wolf", "config", "rollback", "--to", "99", "--no-plan")
    assert res.exit_code == 2 and "does not exist" in res.output


def test_capture_redacts_every_secret_and_the_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DGSYNC_ENV", "DGSYNC_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings(env="wolf", overrides={
        "datasphere": {"base_url": "https://t.eu10.hcs.cloud.sap", "client_id": "c",
                       "client_secret": "Cl13nt-S3cret-Value"},
        "api_token": API_TOKEN,
        "database_url": "postgresql+psycopg://dgsync:Db-Pa55word@db.internal/dgsync",
    })
    config = cv.capture(settings, rules_text="version: 1\n")
    text = json.dumps(config.document()) + cv.render(config)
    for secret in ("Cl13nt-S3cret-Value", API_TOKEN, "Db-Pa55word"):
        assert secret not in text
    assert config.settings["datasphere"]["client_secret"] == cv.REDACTED
    assert config.settings["api_token"] == cv.REDACTED
    # Materialised again, the process keeps its real secrets (they were never stored).
    back = cv.materialise(settings, config)
    assert back.datasphere.client_secret is not None
    assert back.datasphere.client_secret.get_secret_value() == "Cl13nt-S3cret-Value"
    assert back.database_url == settings.database_url
    assert cv.capture(back, rules_text="version: 1\n").hash == config.hash


def test_a_manual_sync_uses_the_applied_version_and_the_next_one_picks_up_a_new_version(
    world: dict[str, Any]
) -> None:
    """`dgsync sync` (not only the scheduler) runs the applied configuration version, records
    it on the run (runs --format json: ``config_version``), and a version applied between two
    syncs is used by the second one."""
    wolf, rules, prefix = world["wolf"], world["rules"], world["prefix"]
    ok(dgsync(wolf, "--env", "wolf", "db", "upgrade"))
    ok(dgsync(wolf, "--env", "wolf", "config", "apply", "--rules", str(rules["wolf"]), "--no-plan", "-m", "v1"))
    # The process is started without any rules file: only the applied version carries them.
    first = dgsync(wolf, "--env", "wolf", "sync", "--space", "SALES", "--format", "json")
    assert first.exit_code in (0, 1), first.output
    report = json.loads(first.stdout)
    created = [i["object"] for i in report["items"] if i["action"] == "create"]
    assert created and all(o.startswith(prefix) for o in created)  # the version's rules named them
    runs = json.loads(ok(dgsync(wolf, "--env", "wolf", "runs", "--format", "json")).stdout)
    assert runs[0]["id"] == report["run_id"] and runs[0]["config_version"] == 1
    assert runs[0]["scope"]["config_version"] == 1

    ok(dgsync(wolf, "--env", "wolf", "config", "apply", "--rules", str(rules["dog"]), "--no-plan", "-m", "v2"))
    second = json.loads(dgsync(wolf, "--env", "wolf", "sync", "--space", "SALES", "--format", "json").stdout)
    runs = json.loads(ok(dgsync(wolf, "--env", "wolf", "runs", "--format", "json")).stdout)
    assert runs[0]["id"] == second["run_id"] and runs[0]["config_version"] == 2
    audit = json.loads(ok(dgsync(wolf, "--env", "wolf", "audit", "--action", "sync", "--format", "json")).stdout)
    entries = audit if isinstance(audit, list) else audit.get("entries", audit.get("records", []))
    assert any(e["run_id"] == second["run_id"] and e["actor"].startswith("cli:") for e in entries)


def test_apply_and_rollback_are_security_events_and_audited_with_the_field_diff(world: dict[str, Any]) -> None:
    wolf, rules = world["wolf"], world["rules"]
    ok(dgsync(wolf, "--env", "wolf", "db", "upgrade"))
    ok(dgsync(wolf, "--env", "wolf", "config", "apply", "--rules", str(rules["wolf"]), "--no-plan",
              "--author", "cli:alice", "-m", "first"))
    ok(dgsync({**wolf, "DGSYNC_SYNC__MAX_DELETES_PER_RUN": "7"}, "--env", "wolf", "config", "apply", "--rules",
              str(rules["wolf"]), "--no-plan", "--author", "cli:bob"))
    ok(dgsync(wolf, "--env", "wolf", "config", "rollback", "--to", "1", "--no-plan", "--author", "cli:carol"))
    events = json.loads(ok(dgsync(wolf, "--env", "wolf", "security", "events", "--kind", "config_changed",
                                  "--format", "json")).stdout)
    assert [(e["actor"], e["detail"]["version"]) for e in events] == [("cli:carol", "3"), ("cli:bob", "2"), ("cli:alice", "1")]
    assert events[1]["detail"]["fields"] == ["sync.max_deletes_per_run"] and events[0]["detail"]["fields"] == ["sync.max_deletes_per_run"]
    audit = json.loads(ok(dgsync(wolf, "--env", "wolf", "audit", "--action", "config_change", "--format", "json")).stdout)
    entries = audit if isinstance(audit, list) else audit.get("entries", audit.get("records", []))
    bob = next(e for e in entries if e["actor"] == "cli:bob")
    assert bob["details"]["diff"][0]["field"] == "sync.max_deletes_per_run"
    assert bob["details"]["diff"][0]["after"] == 7
    text = json.dumps(events) + json.dumps(entries)
    assert world["secret"] not in text and API_TOKEN not in text
