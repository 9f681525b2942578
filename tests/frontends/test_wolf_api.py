"""Wolf over HTTP: FastAPI's TestClient, and once through uvicorn on a loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core import errors as e
from core.errors import ConfigError
from core.services import Services
from core.settings import Settings, load_settings
from wolf_fastapi.app import create_app
from wolf_fastapi.deps import get_services

from .conftest import API_TOKEN, DB_PASSWORD, form_csrf_token, local_client, real_env, seed_runs

PROTECTED = [
    ("GET", "/ready"),
    ("GET", "/api/runs"),
    ("GET", "/api/runs/01ANY"),
    ("POST", "/api/plan"),
    ("GET", "/"),
    ("GET", "/partials/runs"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
]


@pytest.fixture
def wolf(wolf_settings: Settings) -> Iterator[tuple[TestClient, Services]]:
    app = create_app(wolf_settings)
    with local_client(app) as client:
        yield client, app.state.services


def test_health_answers_without_token_or_store(state_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_env(monkeypatch, "wolf")
    monkeypatch.setenv("DGSYNC_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    with local_client(create_app()) as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "env": "wolf"}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token-wrong-token-00", "Basic " + API_TOKEN, "Bearer", API_TOKEN],
    ids=["missing", "wrong", "basic", "empty", "no-scheme"],
)
def test_routes_other_than_health_refuse_requests_without_the_bearer_token(
    wolf: tuple[TestClient, Services], method: str, path: str, header: str | None
) -> None:
    client, _ = wolf
    headers = {"Authorization": header} if header is not None else {}
    response = client.request(method, path, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"
    assert API_TOKEN not in response.text


def test_openapi_and_docs_are_served_with_the_token(wolf: tuple[TestClient, Services], auth: dict[str, str]) -> None:
    client, _ = wolf
    schema = client.get("/openapi.json", headers=auth)
    assert schema.status_code == 200
    assert {"/api/runs", "/api/runs/{run_id}", "/api/plan", "/ready", "/health"} <= set(schema.json()["paths"])
    docs = client.get("/docs", headers=auth)
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text


def test_a_browser_without_a_session_is_sent_to_login(wolf: tuple[TestClient, Services]) -> None:
    client, _ = wolf
    response = client.get("/", headers={"Accept": "text/html,application/xhtml+xml"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert client.get("/login").status_code == 200


def test_login_gives_a_session_cookie_that_is_not_the_token(wolf: tuple[TestClient, Services]) -> None:
    client, services = wolf
    run_id = seed_runs(services, 1)[0]
    csrf = form_csrf_token(client.get("/login").text)
    response = client.post("/login", data={"token": API_TOKEN, "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("dgsync_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert API_TOKEN not in cookie
    assert run_id in client.get("/").text  # the client keeps the cookie
    assert client.get("/partials/runs").status_code == 200
    refused = client.post("/api/plan", json={})  # a write by cookie needs the CSRF token too
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 200  # → /login
    assert client.get("/api/runs").status_code == 401


def test_login_with_a_wrong_token_sets_no_cookie(wolf: tuple[TestClient, Services]) -> None:
    client, _ = wolf
    csrf = form_csrf_token(client.get("/login").text)
    response = client.post("/login", data={"token": "not-the-token-at-all", "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert "not a valid API key" in response.text


def test_a_forged_session_cookie_is_refused(wolf: tuple[TestClient, Services]) -> None:
    client, _ = wolf
    client.cookies.set("dgsync_session", API_TOKEN)
    assert client.get("/api/runs").status_code == 401


def test_status_route_is_protected(wolf: tuple[TestClient, Services]) -> None:
    client, _ = wolf
    assert client.get("/api/status").status_code == 401


@pytest.mark.parametrize("env", ["wolf", "bear"])
@pytest.mark.parametrize("token", [None, "changeme", "short-token", "aaaaaaaaaaaaaaaa", "changemechangeme",
                                   "wolf-test-token-0123456789abcdef"])
def test_refuses_to_start_outside_dog_without_a_real_api_token(
    state_env: Path, monkeypatch: pytest.MonkeyPatch, env: str, token: str | None
) -> None:
    real_env(monkeypatch, env, token=token)
    with pytest.raises(ConfigError, match="DGSYNC_API_TOKEN"):
        create_app(load_settings())
    # Settings loaded lazily: the lifespan refuses (uvicorn does not start).
    with pytest.raises(ConfigError, match="DGSYNC_API_TOKEN"), local_client(create_app()):
        pass


def test_dog_profile_needs_no_token(dog_settings: Settings) -> None:
    with local_client(create_app(dog_settings)) as client:
        response = client.get("/api/runs")
    assert response.status_code == 200
    assert response.json() == []


def test_ready_checks_the_state_store(wolf: tuple[TestClient, Services], auth: dict[str, str]) -> None:
    client, _ = wolf
    response = client.get("/ready", headers=auth)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "env": "wolf", "store": {"dialect": "sqlite"}}


def test_ready_is_503_with_hint_and_no_password_when_the_store_is_down(
    state_env: Path, monkeypatch: pytest.MonkeyPatch, auth: dict[str, str]
) -> None:
    real_env(monkeypatch, "wolf")
    monkeypatch.setenv("DGSYNC_DATABASE_URL", f"postgresql+psycopg://dgsync:{DB_PASSWORD}@127.0.0.1:1/none")
    with local_client(create_app()) as client:
        response = client.get("/ready", headers=auth)
    assert response.status_code == 503
    body = response.json()["error"]
    assert body["code"] == "store_error"
    assert body["hint"]
    assert response.headers["retry-after"] == "30"
    assert DB_PASSWORD not in response.text
    assert API_TOKEN not in response.text


def test_runs_are_listed_newest_first(wolf: tuple[TestClient, Services], auth: dict[str, str]) -> None:
    client, services = wolf
    ids = seed_runs(services, 3)
    response = client.get("/api/runs", headers=auth)
    assert response.status_code == 200
    runs = response.json()
    assert [r["id"] for r in runs] == list(reversed(ids))
    assert runs[0]["counts"]["created"] == 5
    assert [r["id"] for r in client.get("/api/runs?limit=1", headers=auth).json()] == [ids[-1]]
    partial = client.get("/api/runs?status=partial", headers=auth).json()
    assert [r["id"] for r in partial] == [ids[1]]


def test_one_run_with_its_item_summary(wolf: tuple[TestClient, Services], auth: dict[str, str]) -> None:
    client, services = wolf
    run_id = seed_runs(services, 1)[0]
    response = client.get(f"/api/runs/{run_id}", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == run_id
    assert body["status"] == "succeeded"
    assert body["items_total"] == 0


def test_unknown_run_is_404_in_the_error_envelope(wolf: tuple[TestClient, Services], auth: dict[str, str]) -> None:
    client, _ = wolf
    response = client.get("/api/runs/NO_SUCH_RUN", headers=auth)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "NO_SUCH_RUN" in error["message"]
    assert error["hint"]


@pytest.mark.parametrize(
    ("path", "code"),
    [("/api/runs?limit=0", "invalid_request"), ("/api/runs?status=bogus", "invalid_request"),
     ("/no/such/route", "not_found")],
)
def test_bad_requests_use_the_error_envelope(
    wolf: tuple[TestClient, Services], auth: dict[str, str], path: str, code: str
) -> None:
    client, _ = wolf
    response = client.get(path, headers=auth)
    assert response.status_code in (404, 422)
    assert response.json()["error"]["code"] == code


def test_plan_rejects_unknown_fields(wolf: tuple[TestClient, Services], auth: dict[str, str]) -> None:
    client, _ = wolf
    response = client.post("/api/plan", json={"spaces": ["SALES"], "force": True}, headers=auth)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


class _FailingServices:
    """Services whose store raises ``exc``: drives /ready into the error handlers."""

    def __init__(self, exc: BaseException, settings: Settings) -> None:
        self.exc = exc
        self.settings = settings

    def store(self) -> Any:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (e.ConfigError("bad rules file"), 500, "config_error"),
        (e.RulesError("rule 3 is invalid"), 500, "rules_error"),
        (e.AuthError("token request refused (401)"), 502, "auth_error"),
        (e.SourceUnavailable("tenant unreachable"), 503, "source_unavailable"),
        (e.AccessDenied("not a member of SALES"), 403, "access_denied"),
        (e.NotFound("no such view"), 404, "not_found"),
        (e.UnexpectedResponse("HTML login page"), 502, "unexpected_response"),
        (e.LimitExceeded("name longer than 255"), 422, "limit_exceeded"),
        (e.TargetThrottled("ThrottlingException"), 503, "target_throttled"),
        (e.ConcurrentModification("VersionId changed"), 409, "concurrent_modification"),
        (e.TargetAccessDenied("AccessDeniedException"), 403, "target_access_denied"),
        (e.StoreError("database is down"), 503, "store_error"),
        (e.LeaseHeld("slice critical is running"), 409, "lease_held"),
        (e.SyncAborted("stopped"), 409, "sync_aborted"),
    ],
)
def test_core_errors_map_to_status_codes_with_code_message_and_hint(
    wolf: tuple[TestClient, Services], auth: dict[str, str], exc: e.DgsyncError, status: int, code: str
) -> None:
    client, services = wolf
    client.app.dependency_overrides[get_services] = lambda: _FailingServices(exc, services.settings)  # type: ignore[attr-defined]
    response = client.get("/ready", headers=auth)
    assert response.status_code == status
    assert response.json() == {"error": {"code": code, "message": exc.message, "hint": exc.hint}}


def test_unexpected_errors_are_a_generic_500_without_internal_text(
    wolf_settings: Settings, auth: dict[str, str]
) -> None:
    app = create_app(wolf_settings)
    app.dependency_overrides[get_services] = lambda: _FailingServices(
        RuntimeError("internal detail at /srv/app.py:42"), wolf_settings
    )
    with local_client(app, raise_server_exceptions=False) as client:
        response = client.get("/ready", headers=auth)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "internal detail" not in response.text


def test_dashboard_lists_runs_and_polls_the_partial_with_htmx(
    wolf: tuple[TestClient, Services], auth: dict[str, str]
) -> None:
    client, services = wolf
    run_id = seed_runs(services, 1)[0]
    page = client.get("/", headers=auth)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/htmx.min.js"></script>' in page.text
    assert 'hx-get="/partials/runs" hx-trigger="every 3s"' in page.text
    assert run_id in page.text
    partial = client.get("/partials/runs", headers=auth)
    assert partial.status_code == 200
    assert "<html" not in partial.text
    assert f'data-run-id="{run_id}"' in partial.text
    script = client.get("/static/htmx.min.js")
    assert script.status_code == 200
    assert script.text.startswith("/*! htmx.org 2.")


def test_externally_owned_services_stay_open_and_owned_ones_are_closed(wolf_settings: Settings) -> None:
    app = create_app(wolf_settings)
    with local_client(app) as client:
        client.get("/ready", headers={"Authorization": f"Bearer {API_TOKEN}"})
        owned = app.state.services
        assert owned._store is not None
    assert owned._store is None  # closed at shutdown

    services = Services(wolf_settings)
    try:
        with local_client(create_app(wolf_settings, services=services)) as client:
            client.get("/ready", headers={"Authorization": f"Bearer {API_TOKEN}"})
        assert services._store is not None  # the caller's to close
    finally:
        services.close()


def test_plan_is_a_dry_run_over_the_embedded_default(embedded_services: Services) -> None:
    app = create_app(services=embedded_services)
    writes_before = embedded_services.glue().stats.snapshot().writes
    with local_client(app) as client:
        csrf = form_csrf_token(client.get("/login").text)  # dog: no auth, but CSRF
        response = client.post("/api/plan", json={"spaces": ["SALES"], "kinds": ["view"]},
                               headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200
    report = response.json()
    assert report["dry_run"] is True
    assert report["status"] == "planned"
    assert embedded_services.glue().stats.snapshot().writes == writes_before
    assert report["extraction"]["spaces"] == ["SALES"]
    items = report["plan"]["items"]
    assert items and {i["database"] for i in items} == {"sales"}
    assert all(i["asset"] == "SALES" or i["asset"].startswith("SALES.") for i in items)


def test_status_overview(embedded_services: Services) -> None:
    with local_client(create_app(services=embedded_services)) as client:
        response = client.get("/api/status")
    assert response.status_code == 200
    body = response.json()
    assert body["env"] == "dog"
    assert {s["slice_key"] for s in body["slices"]} == {"critical", "high", "medium", "low"}


@pytest.fixture
def uvicorn_url(wolf_settings: Settings) -> Iterator[tuple[str, Services]]:
    app: FastAPI = create_app(wolf_settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", app.state.services
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_served_by_uvicorn_on_a_loopback_port(uvicorn_url: tuple[str, Services]) -> None:
    url, services = uvicorn_url
    run_id = seed_runs(services, 1)[0]
    with httpx.Client(base_url=url, timeout=5) as http:
        assert http.get("/health").json()["status"] == "ok"
        assert http.get("/api/runs").status_code == 401
        runs = http.get("/api/runs", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert runs.status_code == 200
    assert [r["id"] for r in runs.json()] == [run_id]


@pytest.mark.browser
def test_dashboard_in_chromium_signs_in_polls_and_reports_no_csp_violation(
    uvicorn_url: tuple[str, Services]
) -> None:
    import os

    from .conftest import CSP_WATCH

    chromium = "/usr/bin/chromium"
    if not os.path.exists(chromium):
        if os.environ.get("DGSYNC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{chromium} is missing and DGSYNC_REQUIRE_BROWSER=1: apt-get install -y chromium")
        pytest.skip(f"{chromium} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    url, services = uvicorn_url
    run_id = seed_runs(services, 1)[0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            page = browser.new_page()
            page.add_init_script(CSP_WATCH)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url + "/", wait_until="load")  # no session: redirected to /login
            assert page.url.endswith("/login")
            page.fill("input[name=token]", API_TOKEN)
            page.click("main button[type=submit]")  # a form post with the CSRF field
            page.wait_for_selector(f'#runs-rows tr.run[data-run-id="{run_id}"]', timeout=10_000)
            with page.expect_response(lambda r: "/partials/runs" in r.url, timeout=10_000) as polled:
                pass
            assert polled.value.status == 200  # htmx polls with the session cookie
            # The stylesheet applies under the CSP: the sign-out form sits in the header's row.
            assert page.evaluate("getComputedStyle(document.querySelector('header .env')).display") == "flex"
            assert page.evaluate("document.querySelector('form.inline-form').getBoundingClientRect().bottom"
                                 " <= document.querySelector('header').getBoundingClientRect().bottom")
            assert page.evaluate("window.__csp") == []
            page.click("form.inline-form button")  # sign out: another CSRF-protected post
            page.wait_for_url(url + "/login", timeout=10_000)
            assert page.evaluate("window.__csp") == []
            assert errors == []
        finally:
            browser.close()
