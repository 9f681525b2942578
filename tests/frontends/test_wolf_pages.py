"""Wolf's dashboard pages over HTTP (TestClient): every page renders for a viewer signed in
by the dashboard cookie, forms need the operator role and the CSRF token, errors are styled
pages with a hint and a way back, and the guided flow runs as jobs against the embedded
emulator and moto Glue."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from core.apikeys import ApiKeys
from core.services import Services
from core.settings import Settings
from wolf_fastapi.app import create_app
from wolf_fastapi.charts import Series, chart, sparkline

from .conftest import form_csrf_token, local_client, seed_runs

PEPPER = "pepper-Xk2s9QmZ4vLr7TbN0aYc5Wd8Ue1Hf3Gj"
HTML = {"Accept": "text/html"}

#: Pages that need no tenant (the wolf settings point Datasphere and Glue at a closed port).
PAGES = ["/", "/runs", "/flow", "/validation", "/performance", "/performance?last=10&kind=all",
         "/connectivity", "/docs", "/redoc"]


@pytest.fixture
def wolf(wolf_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Services, dict[str, str]]]:
    monkeypatch.setenv("DGSYNC_WEB__API_KEY_PEPPER", PEPPER)
    web = wolf_settings.web.model_copy(update={"api_key_pepper": SecretStr(PEPPER)})
    app = create_app(wolf_settings.model_copy(update={"web": web}))
    with local_client(app) as client:
        services: Services = app.state.services
        made = ApiKeys(services.store(), services.settings)
        keys = {role: made.create(f"qa-{role}", role, created_by="cli:test")[1] for role in ("viewer", "operator")}
        yield client, services, keys


def _sign_in(client: TestClient, key: str) -> None:
    csrf = form_csrf_token(client.get("/login").text)
    assert client.post("/login", data={"token": key, "csrf_token": csrf}, follow_redirects=False).status_code == 303


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_a_viewer_in_the_layout(wolf: tuple[TestClient, Services, dict[str, str]], path: str) -> None:
    client, services, keys = wolf
    seed_runs(services, 2)
    _sign_in(client, keys["viewer"])
    page = client.get(path, headers=HTML)
    assert page.status_code == 200, page.text[:500]
    assert page.headers["content-type"].startswith("text/html")
    # the layout: the nav, the environment badge, who is signed in with which role
    for label in ("Overview", "Connectivity", "Assets", "Plan → Sync → Validate", "Runs", "Validation", "Performance", "API docs"):
        assert f">{label}</a>" in page.text
    assert '<span class="env-badge env-wolf"' in page.text
    assert "qa-viewer" in page.text and 'class="role role-viewer">viewer<' in page.text
    assert 'aria-current="page"' in page.text
    assert "<script>" not in page.text and " style=" not in page.text  # the CSP allows neither
    for key in keys.values():
        assert key not in page.text


def test_the_overview_shows_each_priority_class_and_the_last_runs(wolf: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, services, keys = wolf
    ids = seed_runs(services, 2)
    _sign_in(client, keys["viewer"])
    page = client.get("/", headers=HTML).text
    for slice_key in ("critical", "high", "medium", "low"):
        assert f'data-slice="{slice_key}"' in page
    assert 'hx-get="/partials/runs" hx-trigger="every 3s"' in page
    for run_id in ids:
        assert f'href="/runs/{run_id}"' in page
    assert "open alerts" in page and "drift / conflicts" in page


def test_a_run_page_lists_its_counts_errors_and_config_version(wolf: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, services, keys = wolf
    run_id = seed_runs(services, 2)[1]  # the partial one
    _sign_in(client, keys["viewer"])
    page = client.get(f"/runs/{run_id}", headers=HTML)
    assert page.status_code == 200
    assert "badge-partial" in page.text and "retries · throttles" in page.text and "config version" in page.text
    assert f'href="/validation/runs/{run_id}"' in page.text
    assert client.get(f"/validation/runs/{run_id}", headers=HTML).status_code == 200
    failed = client.get(f"/runs/{run_id}?show=failed", headers=HTML)
    assert "No object failed." in failed.text
    assert client.get(f"/runs/{run_id}?show=bogus", headers=HTML).status_code == 422


def test_a_run_page_shows_its_objects_a_page_at_a_time(wolf: tuple[TestClient, Services, dict[str, str]]) -> None:
    from datetime import UTC, datetime, timedelta

    from core.store import repo
    from core.store.schemas import ItemAction, ItemStatus
    from wolf_fastapi.routers.pages_runs import ITEMS_PAGE

    client, services, keys = wolf
    run_id = seed_runs(services, 1)[0]
    t0 = datetime.now(UTC)
    with services.store().session() as session:  # created ones, no-ops in between, one failure
        for i in range(ITEMS_PAGE + 30):
            action = ItemAction.NOOP if i % 10 == 5 else ItemAction.CREATE
            repo.record_item(session=session, run_id=run_id, asset_key=f"S.T{i:04d}", action=action,
                             status=ItemStatus.DONE, now=t0 + timedelta(milliseconds=i))
        repo.record_item(session=session, run_id=run_id, asset_key="S.BROKEN", action=ItemAction.FAIL,
                         status=ItemStatus.FAILED, error="boom", hint="fix it", now=t0 + timedelta(seconds=5))
    _sign_in(client, keys["viewer"])
    first = client.get(f"/runs/{run_id}", headers=HTML).text
    rows = re.findall(r'<tr class="run-item" data-action="(\w+)"', first)
    assert len(rows) == ITEMS_PAGE and "noop" not in rows
    assert "S.T0000" in first and "S.T0005" not in first  # no-ops are not "changed"
    assert f'href="/runs/{run_id}?show=changed&amp;page=2" rel="next"' in first
    second = client.get(f"/runs/{run_id}?page=2", headers=HTML).text
    changed = ITEMS_PAGE + 30 - (ITEMS_PAGE + 30) // 10 + 1
    assert len(re.findall(r'<tr class="run-item"', second)) == changed - ITEMS_PAGE
    assert "S.BROKEN" in second and 'rel="next"' not in second and 'rel="prev"' in second
    everything = client.get(f"/runs/{run_id}?show=all&page=2", headers=HTML).text
    assert len(re.findall(r'<tr class="run-item"', everything)) == ITEMS_PAGE + 31 - ITEMS_PAGE
    failed = client.get(f"/runs/{run_id}?show=failed", headers=HTML).text
    assert re.findall(r'data-status="(\w+)"', failed) == ["failed"] and "hint: fix it" in failed


def test_unknown_pages_and_runs_are_styled_404_pages_with_a_way_back(wolf: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, _, keys = wolf
    _sign_in(client, keys["viewer"])
    missing = client.get("/no/such/page", headers=HTML)
    assert missing.status_code == 404
    assert "<h1>Not found" in missing.text and 'href="/">← back to the Overview' in missing.text
    run = client.get("/runs/NOPE", headers=HTML)
    assert run.status_code == 404 and "no run &#39;NOPE&#39;" in run.text and 'href="/runs"' in run.text
    # an API client still gets the JSON envelope
    api = client.get("/api/runs/NOPE")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_the_asset_browser_never_waits_for_an_extraction_and_shows_its_failure(
    wolf: tuple[TestClient, Services, dict[str, str]]
) -> None:
    client, _, keys = wolf
    _sign_in(client, keys["viewer"])
    page = client.get("/assets", headers=HTML)
    assert page.status_code == 200 and 'hx-get="/assets/_ready" hx-trigger="every 2s"' in page.text
    assert "Extracting the tenant" in page.text
    deadline = time.monotonic() + 90
    ready = client.get("/assets/_ready", headers={"HX-Request": "true"})
    while ready.status_code == 204 and time.monotonic() < deadline:
        time.sleep(0.3)
        ready = client.get("/assets/_ready", headers={"HX-Request": "true"})
    # the tenant (a closed port) cannot be reached: the poll swaps in the error panel with its hint
    assert ready.status_code == 503
    assert 'class="error" role="alert"' in ready.text and "hint:" in ready.text and "<html" not in ready.text


def test_the_connectivity_panel_names_what_is_down_and_polls(wolf: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, _, keys = wolf
    _sign_in(client, keys["viewer"])
    page = client.get("/connectivity", headers=HTML).text
    assert 'hx-get="/connectivity/_panel" hx-trigger="every 5s"' in page
    assert 'id="conn-datasphere"' in page and 'class="system down" id="conn-datasphere"' in page
    assert 'class="system" id="conn-store"' in page  # the store answers
    panel = client.get("/connectivity/_panel", headers={"HX-Request": "true"})
    assert panel.status_code == 200 and "<html" not in panel.text and "<svg" in panel.text


@pytest.mark.parametrize("path", ["/flow/plan", "/flow/sync", "/flow/validate"])
def test_forms_need_the_operator_role(wolf: tuple[TestClient, Services, dict[str, str]], path: str) -> None:
    client, _, keys = wolf
    _sign_in(client, keys["viewer"])
    csrf = form_csrf_token(client.get("/flow", headers=HTML).text)
    response = client.post(path, data={"csrf_token": csrf, "spaces": "SALES", "plan": "X"}, headers=HTML,
                           follow_redirects=False)
    assert response.status_code == 403
    assert "needs the operator role" in response.text
    # and the page says so before the click: the buttons are disabled for a viewer
    assert re.search(r'id="start-plan" disabled title="needs the operator role"', client.get("/flow", headers=HTML).text)


def test_forms_need_the_csrf_token(wolf: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, _, keys = wolf
    _sign_in(client, keys["operator"])
    response = client.post("/flow/plan", data={"spaces": "SALES"}, headers=HTML, follow_redirects=False)
    assert response.status_code == 403
    assert "CSRF" in response.text
    wrong = client.post("/flow/validate", data={"spaces": "SALES", "csrf_token": "forged"}, headers=HTML,
                        follow_redirects=False)
    assert wrong.status_code == 403


# -- against the embedded emulator and moto Glue (dog profile: the local user is admin) ------------


@pytest.fixture(scope="module")
def dog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Services]]:
    from .conftest import own_embedded_services

    with own_embedded_services(tmp_path_factory.mktemp("wolf-pages"), "ap-south-1") as services:
        services.catalog().snapshot()  # extracted once here: the pages never wait for it
        app = create_app(services=services)
        with local_client(app) as client:
            yield client, services


def test_the_asset_page_shows_cds_and_glue_types_side_by_side(dog: tuple[TestClient, Services]) -> None:
    client, _ = dog
    ready = client.get("/assets/_ready", headers={"HX-Request": "true"})
    assert ready.status_code == 200 and ready.headers["HX-Refresh"] == "true"
    page = client.get("/assets/SALES/V_ORDERS", headers=HTML)
    assert page.status_code == 200
    row = re.search(r'<tr class="column" data-column="SalesOrder">.*?</tr>', page.text, re.S)
    assert row is not None
    assert '<td class="mono cds-type">cds.String(10)</td>' in row.group(0)
    assert '<td class="mono glue-type">varchar(10)</td>' in row.group(0)
    assert "Reads from (upstream)" in page.text and 'href="/assets/SALES/RT_CUSTOMER"' in page.text
    assert "Read by (downstream)" in page.text


def test_the_asset_browser_searches_and_pages_and_an_empty_search_is_an_error(dog: tuple[TestClient, Services]) -> None:
    client, _ = dog
    page = client.get("/assets", headers=HTML).text
    assert 'id="spaces"' in page and 'href="/assets?space=SALES"' in page
    rows = client.get("/assets?q=order&space=SALES", headers={"HX-Request": "true"})
    assert rows.status_code == 200 and "<html" not in rows.text and 'data-asset="SALES.V_ORDERS"' in rows.text
    nothing = client.get("/assets?q=zzzznothing", headers={"HX-Request": "true"}).text
    assert 'role="alert"' in nothing and "Nothing matches" in nothing
    unknown = client.get("/assets?space=sales", headers=HTML)
    assert unknown.status_code == 404 and "Known spaces:" in unknown.text


def _csrf(client: TestClient) -> str:
    return form_csrf_token(client.get("/flow", headers=HTML).text)


def _wait_job(client: TestClient, job_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fragment = client.get(f"/flow/jobs/{job_id}", headers={"HX-Request": "true"}).text
        status = re.search(r'data-status="(\w+)"', fragment)
        assert status is not None
        if status.group(1) not in ("queued", "running"):
            return fragment
        assert 'hx-trigger="load delay:1s"' in fragment  # it polls itself while it runs
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish")


def test_an_unknown_space_is_a_422_naming_the_known_spaces_and_keeping_the_input(dog: tuple[TestClient, Services]) -> None:
    client, _ = dog
    response = client.post("/flow/plan", data={"csrf_token": _csrf(client), "spaces": "sales"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "no space &#39;sales&#39;" in response.text and "did you mean SALES?" in response.text
    assert 'value="sales"' in response.text


def test_the_guided_flow_runs_plan_sync_and_validate_as_jobs(dog: tuple[TestClient, Services]) -> None:
    client, _ = dog
    started = client.post("/flow/plan", data={"csrf_token": _csrf(client), "spaces": "HR"}, headers=HTML,
                          follow_redirects=False)
    assert started.status_code == 303
    plan_id = started.headers["location"].split("plan=")[1]
    plan = _wait_job(client, plan_id)
    assert 'data-status="succeeded"' in plan and 'data-action="create"' in plan and "nothing was written" in plan
    assert 'id="apply"' in plan
    synced = client.post("/flow/sync", data={"csrf_token": _csrf(client), "plan": plan_id},
                         headers={"HX-Request": "true"})
    assert synced.status_code == 204
    sync_id = synced.headers["HX-Redirect"].split("sync=")[1]
    sync = _wait_job(client, sync_id, 180)
    run_id = re.search(r'class="mono run-link" href="/runs/(\w+)"', sync)
    assert run_id is not None, sync[:2000]
    run_page = client.get(f"/runs/{run_id.group(1)}", headers=HTML).text
    assert 'data-action="create" data-status="done"' in run_page
    validated = client.post("/flow/validate", data={"csrf_token": _csrf(client), "plan": plan_id, "sync": sync_id},
                            headers=HTML, follow_redirects=False)
    validate_id = validated.headers["location"].split("validate=")[1]
    verdict = _wait_job(client, validate_id, 180)
    assert "In sync: Glue matches Datasphere" in verdict
    flow = client.get(f"/flow?plan={plan_id}&sync={sync_id}&validate={validate_id}", headers=HTML).text
    assert flow.count('class="flow-step"') == 4 and 'aria-current="step"' in flow
    report = client.get(f"/validation/{validate_id}", headers=HTML)
    assert report.status_code == 200 and "verdict-pass" in report.text
    exported = client.get(f"/validation/{validate_id}.json")
    assert exported.json()["in_sync"] is True and exported.json()["scope"]["spaces"] == ["HR"]
    assert exported.json()["run_id"] == run_id.group(1)  # the validation is attached to the flow's run
    assert f"/validation/runs/{run_id.group(1)}" in client.get(f"/runs/{run_id.group(1)}", headers=HTML).text
    assert "verdict-pass" in client.get(f"/validation/runs/{run_id.group(1)}", headers=HTML).text
    csv = client.get(f"/validation/{validate_id}.csv")
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.count("\n") > 10
    printable = client.get(f"/validation/{validate_id}/print", headers=HTML).text
    assert 'class="wolf printable"' in printable and "<nav" not in printable
    listing = client.get("/validation", headers=HTML).text
    assert validate_id in listing and "badge-match" in listing  # the job list shows each verdict
    perf = client.get("/performance", headers=HTML).text
    assert run_id.group(1)[:10] in perf and "<svg" in perf


def test_a_step_of_the_wrong_kind_is_refused(dog: tuple[TestClient, Services]) -> None:
    client, _ = dog
    response = client.post("/flow/sync", data={"csrf_token": _csrf(client), "plan": "NOJOB"}, headers=HTML,
                           follow_redirects=False)
    assert response.status_code == 404 and "no job" in response.text


def test_charts_render_values_as_svg_with_tooltips_and_an_empty_state() -> None:
    svg = chart(["a", "b"], [Series("duration", [1.5, 3.0])], title="Run <duration>", unit="s")
    assert svg.startswith("<svg") and "Run &lt;duration&gt;" in svg and "a · duration: 1.5 s" in svg
    assert "no runs to chart yet" in chart([], [Series("x", [])], title="t")
    line: Any = sparkline([10.0, None, 30.0], label="glue")
    assert line.count("<circle") == 2 and "last 30, max 30" in line  # two lone samples: two dots
    assert "no samples yet" in sparkline([None], label="x")


def test_an_unexpected_error_is_a_styled_500_page_without_internals(wolf: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, _, keys = wolf
    from wolf_fastapi.deps import get_session

    def broken() -> None:
        raise RuntimeError("internal detail 0xDEADBEEF")

    _sign_in(client, keys["viewer"])
    app: Any = client.app
    app.dependency_overrides[get_session] = broken
    try:
        no_raise = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False, cookies=client.cookies)
        page = no_raise.get("/", headers=HTML)
    finally:
        app.dependency_overrides.clear()
    assert page.status_code == 500
    assert "Something went wrong" in page.text and 'href="/">← back to the Overview' in page.text
    assert "0xDEADBEEF" not in page.text


def test_the_overview_shows_the_latest_validation(dog: tuple[TestClient, Services]) -> None:
    client, services = dog
    from core.validation import save_validation, validate

    report = validate(services, spaces=["MASTER_DATA"])
    save_validation(services.store(), report)
    page = client.get("/", headers=HTML).text
    assert f'href="/validation/{report.id}"' in page and 'id="last-validation"' in page
    assert report.id in client.get("/validation", headers=HTML).text
