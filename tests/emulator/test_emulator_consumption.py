"""Consumption services: service documents, CSDL ``$metadata`` generated from CSN, ETags."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
REL = "/api/v1/{p}/consumption/relational"
ANA = "/api/v1/{p}/consumption/analytical"


def _url(api: httpx.Client, space: str, name: str, service: str = "relational") -> str:
    asset = api.get(f"/api/v1/datasphere/consumption/catalog/spaces('{space}')/assets('{name}')").json()
    url = asset[f"asset{service.title()}MetadataUrl"]
    assert url, f"{space}.{name} has no {service} service"
    return str(url)


def _entity(xml: str) -> ET.Element:
    root = ET.fromstring(xml)
    types = root.findall(f".//{EDM}EntityType")
    assert len(types) == 1
    return types[0]


def _props(entity: ET.Element) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for p in entity.findall(f"{EDM}Property"):
        attrs = dict(p.attrib)
        for a in p.findall(f"{EDM}Annotation"):
            attrs["@" + a.attrib["Term"]] = a.attrib.get("String") or a.attrib.get("Bool") or a.attrib.get("Path", "")
        out[attrs.pop("Name")] = attrs
    return out


def test_fixture_view_metadata_has_exact_types_facets_keys_and_labels(api: httpx.Client) -> None:
    r = api.get(_url(api, "MCT_DEMO", "V_MCT_OpportunityItems_v2"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(r.text)
    assert root.find(f".//{EDM}Schema").attrib["Namespace"] == "StandaloneService"  # type: ignore[union-attr]
    entity = _entity(r.text)
    keys = [k.attrib["Name"] for k in entity.findall(f"{EDM}Key/{EDM}PropertyRef")]
    assert keys == ["ItemID"]
    props = _props(entity)
    assert list(props) == ["ItemID", "Opportunity", "Product", "Quantity", "Value", "Unit", "Currency", "FactAttr",
                           "FactAttrLabel", "ItemStatus", "ControllingArea", "SendingCostCenter",
                           "ReceivingCostCenter"]  # associations are not properties
    assert props["ItemID"] == {"Type": "Edm.Int64", "Nullable": "false", "@Common.Label": "Item ID"}
    assert props["Product"]["Type"] == "Edm.String" and props["Product"]["MaxLength"] == "5000"
    assert props["Quantity"] == {"Type": "Edm.Decimal", "Precision": "20", "Scale": "3", "@Common.Label": "Quantity",
                                 "@Analytics.Measure": "true", "@Measures.Unit": "Unit"}
    assert props["Value"]["Scale"] == "2" and props["Value"]["@Measures.ISOCurrency"] == "Currency"
    assert props["Currency"]["@Common.IsCurrency"] == "true"
    assert props["Unit"]["@Common.IsUnit"] == "true"
    assert "Nullable" not in props["Opportunity"]


def test_every_cds_type_maps_to_its_edm_type(api: httpx.Client) -> None:
    props = _props(_entity(api.get(_url(api, "MASTER_DATA", "ALL_TYPES")).text))
    expected = {
        "ID": ("Edm.Int64", {"Nullable": "false"}),
        "C_STRING": ("Edm.String", {"MaxLength": "100"}),
        "C_STRING_NOLEN": ("Edm.String", {}),
        "C_LARGESTRING": ("Edm.String", {}),
        "C_CLOB": ("Edm.String", {}),
        "C_NCLOB": ("Edm.String", {}),
        "C_CHAR": ("Edm.String", {"MaxLength": "10"}),
        "C_NCHAR": ("Edm.String", {"MaxLength": "2"}),
        "C_UUID": ("Edm.Guid", {}),
        "C_BOOLEAN": ("Edm.Boolean", {}),
        "C_TINYINT": ("Edm.Byte", {}),
        "C_TINYINT_SHORT": ("Edm.Byte", {}),
        "C_SMALLINT": ("Edm.Int16", {}),
        "C_INTEGER": ("Edm.Int32", {}),
        "C_INTEGER64": ("Edm.Int64", {}),
        "C_DECIMAL": ("Edm.Decimal", {"Precision": "20", "Scale": "3"}),
        "C_DECIMAL_38": ("Edm.Decimal", {"Precision": "38", "Scale": "10"}),
        "C_DECIMAL_NOSCALE": ("Edm.Decimal", {"Precision": "15"}),
        "C_DECIMALFLOAT": ("Edm.Decimal", {}),
        "C_SMALLDECIMAL": ("Edm.Decimal", {}),
        "C_DOUBLE": ("Edm.Double", {}),
        "C_REAL": ("Edm.Single", {}),
        "C_DATE": ("Edm.Date", {}),
        "C_TIME": ("Edm.TimeOfDay", {}),
        "C_DATETIME": ("Edm.DateTimeOffset", {"Precision": "0"}),
        "C_TIMESTAMP": ("Edm.DateTimeOffset", {"Precision": "7"}),
        "C_BINARY": ("Edm.Binary", {"MaxLength": "64"}),
        "C_LARGEBINARY": ("Edm.Binary", {}),
        "C_HANA_BINARY": ("Edm.Binary", {"MaxLength": "16"}),
        "C_ST_POINT": ("Edm.String", {}),
        "C_ST_GEOMETRY": ("Edm.String", {}),
    }
    for name, (edm, facets) in expected.items():
        got = {k: v for k, v in props[name].items() if not k.startswith("@")}
        assert got == {"Type": edm, **facets}, name
    assert "_Currency" not in props


def test_analytic_model_has_only_an_analytical_service_with_resolved_types(api: httpx.Client) -> None:
    url = _url(api, "SALES", "AM_SALES", "analytical")
    r = api.get(url)
    assert ET.fromstring(r.text).find(f".//{EDM}Schema").attrib["Namespace"] == "InaApplicationService"  # type: ignore[union-attr]
    props = _props(_entity(r.text))
    assert props["NetAmount"]["Type"] == "Edm.Decimal" and props["NetAmount"]["Precision"] == "15"
    assert props["NetAmount"]["@Analytics.measure"] == "true"
    assert props["OrderQuantity"]["Scale"] == "3"
    assert props["Margin"]["Type"] == "Edm.Decimal"  # calculated: type of its first measure
    assert props["Country"] == {"Type": "Edm.String", "MaxLength": "3", "@Common.Label": "Country",
                                "@Analytics.dimension": "true"}  # dimension-source attribute
    assert props["YearMonth"]["MaxLength"] == "6"  # cross-space dimension source (MASTER_DATA)
    assert not any("∞" in name for name in props)
    relational = url.replace("/analytical/", "/relational/")
    assert api.get(relational).status_code == 404


def test_analytic_model_metadata_skips_auxiliary_measures_and_types_count_distinct(api: httpx.Client) -> None:
    props = _props(_entity(api.get(_url(api, "HR", "AM_HEADCOUNT", "analytical")).text))
    assert "SalaryHelper" not in props
    assert props["DistinctOrgUnits"]["Type"] == "Edm.Int64"
    assert props["Headcount"]["Type"] == "Edm.Int32"


def test_cross_space_fact_source_with_legacy_measures_resolves(api: httpx.Client) -> None:
    props = _props(_entity(api.get(_url(api, "FINANCE", "AM_SALES_MARGIN", "analytical")).text))
    assert props["NetAmount"]["Precision"] == "15"
    assert props["MarginPct"]["Type"] == "Edm.Decimal"  # calculated over a calculated measure


def test_leveled_hierarchy_and_dimension_type_annotations(api: httpx.Client) -> None:
    entity = _entity(api.get(_url(api, "MASTER_DATA", "V_TIME_DIM_DAY")).text)
    terms = {a.attrib["Term"]: a for a in entity.findall(f"{EDM}Annotation")}
    assert terms["Analytics.dimensionType"].attrib["String"] == "TIME"
    records = terms["Hierarchy.leveled"].findall(f"{EDM}Collection/{EDM}Record")
    assert len(records) == 2
    first = {pv.attrib["Property"]: pv for pv in records[0].findall(f"{EDM}PropertyValue")}
    assert first["name"].attrib["String"] == "YQMD"
    assert first["label"].attrib["String"] == "Year, Quarter, Month, Day"
    levels = [pv.attrib["PropertyPath"]
              for pv in first["levels"].findall(f"{EDM}Collection/{EDM}Record/{EDM}PropertyValue")]
    assert levels == ["CalendarYear", "YearQuarter", "YearMonth", "DateSQL"]
    props = _props(entity)
    assert props["DateSQL"]["@Common.IsCalendarDate"] == "true"
    assert props["YearMonth"]["@Common.IsCalendarYearMonth"] == "true"
    assert props["DateSQL"]["@Analytics.Dimension"] == "true"


def test_parent_child_hierarchy_annotation(api: httpx.Client) -> None:
    entity = _entity(api.get(_url(api, "FINANCE", "V_COST_CENTER_DIM")).text)
    pc = next(a for a in entity.findall(f"{EDM}Annotation") if a.attrib["Term"] == "Hierarchy.parentChild")
    paths = {pv.attrib["Property"]: [p.text for p in pv.iter(f"{EDM}PropertyPath")]
             for pv in pc.iter(f"{EDM}PropertyValue") if pv.attrib["Property"] in ("parent", "child")}
    assert paths == {"parent": ["ParentCostCenter"], "child": ["CostCenter"]}


def test_dotted_and_spaced_names_become_identifiers_with_original_name(api: httpx.Client) -> None:
    url = _url(api, "MCT_DEMO", "SAP.TIME.VIEW_DIMENSION_DAY")
    root = ET.fromstring(api.get(url).text)
    entity_set = root.find(f".//{EDM}EntitySet")
    assert entity_set is not None and entity_set.attrib["Name"] == "SAP_TIME_VIEW_DIMENSION_DAY"
    originals = [a.attrib["String"] for a in root.iter(f"{EDM}Annotation")
                 if a.attrib["Term"] == "DataIntegration.OriginalName"]
    assert "SAP.TIME.VIEW_DIMENSION_DAY" in originals
    props = _props(_entity(api.get(_url(api, "SALES", "V_ORDERS")).text))
    assert props["Customer_Name"]["@DataIntegration.OriginalName"] == "Customer Name"
    assert props["Delivery___Forecast"]["@DataIntegration.OriginalName"] == "Delivery ∞ Forecast"


def test_service_document_carries_weak_metadata_etag_and_answers_if_none_match(api: httpx.Client) -> None:
    meta_url = _url(api, "SALES", "V_ORDERS")
    service_url = meta_url.removesuffix("$metadata")
    doc = api.get(service_url)
    body = doc.json()
    etag = body["@odata.metadataEtag"]
    assert etag.startswith('W/"')
    assert doc.headers["etag"] == etag
    assert body["value"] == [{"name": "V_ORDERS", "kind": "EntitySet", "url": "V_ORDERS"}]
    assert api.get(service_url, headers={"If-None-Match": etag}).status_code == 304
    meta = api.get(meta_url)
    assert meta.headers["etag"] == etag
    not_modified = api.get(meta_url, headers={"If-None-Match": f'"x", {etag}'})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert api.get(meta_url, headers={"If-None-Match": 'W/"other"'}).status_code == 200
    assert api.get(service_url.rstrip("/")).status_code == 200


def test_metadata_is_xml_even_when_json_is_asked_for(api: httpx.Client) -> None:
    r = api.get(_url(api, "SALES", "V_ORDERS"), headers={"Accept": "application/json"})
    assert r.status_code == 200
    assert r.text.startswith("<?xml")


@pytest.mark.parametrize("prefix", ["datasphere", "dwc"])
def test_both_prefixes_serve_every_asset(api: httpx.Client, prefix: str) -> None:
    assert api.get(f"{REL.format(p=prefix)}/SALES/V_ORDERS/$metadata").status_code == 200
    assert api.get(f"{ANA.format(p=prefix)}/SALES/AM_SALES/$metadata").status_code == 200


def test_analytical_entity_sets_are_not_countable(api: httpx.Client) -> None:
    base = f"{ANA.format(p='datasphere')}/SALES/AM_SALES/AM_SALES"
    assert api.get(base).status_code == 200
    for url, params in ((f"{base}/$count", {}), (base, {"$count": "true"})):
        r = api.get(url, params=params)
        assert r.status_code == 400
        assert r.json()["error"]["target"] == "$count"
    assert api.get(f"{REL.format(p='datasphere')}/SALES/V_ORDERS/V_ORDERS/$count").text == "0"


def test_unexposed_unknown_and_forbidden_assets(api: httpx.Client, restricted_api: httpx.Client) -> None:
    assert api.get(f"{REL.format(p='datasphere')}/SALES/RT_SALES_ORDER_HEADER/$metadata").status_code == 404
    assert api.get(f"{REL.format(p='datasphere')}/SALES/NOPE/$metadata").status_code == 404
    assert api.get(f"{REL.format(p='datasphere')}/NOSPACE/X/$metadata").status_code == 404
    r = restricted_api.get(f"{ANA.format(p='datasphere')}/HR/AM_HEADCOUNT/$metadata")
    assert r.status_code == 403


def test_synthetic_analytical_assets_render_metadata(api: httpx.Client) -> None:
    rows = api.get("/api/v1/datasphere/consumption/catalog/spaces('SYN_01')/assets",
                   params={"$filter": "startswith(name,'AM_') or startswith(name,'VF_')", "$top": "8"}).json()["value"]
    assert len(rows) == 8
    for row in rows:
        url = row["assetAnalyticalMetadataUrl"]
        props = _props(_entity(api.get(url).text))
        assert any(p.get("@Analytics.measure") for p in props.values())
