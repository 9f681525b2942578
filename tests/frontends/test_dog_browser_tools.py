"""Dog's lineage picture and API console in Debian's Chromium: click a box of the picture and
land on that asset's lineage page; send a request from the console and copy it as curl (read
back from the clipboard); no console errors, no CSP violation; full-page screenshots under
tests/artifacts/dog/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.services import Services

from .browser import chromium_page, serve_dog
from .conftest import own_embedded_services
from .test_dog_browser import ARTIFACTS, _clean, _shot

REGION = "ap-southeast-2"  # its own moto backend in this process

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with own_embedded_services(tmp_path_factory.mktemp("dog-browser-tools"), REGION) as services:
        report = services.engine().sync(spaces=["SALES"], trigger="api", actor="test")
        assert report.status == "succeeded", report.not_in_sync
        yield services


@pytest.fixture(scope="module")
def base_url(svc: Services) -> Iterator[str]:
    with serve_dog(svc) as url:
        yield url


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(clipboard_origin=base_url) as pg:
        yield pg


def test_from_the_asset_page_to_the_picture_and_on_by_clicking_a_box(page: Any, base_url: str) -> None:
    page.goto(base_url + "/catalog/SALES/V_ORDERS")
    page.click("a.lineage-link")
    page.wait_for_url("**/lineage/SALES/V_ORDERS")
    graph = page.locator("#lineage-graph svg")
    assert graph.locator('[data-key="SALES.V_ORDERS"].focus').count() == 1
    assert graph.locator("a.edge-label.flow").count() >= 1  # the flow on its edge
    _shot(page, "lineage")
    # click the box of an upstream asset: its own lineage page, the same depths
    graph.locator('a.node[data-key="SALES.RT_CUSTOMER"]').click()
    page.wait_for_url("**/lineage/SALES/RT_CUSTOMER?up=2&down=2")
    assert "SALES.RT_CUSTOMER" in page.inner_text("h1")
    assert page.locator('#lineage-graph svg [data-key="SALES.RT_CUSTOMER"].focus').count() == 1
    # the synced Glue table is a box too: to the Glue explorer
    page.locator('#lineage-graph a.node[data-key="glue:sales.rt_customer"]').click()
    page.wait_for_url("**/glue/sales/rt_customer")
    _clean(page)


def test_depth_and_column_lineage_from_the_form(page: Any, base_url: str) -> None:
    page.goto(base_url + "/lineage/SALES/V_ORDERS")
    page.select_option("#lineage-up", "1")
    page.select_option("#lineage-down", "3")
    page.select_option("#lineage-column", "SalesOrder")
    page.click(".lineage-controls button[type=submit]")
    page.wait_for_url("**/lineage/SALES/V_ORDERS?up=1&down=3&column=SalesOrder")
    assert page.locator("#column-graph svg a.node").count() >= 2
    assert page.locator("li.column-source").first.get_attribute("data-ref") == "SALES.RT_SALES_ORDER_HEADER.SalesOrder"
    _shot(page, "lineage-column")
    page.locator('#column-graph a.node[data-key="SALES.RT_SALES_ORDER_HEADER#SalesOrder"]').click()
    page.wait_for_url("**/lineage/SALES/RT_SALES_ORDER_HEADER?column=SalesOrder&up=1&down=3")
    assert "originates here" in page.inner_text("#column-upstream")
    page.goto(base_url + "/lineage/DP_SALARY/3VF_SALARY_CSRD")
    assert page.locator("#lineage-graph svg g.node-hidden").count() == 1  # hidden owner: not a link
    _shot(page, "lineage-hidden-owner")
    page.goto(base_url + "/lineage/")
    _shot(page, "lineage-index")
    _clean(page)


def test_the_console_sends_a_request_and_copies_it_as_curl(page: Any, base_url: str, svc: Services) -> None:
    page.goto(base_url + "/console/")
    page.fill("#console-path", "/api/v1/datasphere/consumption/catalog/spaces")
    page.fill("#console-query", "$top=3")
    page.click("#console-send")
    page.wait_for_selector("#console-exchange")
    assert page.inner_text("#response-status").startswith("200")
    assert '"value"' in page.inner_text("#response-body")
    assert page.locator("#console-history li.history-item").count() >= 1  # swapped out of band
    page.click("#copy-curl")
    page.wait_for_selector('#copy-curl[data-copied="yes"]')
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("curl -sS -i ") and "/api/v1/datasphere/consumption/catalog/spaces" in copied
    assert '"Authorization: Bearer $TOKEN"' in copied
    token = svc.datasphere_client().tokens.current()
    assert token is not None and token.access_token not in copied and token.access_token not in page.content()
    _shot(page, "console")
    # an expired token: the API's 401, the request shows it was sent
    page.check('input[name=token_mode][value=expired]')
    page.click("#console-send")
    page.wait_for_selector("#response-status:has-text('401')")  # (no eval: the page's CSP forbids it)
    assert "Bearer ‹token›" in page.inner_text("details.request")
    # a write without the toggle: the error with its hint, nothing sent
    page.select_option("#console-method", "DELETE")
    page.click("#console-send")
    alert = page.wait_for_selector("#console-result .error[role=alert]")
    assert "allow writes" in alert.inner_text()
    _shot(page, "console-refused-write")
    _clean(page, ("status of 400", "Response Status Error Code 400 from /console/send"))


def test_the_glue_tab_calls_an_operation(page: Any, base_url: str) -> None:
    page.goto(base_url + "/console/?target=glue")
    page.select_option("#glue-operation", "GetTables")
    page.fill("#glue-params", '{"DatabaseName": "sales"}')
    page.click("#console-send")
    page.wait_for_selector("#console-exchange")
    assert page.inner_text("#response-status").startswith("200")
    assert '"TableList"' in page.inner_text("#response-body")
    assert page.inner_text("#copy-curl") == "Copy as AWS CLI"
    _shot(page, "console-glue")
    _clean(page)
