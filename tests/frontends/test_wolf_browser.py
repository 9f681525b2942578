"""Wolf's dashboard in Debian's Chromium, against the Datasphere emulator and moto_server
running as separate processes (``tests/cli/processes.py``): the guided flow plan → sync →
validate end to end, the validation report, a crawler over every page's links (< 400), no
console error or CSP violation, and full-page screenshots of every page at 1366×768 in
tests/artifacts/wolf/ (git-ignored)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from core.services import Services
from core.settings import load_settings
from wolf_fastapi.app import create_app

from .conftest import CSP_WATCH, _clear_dgsync_env

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from processes import separate_systems

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "wolf"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def systems() -> Iterator[dict[str, Any]]:
    with separate_systems() as found:
        yield found


@pytest.fixture(scope="module")
def wolf(systems: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Services]]:
    """Wolf (uvicorn on a loopback port, dog profile: no sign-in on loopback) pointed at the
    separate emulator and moto_server through DGSYNC_* variables."""
    root = tmp_path_factory.mktemp("wolf-browser")
    with pytest.MonkeyPatch.context() as mp:
        _clear_dgsync_env(mp)
        for key, value in {
            "DGSYNC_STATE_DIR": str(root / "state"),
            "DGSYNC_DATABASE_URL": f"sqlite:///{root / 'state.db'}",
            "DGSYNC_DATASPHERE__BASE_URL": systems["emulator"],
            "DGSYNC_DATASPHERE__TOKEN_URL": systems["emulator"] + "/oauth/token",
            "DGSYNC_DATASPHERE__CLIENT_ID": "dgsync-demo",
            "DGSYNC_DATASPHERE__CLIENT_SECRET": "dgsync-demo-secret",
            "DGSYNC_GLUE__ENDPOINT_URL": systems["glue"],
            "DGSYNC_GLUE__CALLS_PER_SECOND": "500",
            "DGSYNC_GLUE__BURST": "500",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            mp.setenv(key, value)
        settings = load_settings(env="dog")
        app: FastAPI = create_app(settings, bind_host="127.0.0.1")
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}", app.state.services
        finally:
            server.should_exit = True
            thread.join(timeout=30)


@pytest.fixture(scope="module")
def page(wolf: tuple[str, Services]) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("DGSYNC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and DGSYNC_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            pg = browser.new_page(viewport={"width": 1366, "height": 768})
            pg.add_init_script(CSP_WATCH + "document.addEventListener('securitypolicyviolation', e => window.__csp.push('at ' + e.sourceFile + ':' + e.lineNumber + ':' + e.columnNumber + ' ' + (e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 200) : '')));")
            pg.errors = []  # type: ignore[attr-defined]
            pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
            pg.on("console", lambda msg: pg.errors.append(msg.text) if msg.type == "error" else None)
            yield pg
        finally:
            browser.close()


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert page.evaluate("window.__csp") == [], (name, page.evaluate("window.__csp"))
    # 1366 px wide stays 1366 px wide: wide tables scroll inside their box
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366, name


def _clean(page: Any, allowed: tuple[str, ...] = ()) -> None:
    errors = [e for e in page.errors if not any(a in e for a in allowed)]
    page.errors.clear()
    assert errors == []


def test_guided_flow_plan_sync_validate_end_to_end(page: Any, wolf: tuple[str, Services]) -> None:
    url, _ = wolf
    page.goto(url + "/flow")
    _shot(page, "flow-scope")
    # a typo is an error naming the known spaces; the form keeps what was typed
    page.fill("#scope-spaces", "sales")
    page.click("#start-plan")
    alert = page.wait_for_selector("#scope-form .scope-error", timeout=30_000)
    assert "no space 'sales'" in alert.inner_text() and "did you mean SALES?" in alert.inner_text()
    assert page.input_value("#scope-spaces") == "sales"
    _shot(page, "flow-unknown-space")
    _clean(page, ("status of 422", "Response Status Error Code 422"))
    # 1 · plan: a job, polled until its diffs are shown
    page.fill("#scope-spaces", "SALES")
    page.click("#start-plan")
    page.wait_for_url("**/flow?plan=*", timeout=30_000)
    page.wait_for_selector("#step-plan tr.plan-item[data-action=create]", timeout=120_000)
    assert "nothing was written" in page.inner_text("#step-plan")
    _shot(page, "flow-planned")
    # 2 · apply: a sync job of the same scope, then the run summary
    page.click("#apply")
    page.wait_for_url("**/flow?plan=*&sync=*", timeout=30_000)
    page.wait_for_selector('#step-sync .job[data-status="succeeded"] a.run-link', timeout=180_000)
    created = int(page.inner_text("#step-sync .run-counts .card:first-child .n"))
    assert created > 5
    _shot(page, "flow-synced")
    # 3 · validate: the verdict, then the report
    page.click("#validate")
    page.wait_for_url("**&validate=*", timeout=30_000)
    verdict = page.wait_for_selector("#step-validate #verdict", timeout=180_000)
    assert "In sync" in verdict.inner_text()
    _shot(page, "flow-validated")
    page.click("#open-report")
    page.wait_for_selector("h1 >> text=column by column")
    assert "In sync" in page.inner_text("#verdict")
    _shot(page, "validation-report")
    page.click("nav.tabs >> text=all tables")
    page.wait_for_selector("tbody.vtable[data-status=ok]")
    _shot(page, "validation-report-all")
    report_url = page.url.split("?")[0]
    exported = page.request.get(report_url + ".json")
    assert exported.status == 200 and exported.json()["in_sync"] is True
    csv = page.request.get(report_url + ".csv")
    assert csv.status == 200 and csv.text().startswith("space,asset,kind,database,table,status")
    page.click("#print-version")
    page.wait_for_selector("body.printable")
    page.emulate_media(media="print")
    _shot(page, "validation-print")
    page.emulate_media(media="screen")
    _clean(page)


#: Every page of the nav, plus a few deeper ones (name → path).
PAGES = {
    "overview": "/", "connectivity": "/connectivity", "assets": "/assets", "assets-search": "/assets?q=order",
    "assets-nothing": "/assets?q=zzzznothing", "asset": "/assets/SALES/V_ORDERS", "flow": "/flow", "runs": "/runs",
    "validation": "/validation", "performance": "/performance", "docs": "/docs", "redoc": "/redoc",
    "not-found": "/no/such/page",
}


def test_every_page_renders_without_errors_and_every_link_answers(page: Any, wolf: tuple[str, Services]) -> None:
    url, services = wolf
    from core.store import repo

    with services.store().session(readonly=True) as session:
        runs = repo.list_runs(session=session, limit=1)
    pages = dict(PAGES)
    if runs:
        pages["run"] = f"/runs/{runs[0].id}"
        pages["run-all"] = f"/runs/{runs[0].id}?show=all"
    for name, path in pages.items():
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
        if name == "docs":
            page.wait_for_selector(".swagger-ui .info", timeout=20_000)
        if name == "redoc":
            page.wait_for_selector("#redoc h1", timeout=20_000)
        _shot(page, name)
    _clean(page, ("status of 404",))
    seen: set[str] = set()
    for path in pages.values():
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
        links = page.eval_on_selector_all("a[href^='/']", "els => els.map(e => e.getAttribute('href'))")
        for href in links:
            if href in seen:
                continue
            seen.add(href)
            assert page.request.get(url + href).status < 400, href
    assert len(seen) > 25
