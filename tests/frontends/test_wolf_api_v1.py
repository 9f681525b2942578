"""Wolf's versioned API (/api/v1) over HTTP (TestClient), as QA uses it: a wolf profile pointed
at a Datasphere tenant and a Glue endpoint — here this module's own emulator and moto server,
reached over real HTTP on loopback — with a bearer key and a migrated SQLite store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.services import Services
from core.settings import Settings, load_settings
from core.store.leases import acquire_lease
from core.sync.liveness import Owner, Scope
from wolf_fastapi.app import create_app

from .conftest import API_TOKEN, local_client, migrated_store, own_systems, wolf_settings_for

REGION = "ap-southeast-2"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PEPPER = "pepper-Wq8z3NcT5vKm1RbY7xLd0sFh4Gj2Ua9E"


@pytest.fixture(scope="module")
def systems(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """This module's Datasphere emulator and moto Glue (own region), as a tenant and an
    endpoint a wolf deployment would be configured with."""
    with own_systems(tmp_path_factory.mktemp("wolf-api-v1"), REGION) as env:
        yield env


@pytest.fixture
def settings(state_env: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path,
             systems: dict[str, str]) -> Settings:
    return wolf_settings_for(monkeypatch, migrated_template, systems, pepper=PEPPER)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    made = create_app(settings)
    made.state.events_poll_s = 0.05
    return made


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with local_client(app) as test_client:
        test_client.headers.update(AUTH)
        yield test_client


def services_of(client: TestClient) -> Services:
    found: Services = client.app.state.services  # type: ignore[attr-defined]
    return found


def ready(client: TestClient, path: str, *, timeout_s: float = 60.0, **params: Any) -> Any:
    """GET ``path``, retrying while the catalog is being extracted (503 + Retry-After)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(path, params=params)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        assert response.json()["error"]["code"] == "catalog_warming"
        assert response.headers["retry-after"]
        time.sleep(0.1)


def run_job(client: TestClient, kind: str, scope: dict[str, Any] | None = None, *, timeout_s: float = 120) -> dict[str, Any]:
    """POST a job (202), poll it to the end; the final job."""
    response = client.post("/api/v1/jobs", json={"kind": kind, "scope": scope or {}})
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/api/v1/jobs/{job['id']}"
    assert job["status"] in ("queued", "running")
    deadline = time.monotonic() + timeout_s
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"job {job['id']} still {job['status']}"
        time.sleep(0.1)
        polled = client.get(response.headers["location"])
        assert polled.status_code == 200
        job = polled.json()
    return job


