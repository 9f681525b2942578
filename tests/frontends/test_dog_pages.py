"""Dog's explorer pages: Datasphere catalog (paginated search, CDS and Glue types side by side),
Glue explorer (managed/unmanaged, pretty Parameters, version diff), Compare, errors, favicon."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.catalog import AssetCatalog
from core.services import Services
from dog_flask import doubles
from dog_flask.app import create_app

from .conftest import own_embedded_services

# A region of its own: an embedded Glue resets moto's backend of its region in this process.
REGION = "ap-south-1"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with own_embedded_services(tmp_path_factory.mktemp("dog-pages"), REGION) as services:
        report = services.engine().sync(spaces=["SALES", "HR"], trigger="api", actor="test")
        assert report.status == "succeeded", report.not_in_sync
        yield services


@pytest.fixture(scope="module")
def app(svc: Services) -> Flask:
    return create_app(services=svc, catalog=AssetCatalog(svc))


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _row(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


def test_asset_page_shows_cds_and_glue_type_side_by_side(client: FlaskClient) -> None:
    html = client.get("/catalog/SALES/V_ORDERS").get_data(as_text=True)
    row = _row(html, 'data-column="SalesOrder"')
    assert 'class="mono cds-type">cds.String(10)<' in row
    assert 'class="mono glue-type">varchar(10)<' in row
    assert ">salesorder<" in row and "key" in row
    # upstreams are links, never raw dicts
    assert 'href="/catalog/SALES/RT_CUSTOMER"' in html
    assert "ref=AssetRef" not in html and "{&#39;" not in html
    assert 'href="/compare/SALES/V_ORDERS"' in html


def test_catalog_search_is_server_side_and_paginated(client: FlaskClient) -> None:
    first = client.get("/catalog/_rows?q=order").get_data(as_text=True)
    assert "<html" not in first
    total = int(re.search(r"(\d+) asset\(s\) matching", first).group(1))  # type: ignore[union-attr]
    assert total == first.count('<tr class="asset"') and 0 < total <= 50
    page = client.get("/catalog/_rows?page=2").get_data(as_text=True)
    assert "page 2 of 2" in page and "← previous" in page
    assert client.get("/catalog/_rows?page=99").get_data(as_text=True).count("page 2 of 2") == 1
    narrowed = client.get("/catalog/_rows?q=order&space=HR").get_data(as_text=True)
    assert 'data-asset="SALES.' not in narrowed


def test_glue_explorer_lists_databases_tables_and_marks_unmanaged(client: FlaskClient, svc: Services) -> None:
    boto = svc.glue().boto_client
    boto.create_table(DatabaseName="hr", TableInput={"Name": "hand_made", "TableType": "EXTERNAL_TABLE"})
    index = client.get("/glue/").get_data(as_text=True)
    assert 'data-db="sales"' in index and 'data-db="hr"' in index
    assert "1 unmanaged" in _row(index, 'data-db="hr"')
    tables = client.get("/glue/hr/").get_data(as_text=True)
    assert 'data-table="hand_made" data-managed="no"' in tables
    assert re.search(r'data-table="\w+" data-managed="yes"', tables)
    page = client.get("/glue/hr/hand_made").get_data(as_text=True)
    assert "unmanaged: dgsync never changes it" in page


def test_glue_table_page_shows_parameters_pretty_and_columns(client: FlaskClient) -> None:
    html = client.get("/glue/sales/v_orders").get_data(as_text=True)
    assert "dgsync.primary_key" in html
    assert '<li class="mono">salesorder</li>' in html  # a JSON list shown as a list
    assert '[&#34;salesorder&#34;]' not in html.split("<h2>Parameters</h2>")[1].split("</table>")[0]
    assert "cds.String(10)" in html
    assert client.get("/glue/sales/nope").status_code == 404
    assert client.get("/glue/nope/").status_code == 404


def test_compare_in_sync_then_a_difference_after_an_emulator_mutation(
    app: Flask, client: FlaskClient, svc: Services
) -> None:
    assert "in sync" in client.get("/compare/SALES/V_ORDERS").get_data(as_text=True)
    changes = doubles.mutate(svc, count=1, seed=3, space="HR", operations=("add_column",))
    name, column = changes[0]["name"], changes[0]["column"]
    app.extensions["dgsync.catalog"].snapshot(refresh=True)
    html = client.get(f"/compare/HR/{name}").get_data(as_text=True)
    assert "difference(s)" in html
    row = _row(html, f'data-column="{column.lower()}"')
    assert 'data-status="missing"' in row and "+ only in Datasphere" in row
    # the sync writes it; Glue then has two versions and the version diff shows the column
    report = svc.engine().sync(spaces=["HR"], trigger="api", actor="test")
    assert report.counts["updated"] >= 1
    assert "in sync" in client.get(f"/compare/HR/{name}").get_data(as_text=True)
    table = client.get(f"/glue/hr/{name.lower()}").get_data(as_text=True)
    assert 'name="a"' in table
    diff = client.get(f"/glue/hr/{name.lower()}?a=1&b=2").get_data(as_text=True)
    assert "Version 1 → 2" in diff
    assert 'data-status="missing"' in _row(diff, f'data-column="{column.lower()}"')
    assert client.get(f"/glue/hr/{name.lower()}?a=1&b=9").status_code == 404


def test_home_glance_counts_the_tenant_and_glue(client: FlaskClient, svc: Services) -> None:
    home = client.get("/").get_data(as_text=True)
    assert 'hx-get="/_glance"' in home and 'id="sync-all"' in home
    glance = client.get("/_glance").get_data(as_text=True)
    n_tables = sum(len(list(svc.glue().iter_tables(d["Name"]))) for d in svc.glue().iter_databases())
    assert f'Glue tables</div><div class="n">{n_tables}<' in glance
    assert "view" in glance and "Datasphere spaces" in glance


def test_unknown_page_is_a_styled_404_with_a_way_back(client: FlaskClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "dgsync.css" in html and 'href="/">← back to Home' in html and "hint:" in html


def test_favicon_is_served(client: FlaskClient) -> None:
    response = client.get("/favicon.ico", follow_redirects=True)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    response.close()


def test_an_unexpected_exception_is_a_styled_500(svc: Services) -> None:
    app = create_app(services=svc, catalog=AssetCatalog(svc))

    def boom() -> str:
        raise RuntimeError("kaputt")

    app.add_url_rule("/boom", "boom", boom)
    page = app.test_client().get("/boom")
    assert page.status_code == 500
    html = page.get_data(as_text=True)
    assert "Something went wrong" in html and "dgsync bug" in html and "kaputt" not in html


def test_no_page_renders_the_client_secret(client: FlaskClient, svc: Services) -> None:
    secret = svc.datasphere_settings().client_secret
    assert secret is not None
    for path in ("/", "/_glance", "/catalog/", "/catalog/SALES/V_ORDERS", "/glue/", "/glue/sales/v_orders",
                 "/compare/SALES/V_ORDERS", "/plan/", "/runs/"):
        assert secret.get_secret_value() not in client.get(path).get_data(as_text=True), path
