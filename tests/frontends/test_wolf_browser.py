"""Wolf's dashboard in Debian's Chromium, against the Datasphere emulator and moto_server
running as separate processes (``tests/cli/processes.py``): the guided flow plan → sync →
validate end to end, the validation report, a crawler over every page's links (< 400), no
console error or CSP violation, and full-page screenshots of every page at 1366×768 in
tests/artifacts/wolf/ (git-ignored)."""

from __future__ import annotations

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

from .browser import chromium_page

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
        app.state.services.catalog().snapshot()  # the asset pages never wait for an extraction
        try:
            yield f"http://127.0.0.1:{port}", app.state.services
        finally:
            server.should_exit = True
            thread.join(timeout=30)


@pytest.fixture(scope="module")
def page(wolf: tuple[str, Services]) -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(init_script="document.addEventListener('securitypolicyviolation', e => window.__csp.push('at ' + e.sourceFile + ':' + e.lineNumber + ':' + e.columnNumber + ' ' + (e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 200) : '')));") as pg:
        yield pg


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
    # The sync just made is charted on the performance page (one point per chart at least).
    page.goto(url + "/performance")
    assert page.locator("svg circle").count() > 0
    _shot(page, "performance-with-runs")
    _clean(page)


def test_an_out_of_band_edit_in_glue_is_drift_in_the_validation_report(
    page: Any, wolf: tuple[str, Services], systems: dict[str, Any]
) -> None:
    """Someone changes a column in Glue by hand: validating from the Validation page names the
    table and the field, with the value Datasphere says and the one Glue holds."""
    import boto3

    url, _ = wolf
    glue = boto3.client("glue", endpoint_url=systems["glue"], region_name="eu-central-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    table = glue.get_table(DatabaseName="sales", Name="v_orders")["Table"]
    columns = table["StorageDescriptor"]["Columns"]
    columns[0] = {**columns[0], "Comment": "edited by hand in the console"}
    allowed = ("Name", "Description", "Owner", "Retention", "StorageDescriptor", "PartitionKeys", "TableType",
               "Parameters", "ViewOriginalText", "ViewExpandedText")
    glue.update_table(DatabaseName="sales", TableInput={k: v for k, v in table.items() if k in allowed})
    page.goto(url + "/validation")
    page.fill("#validate-spaces", "SALES")
    page.click("form >> text=Validate now")
    page.wait_for_url("**/flow?validate=*", timeout=30_000)
    verdict = page.wait_for_selector("#step-validate #verdict", timeout=180_000)
    assert "Not in sync" in verdict.inner_text()
    page.click("#open-report")
    drift = page.wait_for_selector('tbody.vtable[data-status="drift"][data-table="sales.v_orders"]')
    checks = drift.inner_text()
    assert "edited by hand in the console" in checks and ".comment" in checks
    _shot(page, "validation-drift")
    _clean(page)


#: Every page of the nav, plus a few deeper ones (name → path).
PAGES = {
    "overview": "/", "connectivity": "/connectivity", "assets": "/assets", "assets-search": "/assets?q=order",
    "assets-nothing": "/assets?q=zzzznothing", "asset": "/assets/SALES/V_ORDERS", "flow": "/flow", "runs": "/runs",
    "validation": "/validation", "performance": "/performance", "docs": "/docs", "redoc": "/redoc",
    "not-found": "/no/such/page",
    "alerts": "/alerts", "audit": "/audit", "security": "/security", "configuration": "/configuration",
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
        if name == "connectivity":  # the panel polls: its history (and sparklines) grow
            deadline = time.monotonic() + 30
            while page.locator("#conn-glue svg.spark polyline").count() == 0 and time.monotonic() < deadline:
                page.wait_for_timeout(500)
            assert page.locator("#conn-glue svg.spark polyline").count() == 1
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


@pytest.fixture(scope="module")
def secured(systems: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """Wolf in the wolf profile (sign-in required) with a viewer and an operator key."""
    from pydantic import SecretStr

    from core.apikeys import ApiKeys
    from core.store.db import Store

    from .conftest import API_TOKEN

    root = tmp_path_factory.mktemp("wolf-secured")
    url = f"sqlite:///{root / 'state.db'}"
    Store.from_url(url, auto_upgrade=True).dispose()  # wolf never migrates on its own
    with pytest.MonkeyPatch.context() as mp:
        _clear_dgsync_env(mp)
        for key, value in {
            "DGSYNC_ENV": "wolf", "DGSYNC_STATE_DIR": str(root / "state"), "DGSYNC_DATABASE_URL": url,
            "DGSYNC_API_TOKEN": API_TOKEN, "DGSYNC_WEB__API_KEY_PEPPER": "pepper-Xk2s9QmZ4vLr7TbN0aYc5Wd8Ue1Hf3Gj",
            "DGSYNC_DATASPHERE__BASE_URL": systems["emulator"],
            "DGSYNC_DATASPHERE__TOKEN_URL": systems["emulator"] + "/oauth/token",
            "DGSYNC_DATASPHERE__CLIENT_ID": "dgsync-demo", "DGSYNC_DATASPHERE__CLIENT_SECRET": "dgsync-demo-secret",
            "DGSYNC_GLUE__ENDPOINT_URL": systems["glue"],
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            mp.setenv(key, value)
        settings = load_settings()
        assert isinstance(settings.web.api_key_pepper, SecretStr)
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
        services: Services = app.state.services
        made = ApiKeys(services.store(), services.settings)
        keys = {role: made.create(f"qa-{role}", role, created_by="cli:test")[1] for role in ("viewer", "operator")}
        try:
            yield f"http://127.0.0.1:{port}", keys
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def test_swagger_authorize_sends_the_bearer_key_and_a_viewer_sees_disabled_forms(
    page: Any, secured: tuple[str, dict[str, str]]
) -> None:
    url, keys = secured
    context = page.context.browser.new_context(viewport={"width": 1366, "height": 768})
    pg = context.new_page()
    pg.add_init_script(CSP_WATCH)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        pg.goto(url + "/flow")
        assert pg.url.endswith("/login")
        pg.fill("input[name=token]", keys["viewer"])
        pg.click("main button[type=submit]")
        pg.wait_for_url(url + "/")
        assert "qa-viewer" in pg.inner_text("header .who") and "viewer" in pg.inner_text("header .role")
        pg.goto(url + "/flow")
        assert pg.get_attribute("#start-plan", "disabled") is not None  # a viewer may look, not start
        _shot(pg, "flow-as-viewer")
        pg.goto(url + "/docs")
        pg.wait_for_selector(".swagger-ui .info", timeout=20_000)
        pg.click("button.authorize")
        pg.fill(".modal-ux input", keys["operator"])
        pg.click(".modal-ux .auth-btn-wrapper button.authorize")
        pg.click(".modal-ux button.btn-done")
        pg.click('.opblock-summary-path[data-path="/api/v1/status"]')
        pg.click(".opblock.is-open button.try-out__btn")
        with pg.expect_request(lambda r: r.url.endswith("/api/v1/status")) as sent:
            pg.click(".opblock.is-open button.execute")
        # the call carries the key entered under Authorize (the cookie session is the viewer's)
        assert sent.value.headers.get("authorization") == f"Bearer {keys['operator']}"
        status = pg.wait_for_selector(".opblock.is-open .live-responses-table .response .response-col_status", timeout=20_000)
        assert status.inner_text().strip().startswith("200")
        _shot(pg, "docs-authorized")
        assert pg.evaluate("window.__csp") == []
        assert errors == []
    finally:
        context.close()


def test_governance_pages_show_alerts_audit_security_and_configuration_versions(
    page: Any, wolf: tuple[str, Services]
) -> None:
    """Seeded alerts, audit records, security events and two configuration versions, seen and
    used in the browser: ack an alert, filter the audit, diff two versions, a broken rules file
    refused with its line (gov-web)."""
    from core import config_ops
    from core.governance.audit import record_action
    from core.store import governance as g
    from core.store import repo
    from core.store.schemas import SecurityEventIn

    url, services = wolf
    page.errors.clear()  # the previous test's crawl visits the 404 page last
    store = services.store()
    with store.session() as s:
        alert = g.create_alert(session=s, env=services.settings.env, rule="run_failed", kind="run_failed",
                               dedup_key="run_failed:browser", severity="critical", title="Sync of SALES failed",
                               message="3 objects failed: Glue AccessDenied", hint="Open the run and fix the first error.")
        g.create_alert(session=s, env=services.settings.env, rule="stale_sync", kind="stale_sync",
                       dedup_key="stale:browser", severity="warning", title="No successful sync for 26h",
                       message="the high class last succeeded 26h ago", hint="Check the scheduler.")
        for kind, actor in [("auth_failure", None), ("permission_denied", "key:qa-viewer/viewer")]:
            repo.record_security_event(session=s, event=SecurityEventIn(
                kind=kind, actor=actor, source="127.0.0.1", env=services.settings.env,
                detail={"frontend": "wolf", "object": "POST /api/v1/config/apply", "reason": "role too low"}))
    for i in range(3):
        record_action(store, actor="key:ops/operator", action="alert_mute", object=f"alert:rule{i}",
                      env=services.settings.env, details={"reason": "maintenance window"})
    base, _ = config_ops.applied_or_current(services)
    for retention, comment in [(180, "baseline"), (365, "keep a year of audit")]:
        candidate = config_ops.edited(base, settings={"audit": {"retention_days": retention}})
        _, version = config_ops.validate_and_apply(services, candidate, action="apply", author="key:qa-admin/admin",
                                                   comment=comment, plan=False)
        assert version is not None

    page.goto(url + "/alerts")
    assert page.locator("#alerts tr.alert-row").count() == 2
    _shot(page, "gov-alerts")
    page.locator(f'tr[data-alert="{alert.id}"] button:has-text("Ack")').click()
    page.wait_for_load_state("networkidle")
    assert "acknowledged by local:loopback/admin" in page.locator(f'tr[data-alert="{alert.id}"]').inner_text()
    _shot(page, "gov-alerts-acked")

    page.goto(url + "/audit")
    page.fill("#audit-actor", "key:ops/operator")
    page.click("form.gov-filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#audit tbody tr").count() == 3
    _shot(page, "gov-audit-filtered")
    csv_text = page.request.get(url + page.get_attribute("#export-csv", "href")).text()
    assert len(csv_text.strip().splitlines()) == 4  # header + the 3 matching records

    page.goto(url + "/security")
    assert page.locator("#security-events tbody tr, #security-events tr:not(:first-child)").count() >= 2
    _shot(page, "gov-security")

    page.goto(url + "/configuration")
    page.click("#config-history + button, form[action$='/configuration'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "retention_days: 365" in page.locator("#config-diff").inner_text()
    _shot(page, "gov-config-diff")
    page.fill("#config-rules", "version: 1\nexclude: 12\n")
    page.click("button:has-text('Validate'):not(.primary)")  # with the dry-run plan: a config_validate job
    page.wait_for_selector('.config-job[data-status="failed"] #validation-result', timeout=60_000)
    assert "/configuration?job=" in page.url
    assert "line 2" in page.locator("#validation-result").inner_text()
    assert page.input_value("#config-rules") == "version: 1\nexclude: 12\n"  # the form keeps the candidate
    _shot(page, "gov-config-invalid")
    _clean(page, ("status of 422",))