def assert_error(response: Any, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    assert error["code"] == code
    assert error["message"] and error["hint"]
    return error


# ------------------------------------------------------------------------------ auth, docs


V1_ROUTES = [
    ("GET", "/api/v1/connectivity"),
    ("GET", "/api/v1/assets"),
    ("GET", "/api/v1/assets/SALES/ANY"),
    ("GET", "/api/v1/lineage/SALES/ANY"),
    ("POST", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs/01ANY"),
    ("GET", "/api/v1/jobs/01ANY/events"),
    ("GET", "/api/v1/runs"),
    ("GET", "/api/v1/runs/01ANY"),
    ("GET", "/api/v1/status"),
    ("GET", "/api/v1/runs/01ANY/validation"),
    ("GET", "/api/v1/validations"),
    ("GET", "/api/v1/validations/01ANY"),
    ("GET", "/api/v1/validations/01ANY/csv"),
    ("GET", "/api/v1/metrics/runs"),
    ("GET", "/metrics"),
]


@pytest.mark.parametrize(("method", "path"), V1_ROUTES)
def test_every_v1_route_refuses_a_request_without_the_bearer_key(app: FastAPI, method: str, path: str) -> None:
    with local_client(app) as anonymous:
        response = anonymous.request(method, path, json={"kind": "plan"} if method == "POST" else None)
        wrong = anonymous.request(method, path, headers={"Authorization": "Bearer not-the-key-0123456789"})
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 401


def test_openapi_declares_the_bearer_scheme_and_every_error_code(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "dgsync API key",
        "description": schema["components"]["securitySchemes"]["bearer"]["description"],
    }
    v1 = {p: ops for p, ops in schema["paths"].items() if p.startswith("/api/v1/") or p == "/metrics"}
    assert {p for _, p in V1_ROUTES if "ANY" not in p} <= set(v1)
    for path, operations in v1.items():
        for method, op in operations.items():
            assert op["security"] == [{"bearer": []}], (method, path)
            codes = set(op["responses"])
            assert {"400", "401", "403", "422", "503"} <= codes, (method, path)
            for code in codes - {"200", "201", "202"}:
                ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorBody", (method, path, code)
    assert "404" in v1["/api/v1/jobs/{job_id}"]["get"]["responses"]
    assert "409" in v1["/api/v1/jobs"]["post"]["responses"]
    assert "text/event-stream" in v1["/api/v1/jobs/{job_id}/events"]["get"]["responses"]["200"]["content"]


# ------------------------------------------------------------------------------ connectivity


def test_connectivity_reports_datasphere_glue_and_store_and_keeps_a_history(client: TestClient) -> None:
    first = client.get("/api/v1/connectivity", params={"fresh": True})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["ok"] is True
    ds, glue, store = body["datasphere"], body["glue"], body["store"]
    assert ds["ok"] and ds["token"]["ok"] and ds["token"]["grant"] == "client_credentials"
    assert ds["token"]["age_s"] >= 0 and ds["token"]["expires_in_s"] > 0
    assert ds["catalog_latency_ms"] > 0
    assert {s["space"] for s in ds["spaces"]} >= {"SALES"}
    assert all(s["access"] == "member" for s in ds["spaces"]) and ds["denied_spaces"] == []
    assert glue["ok"] and glue["latency_ms"] > 0 and glue["region"] == REGION
    assert glue["account"] == "123456789012" and glue["identity_arn"].startswith("arn:aws:")
    assert store == {**store, "ok": True, "dialect": "sqlite", "at_head": True}
    assert store["revision"] == store["head"]
    client.get("/api/v1/connectivity", params={"fresh": True})
    history = client.get("/api/v1/connectivity", params={"history": 10}).json()["history"]
    assert len(history) >= 2
    assert [h["checked_at"] for h in history] == sorted(h["checked_at"] for h in history)
    assert all(h["ok"] and h["glue_ms"] is not None for h in history)
    assert client.get("/api/v1/connectivity", params={"history": 0}).json()["history"] == []


def test_connectivity_names_a_space_that_answers_403(client: TestClient, systems: dict[str, str]) -> None:
    services = services_of(client)
    shared = services.datasphere_client()
    real_get = shared.http.send

    def deny_hr(request: Any, **kwargs: Any) -> Any:
        if "/spaces/HR/" in str(request.url):
            import httpx

            return httpx.Response(403, json={"error": "not a member"}, request=request)
        return real_get(request, **kwargs)

    shared.http.send = deny_hr  # type: ignore[method-assign]
    try:
        body = client.get("/api/v1/connectivity", params={"fresh": True}).json()
    finally:
        shared.http.send = real_get  # type: ignore[method-assign]
    ds = body["datasphere"]
    if "HR" not in {s["space"] for s in ds["spaces"]}:
        pytest.skip("the emulator tenant has no HR space")
    assert body["ok"] is False and ds["ok"] is False
    assert ds["denied_spaces"] == ["HR"]
    hr = next(s for s in ds["spaces"] if s["space"] == "HR")
    assert hr["access"] == "denied (403)" and hr["error"]["code"] == "access_denied"
    assert "HR" in ds["error"]["message"] and "Members" in ds["error"]["hint"]
    assert body["glue"]["ok"] and body["store"]["ok"]


def test_connectivity_with_an_unreachable_tenant_is_a_200_that_says_so(
    state_env: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path, systems: dict[str, str]
) -> None:
    monkeypatch.setenv("DGSYNC_ENV", "wolf")
    monkeypatch.setenv("DGSYNC_API_TOKEN", API_TOKEN)
    for name, value in systems.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DGSYNC_DATASPHERE__BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DGSYNC_DATASPHERE__TOKEN_URL", "http://127.0.0.1:9/oauth/token")
    settings = load_settings()
    migrated_store(settings, migrated_template)
    with local_client(create_app(settings)) as anonymous:
        body = anonymous.get("/api/v1/connectivity", headers=AUTH).json()
    assert body["ok"] is False
    assert body["datasphere"]["ok"] is False and body["datasphere"]["token"]["ok"] is False
    assert body["datasphere"]["error"]["code"] in ("source_unavailable", "auth_error")
    assert body["datasphere"]["error"]["hint"]
    assert body["glue"]["ok"] and body["store"]["ok"]


# ------------------------------------------------------------------------------ assets, lineage


def test_assets_are_paginated_with_a_cursor_or_an_offset(client: TestClient) -> None:
    everything = ready(client, "/api/v1/assets", limit=500)
    assert everything.status_code == 200, everything.text
    all_items = everything.json()["items"]
    total = everything.json()["total"]
    assert total == len(all_items) > 10
    assert [(a["space"], a["name"]) for a in all_items] == sorted((a["space"], a["name"]) for a in all_items)
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get("/api/v1/assets", params={"limit": 7, **({"cursor": cursor} if cursor else {})}).json()
        assert len(page["items"]) <= 7 and page["total"] == total
        seen += [a["key"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [a["key"] for a in all_items]
    by_offset = client.get("/api/v1/assets", params={"limit": 5, "offset": 5}).json()
    assert [a["key"] for a in by_offset["items"]] == seen[5:10]


def test_assets_search_filters_by_space_and_kind(client: TestClient) -> None:
    hits = ready(client, "/api/v1/assets", q="sales").json()
    assert hits["total"] > 0
    assert all(h["score"] > 0 and h["matched"] for h in hits["items"])
    assert [h["score"] for h in hits["items"]] == sorted((h["score"] for h in hits["items"]), reverse=True)
    views = client.get("/api/v1/assets", params={"space": "sales", "kind": "view", "limit": 500}).json()
    assert views["total"] > 0
    assert {(a["space"], a["kind"]) for a in views["items"]} == {("SALES", "view")}
    column_hit = views["items"][0]
    detail = client.get(f"/api/v1/assets/{column_hit['space']}/{column_hit['name']}").json()
    column = detail["columns"][0]["name"]
    found = client.get("/api/v1/assets", params={"q": column, "space": "SALES", "limit": 500}).json()
    assert column_hit["key"] in {h["key"] for h in found["items"]}
    none = client.get("/api/v1/assets", params={"q": "zzqx-no-such-word"}).json()
    assert none == {**none, "items": [], "total": 0, "next_cursor": None}


def test_one_asset_and_a_404_with_a_hint(client: TestClient) -> None:
    first = ready(client, "/api/v1/assets", space="SALES", limit=1).json()["items"][0]
    asset = client.get(f"/api/v1/assets/{first['space']}/{first['name']}")
    assert asset.status_code == 200
    body = asset.json()
    assert (body["space"], body["name"], body["kind"]) == (first["space"], first["name"], first["kind"])
    assert body["columns"] and "business" in body
    error = assert_error(client.get("/api/v1/assets/SALES/NO_SUCH_VIEW"), 404, "not_found")
    assert "SALES.NO_SUCH_VIEW" in error["message"] and "case-sensitive" in error["hint"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"cursor": "bm9wZQ"}, "cursor"),
     ({"cursor": "o-1"}, "cursor"), ({"kind": "spreadsheet"}, "kind"), ({"offset": -1}, "offset"),
     ({"spce": "SALES"}, "spce")],  # a misspelt filter is refused, not ignored
)
def test_bad_listing_parameters_are_422_naming_the_field(client: TestClient, params: dict[str, Any], field: str) -> None:
    error = assert_error(client.get("/api/v1/assets", params=params), 422, "invalid_request")
    assert field in error["message"]


@pytest.mark.parametrize("path", ["/api/v1/connectivity", "/api/v1/runs", "/api/v1/status", "/metrics"])
def test_an_unknown_query_parameter_is_422_naming_it(client: TestClient, path: str) -> None:
    error = assert_error(client.get(path, params={"verbose": "1"}), 422, "invalid_request")
    assert "verbose" in error["message"]


def test_lineage_of_a_view_reaches_its_sources_and_glue_table(client: TestClient) -> None:
    views = ready(client, "/api/v1/assets", space="SALES", kind="view", limit=500).json()["items"]
    graphs = [client.get(f"/api/v1/lineage/SALES/{v['name']}", params={"depth": 3}).json() for v in views]
    graph = max(graphs, key=lambda g: len(g["edges"]))
    root = graph["root"]
    keys = {n["key"] for n in graph["nodes"]}
    assert root in keys and len(keys) > 2
    assert any(e["kind"] == "synced_to" and e["upstream"] == root for e in graph["edges"])
    assert any(e["downstream"] == root and e["kind"] != "synced_to" for e in graph["edges"])
    assert all(e["upstream"] in keys and e["downstream"] in keys for e in graph["edges"])
    space, name = root.split(".", 1)
    shallow = client.get(f"/api/v1/lineage/{space}/{name}", params={"depth": 1, "direction": "upstream"}).json()
    assert {n["key"] for n in shallow["nodes"]} <= keys
    assert all(e["kind"] != "synced_to" for e in shallow["edges"])
    assert_error(client.get(f"/api/v1/lineage/{space}/{name}", params={"depth": 0}), 422, "invalid_request")
    assert_error(client.get("/api/v1/lineage/SALES/NOPE"), 404, "not_found")


# ------------------------------------------------------------------------------ jobs


def test_a_plan_job_is_accepted_polled_to_success_and_writes_nothing(client: TestClient) -> None:
    glue = services_of(client).glue()
    writes = glue.stats.snapshot().writes
    job = run_job(client, "plan", {"spaces": ["SALES"], "kinds": ["view"]})
    assert job["status"] == "succeeded", job
    assert job["kind"] == "plan" and job["scope"] == {"spaces": ["SALES"], "kinds": ["view"], "priority": None,
                                                 "validate_after": False, "run_id": None}
    assert job["phase"] == "finished" and job["total"] and job["percent"] == 100
    report = job["result"]
    assert report["dry_run"] is True and report["status"] == "planned"
    assert report["plan"]["items"] and {i["database"] for i in report["plan"]["items"]} == {"sales"}
    assert job["actor"] == "key:bootstrap/admin" and job["error"] is None
    assert glue.stats.snapshot().writes == writes


def test_a_sync_job_records_a_run_whose_items_carry_diffs(client: TestClient) -> None:
    scope = {"spaces": ["SALES"], "kinds": ["view"]}
    first = run_job(client, "sync", scope)
    assert first["status"] in ("succeeded", "partial"), first
    assert first["run_id"] and first["result"]["run_id"] == first["run_id"]
    # Someone edits a synced table in Glue; the next sync puts it back, with the diff.
    boto = services_of(client).glue().boto_client
    table = boto.get_tables(DatabaseName="sales")["TableList"][0]
    table_input = {k: v for k, v in table.items() if k in (
        "Name", "Description", "StorageDescriptor", "PartitionKeys", "TableType", "Parameters")}
    table_input["Description"] = "edited out of band"
    boto.update_table(DatabaseName="sales", TableInput=table_input)
    job = run_job(client, "sync", scope)
    run_id = job["run_id"]
    run = client.get(f"/api/v1/runs/{run_id}")
    assert run.status_code == 200
    body = run.json()
    assert body["id"] == run_id and body["trigger"] == "api"
    assert body["items_total"] == len(body["items"]) > 0
    assert all(i["run_id"] == run_id for i in body["items"])
    edited = [i for i in body["items"] if i["detail"]["object"] == f"sales.{table['Name']}"]
    assert edited and edited[0]["action"] == "update", body["items"]
    assert {"field": "Description", "before": "edited out of band"}.items() <= next(
        d for d in edited[0]["diffs"] if d["field"] == "Description").items()
    # A limited page reads only its items and their diffs (the same ones as in the full body).
    first_item = body["items"][0]
    one = client.get(f"/api/v1/runs/{run_id}", params={"items_limit": 1}).json()
    assert [i["asset_key"] for i in one["items"]] == [first_item["asset_key"]]
    assert one["items"][0]["diffs"] == first_item["diffs"]
    assert one["items_truncated"] is (body["items_total"] > 1) and one["items_total"] == body["items_total"]
    # Paging: page after page gives every item once, in the same order as one big page.
    paged, offset = [], 0
    while offset is not None:
        page = client.get(f"/api/v1/runs/{run_id}", params={"items_limit": 2, "items_offset": offset}).json()
        assert page["items_offset"] == offset and len(page["items"]) <= 2
        paged += [i["asset_key"] for i in page["items"]]
        offset = page["next_items_offset"]
    assert paged == [i["asset_key"] for i in body["items"]]
    same_status = client.get(f"/api/v1/runs/{run_id}", params={"items_limit": 1000,
                                                                 "item_status": edited[0]["status"]}).json()
    assert all(i["status"] == edited[0]["status"] for i in same_status["items"])
    assert [i["diffs"] for i in same_status["items"] if i["asset_key"] == edited[0]["asset_key"]] == [
        edited[0]["diffs"]]
    listed = client.get("/api/v1/runs").json()
    assert {first["run_id"], run_id} <= {r["id"] for r in listed["items"]}
    # The audit names the caller of the job and of its writes.
    from core.store import repo
    from core.store.schemas import AuditFilter

    with services_of(client).store().session(readonly=True) as s:
        audit = repo.query_audit(session=s, filters=AuditFilter(actor="key:bootstrap/admin"))
    assert {"job.submit", "job.finish"} <= {a.action for a in audit}
    assert any(a.run_id == run_id and a.system == "glue" for a in audit)


def test_a_failed_job_carries_the_error_and_its_hint(client: TestClient) -> None:
    job = run_job(client, "plan", {"spaces": ["NO_SUCH_SPACE"]})
    assert job["status"] == "failed"
    assert job["error"]["code"] == "config_error"
    assert "NO_SUCH_SPACE" in job["error"]["message"] and job["error"]["hint"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"kind": "deploy"}, "kind"), ({}, "kind"), ({"kind": "plan", "scope": {"force": True}}, "force"),
     ({"kind": "sync", "scope": {"kinds": ["spreadsheet"]}}, "kinds"), ({"kind": "plan", "extra": 1}, "extra")],
)
def test_invalid_job_requests_are_422_naming_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    error = assert_error(client.post("/api/v1/jobs", json=body), 422, "invalid_request")
    assert field in error["message"]


