"""The catalog (OData v4): spaces, assets, key predicates, query options, paging, membership."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from doubles.emulator import RunningEmulator

from .conftest import CATALOG, DWC_CATALOG, SYNTHETIC, new_client

ASSET_KEYS = [
    "name", "label", "spaceName", "assetRelationalMetadataUrl", "assetRelationalDataUrl",
    "assetAnalyticalMetadataUrl", "assetAnalyticalDataUrl", "supportsAnalyticalQueries", "hasParameters",
]


def _all_pages(api: httpx.Client, url: str, params: dict[str, str] | None = None,
               headers: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    pages = 0
    r = api.get(url, params=params, headers=headers)
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body["value"]
        pages += 1
        if "@odata.nextLink" not in body:
            return rows, pages
        r = api.get(body["@odata.nextLink"], headers=headers)


def test_spaces_list_and_single_space(api: httpx.Client) -> None:
    body = api.get(f"{CATALOG}/spaces").json()
    names = [s["name"] for s in body["value"]]
    assert {"SALES", "FINANCE", "HR", "MASTER_DATA", "MCT_DEMO", "DP_SALARY", "D8D90336A0E24D678F9D"} <= set(names)
    assert "ABC21B84BF4D4A7BA549" not in names  # a hidden owner space is not in the catalog
    assert body["@odata.context"].endswith("/catalog/$metadata#spaces")
    assert api.get(f"{CATALOG}/spaces('SALES')").json()["label"] == "Sales"
    missing = api.get(f"{CATALOG}/spaces('NOPE')")
    assert missing.status_code == 404
    assert set(missing.json()["error"]) >= {"code", "message"}


def test_asset_payload_has_exactly_the_documented_fields(api: httpx.Client, emu: RunningEmulator) -> None:
    body = api.get(f"{CATALOG}/spaces('MCT_DEMO')/assets('SAP.TIME.VIEW_DIMENSION_DAY')").json()
    asset = {k: v for k, v in body.items() if not k.startswith("@")}
    assert list(asset) == ASSET_KEYS
    assert asset["spaceName"] == "MCT_DEMO"
    assert asset["label"] == "Time Dimension - Day"
    prefix = "dwc" if "/api/v1/dwc/" in asset["assetRelationalMetadataUrl"] else "datasphere"
    base = f"{emu.base_url}/api/v1/{prefix}/consumption/relational/MCT_DEMO/SAP.TIME.VIEW_DIMENSION_DAY"
    assert asset["assetRelationalMetadataUrl"] == base + "/$metadata"
    assert asset["assetRelationalDataUrl"] == base + "/"
    assert asset["assetAnalyticalMetadataUrl"] is None
    assert asset["supportsAnalyticalQueries"] is False


def test_analytic_models_have_only_analytical_urls(api: httpx.Client) -> None:
    am = api.get(f"{CATALOG}/spaces('SALES')/assets('AM_SALES')").json()
    assert am["assetRelationalMetadataUrl"] is None and am["assetRelationalDataUrl"] is None
    assert am["assetAnalyticalMetadataUrl"].endswith("/consumption/analytical/SALES/AM_SALES/$metadata")
    assert am["supportsAnalyticalQueries"] is True
    finance = api.get(f"{CATALOG}/spaces('FINANCE')/assets('AM_FINANCE_PNL')").json()
    assert finance["hasParameters"] is True


def test_catalog_lists_only_exposed_deployed_assets(api: httpx.Client) -> None:
    names = {a["name"] for a in api.get(f"{CATALOG}/spaces('SALES')/assets").json()["value"]}
    assert {"AM_SALES", "V_SALES_ORDER_ITEMS", "V_ORDERS", "Sales_Region", "SALES_REGION", "SAP.SD.DOCUMENT_FLOW"} <= names
    # not exposed, not deployed, flows
    assert not names & {"RT_SALES_ORDER_HEADER", "V_PIPELINE_DRAFT", "DF_LOAD_WEBSHOP_ORDERS", "TC_SALES_NIGHTLY"}
    assert api.get(f"{CATALOG}/spaces('SALES')/assets('V_PIPELINE_DRAFT')").status_code == 404


def test_both_url_prefixes_are_used_and_served(api: httpx.Client) -> None:
    rows, _ = _all_pages(api, f"{DWC_CATALOG}/assets")
    prefixes = {("dwc" if "/api/v1/dwc/" in (a["assetRelationalMetadataUrl"] or a["assetAnalyticalMetadataUrl"])
                 else "datasphere") for a in rows}
    assert prefixes == {"dwc", "datasphere"}


@pytest.mark.parametrize(
    "path",
    [
        "spaces('SALES')/assets('SAP.SD.DOCUMENT_FLOW')",
        "spaces(%27SALES%27)/assets(%27SAP.SD.DOCUMENT_FLOW%27)",
        "spaces('SAL%45S')/assets('SAP%2ESD%2EDOCUMENT_FLOW')",
        "assets(spaceName='SALES',name='SAP.SD.DOCUMENT_FLOW')",
    ],
)
def test_key_predicates_accept_percent_encoding(api: httpx.Client, path: str) -> None:
    r = api.get(f"{CATALOG}/{path}")
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "SAP.SD.DOCUMENT_FLOW"


def test_quote_doubling_in_keys(fresh: RunningEmulator, fresh_api: httpx.Client) -> None:
    doc = {"definitions": {"IT'S_ODD": {"kind": "entity", "@DataWarehouse.consumption.external": True,
                                       "elements": {"ID": {"type": "cds.Integer", "key": True}}}}}
    with new_client(base_url=fresh.admin_url) as admin:
        assert admin.post("/assets", json={"space": "SALES", "kind": "localtables", "csn": doc}).status_code == 201
    r = fresh_api.get(f"{CATALOG}/spaces('SALES')/assets('IT''S_ODD')")
    assert r.status_code == 200
    assert r.json()["name"] == "IT'S_ODD"


def test_server_paging_follows_next_links_over_every_asset(api: httpx.Client) -> None:
    first = api.get(f"{CATALOG}/assets", params={"$count": "true"}).json()
    total = first["@odata.count"]
    assert total > 500
    assert len(first["value"]) == 500
    rows, pages = _all_pages(api, f"{CATALOG}/assets")
    assert pages == -(-total // 500)
    keys = [(a["spaceName"], a["name"]) for a in rows]
    assert len(keys) == len(set(keys)) == total


def test_top_and_skip_page_without_next_link_on_short_pages(api: httpx.Client) -> None:
    everything, _ = _all_pages(api, f"{CATALOG}/spaces('SYN_00')/assets")
    collected: list[dict[str, Any]] = []
    skip = 0
    while True:
        body = api.get(f"{CATALOG}/spaces('SYN_00')/assets", params={"$top": "100", "$skip": str(skip)}).json()
        assert "@odata.nextLink" not in body
        collected += body["value"]
        if len(body["value"]) < 100:
            break
        skip += 100
    assert collected == everything


def test_top_larger_than_a_server_page_is_delivered_through_next_links(api: httpx.Client) -> None:
    rows, pages = _all_pages(api, f"{CATALOG}/assets", {"$top": "700", "$skip": "10"})
    everything, _ = _all_pages(api, f"{CATALOG}/assets")
    assert pages == 2
    assert rows == everything[10:710]


def test_prefer_maxpagesize_shrinks_server_pages(api: httpx.Client) -> None:
    r = api.get(f"{CATALOG}/spaces('SALES')/assets", headers={"Prefer": "odata.maxpagesize=5"})
    assert len(r.json()["value"]) == 5
    assert r.headers["preference-applied"] == "odata.maxpagesize=5"
    rows, pages = _all_pages(api, f"{CATALOG}/spaces('SALES')/assets", headers={"Prefer": "odata.maxpagesize=5"})
    assert pages == -(-len(rows) // 5)


def test_count_select_and_orderby(api: httpx.Client) -> None:
    body = api.get(f"{CATALOG}/spaces('SALES')/assets",
                   params={"$count": "true", "$select": "name,spaceName", "$orderby": "name desc", "$top": "3"}).json()
    assert body["@odata.count"] > 3
    assert all(set(a) == {"name", "spaceName"} for a in body["value"])
    names = [a["name"] for a in body["value"]]
    assert names == sorted(names, reverse=True)
    count = api.get(f"{CATALOG}/spaces('SALES')/assets/$count")
    assert int(count.text) == body["@odata.count"]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("spaceName eq 'MASTER_DATA' and name eq 'ALL_TYPES'", {"ALL_TYPES"}),
        ("spaceName eq 'SALES' and (name eq 'V_ORDERS' or name eq 'AM_SALES')", {"V_ORDERS", "AM_SALES"}),
        ("spaceName eq 'SALES' and startswith(name,'V_') and not (name ge 'V_P')", {"V_CUSTOMER_DIM", "V_ORDERS",
                                                                                    "V_ORDERS_ALL_CHANNELS"}),
        ("label eq 'Time Dimension - Day'", {"SAP.TIME.VIEW_DIMENSION_DAY", "V_TIME_DIM_DAY"}),
        ("spaceName eq 'FINANCE' and supportsAnalyticalQueries eq true", {"AM_FINANCE_PNL", "AM_SALES_MARGIN",
                                                                          "V_JOURNAL_FACT"}),
        ("spaceName in ('HR') and name lt 'B'", {"AM_HEADCOUNT"}),
        ("tolower(name) eq 'sales_region'", {"Sales_Region", "SALES_REGION"}),
    ],
)
def test_filter_expressions(api: httpx.Client, flt: str, expected: set[str]) -> None:
    rows, _ = _all_pages(api, f"{CATALOG}/assets", {"$filter": flt})
    assert {a["name"] for a in rows} == expected


@pytest.mark.parametrize(
    ("params", "target"),
    [
        ({"$expand": "x"}, "$expand"),
        ({"$search": "x"}, "$search"),
        ({"$filter": "name eq"}, "$filter"),
        ({"$filter": "owner eq 'x'"}, "$filter"),
        ({"$filter": "name"}, "$filter"),
        ({"$top": "-1"}, "$top"),
        ({"$select": "name,type"}, "$select"),
        ({"$orderby": "name sideways"}, "$orderby"),
        ({"$count": "maybe"}, "$count"),
    ],
)
def test_unsupported_or_invalid_options_are_400_with_odata_error(api: httpx.Client, params: dict[str, str],
                                                                  target: str) -> None:
    r = api.get(f"{CATALOG}/assets", params=params)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "400"
    assert error["message"]
    assert error.get("target") == target


def test_non_member_gets_403_for_the_space_and_no_assets_of_it(restricted_api: httpx.Client) -> None:
    r = restricted_api.get(f"{CATALOG}/spaces('HR')/assets")
    assert r.status_code == 403
    assert set(r.json()["error"]) >= {"code", "message"}
    assert restricted_api.get(f"{CATALOG}/spaces('HR')/assets('AM_HEADCOUNT')").status_code == 403
    spaces = {s["name"] for s in restricted_api.get(f"{CATALOG}/spaces").json()["value"]}
    assert "HR" in spaces
    rows, _ = _all_pages(restricted_api, f"{CATALOG}/assets", {"$filter": "spaceName eq 'HR' or spaceName eq 'SALES'"})
    assert {a["spaceName"] for a in rows} == {"SALES"}


def test_catalog_service_document_and_metadata(api: httpx.Client) -> None:
    doc = api.get(f"{CATALOG}/").json()
    assert {e["name"] for e in doc["value"]} == {"spaces", "assets"}
    meta = api.get(f"{CATALOG}/$metadata")
    assert meta.headers["content-type"].startswith("application/xml")
    assert '<EntitySet Name="assets"' in meta.text
    again = api.get(f"{CATALOG}/$metadata", headers={"If-None-Match": meta.headers["etag"]})
    assert again.status_code == 304


def test_synthetic_assets_are_in_the_catalog(api: httpx.Client) -> None:
    count = int(api.get(f"{CATALOG}/assets/$count", params={"$filter": "startswith(spaceName,'SYN_')"}).text)
    assert SYNTHETIC * 0.6 < count < SYNTHETIC
