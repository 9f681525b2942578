"""The web security baseline (core/websec.py) and how Dog, Wolf and Bear enforce it.

Each app through its real protocol: Flask's test client, FastAPI's TestClient, API Gateway
events through Bear's handler, and the ``python -m`` entry points as processes.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import bear_lambda.handler as bear
from core import websec
from core.errors import ConfigError
from core.settings import Settings, load_settings
from dog_flask.app import create_app as create_dog
from dog_flask.extension import close_app
from wolf_fastapi.app import create_app as create_wolf

from .conftest import API_TOKEN, form_csrf_token, local_client, migrated_store, real_env
from .test_bear_lambda import LambdaContext, http_api_v2_event, rest_v1_event

REPO = Path(__file__).resolve().parents[2]
WEAK = [
    "aaaaaaaaaaaaaaaa",
    "changemechangeme",
    "wolf-test-token-0123456789abcdef",
    "passwordpassword1234",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiop1234567890",
    str(uuid.UUID(int=random.Random(7).getrandbits(128), version=4)),  # 122 bits
    "Tr0ub4dor&3",
]


def assert_baseline_headers(headers: Any, *, https: bool) -> None:
    csp = headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert ("strict-transport-security" in headers) is https


# ------------------------------------------------------------------------- core


@pytest.mark.parametrize("value", WEAK)
def test_low_entropy_keys_are_refused_with_the_fix_and_without_the_value(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        websec.check_key_strength(value, name="DGSYNC_API_TOKEN")
    assert "too weak" in caught.value.message and "DGSYNC_API_TOKEN" in caught.value.message
    assert "dgsync keys create" in caught.value.hint
    assert value not in caught.value.message + caught.value.hint


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_key_is_refused(value: str | None) -> None:
    with pytest.raises(ConfigError, match="not set"):
        websec.check_key_strength(value, name="DGSYNC_API_TOKEN")


def test_random_keys_of_128_bits_and_more_pass() -> None:
    rng = random.Random(20261127)  # deterministic "random" keys: the estimate must not flake
    for _ in range(300):
        raw = rng.randbytes(16)
        websec.check_key_strength(raw.hex(), name="k")  # 32 hex digits: exactly 128 bits
        websec.check_key_strength(base64.urlsafe_b64encode(raw).decode().rstrip("="), name="k")
        websec.check_key_strength(base64.urlsafe_b64encode(rng.randbytes(32)).decode(), name="k")
    for _ in range(50):
        websec.check_key_strength(websec.generate_key(), name="k")


def test_generated_keys_are_256_bit_base64url_and_distinct() -> None:
    keys = {websec.generate_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(k) == 43 and set(k) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
               for k in keys)
    with pytest.raises(ConfigError):
        websec.generate_key(8)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]:8080", True), ("localhost", True),
     ("localhost:5050", True), ("0.0.0.0", False), ("::", False), ("", False), (None, False),
     ("10.0.0.5", False), ("dgsync.example.com", False), ("127.0.0.1.nip.io", False)],
)
def test_loopback_addresses(host: str | None, loopback: bool) -> None:
    assert websec.is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("header", "allowed", "ok"),
    [("127.0.0.1:5050", websec.LOOPBACK_HOSTS, True), ("localhost", websec.LOOPBACK_HOSTS, True),
     ("[::1]:8080", websec.LOOPBACK_HOSTS, True), ("evil.example", websec.LOOPBACK_HOSTS, False),
     ("localhost.evil.example", websec.LOOPBACK_HOSTS, False), (None, websec.LOOPBACK_HOSTS, False),
     ("127.0.0.1@evil.example", websec.LOOPBACK_HOSTS, False),
     ("api.example.com", {".example.com"}, True), ("example.com", {".example.com"}, True),
     ("badexample.com", {".example.com"}, False), ("anything", {"*"}, True),
     ("DGSYNC.example.com:443", {"dgsync.example.com"}, True)],
)
def test_host_allow_list(header: str | None, allowed: set[str], ok: bool) -> None:
    assert websec.host_allowed(header, allowed) is ok


def test_csrf_tokens_are_bound_to_their_session_and_key() -> None:
    signer = websec.CsrfSigner(b"k" * 32)
    sid, other = signer.new_session_id(), signer.new_session_id()
    token = signer.token_for(sid)
    assert signer.verify(sid, token)
    assert not signer.verify(other, token)
    assert not signer.verify(sid, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not signer.verify(sid, None) and not signer.verify(None, token) and not signer.verify("short", token)
    assert not websec.CsrfSigner(b"x" * 32).verify(sid, token)
    with pytest.raises(ConfigError):
        websec.CsrfSigner(b"short")


def test_security_headers_send_hsts_only_over_https() -> None:
    assert_baseline_headers({k.lower(): v for k, v in websec.security_headers(https=False).items()}, https=False)
    assert_baseline_headers({k.lower(): v for k, v in websec.security_headers(https=True).items()}, https=True)
    assert websec.is_https("http", {"x-forwarded-proto": "https"})
    assert not websec.is_https("http", {})


def _settings(env: str = "dog", **extra: Any) -> Settings:
    return Settings(env=env, **extra)  # type: ignore[arg-type]


def test_policy_loopback_dog_needs_no_auth_but_checks_hosts_and_csrf(state_env: Path) -> None:
    policy = websec.web_policy(_settings(), app="wolf", bind_host="127.0.0.1")
    assert not policy.auth_required
    assert policy.allowed_hosts == websec.LOOPBACK_HOSTS
    assert policy.needs_auth("10.1.2.3")  # a request that arrived from elsewhere: fail closed
    assert not policy.needs_auth("127.0.0.1")


def test_policy_non_loopback_wolf_in_the_dog_profile_requires_a_strong_token_and_hosts(state_env: Path) -> None:
    with pytest.raises(ConfigError, match=r"0\.0\.0\.0.*requires DGSYNC_API_TOKEN"):
        websec.web_policy(_settings(), app="wolf", bind_host="0.0.0.0")
    with pytest.raises(ConfigError, match="too weak"):
        websec.web_policy(_settings(api_token="changemechangeme"), app="wolf", bind_host="0.0.0.0")
    with pytest.raises(ConfigError, match="ALLOWED_HOSTS"):
        websec.web_policy(_settings(api_token=API_TOKEN), app="wolf", bind_host="0.0.0.0")
    policy = websec.web_policy(
        _settings(api_token=API_TOKEN, web={"allowed_hosts": ["dgsync.example.com"]}), app="wolf", bind_host="0.0.0.0"
    )
    assert policy.auth_required and policy.allowed_hosts == {"dgsync.example.com"}


def test_policy_bear_always_requires_auth_and_dog_refuses_other_binds(state_env: Path) -> None:
    with pytest.raises(ConfigError, match="Bear"):
        websec.web_policy(_settings(), app="bear")
    assert websec.web_policy(_settings(api_token=API_TOKEN), app="bear").auth_required
    with pytest.raises(ConfigError, match=r"Dog refuses to listen on '0\.0\.0\.0' without DGSYNC_API_TOKEN"):
        websec.web_policy(_settings(), app="dog", bind_host="0.0.0.0")
    # with a token (Dog's sign-in) it also needs the host names: the Docker image sets both
    with pytest.raises(ConfigError, match="DGSYNC_WEB__ALLOWED_HOSTS is empty"):
        websec.web_policy(_settings(api_token=API_TOKEN), app="dog", bind_host="0.0.0.0")
    policy = websec.web_policy(
        _settings(api_token=API_TOKEN, web={"allowed_hosts": ["127.0.0.1"]}), app="dog", bind_host="0.0.0.0"
    )
    assert policy.auth_required and policy.allowed_hosts == {"127.0.0.1"}
    with pytest.raises(ConfigError, match="too weak"):
        websec.web_policy(_settings(web={"secret_key": "aaaaaaaaaaaaaaaaaaaa"}), app="dog")


# -------------------------------------------------------------------------- Dog


@pytest.fixture
def dog_app(dog_settings: Settings) -> Iterator[Flask]:
    app = create_dog(dog_settings)
    yield app
    close_app(app)


@pytest.fixture
def dog(dog_app: Flask) -> FlaskClient:
    return dog_app.test_client()


def test_dog_cross_site_posts_without_the_session_token_are_403(dog: FlaskClient) -> None:
    evil = {"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"}
    response = dog.post("/plan/_rows", data="spaces=&show_all=1", headers=evil)
    assert response.status_code == 403
    assert "CSRF" in response.get_data(as_text=True)
    # A token of another browser session does not help either.
    other = create_dog(load_settings(env="dog")).test_client()
    foreign = form_csrf_token(other.get("/plan/").get_data(as_text=True))
    dog.get("/plan/")
    response = dog.post("/plan/_rows", data={"csrf_token": foreign}, headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert 'data-code="csrf_failed"' in response.get_data(as_text=True)


def test_dog_pages_carry_the_csrf_token_for_forms_and_htmx(dog: FlaskClient) -> None:
    page = dog.get("/plan/")
    html = page.get_data(as_text=True)
    token = form_csrf_token(html)
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in html
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("dgsync_csrf=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert token not in cookie  # the cookie holds the session id, the page its HMAC


def test_dog_refuses_foreign_host_headers(dog: FlaskClient) -> None:
    response = dog.get("/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert_baseline_headers(response.headers, https=False)
    assert dog.get("/", headers={"Host": "127.0.0.1:5050"}).status_code == 200
    assert dog.get("/", headers={"Host": "localhost:5050"}).status_code == 200


def test_dog_refuses_requests_that_arrive_on_a_non_loopback_address(dog: FlaskClient) -> None:
    response = dog.get("/", environ_overrides={"SERVER_NAME": "10.0.0.5"})
    assert response.status_code == 403
    assert "127.0.0.1" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/runs/", "/static/htmx.min.js", "/static/dgsync.css", "/runs/NOPE", "/nope"])
def test_every_dog_response_has_the_security_headers(dog: FlaskClient, path: str) -> None:
    response = dog.get(path)
    assert_baseline_headers(response.headers, https=False)
    response.close()


def test_dog_templates_have_no_inline_scripts_styles_or_handlers() -> None:
    for template in (REPO / "templates").rglob("*.html"):
        text = template.read_text()
        assert "<script>" not in text and "<style" not in text, template
        assert " style=" not in text and " onsubmit=" not in text and " onclick=" not in text, template


def test_dog_honours_dgsync_env(state_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_env(monkeypatch, "wolf")
    with pytest.raises(ConfigError, match="dog profile"):
        create_dog()


def _run_module(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DGSYNC_")}
    return subprocess.run(
        [sys.executable, "-m", module, *args], env={**base, **env}, capture_output=True, text=True,
        timeout=60, cwd=REPO,
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "(hint: " in lines[0]
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_python_m_dog_flask_refuses_a_non_loopback_bind_in_one_line(tmp_path: Path) -> None:
    result = _run_module("dog_flask", "--host", "0.0.0.0", "--port", "1",
                         env={"DGSYNC_STATE_DIR": str(tmp_path)})
    _assert_one_line_error(result, "Dog refuses to listen on '0.0.0.0'", "--host 127.0.0.1")


def test_python_m_dog_flask_refuses_another_profile_in_one_line(tmp_path: Path) -> None:
    result = _run_module("dog_flask", env={"DGSYNC_STATE_DIR": str(tmp_path), "DGSYNC_ENV": "wolf",
                                           "DGSYNC_DATASPHERE__BASE_URL": "http://127.0.0.1:9",
                                           "DGSYNC_DATASPHERE__CLIENT_ID": "c",
                                           "DGSYNC_DATASPHERE__CLIENT_SECRET": "qa-client-secret-value"})
    _assert_one_line_error(result, "Dog serves only the dog profile")


# ------------------------------------------------------------------------- Wolf


def test_python_m_wolf_fastapi_refuses_a_weak_token_in_one_line(tmp_path: Path) -> None:
    weak = "changemechangeme"
    result = _run_module("wolf_fastapi", "--port", "1", env={
        "DGSYNC_STATE_DIR": str(tmp_path), "DGSYNC_ENV": "wolf", "DGSYNC_API_TOKEN": weak,
        "DGSYNC_DATASPHERE__BASE_URL": "http://127.0.0.1:9", "DGSYNC_DATASPHERE__CLIENT_ID": "c",
        "DGSYNC_DATASPHERE__CLIENT_SECRET": "qa-client-secret-value",
    })
    _assert_one_line_error(result, "DGSYNC_API_TOKEN is too weak", "dgsync keys create")
    assert weak not in result.stderr + result.stdout


def test_python_m_wolf_fastapi_in_the_dog_profile_refuses_0_0_0_0_without_a_token(tmp_path: Path) -> None:
    result = _run_module("wolf_fastapi", "--host", "0.0.0.0", "--port", "1",
                         env={"DGSYNC_STATE_DIR": str(tmp_path)})
    _assert_one_line_error(result, "'0.0.0.0' (not loopback) requires DGSYNC_API_TOKEN")


def test_wolf_dog_profile_bound_to_all_interfaces_requires_the_token(
    dog_settings: Settings, migrated_template: Path
) -> None:
    settings = dog_settings.model_copy(
        update={"api_token": load_settings(overrides={"api_token": API_TOKEN}).api_token,
                "web": dog_settings.web.model_copy(update={"allowed_hosts": ["dgsync.example.com"]})}
    )
    migrated_store(settings, migrated_template)
    from fastapi.testclient import TestClient

    with TestClient(create_wolf(settings, bind_host="0.0.0.0"), base_url="http://dgsync.example.com") as client:
        assert client.get("/health").status_code == 200
        for path in ("/api/runs", "/", "/partials/runs", "/ready", "/openapi.json"):
            assert client.get(path).status_code == 401, path
        assert client.post("/api/plan", json={}).status_code == 401
        assert client.get("/api/runs", headers={"Authorization": f"Bearer {API_TOKEN}"}).status_code == 200
        assert client.get("/api/runs", headers={"Host": "evil.example"}).status_code == 400


def test_wolf_started_without_its_bind_fails_closed_for_requests_from_elsewhere(
    dog_settings: Settings
) -> None:
    """``uvicorn --factory ... --host 0.0.0.0`` bypasses ``python -m wolf_fastapi``'s check:
    a request that arrives on a non-loopback address still needs the (absent) token."""
    settings = dog_settings.model_copy(
        update={"web": dog_settings.web.model_copy(update={"allowed_hosts": ["10.0.0.5"]})}
    )
    from fastapi.testclient import TestClient

    with TestClient(create_wolf(settings), base_url="http://10.0.0.5") as client:
        assert client.get("/api/runs").status_code == 401
        assert client.get("/health").status_code == 200


def test_wolf_dog_profile_cross_site_posts_are_403(dog_settings: Settings) -> None:
    with local_client(create_wolf(dog_settings)) as client:
        for content_type, body in [("application/x-www-form-urlencoded", "spaces=SALES"),
                                   ("text/plain", "{}"), ("application/json", "{}")]:
            response = client.post("/api/plan", content=body, headers={
                "Content-Type": content_type, "Origin": "https://evil.example"})
            assert response.status_code == 403, content_type
            assert response.json()["error"]["code"] == "csrf_failed"
            assert response.json()["error"]["hint"]
        # Another session's token is refused too.
        with local_client(create_wolf(dog_settings)) as other_browser:
            other = form_csrf_token(other_browser.get("/login").text)
        client.get("/login")
        assert client.post("/api/plan", json={}, headers={"X-CSRF-Token": other}).status_code == 403
        assert client.post("/logout", data={"csrf_token": other}).status_code == 403


def test_wolf_dog_profile_refuses_foreign_host_headers(dog_settings: Settings) -> None:
    with local_client(create_wolf(dog_settings)) as client:
        response = client.get("/api/runs", headers={"Host": "evil.example"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_host"
        assert_baseline_headers(response.headers, https=False)
        assert client.get("/health", headers={"Host": "localhost:8080"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/health", {}), ("/api/runs", {}), ("/api/runs", {"Authorization": "Bearer wrong"}), ("/", {}),
     ("/login", {}), ("/static/htmx.min.js", {}), ("/nope", {})],
)
def test_every_wolf_response_has_the_security_headers(
    wolf_settings: Settings, path: str, headers: dict[str, str]
) -> None:
    with local_client(create_wolf(wolf_settings)) as client:
        assert_baseline_headers(client.get(path, headers=headers).headers, https=False)
        behind_tls = client.get(path, headers={**headers, "X-Forwarded-Proto": "https"})
        assert_baseline_headers(behind_tls.headers, https=True)


def test_wolf_docs_pages_run_no_inline_script_and_load_nothing_from_a_cdn(wolf_settings: Settings) -> None:
    with local_client(create_wolf(wolf_settings)) as client:
        docs = client.get("/docs", headers={"Authorization": f"Bearer {API_TOKEN}"})
        redoc = client.get("/redoc", headers={"Authorization": f"Bearer {API_TOKEN}"})
        vendored = [client.get(p) for p in ("/static/vendor/swagger-ui/swagger-ui-bundle.js",
                                            "/static/vendor/redoc/redoc.standalone.js", "/static/wolf-docs.js")]
    assert docs.headers["content-security-policy"] == websec.DEFAULT_CSP
    redoc_csp = redoc.headers["content-security-policy"]
    assert "script-src 'self';" in redoc_csp and "frame-ancestors 'none'" in redoc_csp  # inline styles only
    for page in (docs, redoc):
        assert "<script>" not in page.text and "cdn" not in page.text.lower()
    assert all(r.status_code == 200 for r in vendored)
    assert "cdn.redoc.ly" not in vendored[1].text and "cdn.jsdelivr" not in vendored[0].text


# ------------------------------------------------------------------------- Bear


def _invoke(event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = bear.handler(event, LambdaContext())
    return response


@pytest.fixture
def bear_env(state_env: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Iterator[None]:
    real_env(monkeypatch, "bear")
    migrated_store(load_settings(), migrated_template)
    bear.reset()
    yield
    bear.reset()


def test_bear_responses_carry_the_headers_and_hsts_behind_api_gateway(bear_env: None) -> None:
    for event in (http_api_v2_event("GET", "/health"), http_api_v2_event("GET", "/api/runs"),
                  rest_v1_event("GET", "/api/runs", headers={"Authorization": f"Bearer {API_TOKEN}"})):
        response = _invoke(event)
        headers = {k.lower(): v for k, v in response["headers"].items()}
        assert_baseline_headers(headers, https=True)
    assert _invoke(http_api_v2_event("GET", "/api/runs"))["statusCode"] == 401


def test_bear_requires_the_token_even_in_the_dog_profile(
    state_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bear.reset()
    try:
        with pytest.raises(ConfigError, match=r"Bear .*always requires DGSYNC_API_TOKEN"):
            _invoke(http_api_v2_event("GET", "/health"))
    finally:
        bear.reset()


@pytest.mark.parametrize("token", ["aaaaaaaaaaaaaaaa", "changemechangeme"])
def test_bear_refuses_a_weak_token(
    state_env: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path, token: str
) -> None:
    real_env(monkeypatch, "bear", token=token)
    bear.reset()
    try:
        with pytest.raises(ConfigError, match="too weak") as caught:
            _invoke(http_api_v2_event("GET", "/health"))
        assert token not in str(caught.value) + caught.value.hint
    finally:
        bear.reset()


def test_bear_login_form_round_trip_with_csrf(bear_env: None) -> None:
    page = _invoke(http_api_v2_event("GET", "/login", headers={"accept": "text/html"}))
    assert page["statusCode"] == 200
    html = base64.b64decode(page["body"]).decode() if page.get("isBase64Encoded") else page["body"]
    csrf = form_csrf_token(html)
    cookies = page.get("cookies") or [page["headers"].get("set-cookie", "")]
    sid_cookie = next(c for c in cookies if c.startswith("dgsync_csrf=")).split(";")[0]
    assert "Secure" in next(c for c in cookies if c.startswith("dgsync_csrf="))
    form = {"content-type": "application/x-www-form-urlencoded"}
    forged = _invoke(http_api_v2_event("POST", "/login", headers=form, body=f"token={API_TOKEN}"))
    assert forged["statusCode"] == 403
    ok = _invoke(http_api_v2_event("POST", "/login", headers={**form, "cookie": sid_cookie},
                                   body=f"token={API_TOKEN}&csrf_token={csrf}"))
    assert ok["statusCode"] == 303
    assert json.dumps(ok).count(API_TOKEN) == 0
