"""Dog's lineage page over HTTP: the picture (depth controls, flows on the edges, Glue tables
as sync targets, hidden owner spaces marked), every node a link to its own page, the column
lineage of one column, and the errors of bad controls."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from core.catalog import AssetCatalog
from core.services import Services
from dog_flask.app import create_app

from .conftest import own_embedded_services

REGION = "us-west-1"  # its own moto backend in this process
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with own_embedded_services(tmp_path_factory.mktemp("dog-lineage"), REGION) as services:
        report = services.engine().sync(spaces=["SALES"], trigger="api", actor="test")
        assert report.status == "succeeded", report.not_in_sync
        yield services


@pytest.fixture(scope="module")
def client(svc: Services) -> FlaskClient:
    return create_app(services=svc, catalog=AssetCatalog(svc)).test_client()


def _svg(html: str, box: str = "lineage-graph") -> ET.Element:
    start = html.index(f'id="{box}"')
    svg = html[html.index("<svg", start) : html.index("</svg>", start) + len("</svg>")]
    return ET.fromstring(svg)


def _nodes(root: ET.Element) -> dict[str, ET.Element]:
    return {el.get("data-key", ""): el for el in root.iter() if el.get("data-key")}


def test_the_picture_shows_upstream_downstream_flows_and_glue_targets(client: FlaskClient) -> None:
    html = client.get("/lineage/SALES/V_ORDERS").get_data(as_text=True)
    nodes = _nodes(_svg(html))
    # upstream (what it joins), downstream (what reads it), the flow as an edge, its Glue table
    assert {"SALES.RT_CUSTOMER", "SALES.RT_SALES_ORDER_HEADER", "SALES.V_SALES_BY_REGION"} <= set(nodes)
    assert "SALES.TF_ORDERS_ENRICH" not in nodes and "SALES.ORDERS_ENRICHED" in nodes
    assert "focus" in (nodes["SALES.V_ORDERS"].get("class") or "")
    assert nodes["SALES.RT_CUSTOMER"].get("href") == "/lineage/SALES/RT_CUSTOMER?up=2&down=2"
    flow = [a for a in _svg(html).iter(f"{SVG}a") if "flow" in (a.get("class") or "")]
    assert [a.get("href") for a in flow] == ["/lineage/SALES/TF_ORDERS_ENRICH"]
    # SALES is synced: its Glue table is a link to the Glue page; FINANCE's is not in Glue yet
    assert nodes["glue:sales.v_orders"].get("href") == "/glue/sales/v_orders"
    far = nodes["FINANCE.V_REVENUE_RECON"]
    assert "other space FINANCE" in "".join(far.itertext())
    down2 = _nodes(_svg(client.get("/lineage/SALES/V_ORDERS?down=2").get_data(as_text=True)))
    missing = down2["glue:finance.v_revenue_recon"]
    assert missing.tag == f"{SVG}g" and "not in Glue yet" in "".join(missing.itertext())


def test_depth_controls_widen_and_narrow_the_picture(client: FlaskClient) -> None:
    def keys(query: str) -> set[str]:
        return set(_nodes(_svg(client.get(f"/lineage/SALES/V_ORDERS?{query}").get_data(as_text=True))))

    alone = keys("up=0&down=0")
    assert alone == {"SALES.V_ORDERS"}
    up_only = keys("up=1&down=0")
    assert "SALES.RT_CUSTOMER" in up_only and "SALES.V_SALES_BY_REGION" not in up_only
    assert keys("up=0&down=1") < keys("up=0&down=3")
    page = client.get("/lineage/SALES/V_ORDERS?up=0&down=0").get_data(as_text=True)
    assert "neither reads from nor feeds" in page and 'option value="0" selected' in page


def test_hidden_owner_spaces_and_other_spaces_are_marked(client: FlaskClient) -> None:
    html = client.get("/lineage/DP_SALARY/3VF_SALARY_CSRD").get_data(as_text=True)
    nodes = _nodes(_svg(html))
    hidden = next(el for key, el in nodes.items() if key.endswith(".3VF_SALARY"))
    assert hidden.tag == f"{SVG}g"  # not a link: there is no page to go to
    assert "hidden owner space" in "".join(hidden.itertext())
    assert "node-hidden" in (hidden.get("class") or "")
    shared = next(el for key, el in nodes.items() if key.endswith(".3VD_EMPLOYEE_CSRD_ATTR_VIEW"))
    assert shared.tag == f"{SVG}a" and "other space" in "".join(shared.itertext())


def test_column_lineage_of_one_column(client: FlaskClient) -> None:
    html = client.get("/lineage/SALES/V_ORDERS?column=SalesOrder").get_data(as_text=True)
    assert 'value="SalesOrder" selected' in html
    upstream = re.findall(r'class="column-source" data-ref="([^"]+)"', html)
    assert upstream == ["SALES.RT_SALES_ORDER_HEADER.SalesOrder"]
    downstream = re.findall(r'class="column-target" data-ref="([^"]+)"', html)
    assert "glue:sales.v_orders.salesorder" in downstream
    columns = _nodes(_svg(html, "column-graph"))
    assert {"SALES.V_ORDERS#SalesOrder", "SALES.RT_SALES_ORDER_HEADER#SalesOrder", "glue:sales.v_orders#salesorder"} <= set(columns)
    assert columns["SALES.RT_SALES_ORDER_HEADER#SalesOrder"].get("href") == (
        "/lineage/SALES/RT_SALES_ORDER_HEADER?column=SalesOrder&up=2&down=2"
    )
    origin = client.get("/lineage/SALES/RT_SALES_ORDER_HEADER?column=SalesOrder").get_data(as_text=True)
    assert "originates here" in origin


@pytest.mark.parametrize(
    ("query", "message"),
    [("up=-1", "is not a depth"), ("down=99", "is not a depth"), ("up=two", "is not a depth"),
     ("column=NoSuchColumn", "has no column")],
)
def test_bad_controls_are_a_400_with_a_hint(client: FlaskClient, query: str, message: str) -> None:
    response = client.get(f"/lineage/SALES/V_ORDERS?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and "hint:" in html


def test_an_unknown_asset_is_a_404_with_a_hint(client: FlaskClient) -> None:
    response = client.get("/lineage/SALES/NOPE")
    assert response.status_code == 404
    assert "search for it first" in response.get_data(as_text=True)


def test_the_picture_alone_as_svg_and_the_links_to_it(client: FlaskClient) -> None:
    response = client.get("/lineage/SALES/V_ORDERS.svg?up=1&down=1")
    assert response.mimetype == "image/svg+xml"
    assert "SALES.RT_CUSTOMER" in _nodes(ET.fromstring(response.get_data(as_text=True)))
    asset = client.get("/catalog/SALES/V_ORDERS").get_data(as_text=True)
    assert 'href="/lineage/SALES/V_ORDERS"' in asset
    index = client.get("/lineage/").get_data(as_text=True)
    assert 'href="/lineage/SALES/V_ORDERS"' in index and 'href="/lineage/HR/EMPLOYEE"' in index


def test_a_flow_in_focus_is_drawn_as_a_node_between_its_sources_and_targets(client: FlaskClient) -> None:
    nodes = _nodes(_svg(client.get("/lineage/SALES/TF_ORDERS_ENRICH?up=1&down=1").get_data(as_text=True)))
    assert "focus" in (nodes["SALES.TF_ORDERS_ENRICH"].get("class") or "")
    assert {"SALES.V_ORDERS", "SALES.ORDERS_ENRICHED"} <= set(nodes)
    # elsewhere the same flow is an edge again (the collapsed graph is shared, not altered)
    assert "SALES.TF_ORDERS_ENRICH" not in _nodes(_svg(client.get("/lineage/SALES/V_ORDERS").get_data(as_text=True)))
