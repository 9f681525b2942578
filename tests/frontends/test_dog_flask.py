"""Dog through Flask's test client, and once in a real browser (Playwright + Debian's Chromium)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.catalog import AssetCatalog
from core.errors import ConfigError
from core.services import Services
from core.settings import Settings, load_settings
from dog_flask.app import create_app
from dog_flask.extension import close_app

from .browser import serve_wsgi
from .conftest import CSP_WATCH, form_csrf_token, real_env, seed_runs

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def dog_app(dog_settings: Settings) -> Iterator[Flask]:
    """A Dog app with its own store (pages here never start the emulator)."""
    app = create_app(dog_settings)
    yield app
    close_app(app)


@pytest.fixture
def client(dog_app: Flask) -> FlaskClient:
    return dog_app.test_client()


@pytest.fixture(scope="module")
def embedded_client(embedded_services: Services, embedded_catalog: AssetCatalog) -> FlaskClient:
    """A Dog app over the shared embedded emulator + moto Glue (catalog and plan pages)."""
    return create_app(services=embedded_services, catalog=embedded_catalog).test_client()


def test_home_loads_htmx_and_asks_for_the_partials(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<script src="/static/htmx.min.js"></script>' in html
    assert 'hx-get="/runs/_rows?limit=10" hx-trigger="load, every 5s"' in html
    assert 'hx-get="/_rows" hx-trigger="load"' in html


def test_static_htmx_is_the_vendored_release(client: FlaskClient) -> None:
    script = client.get("/static/htmx.min.js")
    assert script.status_code == 200
    assert script.get_data(as_text=True).startswith("/*! htmx.org 2.")
    script.close()


def test_runs_partial_lists_runs_newest_first_without_layout(dog_app: Flask, client: FlaskClient) -> None:
    ids = seed_runs(dog_app.extensions["dgsync"], 2)
    html = client.get("/runs/_rows").get_data(as_text=True)
    assert "<html" not in html
    assert html.index(ids[1]) < html.index(ids[0])
    assert 'class="status-partial"' in html


def test_runs_partial_says_when_there_are_none(client: FlaskClient) -> None:
    assert "No runs yet" in client.get("/runs/_rows").get_data(as_text=True)


def test_run_detail_and_unknown_run(dog_app: Flask, client: FlaskClient) -> None:
    run_id = seed_runs(dog_app.extensions["dgsync"], 1)[0]
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert run_id in page.get_data(as_text=True)
    missing = client.get("/runs/NOPE")
    assert missing.status_code == 404
    html = missing.get_data(as_text=True)
    assert "no run &#39;NOPE&#39;" in html and "hint:" in html and "<html" in html


def test_an_htmx_request_gets_the_error_fragment(client: FlaskClient) -> None:
    response = client.get("/runs/NOPE", headers={"HX-Request": "true"})
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div class="error" role="alert" data-code="not_found">')


def test_asset_states_partial(client: FlaskClient) -> None:
    assert "Nothing synced yet" in client.get("/_rows").get_data(as_text=True)


def test_dog_refuses_other_profiles(state_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_env(monkeypatch, "wolf")
    with pytest.raises(ConfigError, match="dog profile"):
        create_app(load_settings())


def test_services_live_on_the_app_extensions(dog_app: Flask) -> None:
    services = dog_app.extensions["dgsync"]
    assert isinstance(services, Services)
    assert services.settings.env == "dog"


# -------------------------------------------------------- over the embedded default


def test_catalog_lists_the_emulated_spaces_and_assets(embedded_client: FlaskClient) -> None:
    html = embedded_client.get("/catalog/").get_data(as_text=True)
    assert "SALES (" in html and "FINANCE (" in html
    assert html.count('<tr class="asset"') == 50  # one page; the rest behind "next"
    assert "page 1 of 2" in html and "page=2" in html
    sales = embedded_client.get("/catalog/?space=SALES").get_data(as_text=True)
    assert 'data-asset="SALES.V_ORDERS"' in sales and 'data-asset="HR.' not in sales


def test_catalog_search_partial(embedded_client: FlaskClient) -> None:
    html = embedded_client.get("/catalog/_rows?q=sales+order").get_data(as_text=True)
    assert "<html" not in html
    assert 'data-asset="SALES.RT_SALES_ORDER_HEADER"' in html
    assert "HR." not in html
    assert "Nothing matches" in embedded_client.get("/catalog/_rows?q=zzzqqq").get_data(as_text=True)


def test_catalog_space_partial(embedded_client: FlaskClient) -> None:
    html = embedded_client.get("/catalog/_rows?space=FINANCE").get_data(as_text=True)
    assert 'data-asset="FINANCE.' in html
    assert 'data-asset="SALES.' not in html


def test_asset_page_shows_columns_and_the_glue_mapping(embedded_client: FlaskClient) -> None:
    page = embedded_client.get("/catalog/SALES/V_ORDERS")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "SalesOrder" in html
    assert "cds.String(10)" in html  # exact type with its length
    assert "sales.v_orders" in html
    assert "TableInput sent to Glue" in html


def test_unknown_asset_is_a_404_page_with_a_hint(embedded_client: FlaskClient) -> None:
    page = embedded_client.get("/catalog/SALES/v_orders")  # names are case-sensitive
    assert page.status_code == 404
    assert "case-sensitive" in page.get_data(as_text=True)


def test_plan_preview_partial_is_a_dry_run(embedded_client: FlaskClient, embedded_services: Services) -> None:
    writes_before = embedded_services.glue().stats.snapshot().writes
    csrf = form_csrf_token(embedded_client.get("/plan/").get_data(as_text=True))
    response = embedded_client.post(
        "/plan/_rows", data={"spaces": "HR", "kinds": ["local_table"], "show_all": "1", "csrf_token": csrf}
    )
    assert response.status_code == 200
    assert embedded_services.glue().stats.snapshot().writes == writes_before
    html = response.get_data(as_text=True)
    assert 'id="plan-counts"' in html
    assert 'class="plan-item"' in html


def test_plan_refuses_an_unknown_kind(embedded_client: FlaskClient) -> None:
    csrf = form_csrf_token(embedded_client.get("/plan/").get_data(as_text=True))
    assert embedded_client.post("/plan/_rows", data={"kinds": ["cube"]}, headers={"X-CSRF-Token": csrf}).status_code == 400


# ------------------------------------------------------------------ in a browser


def _browser_or_skip() -> None:
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("DGSYNC_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing and DGSYNC_REQUIRE_BROWSER=1: apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium); DGSYNC_REQUIRE_BROWSER=1 makes this fail")


@pytest.fixture
def served_dog(dog_app: Flask) -> Iterator[str]:
    with serve_wsgi(dog_app) as url:
        yield url


@pytest.mark.browser
def test_home_page_in_chromium_loads_htmx_and_swaps_in_the_runs_partial(
    dog_app: Flask, served_dog: str
) -> None:
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    run_id = seed_runs(dog_app.extensions["dgsync"], 1)[0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            page = browser.new_page()
            page.add_init_script(CSP_WATCH)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto(served_dog + "/", wait_until="load")
            assert page.evaluate("typeof htmx === 'object' && htmx.version").startswith("2.")
            page.wait_for_selector(f'#runs-rows tr.run[data-run-id="{run_id}"]', timeout=10_000)
            page.wait_for_selector("#state-rows tr.empty", timeout=10_000)
            assert page.locator("#runs-rows tr.loading").count() == 0
            # The stylesheet applies under the CSP (no inline styles needed).
            assert page.evaluate("getComputedStyle(document.querySelector('header')).display") == "flex"
            assert page.evaluate("window.__csp") == []
            for path in ("/runs/", "/plan/", f"/runs/{run_id}"):
                page.goto(served_dog + path, wait_until="load")
                assert page.evaluate("window.__csp") == [], path
            # A state-changing htmx request carries the session's CSRF token: a 400 for an
            # unknown kind is the route's answer (a missing token would be a 403).
            status = page.evaluate(
                "async () => { const r = await fetch('/plan/_rows', {method: 'POST', headers: {"
                "'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': "
                "JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']},"
                " body: 'kinds=cube'}); return r.status; }"
            )
            assert status == 400
            forged = page.evaluate(
                "async () => (await fetch('/plan/_rows', {method: 'POST', body: 'kinds=cube',"
                " headers: {'Content-Type': 'application/x-www-form-urlencoded'}})).status"
            )
            assert forged == 403
            # Only the answers provoked above (and the favicon's 404) may show up as errors.
            assert [e for e in errors if "the server responded with a status of" not in e] == []
        finally:
            browser.close()
