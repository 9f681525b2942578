"""Dog in Debian's Chromium: plan → apply → watch the job finish; the unknown-space error; the
asset page with both types; compare after an emulator mutation. Full-page screenshots of every
page go to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.services import Services
from dog_flask import doubles

from .browser import chromium_page, serve_dog
from .conftest import own_embedded_services

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dog"
REGION = "ca-central-1"  # its own moto backend in this process

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Embedded services whose Glue this module may write (not the shared ones)."""
    with own_embedded_services(tmp_path_factory.mktemp("dog-browser"), REGION) as services:
        yield services


@pytest.fixture(scope="module")
def base_url(svc: Services) -> Iterator[str]:
    with serve_dog(svc) as url:
        yield url


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page() as pg:
        yield pg


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert page.evaluate("window.__csp") == [], name
    # 1366 px wide stays 1366 px wide: wide tables scroll inside their box
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366, name


def _clean(page: Any, allowed: tuple[str, ...] = ()) -> None:
    errors = [e for e in page.errors if not any(a in e for a in allowed)]
    page.errors.clear()
    assert errors == []


def test_unknown_space_shows_the_error_with_the_known_spaces(page: Any, base_url: str) -> None:
    page.goto(base_url + "/plan/")
    page.fill("#scope-spaces", "sales")
    page.click("form.scope-form button[type=submit]")
    alert = page.wait_for_selector("#plan-result .error[role=alert]", timeout=30_000)
    text = alert.inner_text()
    assert "no space 'sales'" in text and "did you mean SALES?" in text
    assert "Nothing to change" not in page.inner_text("#plan-result")
    assert page.input_value("#scope-spaces") == "sales"  # the form keeps what was typed
    _shot(page, "plan-unknown-space")
    # htmx logs the 404 it swapped in; that answer is the point of this test
    _clean(page, ("status of 404", "Response Status Error Code 404 from /plan/_rows"))


def test_plan_apply_and_watch_the_job_finish_on_its_run_page(page: Any, base_url: str) -> None:
    page.goto(base_url + "/plan/")
    page.fill("#scope-spaces", "SALES")
    page.click("form.scope-form button[type=submit]")
    page.wait_for_selector("#plan-result tr.plan-item[data-action=create]", timeout=60_000)
    _shot(page, "plan-preview")
    page.click("#apply")
    page.wait_for_url("**/plan/jobs/*", timeout=10_000)
    page.wait_for_selector('.job-result[data-state="finished"]', timeout=120_000)
    assert page.locator('tr.run-item[data-action="create"][data-status="done"]').count() > 5
    _shot(page, "job-finished")
    page.click("text=retries 0 >> xpath=.. >> a.mono")
    page.wait_for_selector("h1 >> text=Run")
    _shot(page, "run-detail")
    _clean(page)


def test_asset_page_shows_cds_and_glue_types(page: Any, base_url: str) -> None:
    page.goto(base_url + "/catalog/SALES/V_ORDERS")
    row = page.locator('tr[data-column="SalesOrder"]')
    assert row.locator(".cds-type").inner_text() == "cds.String(10)"
    assert row.locator(".glue-type").inner_text() == "varchar(10)"
    _shot(page, "asset")
    _clean(page)


@pytest.fixture
def sales_synced(svc: Services) -> None:
    """SALES in Glue, whether or not the apply test ran in this worker (xdist may split the
    module across workers; a sync after that test's is a no-op)."""
    report = svc.engine().sync(spaces=["SALES"], trigger="api", actor="test")
    assert report.status == "succeeded", report.not_in_sync


def test_compare_shows_a_difference_after_an_emulator_mutation(
    page: Any, base_url: str, svc: Services, sales_synced: None
) -> None:
    page.goto(base_url + "/compare/SALES/V_ORDERS")
    assert "in sync" in page.inner_text("h1")
    changes = doubles.mutate(svc, count=1, seed=11, space="SALES", operations=("change_column",))
    name = changes[0]["name"]
    page.goto(base_url + "/catalog/?refresh=1")
    page.goto(base_url + f"/compare/SALES/{name}")
    assert "difference(s)" in page.inner_text("h1")
    assert page.locator("tr.compare-row[data-status=changed], tr.compare-param").count() >= 1
    _shot(page, "compare-difference")
    _clean(page)


def test_every_page_in_the_browser(page: Any, base_url: str, sales_synced: None) -> None:
    """Screenshots of the remaining pages; no console errors, no CSP violation, no link ≥ 400."""
    pages = {
        "home": "/", "catalog": "/catalog/", "catalog-search": "/catalog/?q=order",
        "glue": "/glue/", "glue-database": "/glue/sales/", "glue-table": "/glue/sales/v_orders",
        "runs": "/runs/", "audit": "/audit/", "not-found": "/no/such/page",
        "lineage-asset": "/lineage/SALES/V_ORDERS", "console-empty": "/console/",
    }
    for name, path in pages.items():
        page.goto(base_url + path)
        page.wait_for_load_state("networkidle")
        _shot(page, name)
    _clean(page, ("status of 404",))
    # a small crawler over what the home page and the Glue table link to
    seen: set[str] = set()
    for start in ("/", "/glue/sales/v_orders", "/catalog/SALES/V_ORDERS", "/lineage/SALES/V_ORDERS",
                  "/lineage/", "/console/"):
        page.goto(base_url + start)
        page.wait_for_load_state("networkidle")
        links = page.eval_on_selector_all("a[href^='/']", "els => els.map(e => e.getAttribute('href'))")
        for href in links:
            if href in seen:
                continue
            seen.add(href)
            assert page.request.get(base_url + href).status < 400, href
    assert len(seen) > 10