def test_unknown_job_is_404_with_a_hint(client: TestClient) -> None:
    error = assert_error(client.get("/api/v1/jobs/01NOSUCHJOB"), 404, "not_found")
    assert "01NOSUCHJOB" in error["message"] and "/api/v1/jobs" in error["hint"]
    assert_error(client.get("/api/v1/jobs/01NOSUCHJOB/events"), 404, "not_found")


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_the_event_stream_sends_progress_then_end_and_closes(client: TestClient) -> None:
    created = client.post("/api/v1/jobs", json={"kind": "plan", "scope": {"spaces": ["SALES"]}})
    job_id = created.json()["id"]
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    events = _events(text)
    assert events[-1][0] == "end" and events[-1][1]["status"] == "succeeded"
    assert [name for name, _ in events[:-1]] == ["progress"] * (len(events) - 1)
    assert len(events) >= 2
    phases = [body["phase"] for name, body in events if name == "progress"]
    assert any(p not in (None, "starting") for p in phases), phases
    assert all(body["id"] == job_id for _, body in events)


def test_a_second_sync_on_an_overlapping_scope_is_409_naming_the_holder(client: TestClient) -> None:
    services = services_of(client)
    scope = Scope.of(services.settings.env, ["SALES"])
    holder = Owner.current("RUN-BY-CLI").encode()
    assert acquire_lease(store=services.store(), slice_key=scope.lease_key("RUN-BY-CLI"), holder=holder, ttl_s=60)
    error = assert_error(client.post("/api/v1/jobs", json={"kind": "sync", "scope": {"spaces": ["SALES"]}}),
                         409, "scope_held")
    assert "RUN-BY-CLI" in error["message"]
    # A plan of the same scope is fine: it writes nothing.
    assert client.post("/api/v1/jobs", json={"kind": "plan", "scope": {"spaces": ["SALES"]}}).status_code == 202


