"""Wolf's roles over HTTP (TestClient): stored API keys (viewer < operator < admin), the
bootstrap token as admin, revocation, the dashboard cookie keeping the role, and the security
events and audit records every failure and denial leaves (never with a key in them)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from core.apikeys import ApiKeys
from core.services import Services
from core.settings import Settings
from core.store import repo
from core.store.schemas import AuditFilter
from core.sync.report import SyncReport
from wolf_fastapi.app import create_app

from .conftest import API_TOKEN, form_csrf_token, local_client

PEPPER = "pepper-Xk2s9QmZ4vLr7TbN0aYc5Wd8Ue1Hf3Gj"

#: One route of each class: (method, path, json body, role it needs).
ROUTES: list[tuple[str, str, Any, str]] = [
    ("GET", "/api/runs", None, "viewer"),
    ("GET", "/api/status", None, "viewer"),
    ("GET", "/ready", None, "viewer"),
    ("GET", "/openapi.json", None, "viewer"),
    ("GET", "/api/v1/whoami", None, "viewer"),
    ("POST", "/api/plan", {}, "operator"),
    ("GET", "/api/v1/keys", None, "admin"),
    ("POST", "/api/v1/keys", {"name": "made-by-api", "role": "viewer"}, "admin"),
]
ORDER = ["viewer", "operator", "admin"]


class _PlanOnly:
    """The engine of a plan (the tenant is not reached in these tests)."""

    def dry_run(self, **scope: Any) -> SyncReport:
        return SyncReport(dry_run=True, status="succeeded", started_at=datetime.now(UTC))


@pytest.fixture
def app_client(wolf_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Services]]:
    monkeypatch.setenv("DGSYNC_WEB__API_KEY_PEPPER", PEPPER)
    web = wolf_settings.web.model_copy(update={"api_key_pepper": SecretStr(PEPPER)})
    settings = wolf_settings.model_copy(update={"web": web})
    app = create_app(settings)
    with local_client(app) as client:
        services: Services = app.state.services
        monkeypatch.setattr(services, "engine", lambda *a, **k: _PlanOnly())
        yield client, services


@pytest.fixture
def keys(app_client: tuple[TestClient, Services]) -> dict[str, str]:
    _, services = app_client
    made = ApiKeys(services.store(), services.settings)
    return {role: made.create(f"qa-{role}", role, created_by="cli:test")[1] for role in ORDER}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _events(services: Services, kind: str) -> list[Any]:
    with services.store().session(readonly=True) as s:
        return list(reversed(repo.list_security_events(session=s, kind=kind, limit=1000)))  # oldest first


@pytest.mark.parametrize(("method", "path", "body", "need"), ROUTES)
@pytest.mark.parametrize("role", ORDER)
def test_each_role_is_allowed_or_denied_per_route_class(
    app_client: tuple[TestClient, Services], keys: dict[str, str], role: str,
    method: str, path: str, body: Any, need: str,
) -> None:
    client, services = app_client
    response = client.request(method, path, headers=_bearer(keys[role]), json=body)
    allowed = ORDER.index(role) >= ORDER.index(need)
    if allowed:
        assert response.status_code in (200, 201), response.text
    else:
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "role_denied"
        assert f"needs the {need} role" in error["message"] and "hint" in error
        denied = _events(services, "permission_denied")
        assert denied and denied[-1].actor == f"key:qa-{role}/{role}"
        assert denied[-1].detail["needed"] == need and denied[-1].source == "testclient"
    for key in keys.values():
        assert key not in response.text


def test_whoami_names_the_principal_and_the_audit_actor(app_client: tuple[TestClient, Services], keys: dict[str, str]) -> None:
    client, _ = app_client
    me = client.get("/api/v1/whoami", headers=_bearer(keys["operator"])).json()
    assert me == {"kind": "key", "name": "qa-operator", "role": "operator", "actor": "key:qa-operator/operator"}


def test_the_bootstrap_token_is_an_admin_key(app_client: tuple[TestClient, Services]) -> None:
    client, services = app_client
    me = client.get("/api/v1/whoami", headers=_bearer(API_TOKEN)).json()
    assert me["kind"] == "bootstrap" and me["role"] == "admin" and me["actor"] == "key:bootstrap/admin"
    created = client.post("/api/v1/keys", headers=_bearer(API_TOKEN), json={"name": "ci", "role": "operator"})
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert client.get("/api/v1/whoami", headers=_bearer(secret)).json()["role"] == "operator"
    listed = client.get("/api/v1/keys", headers=_bearer(API_TOKEN))
    assert secret not in listed.text and "key_hash" not in listed.text
    assert [k["created_by"] for k in listed.json() if k["name"] == "ci"] == ["key:bootstrap/admin"]
    changes = _events(services, "key_created")
    assert changes[-1].actor == "key:bootstrap/admin" and changes[-1].detail["key"] == "ci"


def test_a_revoked_key_gets_401_and_the_failure_is_recorded(
    app_client: tuple[TestClient, Services], keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, services = app_client
    assert client.get("/api/runs", headers=_bearer(keys["viewer"])).status_code == 200
    gone = client.delete("/api/v1/keys/qa-viewer", headers=_bearer(keys["admin"]))
    assert gone.status_code == 200 and gone.json()["revoked_by"] == "key:qa-admin/admin"
    refused = client.get("/api/runs", headers=_bearer(keys["viewer"]))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    failures = _events(services, "auth_failure")
    assert failures[-1].detail["reason"] == "revoked API key qa-viewer"
    assert failures[-1].source == "testclient"
    assert keys["viewer"] not in str(failures[-1].detail)
    revoked = _events(services, "key_revoked")
    assert revoked[-1].actor == "key:qa-admin/admin"
    _login(client, keys["viewer"])  # a failed dashboard login with the revoked key
    assert not any(key in caplog.text for key in keys.values())


def test_every_bad_key_is_a_failed_auth_event_and_a_burst_raises_an_alert(
    app_client: tuple[TestClient, Services], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, services = app_client
    bad = [f"dgk_not-a-real-key-{i:02d}-abcdefghijklmnop" for i in range(6)]
    for key in bad:
        assert client.get("/api/runs", headers=_bearer(key)).status_code == 401
    failures = _events(services, "auth_failure")
    assert len(failures) == 6
    assert {f.source for f in failures} == {"testclient"}
    assert all(f.detail["reason"] == "invalid API key" and f.detail["frontend"] == "wolf" for f in failures)
    dump = str([f.model_dump() for f in failures]) + caplog.text
    assert not any(key in dump for key in bad)
    from core.governance.alerts import AlertService

    alerts = AlertService(services.store(), services.settings).list_alerts(status=["open"])
    assert [a.kind for a in alerts if a.dedup_key.endswith(":failed_auth:testclient")] == ["security"]


def test_a_request_without_credentials_is_401_without_an_event(app_client: tuple[TestClient, Services]) -> None:
    client, services = app_client
    assert client.get("/api/runs").status_code == 401
    assert _events(services, "auth_failure") == []


def _login(client: TestClient, key: str) -> Any:
    csrf = form_csrf_token(client.get("/login").text)
    return client.post("/login", data={"token": key, "csrf_token": csrf}, follow_redirects=False)


def test_a_viewer_logged_in_by_cookie_stays_a_viewer(app_client: tuple[TestClient, Services], keys: dict[str, str]) -> None:
    client, services = app_client
    response = _login(client, keys["viewer"])
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert keys["viewer"] not in cookie
    assert client.get("/api/v1/whoami").json()["actor"] == "key:qa-viewer/viewer"
    assert client.get("/api/runs").status_code == 200
    csrf = form_csrf_token(client.get("/login").text)
    denied = client.post("/api/plan", json={}, headers={"X-CSRF-Token": csrf})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "role_denied"
    assert client.get("/api/v1/keys").status_code == 403
    with services.store().session(readonly=True) as s:
        logins = repo.query_audit(session=s, filters=AuditFilter(action="login"))
    assert any(a.actor == "key:qa-viewer/viewer" and a.object == "dashboard" for a in logins)


def test_an_operator_cookie_may_plan_with_the_csrf_token_and_is_audited(
    app_client: tuple[TestClient, Services], keys: dict[str, str]
) -> None:
    client, services = app_client
    assert _login(client, keys["operator"]).status_code == 303
    csrf = form_csrf_token(client.get("/login").text)
    assert client.post("/api/plan", json={"spaces": ["SALES"]}, headers={"X-CSRF-Token": csrf}).status_code == 200
    with services.store().session(readonly=True) as s:
        plans = repo.query_audit(session=s, filters=AuditFilter(action="plan"))
    assert [(a.actor, a.details["spaces"]) for a in plans] == [("key:qa-operator/operator", ["SALES"])]


def test_a_cookie_with_an_edited_role_is_refused(app_client: tuple[TestClient, Services], keys: dict[str, str]) -> None:
    import base64
    import json

    client, services = app_client
    assert _login(client, keys["viewer"]).status_code == 303
    value = client.cookies.get("dgsync_session")
    assert value is not None
    body, _, sig = value.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert payload["r"] == "viewer" and payload["n"] == "qa-viewer"
    payload["r"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    client.cookies.clear()
    client.cookies.set("dgsync_session", f"{forged}.{sig}")
    assert client.get("/api/v1/keys").status_code == 401
    assert _events(services, "auth_failure")[-1].detail["reason"] == "invalid or expired session cookie"


def test_revoking_a_key_ends_its_dashboard_session(app_client: tuple[TestClient, Services], keys: dict[str, str]) -> None:
    client, services = app_client
    assert _login(client, keys["operator"]).status_code == 303
    assert client.get("/api/runs").status_code == 200
    ApiKeys(services.store(), services.settings).revoke("qa-operator", actor="cli:test")
    assert client.get("/api/runs").status_code == 401


def test_a_wrong_key_at_login_is_recorded_and_sets_no_cookie(app_client: tuple[TestClient, Services]) -> None:
    client, services = app_client
    response = _login(client, "dgk_wrong-wrong-wrong-wrong-wrong-wrong")
    assert response.status_code == 401 and "set-cookie" not in response.headers
    assert "dgk_wrong" not in response.text
    assert _events(services, "auth_failure")[-1].source == "testclient"


def test_a_key_used_from_a_new_source_raises_a_security_alert(app_client: tuple[TestClient, Services], keys: dict[str, str]) -> None:
    client, services = app_client
    made = ApiKeys(services.store(), services.settings)
    assert made.authenticate(keys["viewer"], "10.0.0.1") is not None
    assert made.authenticate(keys["viewer"], "10.0.0.1") is not None
    listed = {k.name: k for k in made.list()}
    assert listed["qa-viewer"].last_used_source == "10.0.0.1" and listed["qa-viewer"].last_used_at is not None
    assert client.get("/api/runs", headers=_bearer(keys["viewer"])).status_code == 200  # from "testclient"
    from core.governance.alerts import AlertService

    alerts = AlertService(services.store(), services.settings).list_alerts(status=["open"])
    assert [a.dedup_key.split(":", 1)[1] for a in alerts if ":new_source:" in a.dedup_key] == [
        "new_source:qa-viewer:testclient"]


def test_openapi_declares_the_bearer_scheme_on_protected_routes(app_client: tuple[TestClient, Services]) -> None:
    client, _ = app_client
    schema = client.get("/openapi.json", headers=_bearer(API_TOKEN)).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["paths"]["/api/runs"]["get"]["security"] == [{"bearer": []}]
    assert schema["paths"]["/api/plan"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in schema["paths"]["/health"]["get"]
