"""The configuration tools through the SDK's client (in process, the dog profile's store; no
tenant needed: no dry-run plan): read, validate with line numbers, propose as a diff, and
apply / promote / roll back — each a version attributed to the caller and audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from core import config_versions as cv
from core.governance import audit
from core.services import Services, build_services
from core.settings import Settings, load_settings
from core.store import repo
from core.store.schemas import AuditFilter
from mcp_server.auth import Caller
from mcp_server.server import create_server

from .mcp_helpers import assert_clear_error, call, run, text_of

SECRET = "client-secret-never-shown-0815"
RULES = "version: 1\noverrides:\n  - asset: SALES.V_ORDERS\n    table_name: orders_by_customer\n"
TESTER = Caller(actor="mcp:tester", role="operator")


@pytest.fixture
def services(state_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_SECRET", SECRET)
    with build_services(load_settings(env="dog")) as built:
        yield built


def ok(server: Any, tool: str, arguments: dict[str, Any] | None = None) -> Any:
    result = run(lambda: call(server, tool, arguments))
    assert not result.is_error, text_of(result)
    return result.structured_content


def test_get_config_redacts_secrets(services: Services) -> None:
    config = ok(create_server(services=services), "get_config")
    assert config["env"] == "dog" and config["version"] is None and "no version applied" in config["note"]
    assert config["settings"]["datasphere"]["client_secret"] == "<redacted>"
    assert SECRET not in json.dumps(config)


def test_get_mapping_rules_renders_the_defaults(services: Services) -> None:
    rules = ok(create_server(services=services), "get_mapping_rules")
    assert rules["source"] == "built-in defaults" and "databases:" in rules["text"] and rules["overrides"] == 0


def test_validation_names_rule_lines_and_settings(services: Services) -> None:
    server = create_server(services=services)
    bad = ok(server, "validate_config_change", {"rules": "version: 1\ndatabases:\n  template: 7\nnope: 1\n"})
    assert bad["ok"] is False
    assert any("line 3" in e and "databases.template" in e for e in bad["errors"])
    assert any("line 4" in e and "nope" in e for e in bad["errors"])
    good = ok(server, "validate_config_change", {"rules": RULES, "settings": {"sync": {"deletion_policy": "deprecate"}}})
    assert good["ok"] is True and good["errors"] == [] and good["planned"] is False


@pytest.mark.parametrize(("settings", "words"), [
    ({"sync": {"no_such_setting": 1}}, ["settings.sync.no_such_setting", "get_config"]),
    ({"datasphere": {"client_secret": "x"}}, ["secret", "environment"]),
    ({"database_url": "sqlite:///elsewhere.db"}, ["database_url", "process"]),
    ({}, ["empty"]),
])
def test_changes_that_cannot_be_made_here_are_refused(services: Services, settings: dict[str, Any], words: list[str]) -> None:
    result = run(lambda: call(create_server(services=services), "validate_config_change", {"settings": settings}))
    assert_clear_error(result, *words)


def test_a_proposal_is_a_diff_with_its_validation(services: Services) -> None:
    change = {"settings": {"sync": {"deletion_policy": "deprecate"}}, "comment": "safer deletes"}
    proposal = ok(create_server(services=services), "propose_config_change", change)
    assert "-    deletion_policy: log" in proposal["diff"] and "+    deletion_policy: deprecate" in proposal["diff"]
    assert proposal["diff"].startswith("# safer deletes") and proposal["validation"]["ok"]
    assert "operator" in proposal["next_step"]  # read-only: someone else applies
    writer = ok(create_server(services=services, allow_write=True), "propose_config_change", change)
    assert "apply_config" in writer["next_step"]
    assert cv.active(services.store(), "dog") is None  # nothing applied


def test_apply_promote_and_rollback_are_versions_by_the_caller_and_audited(services: Services) -> None:
    server = create_server(services=services, allow_write=True, caller=TESTER)
    store = services.store()
    first = ok(server, "apply_config", {"rules": RULES, "comment": "rename orders", "plan": False})
    assert (first["author"], first["action"], first["comment"]) == ("mcp:tester", "apply", "rename orders")
    assert cv.active(store, "dog").rules == RULES
    again = run(lambda: call(server, "apply_config", {"rules": RULES, "plan": False}))
    assert_clear_error(again, "equals")
    invalid = run(lambda: call(server, "apply_config", {"rules": "version: 1\nnope: 1\n", "plan": False}))
    assert_clear_error(invalid, "line 2", "nothing was applied")
    assert cv.active(store, "dog").id == first["id"]

    no_source = run(lambda: call(server, "promote_config", {"from_env": "wolf", "plan": False}))
    assert_clear_error(no_source, "wolf has no applied configuration")
    wolf_rules = "version: 1\ntable_parameters: {team: analytics}\n"
    wolf = cv.capture(services.settings, rules_text=wolf_rules)
    wolf = cv.EffectiveConfig(env="wolf", settings=wolf.settings, rules=wolf.rules, hash=wolf.hash)
    wolf_version = cv.apply(store, wolf, cv.validate(wolf, base=services.settings, dry_run=False), author="cli:qa")
    promoted = ok(server, "promote_config", {"from_env": "wolf", "plan": False})
    assert promoted["action"] == "promote" and promoted["source_id"] == wolf_version.id
    assert cv.active(store, "dog").rules == wolf_rules

    back = ok(server, "rollback_config", {"version_id": first["id"], "plan": False})
    assert back["hash"] == first["hash"] and back["source_id"] == first["id"] and back["author"] == "mcp:tester"
    wrong_env = run(lambda: call(server, "rollback_config", {"version_id": wolf_version.id, "plan": False}))
    assert_clear_error(wrong_env, "belongs to wolf")

    # One record per change (core.config_versions.apply writes it), attributed to the caller.
    records = list(reversed(audit.query(store, AuditFilter(action="config_change", env="dog"))))
    assert [(r.actor, r.object, r.details["comment"].split(":")[0]) for r in records] == [
        ("mcp:tester", "configuration", "apply"), ("mcp:tester", "configuration", "promote"),
        ("mcp:tester", "configuration", "rollback")]
    assert [r.details["version"] for r in records] == [str(first["id"]), str(promoted["id"]), str(back["id"])]
    assert records[0].id == first["audit_id"]
    assert SECRET not in json.dumps([r.details for r in records])
    with store.session(readonly=True) as session:
        events = repo.list_security_events(session=session, kind="config_changed", limit=10)
    assert sorted(e.actor for e in events) == ["cli:qa"] + ["mcp:tester"] * 3  # cli:qa applied wolf's


def test_a_viewer_caller_cannot_write_even_on_a_write_server(dog_settings: Settings) -> None:
    server = create_server(dog_settings, allow_write=True, caller=Caller(actor="key:v/viewer", role="viewer"))
    result = run(lambda: call(server, "apply_config", {"rules": RULES, "plan": False}))
    assert_clear_error(result, "key:v/viewer", "operator")


# ------------------------------------------------------------------ with the dry-run plan: jobs

PLAN_REGION = "ap-southeast-4"  # its own moto backend in this process


@pytest.fixture(scope="module")
def tenant() -> Iterator[Services]:
    """Embedded services with a tenant (the emulator): a dry-run plan has something to read."""
    import tempfile
    from pathlib import Path

    from .conftest import own_embedded_services

    with tempfile.TemporaryDirectory() as root, own_embedded_services(Path(root), PLAN_REGION) as services:
        yield services


def call_with_progress(server: Any, tool: str, arguments: dict[str, Any]) -> tuple[Any, list[tuple[float, str]]]:
    """Call a tool through the SDK's client, collecting its progress notifications."""
    seen: list[tuple[float, str]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, message or ""))

    async def main() -> Any:
        from mcp import Client

        async with Client(server) as client:
            return await client.call_tool(tool, arguments, progress_callback=on_progress)

    return run(main), seen