def test_a_second_sync_job_while_the_first_runs_is_409_naming_it(client: TestClient) -> None:
    import threading

    from core.job_kinds import run_sync
    from core.jobs import JobKind

    go = threading.Event()

    def held_sync(*args: Any) -> Any:  # the real sync, once the test has tried a second one
        assert go.wait(30)
        return run_sync(*args)

    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    jobs.runners[JobKind.SYNC] = held_sync
    first = client.post("/api/v1/jobs", json={"kind": "sync", "scope": {"spaces": ["SALES"], "kinds": ["view"]}})
    assert first.status_code == 202
    first_id = first.json()["id"]
    try:
        error = assert_error(client.post("/api/v1/jobs", json={"kind": "sync", "scope": {}}), 409, "scope_held")
        assert first_id in error["message"] and "key:bootstrap/admin" in error["message"]
        assert first_id in error["hint"]
        other_space = client.post("/api/v1/jobs", json={"kind": "sync", "scope": {"spaces": ["HR"]}})
        assert other_space.status_code == 202  # no overlap: both may run
    finally:
        go.set()
    for job_id in (first_id, other_space.json()["id"]):
        assert jobs.wait(job_id, timeout_s=120).finished
    assert client.get(f"/api/v1/jobs/{first_id}").json()["status"] in ("succeeded", "partial")


