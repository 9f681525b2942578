"""Dog's Debug page in Debian's Chromium: a fault switched on there shows up as the handled error
and the counted throttles of the next plan; the rule tester reports a YAML error with its line
and shows the new TableInput of a valid edit; compare shows a difference after a column change
made there; the request log lives and filters. Full-page screenshots go to tests/artifacts/dog/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.services import Services
from dog_flask import doubles

from .browser import chromium_page, serve_dog
from .conftest import own_embedded_services

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dog"
REGION = "us-west-1"  # its own moto backend in this process

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with own_embedded_services(tmp_path_factory.mktemp("dog-debug-browser"), REGION) as services:
        yield services


@pytest.fixture(scope="module")
def base_url(svc: Services) -> Iterator[str]:
    with serve_dog(svc) as url:
        yield url


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(accept_dialogs=True) as pg:
        yield pg


@pytest.fixture(autouse=True)
def no_faults_after(svc: Services) -> Iterator[None]:
    yield
    doubles.clear_faults(svc)


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert page.evaluate("window.__csp") == [], name
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366, name


def _clean(page: Any, allowed: tuple[str, ...] = ()) -> None:
    errors = [e for e in page.errors if not any(a in e for a in allowed)]
    page.errors.clear()
    assert errors == []


def _open_debug(page: Any, base_url: str) -> None:
    page.goto(base_url + "/debug/")
    page.wait_for_selector("#rules-ok", timeout=30_000)  # the rule tester maps on load


def test_the_debug_page_with_a_live_filtered_request_log(page: Any, base_url: str, svc: Services) -> None:
    _open_debug(page, base_url)
    assert page.locator("#reqlog tr.reqlog-row").count() > 0
    first = page.locator("#reqlog tr.reqlog-row").first.get_attribute("data-status")
    list(svc.datasphere_client().iter_spaces())  # new requests arrive while the page is open
    page.wait_for_function(
        "n => document.querySelectorAll('#reqlog tr.reqlog-row').length > 0 && "
        "document.querySelector('#reqlog').dataset.live === '1'", arg=0)
    assert first is not None
    _shot(page, "debug")
    page.select_option("#log-source", "glue")
    page.wait_for_function("() => [...document.querySelectorAll('#reqlog tr.reqlog-row')]"
                           ".every(r => r.dataset.source === 'glue')")
    page.select_option("#log-source", "")
    page.fill("#log-path", "spaces")
    page.wait_for_function("() => { const rows = [...document.querySelectorAll('#reqlog tr.reqlog-row')];"
                           " return rows.length > 0 && rows.every(r => r.querySelector('.reqlog-path').title.includes('spaces')); }")
    page.uncheck("#log-live")
    page.wait_for_selector('#reqlog[data-live="0"]')
    _clean(page)


def test_a_fault_switched_on_in_debug_shows_up_in_the_next_plan(page: Any, base_url: str) -> None:
    _open_debug(page, base_url)
    row = page.locator('tr.fault-row[data-fault="ds_throttle"]')
    row.locator('input[name="count"]').fill("2")
    row.locator('input[name="retry_after"]').fill("0")
    row.locator("button").click()
    page.wait_for_selector('tr.fault-row[data-fault="ds_throttle"][data-on="1"]')
    page.locator('tr.fault-row[data-fault="ds_forbidden_space"] select[name="space"]').select_option("HR")
    page.locator('tr.fault-row[data-fault="ds_forbidden_space"] button').click()
    page.wait_for_selector('tr.fault-row[data-fault="ds_forbidden_space"][data-on="1"]')
    assert "Turn off" in page.locator('tr.fault-row[data-fault="ds_forbidden_space"] button').inner_text()
    _shot(page, "debug-faults-on")

    page.click("text=Plan & sync → see the effect")
    page.wait_for_url("**/plan/")
    page.fill("#scope-spaces", "SALES,HR")
    page.click("form.scope-form button[type=submit]")
    alert = page.wait_for_selector("#plan-result .error[role=alert]", timeout=60_000)
    assert "HR" in alert.inner_text() and "403" in alert.inner_text()
    assert page.inner_text('#call-health [data-ds="throttles"]') == "throttles 2"
    assert page.inner_text('#call-health [data-ds="retries"]') == "retries 2"
    _shot(page, "plan-after-debug-fault")

    page.goto(base_url + "/debug/")
    page.click("#clear-faults")
    page.wait_for_selector("#faults .notice >> text=every fault cleared")
    assert page.locator('#faults tr.fault-row[data-on="1"]').count() == 0
    _clean(page)


def test_the_rule_tester_reports_a_yaml_error_with_its_line(page: Any, base_url: str) -> None:
    _open_debug(page, base_url)
    assert page.inner_text("#rules-table") == "sales.v_orders"
    page.fill("#rules-text", "version: 1\ndatabases:\n  template: \"{prefix}{bogus}\"\n")
    problem = page.wait_for_selector("#rules-errors .rule-problem", timeout=10_000)
    assert problem.get_attribute("data-line") == "3"
    assert problem.inner_text().startswith("line 3")
    assert "3 |" in page.inner_text("#rules-errors pre.excerpt .marked")
    _shot(page, "debug-rules-error")

    page.fill("#rules-text", "version: 1\ndatabases:\n  template: \"lab_{space}\"\n")
    page.wait_for_selector("#rules-table >> text=lab_sales.v_orders", timeout=10_000)
    assert "lab_sales.v_orders" in page.inner_text("#rules-diff")
    assert '"Name": "v_orders"' in page.inner_text("#rules-table-input")
    _shot(page, "debug-rules-valid")
    _clean(page)


def test_compare_shows_a_difference_after_a_column_change_made_in_debug(
    page: Any, base_url: str, svc: Services
) -> None:
    report = svc.engine().sync(spaces=["SALES"], trigger="api", actor="test")
    assert report.status == "succeeded", report.not_in_sync
    _open_debug(page, base_url)
    page.fill("#mut-change-asset", "SALES.V_ORDERS")
    options = page.eval_on_selector_all("#mut-change-column option", "os => os.map(o => o.value)")
    column = next(c for c in options if c and c != "SalesOrder")
    page.select_option("#mut-change-column", column)
    page.fill("#mut-change-type", "cds.String(77)")
    page.click("#mut-change button[type=submit]")
    notice = page.wait_for_selector('#mutation-result .notice[data-change="change_column"]')
    assert "cds.String(77)" in notice.inner_text()
    _shot(page, "debug-mutation")
    page.click("#mutation-result >> text=compare with Glue")
    page.wait_for_url("**/compare/SALES/V_ORDERS")
    assert "difference(s)" in page.inner_text("h1")
    assert page.locator("tr.compare-row[data-status=changed]").count() >= 1
    _shot(page, "compare-after-debug-mutation")

    page.goto(base_url + "/debug/#mutations-section")
    page.click("#mut-reset button[type=submit]")
    page.wait_for_selector('#mutation-result .notice[data-change="reset"]')
    page.goto(base_url + "/compare/SALES/V_ORDERS")
    assert re.search(r"in sync", page.inner_text("h1"))
    _clean(page)
