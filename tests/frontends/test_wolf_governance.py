"""Governance in Wolf over HTTP (TestClient): the audit trail (filters, pages, streamed
CSV/JSON Lines export), security events, alerts (ack, mutes), configuration versions (read,
diff, validate, apply, rollback) per role — viewer reads, operator acks/mutes/validates, admin
writes configuration, every denial a security event — the dashboard pages and their forms, and
hot reload: a version applied while Wolf runs is used by the next job, recorded on its run."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.apikeys import ApiKeys
from core.governance.audit import record_action
from core.services import Services
from core.settings import Settings
from core.store import governance as g
from core.store import repo
from core.store.schemas import AuditFilter
from wolf_fastapi.app import create_app

from .conftest import API_TOKEN, form_csrf_token, local_client, own_systems, wolf_settings_for

REGION = "me-south-1"  # its own moto backend in this process
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PEPPER = "pepper-Gv7w2KqP9sLm4XcB1nTz6RdY8Hf0Ja3E"
ROLES = ("viewer", "operator", "admin")


@pytest.fixture(scope="module")
def systems(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with own_systems(tmp_path_factory.mktemp("wolf-governance"), REGION) as env:
        yield env


@pytest.fixture
def settings(state_env: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path,
             systems: dict[str, str]) -> Settings:
    return wolf_settings_for(monkeypatch, migrated_template, systems, pepper=PEPPER)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with local_client(app) as test_client:
        test_client.headers.update(AUTH)
        yield test_client


def services_of(client: TestClient) -> Services:
    found: Services = client.app.state.services  # type: ignore[attr-defined]
    return found


@pytest.fixture
def keys(client: TestClient) -> dict[str, dict[str, str]]:
    services = services_of(client)
    made = ApiKeys(services.store(), services.settings)
    return {role: {"Authorization": f"Bearer {made.create(f'qa-{role}', role, created_by='cli:test')[1]}"}
            for role in ROLES}


def sign_in(browser: TestClient, headers: dict[str, str]) -> None:
    csrf = form_csrf_token(browser.get("/login").text)
    key = headers["Authorization"].removeprefix("Bearer ")
    done = browser.post("/login", data={"token": key, "csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303, done.text


def make_alert(services: Services, title: str = "sync failed", rule: str = "run_failed") -> int:
    with services.store().session() as s:
        alert = g.create_alert(session=s, env=services.settings.env, rule=rule, kind="run_failed",
                               dedup_key=f"{rule}:{title}", severity="critical", title=title,
                               message="3 objects failed", hint="Open the run and fix the first error.")
    return alert.id


def denials(services: Services) -> list[Any]:
    with services.store().session(readonly=True) as s:
        return repo.list_security_events(session=s, limit=1000)


def wait_job(client: TestClient, job_id: str, timeout_s: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def wait_fragment(browser: TestClient, path: str, timeout_s: float = 90.0) -> str:
    """Poll a job fragment as htmx does until the job is over (it stops polling itself)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page = browser.get(path)
        assert page.status_code == 200, page.text
        if "hx-get" not in page.text:
            return page.text
        time.sleep(0.1)
    raise AssertionError(f"{path} still running")