def test_a_job_survives_a_reload_in_a_new_client_and_app(settings: Settings) -> None:
    with local_client(create_app(settings)) as first:
        first.headers.update(AUTH)
        job = run_job(first, "plan", {"spaces": ["SALES"], "kinds": ["view"]})
    with local_client(create_app(settings)) as second:
        second.headers.update(AUTH)
        again = second.get(f"/api/v1/jobs/{job['id']}")
        listed = second.get("/api/v1/jobs").json()
    assert again.status_code == 200
    assert again.json() == job
    assert job["id"] in {j["id"] for j in listed["items"]}


def test_jobs_are_listed_newest_first_with_a_cursor(client: TestClient) -> None:
    ids = [run_job(client, "plan", {"spaces": ["SALES"], "kinds": ["view"]})["id"] for _ in range(3)]
    page = client.get("/api/v1/jobs", params={"limit": 2}).json()
    assert [j["id"] for j in page["items"]] == ids[::-1][:2]
    rest = client.get("/api/v1/jobs", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [j["id"] for j in rest["items"]] == ids[:1] and rest["next_cursor"] is None
    assert client.get("/api/v1/jobs", params={"kind": "sync"}).json()["items"] == []
    assert all(j["result"] is None for j in page["items"])  # listings leave the (large) results out
    assert client.get(f"/api/v1/jobs/{ids[0]}").json()["result"]["dry_run"] is True


# ------------------------------------------------------------------------------ runs, status


def test_runs_are_paged_and_an_unknown_run_is_404(client: TestClient) -> None:
    from .conftest import seed_runs

    ids = seed_runs(services_of(client), 3)
    page = client.get("/api/v1/runs", params={"limit": 2}).json()
    assert [r["id"] for r in page["items"]] == ids[::-1][:2] and page["next_offset"] == 2
    rest = client.get("/api/v1/runs", params={"limit": 2, "offset": 2}).json()
    assert [r["id"] for r in rest["items"]] == ids[:1] and rest["next_offset"] is None
    partial = client.get("/api/v1/runs", params={"status": "partial"}).json()["items"]
    assert [r["id"] for r in partial] == [ids[1]]
    assert partial[0]["exit_code"] is not None
    error = assert_error(client.get("/api/v1/runs/NO_SUCH_RUN"), 404, "not_found")
    assert "NO_SUCH_RUN" in error["message"]
    assert_error(client.get("/api/v1/runs", params={"status": "bogus"}), 422, "invalid_request")


def test_status_has_every_priority_class_and_active_jobs(client: TestClient) -> None:
    body = client.get("/api/v1/status").json()
    assert body["env"] == "wolf"
    assert {s["slice_key"] for s in body["slices"]} == {"critical", "high", "medium", "low"}
    assert all("next_due_at" in s and "last_run_id" in s for s in body["slices"])
    assert body["jobs"] == []
    assert "password" not in body["database"]


def test_the_unversioned_routes_still_answer(client: TestClient) -> None:
    assert client.get("/api/runs").status_code == 200
    assert client.get("/api/status").status_code == 200


# ------------------------------------------------------------------------------ validation, metrics


def test_a_validate_job_proves_glue_matches_and_its_report_is_exported(client: TestClient) -> None:
    scope = {"spaces": ["SALES"], "kinds": ["view"]}
    synced = run_job(client, "sync", scope)
    assert synced["status"] in ("succeeded", "partial")
    job = run_job(client, "validate", {**scope, "run_id": synced["run_id"]})
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["in_sync"] is True and result["reasons"] == [] and result["failing"] == []
    assert result["summary"]["tables"] > 0 and result["summary"]["columns"] > 0
    assert job["run_id"] == synced["run_id"] == result["run_id"]
    report = client.get(f"/api/v1/runs/{synced['run_id']}/validation")
    assert report.status_code == 200
    body = report.json()
    assert body["id"] == result["validation_id"] and body["in_sync"] is True
    assert {t["status"] for t in body["tables"]} <= {"ok", "unmanaged"}
    assert any(c["field"].startswith("columns.") for t in body["tables"] for c in t["checks"])
    by_id = client.get(f"/api/v1/validations/{body['id']}").json()
    assert by_id == body
    csv = client.get(f"/api/v1/validations/{body['id']}/csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    lines = csv.text.splitlines()
    assert len(lines) == 1 + sum(len(t["checks"]) for t in body["tables"])
    listed = client.get("/api/v1/validations", params={"run_id": synced["run_id"]}).json()
    assert [v["id"] for v in listed] == [body["id"]]


def test_validation_reports_drift_after_an_out_of_band_edit(client: TestClient) -> None:
    scope = {"spaces": ["SALES"], "kinds": ["view"]}
    run_job(client, "sync", scope)
    boto = services_of(client).glue().boto_client
    table = boto.get_tables(DatabaseName="sales")["TableList"][0]
    table_input = {k: v for k, v in table.items() if k in (
        "Name", "Description", "StorageDescriptor", "PartitionKeys", "TableType", "Parameters")}
    table_input["StorageDescriptor"]["Columns"][0]["Comment"] = "changed in the console"
    boto.update_table(DatabaseName="sales", TableInput=table_input)
    job = run_job(client, "validate", scope)
    assert job["status"] == "partial", job
    result = job["result"]
    assert result["in_sync"] is False and result["summary"]["drift"] >= 1
    assert any("drift" in r for r in result["reasons"])
    assert f"sales.{table['Name']}" in {t["object"] for t in result["failing"]}
    # A sync with validate_after puts it back and proves it.
    fixed = run_job(client, "sync", {**scope, "validate_after": True})
    assert fixed["status"] == "succeeded", fixed
    assert fixed["result"]["validation"]["in_sync"] is True
    report = client.get(f"/api/v1/runs/{fixed['run_id']}/validation").json()
    assert report["in_sync"] is True and report["run_id"] == fixed["run_id"]


def test_a_run_without_validation_and_an_unknown_validation_are_404_with_hints(client: TestClient) -> None:
    from .conftest import seed_runs

    run_id = seed_runs(services_of(client), 1)[0]
    error = assert_error(client.get(f"/api/v1/runs/{run_id}/validation"), 404, "not_found")
    assert "validate" in error["hint"]
    assert_error(client.get("/api/v1/validations/01NOPE"), 404, "not_found")
    assert_error(client.get("/api/v1/validations/01NOPE/csv"), 404, "not_found")


def test_run_metrics_and_prometheus_text(client: TestClient) -> None:
    job = run_job(client, "sync", {"spaces": ["SALES"], "kinds": ["view"]})
    metrics = client.get("/api/v1/metrics/runs", params={"limit": 5})
    assert metrics.status_code == 200
    mine = next(m for m in metrics.json() if m["run_id"] == job["run_id"])
    assert mine["duration_s"] > 0 and mine["assets"] > 0 and mine["assets_per_s"] > 0
    glue = mine["systems"]["glue"]
    assert glue["calls"] > 0 and glue["by_operation"] and glue["p50_ms"] is not None
    assert glue["p95_ms"] >= glue["p50_ms"]
    assert "datasphere" in mine["systems"]
    assert_error(client.get("/api/v1/metrics/runs", params={"kind": "bogus"}), 422, "invalid_request")
    text = client.get("/metrics")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in text.text and "dgsync_" in text.text


# ------------------------------------------------------------------------------ roles


@pytest.fixture
def role_keys(client: TestClient) -> dict[str, str]:
    from core.apikeys import ApiKeys

    services = services_of(client)
    made = ApiKeys(services.store(), services.settings)
    return {role: made.create(f"qa-{role}", role, created_by="cli:test")[1] for role in ("viewer", "operator", "admin")}


READS = [path for method, path in V1_ROUTES if method == "GET"]


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_reads_and_only_operators_and_admins_start_jobs(
    client: TestClient, role_keys: dict[str, str], role: str
) -> None:
    headers = {"Authorization": f"Bearer {role_keys[role]}"}
    for path in READS:
        response = client.get(path.replace("01ANY", "01NOSUCH"), headers=headers)
        assert response.status_code in (200, 404, 503), (path, response.text)
        if response.status_code != 200:
            assert response.json()["error"]["code"] in ("not_found", "catalog_warming")
    created = client.post("/api/v1/jobs", json={"kind": "plan", "scope": {"spaces": ["SALES"], "kinds": ["view"]}},
                          headers=headers)
    if role == "viewer":
        error = assert_error(created, 403, "role_denied")
        assert "operator" in error["message"]
        return
    assert created.status_code == 202
    job = client.app.state.jobs.wait(created.json()["id"])  # type: ignore[attr-defined]
    assert job.status.value == "succeeded"
    assert job.actor == f"key:qa-{role}/{role}"


def test_a_denied_job_request_is_a_security_event_naming_the_key(client: TestClient, role_keys: dict[str, str]) -> None:
    from core.store import repo

    client.post("/api/v1/jobs", json={"kind": "sync"}, headers={"Authorization": f"Bearer {role_keys['viewer']}"})
    with services_of(client).store().session(readonly=True) as s:
        events = repo.list_security_events(session=s, limit=100)
    denied = [e for e in events if "qa-viewer" in str(e.model_dump())]
    assert denied, [e.model_dump() for e in events]
    assert role_keys["viewer"] not in str([e.model_dump() for e in events])


@pytest.mark.parametrize("query", ["sales", "order amount", "view", "cust", "SALES.", "zzqx"])
def test_the_indexed_search_ranks_exactly_like_the_catalog_search(client: TestClient, query: str) -> None:
    from core.catalog import search

    catalog = services_of(client).catalog()
    snapshot = catalog.snapshot()
    plain = search(snapshot.assets, query, limit=100_000)
    indexed = catalog.search_in(snapshot, query)
    assert [(h.space, h.name, h.score, h.matched) for h in plain] == [
        (a.space, a.name, score, matched) for a, score, matched in indexed]