def test_checks_with_a_plan_run_as_jobs_and_report_progress(tenant: Services) -> None:
    """validate_config_change / apply_config with plan: a config job, waited for with MCP
    progress notifications; invalid → ok false (validate) or a clear error and nothing stored."""
    from core.jobs import JobService

    server = create_server(services=tenant, allow_write=True, caller=TESTER)
    result, progress = call_with_progress(server, "validate_config_change", {"rules": RULES, "plan": True})
    assert not result.is_error, text_of(result)
    checked = result.structured_content
    assert checked["ok"] and checked["planned"] and checked["job_id"], checked
    assert checked["plan_counts"] and progress and progress[-1] == (100, f"config_validate job {checked['job_id']}: succeeded")
    jobs = JobService(tenant)
    job = jobs.get(checked["job_id"])
    assert (job.kind.value, job.status.value, job.actor) == ("config_validate", "succeeded", "mcp:tester")
    bad = ok(server, "validate_config_change", {"rules": "version: 1\nnope: 1\n", "plan": True})
    assert bad["ok"] is False and any("line 2" in e for e in bad["errors"]) and bad["job_id"]
    assert jobs.get(bad["job_id"]).status.value == "failed"

    refused = run(lambda: call(server, "apply_config", {"rules": "version: 1\nnope: 1\n", "plan": True}))
    assert_clear_error(refused, "line 2", "nothing was applied")
    assert cv.active(tenant.store(), "dog") is None
    applied, progress = call_with_progress(server, "apply_config", {"rules": RULES, "comment": "planned", "plan": True})
    assert not applied.is_error, text_of(applied)
    version = applied.structured_content
    assert (version["author"], version["action"], version["comment"]) == ("mcp:tester", "apply", "planned")
    assert version["validation"]["planned"] and version["job_id"] and version["audit_id"]
    assert cv.active(tenant.store(), "dog").id == version["id"]
    assert jobs.get(version["job_id"]).kind.value == "config_apply" and any("config_apply job" in m for _, m in progress)
