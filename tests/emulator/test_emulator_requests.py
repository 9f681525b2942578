"""The request log (``GET /_emulator/requests``) and the 403-space fault (``forbidden_spaces``)."""

from __future__ import annotations

import httpx

from doubles.emulator import RunningEmulator

from .conftest import CATALOG, client_for, get_token, new_client

SPACES = f"{CATALOG}/spaces"


def test_every_request_is_logged_with_status_latency_and_fault_never_a_token(fresh: RunningEmulator) -> None:
    token = get_token(fresh)
    with client_for(fresh, token) as api, new_client(base_url=fresh.admin_url) as admin:
        admin.post("/faults", json={"throttle": {"count": 1, "retry_after": 0}})
        assert api.get(SPACES, params={"$top": "1"}).status_code == 429
        assert api.get(SPACES + "('NOPE')/assets").status_code == 404
        body = admin.get("/requests").json()
        newest, throttled = body["requests"][0], body["requests"][1]
        assert (newest["method"], newest["status"], newest["fault"]) == ("GET", 404, None)
        assert newest["path"].endswith("/spaces('NOPE')/assets")
        assert (throttled["status"], throttled["fault"]) == (429, "throttle")
        assert throttled["path"].endswith("/spaces?$top=1")  # the query readable
        assert all(r["latency_ms"] >= 0 for r in body["requests"])
        assert body["size"] == 1000
        only_4xx = admin.get("/requests", params={"status": "4xx", "path": "NOPE"}).json()["requests"]
        assert [r["status"] for r in only_4xx] == [404]
        assert token not in httpx.get(fresh.admin_url + "/requests").text


def test_forbidden_spaces_answer_403_to_every_client_until_cleared(fresh: RunningEmulator) -> None:
    with client_for(fresh, get_token(fresh)) as api, new_client(base_url=fresh.admin_url) as admin:
        state = admin.post("/faults", json={"forbidden_spaces": ["SALES"]}).json()
        assert state["forbidden_spaces"] == ["SALES"]
        assert api.get(SPACES + "('SALES')/assets").status_code == 403
        assert all(a["spaceName"] != "SALES" for a in api.get(CATALOG + "/assets").json()["value"])
        assert api.get(SPACES + "('HR')/assets").status_code == 200
        admin.post("/faults", json={"forbidden_spaces": []})
        assert api.get(SPACES + "('SALES')/assets").status_code == 200
        admin.post("/faults", json={"forbidden_spaces": ["SALES"]})
        admin.delete("/faults")
        assert api.get(SPACES + "('SALES')/assets").status_code == 200
