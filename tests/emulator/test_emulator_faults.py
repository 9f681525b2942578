"""Fault injection: 429 + Retry-After, 5xx bursts, latency, HTML login pages, token expiry."""

from __future__ import annotations

import time

import httpx

from doubles.emulator import RunningEmulator

from .conftest import CATALOG, client_for, get_token, new_client

SPACES = f"{CATALOG}/spaces"


def test_throttle_for_the_next_n_requests_with_retry_after(api: httpx.Client, admin: httpx.Client) -> None:
    state = admin.post("/faults", json={"throttle": {"count": 2, "retry_after": 3}}).json()
    assert state["throttle"]["count"] == 2
    statuses = []
    for _ in range(3):
        r = api.get(SPACES)
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert r.headers["retry-after"] == "3"
            assert r.json()["error"]["code"] == "429"
    assert statuses == [429, 429, 200]
    assert admin.get("/faults").json()["injected"]["throttle"] == 2


def test_server_error_burst(api: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"server_error": {"status": 502, "count": 2}})
    assert [api.get(SPACES).status_code for _ in range(3)] == [502, 502, 200]


def test_probabilistic_faults_are_reproducible_with_a_seed(api: httpx.Client, admin: httpx.Client) -> None:
    def run() -> list[int]:
        admin.post("/faults", json={"server_error": {"status": 503, "probability": 0.5}, "seed": 11})
        return [api.get(SPACES).status_code for _ in range(12)]

    first = run()
    assert run() == first
    assert set(first) == {200, 503}


def test_html_login_page_with_status_200(api: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"html_login": {"count": 1}})
    r = api.get(SPACES)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<form" in r.text
    assert api.get(SPACES).headers["content-type"].startswith("application/json")


def test_latency(api: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"latency_ms": 150})
    start = time.perf_counter()
    assert api.get(SPACES).status_code == 200
    assert time.perf_counter() - start >= 0.15


def test_match_limits_faults_to_some_paths(api: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"throttle": {"count": 5}, "match": "/consumption/relational/"})
    assert api.get(SPACES).status_code == 200
    assert api.get("/api/v1/datasphere/consumption/relational/SALES/V_ORDERS/$metadata").status_code == 429


def test_token_endpoint_is_spared_unless_asked(emu: RunningEmulator, admin: httpx.Client) -> None:
    admin.post("/faults", json={"throttle": {"count": 1}})
    assert get_token(emu)  # not throttled
    admin.post("/faults", json={"include_token_endpoint": True})
    with new_client(base_url=emu.base_url) as c:
        r = c.post("/oauth/token", auth=(emu.client_id, emu.client_secret), data={"grant_type": "client_credentials"})
    assert r.status_code == 429


def test_expire_tokens_now_and_token_lifetime_override(fresh: RunningEmulator, fresh_admin: httpx.Client) -> None:
    emu, admin = fresh, fresh_admin
    token = get_token(emu)
    with client_for(emu, token) as api:
        assert api.get(SPACES).status_code == 200
        result = admin.post("/faults", json={"expire_tokens": True, "token_lifetime_s": 5}).json()
        assert result["expired"]["access_tokens"] >= 1
        r = api.get(SPACES)
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized"
    with new_client(base_url=emu.base_url) as c:
        body = c.post("/oauth/token", auth=(emu.client_id, emu.client_secret),
                      data={"grant_type": "client_credentials"}).json()
    assert body["expires_in"] == 5
    admin.delete("/faults")
    assert admin.get("/faults").json()["token_lifetime_s"] is None


def test_invalid_fault_configuration_is_400(admin: httpx.Client) -> None:
    r = admin.post("/faults", json={"throttle": {"count": -1}})
    assert r.status_code == 400
    assert admin.post("/faults", json={"unknown": 1}).status_code == 400
