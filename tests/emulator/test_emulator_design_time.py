"""Design-time API: discovery, lists with top/skip (default page 25), CSN reads with Accept and ETag."""

from __future__ import annotations

import httpx
import pytest

from core.models import content_hash
from doubles.emulator import RunningEmulator

from .conftest import new_client

DT = "/dwaas-core/api/v1"
CSN = {"Accept": "application/vnd.sap.datasphere.object.content+json"}


def _walk(api: httpx.Client, url: str, top: int, **params: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    skip = 0
    while True:
        page = api.get(url, params={**params, "top": str(top), "skip": str(skip)}).json()
        if not page:
            return rows
        rows += page
        skip += top


def test_discovery_is_an_openapi_document_listing_the_paths(api: httpx.Client) -> None:
    doc = api.get(f"{DT}/discovery").json()
    assert doc["openapi"].startswith("3.")
    assert "/dwaas-core/api/v1/spaces/{space}/views" in doc["paths"]
    assert "/dwaas-core/api/v1/spaces/{space}/analyticmodels/{technicalName}" in doc["paths"]


def test_list_is_a_bare_array_of_technical_names(api: httpx.Client) -> None:
    views = api.get(f"{DT}/spaces/SALES/views").json()
    assert isinstance(views, list)
    assert views[0] == {"technicalName": "V_CUSTOMER_DIM"}
    assert {"technicalName": "V_PIPELINE_DRAFT"} in views  # design time also lists undeployed objects


def test_default_page_is_25_and_skip_walks_the_rest(api: httpx.Client, emu: RunningEmulator) -> None:
    expected = sorted(o.name for o in emu.tenant.objects_in("SYN_00") if o.kind.value == "local_table")
    assert len(expected) > 60
    first = api.get(f"{DT}/spaces/SYN_00/localtables").json()
    assert len(first) == 25
    assert [r["technicalName"] for r in _walk(api, f"{DT}/spaces/SYN_00/localtables", 25)] == expected
    assert [r["technicalName"] for r in _walk(api, f"{DT}/spaces/SYN_00/localtables", 40)] == expected
    # options with a $ are not this API's: ignored, so a client using them sees only page one
    assert len(api.get(f"{DT}/spaces/SYN_00/localtables", params={"$top": "500"}).json()) == 25


def test_select_and_filter(api: httpx.Client) -> None:
    rows = api.get(f"{DT}/spaces/SALES/views", params={"select": "technicalName,status"}).json()
    assert {"technicalName": "V_PIPELINE_DRAFT", "status": "Not Deployed"} in rows
    assert all(set(r) == {"technicalName", "status"} for r in rows)
    deployed = api.get(f"{DT}/spaces/SALES/views", params={"filter": "status eq Deployed", "top": "100"}).json()
    names = {r["technicalName"] for r in deployed}
    assert "V_PIPELINE_DRAFT" not in names and "V_ORDERS" in names
    quoted = api.get(f"{DT}/spaces/SALES/views", params={"filter": "status eq 'Not Deployed'"}).json()
    assert quoted == [{"technicalName": "V_PIPELINE_DRAFT"}]
    assert api.get(f"{DT}/spaces/SALES/views", params={"select": "technicalName,owner"}).status_code == 400


@pytest.mark.parametrize(
    ("segment", "name", "root", "kind"),
    [
        ("views", "V_SALES_ORDER_ITEMS", "definitions", "entity"),
        ("localtables", "SAP.SD.DOCUMENT_FLOW", "definitions", "entity"),
        ("remotetables", "RT_CUSTOMER", "definitions", "entity"),
        ("analyticmodels", "AM_SALES", "definitions", "entity"),
        ("dataflows", "DF_LOAD_WEBSHOP_ORDERS", "dataflows", "sap.dis.dataflow"),
        ("transformationflows", "TF_ORDERS_ENRICH", "transformationflows", "sap.dis.transformationflow"),
        ("replicationflows", "RF_S4_SALES", "replicationflows", "sap.dis.replicationflow"),
        ("taskchains", "TC_SALES_NIGHTLY", "taskchains", "sap.dwc.taskChain"),
    ],
)
def test_read_returns_the_csn_document(api: httpx.Client, segment: str, name: str, root: str, kind: str) -> None:
    r = api.get(f"{DT}/spaces/SALES/{segment}/{name}", headers=CSN)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.sap.datasphere.object.content+json")
    doc = r.json()
    assert doc[root][name]["kind"] == kind
    assert r.headers["etag"] == f'"{content_hash(doc)}"'


def test_analytic_model_document_has_business_layer(api: httpx.Client) -> None:
    doc = api.get(f"{DT}/spaces/SALES/analyticmodels/AM_SALES", headers=CSN).json()
    am = doc["definitions"]["AM_SALES"]
    assert am["@ObjectModel.modelingPattern"] == {"#": "ANALYTICAL_CUBE"}
    assert all("type" not in e for e in am["elements"].values() if "@Analytics.navigationAttributeRef" in e)
    assert "_Customer∞0" in am["elements"]
    bl = doc["businessLayerDefinitions"]["AM_SALES"]
    assert bl["sourceModel"]["factSources"]["V_SALES_ORDER_ITEMS"]["dataEntity"] == {"key": "V_SALES_ORDER_ITEMS"}
    assert bl["sourceModel"]["dimensionSources"]["_OrderDate"]["dataEntity"] == {"key": "MASTER_DATA.V_TIME_DIM_DAY"}
    assert bl["measures"]["Margin"]["measureType"] == "AnalyticModelMeasureType.CalculatedMeasure"
    assert doc["definitions"]["MASTER_DATA"]["@DataWarehouse.space.name"] == "MASTER_DATA"


def test_etag_and_if_none_match(api: httpx.Client) -> None:
    url = f"{DT}/spaces/FINANCE/views/V_REVENUE_RECON"
    etag = api.get(url, headers=CSN).headers["etag"]
    r = api.get(url, headers={**CSN, "If-None-Match": etag})
    assert r.status_code == 304
    assert r.headers["etag"] == etag
    assert api.get(url, headers={**CSN, "If-None-Match": '"stale"'}).status_code == 200


def test_etag_ignores_volatile_keys(fresh: RunningEmulator, fresh_api: httpx.Client) -> None:
    url = f"{DT}/spaces/SALES/views/V_SALES_ORDER_ITEMS"
    before = fresh_api.get(url, headers=CSN)
    doc = before.json()
    doc["editorSettings"]["V_SALES_ORDER_ITEMS"]["uiModel"] = "{}"
    doc["definitions"]["V_SALES_ORDER_ITEMS"]["_meta"] = {"dependencies": {"folderAssignment": "F1"}}
    with new_client(base_url=fresh.admin_url) as admin:
        admin.post("/assets", json={"space": "SALES", "kind": "views", "csn": doc, "name": "V_SALES_ORDER_ITEMS"})
    after = fresh_api.get(url, headers=CSN)
    assert after.json()["editorSettings"]["V_SALES_ORDER_ITEMS"]["uiModel"] == "{}"
    assert after.headers["etag"] == before.headers["etag"]


@pytest.mark.parametrize("accept", ["application/json", "*/*", "text/html"])
def test_wrong_accept_is_406(api: httpx.Client, accept: str) -> None:
    r = api.get(f"{DT}/spaces/SALES/views/V_ORDERS", headers={"Accept": accept})
    assert r.status_code == 406


def test_not_found_forbidden_and_unauthorized(api: httpx.Client, restricted_api: httpx.Client,
                                              emu: RunningEmulator) -> None:
    assert api.get(f"{DT}/spaces/SALES/views/AM_SALES", headers=CSN).status_code == 404  # wrong type
    assert api.get(f"{DT}/spaces/NOPE/views").status_code == 404
    assert restricted_api.get(f"{DT}/spaces/HR/views").status_code == 403
    r = restricted_api.get(f"{DT}/spaces/HR/analyticmodels/AM_HEADCOUNT", headers=CSN)
    assert r.status_code == 403
    assert set(r.json()["error"]) >= {"code", "message"}
    assert restricted_api.get(f"{DT}/spaces/SALES/views").status_code == 200
    with new_client(base_url=emu.base_url) as anonymous:
        assert anonymous.get(f"{DT}/spaces/SALES/views").status_code == 401


def test_fixture_split_into_spaces(api: httpx.Client) -> None:
    owned = api.get(f"{DT}/spaces/D8D90336A0E24D678F9D/localtables").json()
    assert owned == [{"technicalName": "3VD_EMPLOYEE_CSRD_ATTR_VIEW"}]
    hidden = api.get(f"{DT}/spaces/ABC21B84BF4D4A7BA549/localtables")
    assert hidden.status_code == 403  # the owner the technical user cannot see
    doc = api.get(f"{DT}/spaces/DP_SALARY/views/3VF_SALARY_CSRD", headers=CSN).json()
    assert set(doc["definitions"]) == {"3VF_SALARY_CSRD", "ABC21B84BF4D4A7BA549", "D8D90336A0E24D678F9D"}
    assert "editorSettings" in doc
    er = api.get(f"{DT}/spaces/MCT_DEMO/remotetables", params={"top": "100"}).json()
    assert {"technicalName": "MCT_Products"} in er