def run_job(client: TestClient, kind: str, scope: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/jobs", json={"kind": kind, "scope": scope})
    assert response.status_code == 202, response.text
    return wait_job(client, response.json()["id"])


RULES_V1 = "version: 1\ndatabases:\n  template: '{prefix}{space}'\n  env_prefix: {wolf: gv1_}\n"
RULES_V2 = "version: 1\ndatabases:\n  template: '{prefix}{space}'\n  env_prefix: {wolf: gv2_}\n"


# ------------------------------------------------------------------ roles


READS = ["/api/v1/audit", "/api/v1/audit/export?format=jsonl", "/api/v1/security-events", "/api/v1/alerts",
         "/api/v1/config", "/api/v1/config/versions", "/audit", "/alerts", "/security", "/configuration"]


def test_every_role_reads_governance(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    for role in ROLES:
        for path in READS:
            response = client.get(path, headers=keys[role])
            assert response.status_code == 200, (role, path, response.text)


def test_no_key_is_401_and_the_writes_need_their_role(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    services = services_of(client)
    alert_id = make_alert(services)
    anonymous = client.get("/api/v1/audit", headers={"Authorization": "Bearer not-a-key"})
    assert anonymous.status_code == 401
    writes: list[tuple[str, str, Any, str]] = [
        ("POST", f"/api/v1/alerts/{alert_id}/ack", None, "operator"),
        ("POST", "/api/v1/alerts/mutes", {"target": "run_failed", "minutes": 5}, "operator"),
        ("DELETE", "/api/v1/alerts/mutes?target=run_failed", None, "operator"),
        ("POST", "/api/v1/config/validate", {"rules": RULES_V1, "plan": False}, "operator"),
        ("POST", "/api/v1/config/apply", {"rules": RULES_V1, "plan": False}, "admin"),
    ]
    for method, path, body, need in writes:
        for role in ROLES:
            response = client.request(method, path, headers=keys[role], json=body)
            if ROLES.index(role) >= ROLES.index(need):
                assert response.status_code in (200, 201), (role, path, response.text)
            else:
                assert response.status_code == 403, (role, path, response.text)
                assert response.json()["error"]["hint"]
    refused = [e for e in denials(services) if e.kind == "permission_denied"]
    # Each refusal is recorded with the key (never its value) and what it tried.
    objects = {(e.actor, str(e.detail.get("object", ""))) for e in refused}
    assert ("key:qa-viewer/viewer", f"POST /api/v1/alerts/{alert_id}/ack") in objects
    assert ("key:qa-operator/operator", "POST /api/v1/config/apply") in objects
    assert ("key:qa-viewer/viewer", "POST /api/v1/config/apply") in objects
    for e in refused:
        assert "Bearer" not in json.dumps(e.detail)


# ------------------------------------------------------------------ audit


def test_audit_filters_pages_and_full_text(client: TestClient) -> None:
    store = services_of(client).store()
    for i in range(30):
        record_action(store, actor="key:bulk/operator" if i % 3 else "key:other/admin", action="plan",
                      object=f"space:SALES{i:02d}", env="wolf", details={"note": f"marker-{i}"})
    page = client.get("/api/v1/audit", params={"actor": "key:bulk/operator", "limit": 7}).json()
    assert page["total"] == 20 and len(page["items"]) == 7 and page["next_offset"] == 7
    assert all(r["actor"] == "key:bulk/operator" for r in page["items"])
    last = client.get("/api/v1/audit", params={"actor": "key:bulk/operator", "limit": 7, "offset": 14}).json()
    assert len(last["items"]) == 6 and last["next_offset"] is None
    seen = {r["id"] for r in page["items"]} | {r["id"] for r in last["items"]}
    assert len(seen) == 13  # pages do not overlap
    found = client.get("/api/v1/audit", params={"q": "marker-17"}).json()
    assert [r["object"] for r in found["items"]] == ["space:SALES17"]
    by_object = client.get("/api/v1/audit", params={"object": "sales0", "action": "plan"}).json()
    assert by_object["total"] == 10
    bad = client.get("/api/v1/audit", params={"since": "yesterday"})
    assert bad.status_code == 422 and "since" in bad.text
    unknown = client.get("/api/v1/audit", params={"user": "x"})  # a misspelt filter is not ignored
    assert unknown.status_code == 422 and "user" in unknown.text


def test_audit_export_streams_csv_and_jsonl_of_every_match(client: TestClient) -> None:
    store = services_of(client).store()
    for i in range(1200):
        record_action(store, actor="key:exp/operator", action="export_test", object=f"obj:{i}", env="wolf",
                      details={"i": i, "text": 'a "quoted", comma'})
    with client.stream("GET", "/api/v1/audit/export", params={"format": "csv", "action": "export_test"}) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
        assert "attachment" in resp.headers["content-disposition"]
        assert "content-length" not in resp.headers  # streamed
        text = "".join(resp.iter_text())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1200
    assert [json.loads(r["details"])["i"] for r in rows] == list(range(1200))  # oldest first
    assert rows[5]["actor"] == "key:exp/operator" and json.loads(rows[5]["details"])["text"] == 'a "quoted", comma'
    jsonl = client.get("/api/v1/audit/export", params={"format": "jsonl", "action": "export_test"})
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    assert len(lines) == 1200 and lines[-1]["object"] == "obj:1199"
    assert client.get("/api/v1/audit/export", params={"format": "xml"}).status_code == 422


# ------------------------------------------------------------------ alerts and security events


def test_operator_acks_and_mutes_and_the_audit_names_the_key(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    services = services_of(client)
    alert_id = make_alert(services)
    listed = client.get("/api/v1/alerts", headers=keys["viewer"]).json()
    assert [a["id"] for a in listed["items"]] == [alert_id]
    assert listed["items"][0]["hint"] and listed["items"][0]["level"] == 0
    acked = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=keys["operator"])
    assert acked.status_code == 200 and acked.json()["acked_by"] == "key:qa-operator/operator"
    assert client.post("/api/v1/alerts/999999/ack", headers=keys["operator"]).status_code == 404
    muted = client.post("/api/v1/alerts/mutes", headers=keys["operator"],
                        json={"target": "run_failed", "minutes": 30, "reason": "maintenance"})
    assert muted.status_code == 201 and muted.json()["created_by"] == "key:qa-operator/operator"
    assert [m["target"] for m in client.get("/api/v1/alerts").json()["mutes"]] == ["run_failed"]
    bad = client.post("/api/v1/alerts/mutes", headers=keys["operator"], json={"target": "", "minutes": 0})
    assert bad.status_code == 422
    removed = client.delete("/api/v1/alerts/mutes", params={"target": "run_failed"}, headers=keys["operator"])
    assert removed.json() == {"target": "run_failed", "removed": 1}
    acked_only = client.get("/api/v1/alerts", params={"status": "acked"}).json()["items"]
    assert [a["status"] for a in acked_only] == ["acked"]
    audit = client.get("/api/v1/audit", params={"actor": "key:qa-operator/operator"}).json()["items"]
    assert {"alert_ack", "alert_mute", "alert_unmute"} <= {r["action"] for r in audit}


def test_security_events_are_filtered(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    client.get("/api/v1/audit", headers={"Authorization": "Bearer wrong-key-value"})
    client.post("/api/v1/config/apply", headers=keys["viewer"], json={"plan": False})
    failures = client.get("/api/v1/security-events", params={"kind": "auth_failure"}).json()
    assert failures and {e["kind"] for e in failures} == {"auth_failure"}
    assert "wrong-key-value" not in json.dumps(failures)
    by_actor = client.get("/api/v1/security-events", params={"actor": "key:qa-viewer/viewer"}).json()
    assert by_actor and all(e["actor"] == "key:qa-viewer/viewer" for e in by_actor)
    page = client.get("/security", params={"kind": "permission_denied"})
    assert page.status_code == 200 and "key:qa-viewer/viewer" in page.text


# ------------------------------------------------------------------ configuration


def test_config_is_redacted_and_validate_reports_rule_errors_with_lines(client: TestClient) -> None:
    secret = services_of(client).settings.datasphere.client_secret
    assert secret is not None
    body = client.get("/api/v1/config")
    assert body.status_code == 200 and body.json()["version"] is None
    assert secret.get_secret_value() not in body.text and API_TOKEN not in body.text
    assert body.json()["settings"]["datasphere"]["client_secret"] == "<redacted>"
    broken = "version: 1\ndatabases:\n  template: '{space}'\nexclude: 12\n"
    result = client.post("/api/v1/config/validate", json={"rules": broken, "plan": False}).json()
    assert result["ok"] is False and any("line 4" in e for e in result["errors"])
    refused = client.post("/api/v1/config/apply", json={"rules": broken, "plan": False})
    assert refused.status_code == 422 and refused.json()["error"]["hint"]
    assert client.get("/api/v1/config/versions").json() == []
    secret_edit = client.post("/api/v1/config/apply", json={"settings": {"datasphere": {"base_url": "x"}}})
    assert secret_edit.status_code == 422 and "cannot be changed" in secret_edit.json()["error"]["message"]
    # With the dry-run plan (the default): a config_validate job, polled until done.
    accepted = client.post("/api/v1/config/validate", json={"rules": RULES_V1})
    assert accepted.status_code == 202, accepted.text
    planned = wait_job(client, accepted.json()["id"])
    assert planned["status"] == "succeeded" and planned["kind"] == "config_validate", planned
    validation = planned["result"]["validation"]
    assert validation["ok"] and validation["planned"], planned
    assert any(c["object"].startswith("gv1_") for c in validation["plan_changes"])


def test_config_apply_then_the_next_job_uses_the_new_version_without_restart(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    services = services_of(client)
    first = client.post("/api/v1/config/apply", headers=keys["admin"],
                        json={"rules": RULES_V1, "plan": False, "comment": "v1"})
    assert first.status_code == 201, first.text
    v1 = first.json()["version"]
    assert v1["author"] == "key:qa-admin/admin" and v1["action"] == "apply"
    scope = {"spaces": ["SALES"], "kinds": ["view"]}
    job = run_job(client, "sync", scope)
    assert job["status"] in ("succeeded", "partial"), job
    assert job["result"]["config_version"] == v1["id"]
    run = client.get(f"/api/v1/runs/{job['run_id']}").json()
    assert run["config_version"] == v1["id"]
    assert run["items"] and all(i["detail"]["object"].startswith("gv1_") for i in run["items"])
    # A new version applied while Wolf runs (with the plan: a config_apply job): the next job
    # takes it, no restart.
    second = client.post("/api/v1/config/apply", headers=keys["admin"], json={"rules": RULES_V2, "plan": True})
    assert second.status_code == 202, second.text
    applied = wait_job(client, second.json()["id"])
    assert applied["status"] == "succeeded" and applied["actor"] == "key:qa-admin/admin", applied
    v2 = applied["result"]["version"]
    assert applied["result"]["validation"]["planned"] is True and v2["author"] == "key:qa-admin/admin"
    job2 = run_job(client, "sync", scope)
    run2 = client.get(f"/api/v1/runs/{job2['run_id']}").json()
    assert job2["result"]["config_version"] == run2["config_version"] == v2["id"]
    assert run2["items"] and all(i["detail"]["object"].startswith("gv2_") for i in run2["items"])
    # The change is audited with the admin's actor (field diff) and is a security event; the
    # sync of the job is audited as the caller's user action (governance hook).
    with services.store().session(readonly=True) as s:
        audit = repo.query_audit(session=s, filters=AuditFilter(actor="key:bootstrap/admin", action="sync"))
        changes = repo.query_audit(session=s, filters=AuditFilter(actor="key:qa-admin/admin"))
    assert {a.run_id for a in audit} >= {job["run_id"], job2["run_id"]}
    assert any(a.details.get("config_version") == v2["id"] for a in audit)
    assert [c.object for c in changes if c.action == "config_change"] == ["configuration", "configuration"]
    events = client.get("/api/v1/security-events", params={"kind": "config_changed"}).json()
    assert {e["actor"] for e in events} == {"key:qa-admin/admin"}
    # Versions, one version, the diff, and a rollback (hash-equal to v1).
    versions = client.get("/api/v1/config/versions").json()
    assert [v["id"] for v in versions] == [v2["id"], v1["id"]]
    detail = client.get(f"/api/v1/config/versions/{v1['id']}").json()
    assert detail["rules"] == RULES_V1
    assert client.get("/api/v1/config/versions/9999").status_code == 404
    diff = client.get("/api/v1/config/diff", params={"from": v1["id"], "to": v2["id"]}).json()
    lines = diff["diff"].splitlines()
    assert any(line.startswith("-") and "gv1_" in line for line in lines), diff
    assert any(line.startswith("+") and "gv2_" in line for line in lines) and diff["equal"] is False
    back = client.post("/api/v1/config/rollback", headers=keys["admin"], json={"to": v1["id"], "plan": False})
    assert back.status_code == 201, back.text
    assert back.json()["version"]["hash"] == v1["hash"] and back.json()["version"]["source_id"] == v1["id"]
    assert client.get("/api/v1/config").json()["version"]["id"] == back.json()["version"]["id"]
    assert client.post("/api/v1/config/rollback", json={"to": 9999, "plan": False}).status_code == 404
    no_source = client.post("/api/v1/config/promote", json={"from": "dog", "plan": False})
    assert no_source.status_code == 404 and "dog has no applied" in no_source.json()["error"]["message"]


def test_config_checks_with_a_plan_are_jobs_polled_until_done(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    """validate/apply/rollback with the dry-run plan answer 202 with a job (never the plan in
    the request); its result is the validation and the stored version; an invalid candidate
    fails the job with every error and stores nothing; the roles stay what they were."""
    services = services_of(client)
    broken = "version: 1\ndatabases:\n  template: '{space}'\nexclude: 12\n"
    # Roles: a viewer may not validate, an operator may not apply (before any job is made).
    assert client.post("/api/v1/config/validate", headers=keys["viewer"], json={"rules": RULES_V1}).status_code == 403
    assert client.post("/api/v1/config/apply", headers=keys["operator"], json={"rules": RULES_V1}).status_code == 403
    assert client.get("/api/v1/jobs").json()["items"] == []
    # A valid candidate, validated by an operator: 202 like POST /api/v1/jobs (Location).
    started = client.post("/api/v1/config/validate", headers=keys["operator"], json={"rules": RULES_V1})
    assert started.status_code == 202, started.text
    assert started.headers["Location"] == f"/api/v1/jobs/{started.json()['id']}"
    assert started.json()["status"] in ("queued", "running", "succeeded")
    done = wait_job(client, started.json()["id"])
    assert done["status"] == "succeeded" and done["actor"] == "key:qa-operator/operator", done
    assert done["result"]["action"] == "validate" and done["result"]["version"] is None
    assert done["result"]["validation"]["ok"] and done["result"]["validation"]["planned"]
    assert done["phase"] not in (None, "starting", "check") and done["total"], done  # the plan's progress is the job's
    # An invalid candidate: the job fails with invalid_config and keeps the validation.
    bad = wait_job(client, client.post("/api/v1/config/validate", json={"rules": broken}).json()["id"])
    assert bad["status"] == "failed" and bad["error"]["code"] == "invalid_config", bad
    assert bad["result"]["validation"]["ok"] is False
    assert any("line 4" in e for e in bad["result"]["validation"]["errors"]) and "line 4" in bad["error"]["message"]
    # Apply an invalid candidate: failed, nothing stored.
    refused = client.post("/api/v1/config/apply", headers=keys["admin"], json={"rules": broken, "comment": "bad"})
    assert refused.status_code == 202, refused.text
    failed = wait_job(client, refused.json()["id"])
    assert failed["status"] == "failed" and failed["kind"] == "config_apply" and failed["error"]["code"] == "invalid_config"
    assert failed["result"]["version"] is None and "nothing was stored" in failed["error"]["message"]
    assert client.get("/api/v1/config/versions").json() == []
    # Apply a valid one: stored by the caller, the job's result names the version.
    ok = wait_job(client, client.post("/api/v1/config/apply", headers=keys["admin"],
                                      json={"rules": RULES_V1, "comment": "by job"}).json()["id"])
    assert ok["status"] == "succeeded", ok
    version = ok["result"]["version"]
    assert version["author"] == "key:qa-admin/admin" and version["comment"] == "by job" and version["action"] == "apply"
    assert client.get("/api/v1/config").json()["version"]["id"] == version["id"]
    with services.store().session(readonly=True) as s:
        changes = repo.query_audit(session=s, filters=AuditFilter(action="config_change"))
    assert [c.actor for c in changes] == ["key:qa-admin/admin"]
    # Rollback with the plan: a config_apply job with action rollback.
    v2 = client.post("/api/v1/config/apply", headers=keys["admin"], json={"rules": RULES_V2, "plan": False}).json()
    back = wait_job(client, client.post("/api/v1/config/rollback", headers=keys["admin"],
                                        json={"to": version["id"]}).json()["id"])
    assert back["status"] == "succeeded", back
    assert back["result"]["version"]["action"] == "rollback" and back["result"]["version"]["source_id"] == version["id"]
    assert back["result"]["version"]["hash"] == version["hash"] != v2["version"]["hash"]
    # A malformed candidate is still refused at once (no job); configuration jobs are not
    # submitted through POST /api/v1/jobs (it would skip the role and the candidate).
    assert client.post("/api/v1/config/validate", json={"settings": {"datasphere": {"x": 1}}}).status_code == 422
    assert client.post("/api/v1/config/rollback", headers=keys["admin"], json={"to": 9999}).status_code == 404
    assert client.post("/api/v1/jobs", json={"kind": "config_apply"}).status_code == 422
    kinds = [j["kind"] for j in client.get("/api/v1/jobs", params={"limit": 50}).json()["items"]]
    assert kinds.count("config_apply") == 3 and kinds.count("config_validate") == 2


# ------------------------------------------------------------------ pages and forms


def test_pages_show_governance_and_forms_need_csrf_and_role(client: TestClient, app: FastAPI,
                                                             keys: dict[str, dict[str, str]]) -> None:
    services = services_of(client)
    alert_id = make_alert(services, title="glue refused")
    record_action(services.store(), actor="key:page/operator", action="plan", object="space:PAGES", env="wolf")
    audit = client.get("/audit", params={"actor": "key:page/operator"})
    assert audit.status_code == 200 and "space:PAGES" in audit.text and 'id="export-csv"' in audit.text
    assert "actor=key%3Apage%2Foperator" in audit.text  # the export keeps the filters
    for path, active in [("/audit", "Audit"), ("/alerts", "Alerts"), ("/security", "Security"),
                         ("/configuration", "Config")]:
        page = client.get(path)
        assert f'aria-current="page">{active}</a>' in page.text, path
    # An operator, then an admin, signed in to the dashboard: the forms carry the CSRF token.
    with local_client(app) as browser:
        sign_in(browser, keys["operator"])
        page = browser.get("/alerts")
        assert "glue refused" in page.text
        token = form_csrf_token(page.text)
        assert browser.post(f"/alerts/{alert_id}/ack", data={}).status_code == 403  # no CSRF token
        done = browser.post(f"/alerts/{alert_id}/ack", data={"csrf_token": token}, follow_redirects=False)
        assert done.status_code == 303
        assert "acknowledged by key:qa-operator/operator" in browser.get("/alerts").text
        browser.post("/alerts/mute", data={"csrf_token": token, "target": "run_failed", "minutes": "15"})
        assert 'class="mono">run_failed</td>' in browser.get("/alerts").text
        config = browser.get("/configuration")
        assert 'disabled title="needs the admin role"' in config.text
        denied = browser.post("/configuration/apply", data={"csrf_token": form_csrf_token(config.text),
                                                            "rules": RULES_V2})
        assert denied.status_code == 403
    with local_client(app) as browser:
        sign_in(browser, keys["admin"])
        config = browser.get("/configuration")
        token = form_csrf_token(config.text)
        invalid = browser.post("/configuration/validate",
                               data={"csrf_token": token, "rules": "version: 1\nexclude: 12\n"})
        assert invalid.status_code == 422 and "line 2" in invalid.text
        applied = browser.post("/configuration/apply", data={"csrf_token": token, "rules": RULES_V1,
                                                             "comment": "from the page"}, follow_redirects=True)
        assert applied.status_code == 200 and 'id="applied-version">1<' in applied.text
        assert "from the page" in applied.text and "key:qa-admin/admin" in applied.text
        # With the dry-run plan: a job; the page shows its progress, then its result.
        started = browser.post("/configuration/validate", data={"csrf_token": token, "rules": RULES_V2, "plan": "on"},
                               follow_redirects=False)
        assert started.status_code == 303 and "/configuration?job=" in started.headers["location"]
        job_id = started.headers["location"].split("job=")[1]
        page = browser.get(f"/configuration?job={job_id}")
        assert f'id="job-{job_id}"' in page.text and "gv2_" in page.text  # the form keeps the candidate
        fragment = wait_fragment(browser, f"/configuration/jobs/{job_id}")
        assert 'data-status="succeeded"' in fragment and "The configuration is valid" in fragment
        assert "Dry-run plan" in fragment and "hx-get" not in fragment  # over: it stops polling
        started = browser.post("/configuration/apply", data={"csrf_token": token, "rules": RULES_V2, "plan": "on",
                                                             "comment": "planned"}, follow_redirects=False)
        job_id = started.headers["location"].split("job=")[1]
        fragment = wait_fragment(browser, f"/configuration/jobs/{job_id}")
        assert 'id="config-applied"' in fragment and "planned" in fragment, fragment
        assert 'id="applied-version">2<' in browser.get("/configuration").text
        assert f'href="/configuration?job={job_id}"' in browser.get("/flow").text  # listed with the jobs
        bad = browser.post("/configuration/validate", data={"csrf_token": token, "rules": "version: 1\nexclude: 12\n",
                                                           "plan": "on"}, follow_redirects=True)
        assert bad.status_code == 200 and 'class="job config-job"' in bad.text
        job_id = str(bad.url).split("job=")[1]
        fragment = wait_fragment(browser, f"/configuration/jobs/{job_id}")
        assert 'data-status="failed"' in fragment and "line 2" in fragment and "invalid_config" in fragment
    # A viewer sees the pages with the buttons disabled.
    viewer = client.get("/alerts", params={"status": "all"}, headers=keys["viewer"])
    assert 'disabled title="needs the operator role"' in viewer.text
