"""XSUAA-style OAuth: grants, client authentication styles, errors, the authorize flow."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from doubles.emulator import RunningEmulator

from .conftest import CATALOG, client_for, new_client

REDIRECT = "http://localhost:8080/callback"


def _claims(jwt: str) -> dict[str, object]:
    payload = jwt.split(".")[1]
    data: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


@pytest.fixture
def oauth(emu: RunningEmulator) -> httpx.Client:
    with new_client(base_url=emu.base_url, follow_redirects=False) as c:
        yield c


def test_client_credentials_with_basic_auth_returns_bearer_token(oauth: httpx.Client) -> None:
    r = oauth.post("/oauth/token", auth=("dgsync-demo", "dgsync-demo-secret"),
                   data={"grant_type": "client_credentials"})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86_400
    assert {"access_token", "scope", "jti"} <= set(body)
    assert "refresh_token" not in body
    assert _claims(body["access_token"])["client_id"] == "dgsync-demo"
    assert r.headers["cache-control"] == "no-store"


def test_client_credentials_as_form_fields_with_grant_type_in_query(oauth: httpx.Client) -> None:
    r = oauth.post("/oauth/token?grant_type=client_credentials",
                   data={"client_id": "dgsync-demo", "client_secret": "dgsync-demo-secret"})
    assert r.status_code == 200
    assert r.json()["access_token"]


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"auth": ("dgsync-demo", "wrong")}, 401, "invalid_client"),
        ({"auth": ("nobody", "x")}, 401, "invalid_client"),
        ({}, 401, "unauthorized"),
    ],
)
def test_bad_client_credentials_are_refused(oauth: httpx.Client, kwargs: dict[str, object], status: int,
                                            error: str) -> None:
    r = oauth.post("/oauth/token", data={"grant_type": "client_credentials"}, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status
    assert r.json()["error"] == error
    if error == "invalid_client":
        assert r.json() == {"error": "invalid_client", "error_description": "Bad credentials"}


def test_grant_errors(oauth: httpx.Client) -> None:
    demo = ("dgsync-demo", "dgsync-demo-secret")
    assert oauth.post("/oauth/token", auth=demo, data={}).json()["error"] == "invalid_request"
    assert oauth.post("/oauth/token", auth=demo, data={"grant_type": "magic"}).json()["error"] == "unsupported_grant_type"
    r = oauth.post("/oauth/token", auth=("dgsync-interactive", "dgsync-interactive-secret"),
                   data={"grant_type": "client_credentials"})
    assert (r.status_code, r.json()["error"]) == (400, "unauthorized_client")


def test_api_call_without_token_is_401_with_the_sap_body(oauth: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}):
        r = oauth.get(f"{CATALOG}/spaces", headers=headers)
        assert r.status_code == 401
        assert r.json() == {"error": "unauthorized",
                            "error_description": "An Authentication object was not found in the SecurityContext"}


def _code_via_consent_page(oauth: httpx.Client, state: str = "xyz") -> str:
    page = oauth.get("/oauth/authorize", params={"response_type": "code", "client_id": "dgsync-interactive",
                                                 "redirect_uri": REDIRECT, "state": state})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/oauth/authorize">' in page.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    assert fields["redirect_uri"] == REDIRECT
    r = oauth.post("/oauth/authorize", data={**fields, "decision": "approve"})
    assert r.status_code == 302
    location = urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


def test_authorization_code_flow_yields_access_refresh_and_id_token(oauth: httpx.Client, emu: RunningEmulator) -> None:
    code = _code_via_consent_page(oauth)
    auth = ("dgsync-interactive", "dgsync-interactive-secret")
    r = oauth.post("/oauth/token", auth=auth,
                   data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    assert r.status_code == 200
    body = r.json()
    assert body["expires_in"] == 3600
    assert body["refresh_token"].endswith("-r")
    assert _claims(body["id_token"])["sub"] == "dgsync.demo@example.com"
    with client_for(emu, body["access_token"]) as api:
        assert api.get(f"{CATALOG}/spaces").status_code == 200
    # a code is single-use
    again = oauth.post("/oauth/token", auth=auth,
                       data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def test_denied_consent_redirects_with_access_denied(oauth: httpx.Client) -> None:
    r = oauth.post("/oauth/authorize", data={"client_id": "dgsync-interactive", "redirect_uri": REDIRECT,
                                             "state": "s1", "decision": "deny"})
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["location"]).query) == {"error": ["access_denied"], "state": ["s1"]}


def test_auto_approve_redirects_at_once_and_checks_the_redirect_uri(oauth: httpx.Client) -> None:
    params = {"response_type": "code", "client_id": "dgsync-interactive", "state": "abc",
              "redirect_uri": "http://127.0.0.1:53682/", "auto_approve": "true"}
    r = oauth.get("/oauth/authorize", params=params)
    assert r.status_code == 302
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    mismatch = oauth.post("/oauth/token", auth=("dgsync-interactive", "dgsync-interactive-secret"),
                          data={"grant_type": "authorization_code", "code": code,
                                "redirect_uri": "http://127.0.0.1:1/"})
    assert mismatch.json()["error"] == "invalid_grant"
    bad = oauth.get("/oauth/authorize", params={**params, "redirect_uri": "https://evil.example/cb"})
    assert bad.status_code == 400
    assert "location" not in bad.headers
    technical = oauth.get("/oauth/authorize", params={**params, "client_id": "dgsync-demo"})
    assert technical.status_code == 400


def test_refresh_token_works_until_it_expires(fresh: RunningEmulator) -> None:
    auth = ("dgsync-interactive", "dgsync-interactive-secret")
    with new_client(base_url=fresh.base_url) as c:
        loc = c.get("/oauth/authorize", params={"response_type": "code", "client_id": "dgsync-interactive",
                                                "redirect_uri": REDIRECT, "auto_approve": "true"}).headers["location"]
        code = parse_qs(urlsplit(loc).query)["code"][0]
        first = c.post("/oauth/token", auth=auth, data={"grant_type": "authorization_code", "code": code,
                                                        "redirect_uri": REDIRECT}).json()
        refreshed = c.post("/oauth/token", auth=auth,
                           data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
        assert refreshed.status_code == 200
        assert refreshed.json()["access_token"] != first["access_token"]
        unknown = c.post("/oauth/token", auth=auth, data={"grant_type": "refresh_token", "refresh_token": "nope-r"})
        assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")
        # 30 days later the refresh token is gone; so is the access token.
        c.post(f"{fresh.admin_url}/clock", json={"advance_s": 31 * 86_400})
        expired = c.post("/oauth/token", auth=auth,
                         data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
        assert (expired.status_code, expired.json()["error"]) == (400, "invalid_grant")
        r = c.get(f"{CATALOG}/spaces", headers={"Authorization": f"Bearer {first['access_token']}"})
        assert r.status_code == 401


def test_token_lifetimes_are_configurable() -> None:
    from core.settings import EmulatorSettings
    from doubles.emulator import start_in_thread

    with start_in_thread(EmulatorSettings(), token_lifetime_s=120, include_fixtures=False) as e, \
            new_client(base_url=e.base_url) as c:
        r = c.post("/oauth/token", auth=(e.client_id, e.client_secret), data={"grant_type": "client_credentials"})
        assert r.json()["expires_in"] == 120
