"""Tenant content (in process): realistic spaces, fixtures, synthetic generator consistency."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.models import AssetKind
from doubles.emulator import Tenant, TenantOptions, csdl
from doubles.emulator.model import DesignObject, root_key

CONTRACT_TYPES = {
    "cds.String", "cds.LargeString", "hana.CLOB", "hana.NCLOB", "hana.CHAR", "hana.NCHAR", "cds.UUID", "cds.Boolean",
    "cds.hana.TINYINT", "hana.TINYINT", "cds.hana.SMALLINT", "cds.Integer", "cds.Integer64", "cds.Decimal",
    "cds.DecimalFloat", "hana.SMALLDECIMAL", "cds.Double", "hana.REAL", "cds.Date", "cds.Time", "cds.DateTime",
    "cds.Timestamp", "cds.Binary", "cds.LargeBinary", "hana.BINARY", "hana.ST_GEOMETRY", "hana.ST_POINT",
    "cds.Association",
}


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return Tenant(TenantOptions(synthetic_assets=600, seed=5))


def _from(node: Any, out: set[str]) -> None:
    if not isinstance(node, dict):
        return
    if isinstance(node.get("ref"), list):
        out.add(node["ref"][0])
    for arg in node.get("args") or []:
        _from(arg, out)
    if "SELECT" in node or "SET" in node:
        _query(node, out)


def _query(query: Any, out: set[str]) -> None:
    if not isinstance(query, dict):
        return
    if "SELECT" in query:
        _from(query["SELECT"].get("from"), out)
        for mixin in (query["SELECT"].get("mixin") or {}).values():
            out.add(mixin["target"])
    for arg in (query.get("SET") or {}).get("args") or []:
        _query(arg, out)


def _flow(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("dwcEntity"), str):
            out.add(node["dwcEntity"])
        if "query" in node:
            _query(node["query"], out)
        for v in node.values():
            _flow(v, out)
    elif isinstance(node, list):
        for v in node:
            _flow(v, out)


def _object_refs(obj: DesignObject) -> set[str]:
    out: set[str] = set()
    definition = obj.doc[root_key(obj.kind)][obj.name]
    _query(definition.get("query"), out)
    _flow(definition.get("contents"), out)
    for e in (definition.get("elements") or {}).values():
        if e.get("type") == "cds.Association":
            out.add(e["target"])
    bl = obj.business_layer or {}
    for group in ("factSources", "dimensionSources"):
        for spec in (bl.get("sourceModel") or {}).get(group, {}).values():
            out.add(spec["dataEntity"]["key"])
    return out


def test_realistic_inventory(tenant: Tenant) -> None:
    kinds = {(o.space, o.name): o.kind for o in tenant.all_objects() if not o.synthetic}
    for space in ("SALES", "FINANCE", "HR", "MASTER_DATA"):
        present = {k for (s, _), k in kinds.items() if s == space}
        assert {AssetKind.LOCAL_TABLE, AssetKind.VIEW, AssetKind.ANALYTIC_MODEL} <= present or space == "MASTER_DATA"
    assert kinds[("SALES", "DF_LOAD_WEBSHOP_ORDERS")] is AssetKind.DATA_FLOW
    assert kinds[("SALES", "TF_ORDERS_ENRICH")] is AssetKind.TRANSFORMATION_FLOW
    assert kinds[("SALES", "RF_S4_SALES")] is AssetKind.REPLICATION_FLOW
    assert kinds[("SALES", "TC_SALES_NIGHTLY")] is AssetKind.TASK_CHAIN
    assert kinds[("SALES", "RT_CUSTOMER")] is AssetKind.REMOTE_TABLE
    assert ("SALES", "Sales_Region") in kinds and ("SALES", "SALES_REGION") in kinds
    assert kinds[("MCT_DEMO", "MCT_Products")] is AssetKind.REMOTE_TABLE
    assert kinds[("MCT_DEMO", "SAP.TIME.M_TIME_DIMENSION")] is AssetKind.LOCAL_TABLE
    assert kinds[("MCT_DEMO", "SAP.TIME.VIEW_DIMENSION_DAY")] is AssetKind.VIEW
    assert kinds[("ABC21B84BF4D4A7BA549", "3VF_SALARY")] is AssetKind.LOCAL_TABLE
    assert kinds[("DP_SALARY", "3VF_SALARY_CSRD")] is AssetKind.VIEW


def test_every_contract_type_appears(tenant: Tenant) -> None:
    seen = {e.get("type") for o in tenant.all_objects() if not o.synthetic and o.kind.has_columns
            for e in (o.definition.get("elements") or {}).values()}
    assert seen >= CONTRACT_TYPES


def test_joins_unions_text_views_and_element_names(tenant: Tenant) -> None:
    fact = tenant.get("SALES", "V_SALES_ORDER_ITEMS")
    assert fact is not None and len(fact.definition["query"]["SELECT"]["from"]["args"]) == 2
    union = tenant.get("SALES", "V_ORDERS_ALL_CHANNELS")
    assert union is not None and len(union.definition["query"]["SET"]["args"]) == 2
    text = tenant.get("SALES", "V_PRODUCT_TEXT")
    assert text is not None and text.definition["@ObjectModel.modelingPattern"] == {"#": "LANGUAGE_DEPENDENT_TEXT"}
    names = {n for o in tenant.all_objects() if not o.synthetic and o.kind.has_columns
             for n in (o.definition.get("elements") or {})}
    assert any(" " in n for n in names) and any("∞" in n for n in names)


def test_every_reference_of_the_realistic_tenant_resolves(tenant: Tenant) -> None:
    unresolved = []
    for obj in tenant.all_objects():
        if obj.synthetic or obj.space in ("MCT_DEMO", "DP_SALARY"):
            continue
        for ref in _object_refs(obj):
            if tenant.resolve_ref(obj.space, ref) is None:
                unresolved.append(f"{obj.space}.{obj.name} -> {ref}")
    assert unresolved == []
    recon = tenant.get("FINANCE", "V_REVENUE_RECON")
    assert recon is not None
    target = tenant.resolve_ref("FINANCE", "SALES.V_ORDERS")
    assert target is not None and target.space == "SALES"
    assert tenant.resolve_ref("MCT_DEMO", "SAP.TIME.M_TIME_DIMENSION") is not None


def test_synthetic_references_resolve_and_models_render(tenant: Tenant) -> None:
    synthetic = [o for o in tenant.all_objects() if o.synthetic]
    assert len(synthetic) == 600
    for obj in synthetic:
        for ref in _object_refs(obj):
            assert tenant.resolve_ref(obj.space, ref) is not None, f"{obj.name} -> {ref}"
        if obj.kind is AssetKind.ANALYTIC_MODEL:
            xml = csdl.render(tenant, obj, csdl.ANALYTICAL).xml
            assert 'Analytics.measure" Bool="true"' in xml


def test_synthetic_mix_and_width() -> None:
    t = Tenant(TenantOptions(synthetic_assets=2000, seed=1, include_realistic=False, include_fixtures=False))
    objs = t.all_objects()
    kinds = {k: sum(1 for o in objs if o.kind is k) for k in AssetKind}
    assert all(kinds[k] > 0 for k in AssetKind)
    tables = [o for o in objs if o.kind is AssetKind.LOCAL_TABLE][:200]
    mean = sum(len(o.definition["elements"]) for o in tables) / len(tables)
    assert 25 <= mean <= 35


def test_synthetic_content_is_deterministic() -> None:
    def snapshot(seed: int) -> str:
        t = Tenant(TenantOptions(synthetic_assets=150, seed=seed, include_realistic=False, include_fixtures=False))
        return json.dumps([o.doc for o in t.all_objects()], sort_keys=True)

    assert snapshot(9) == snapshot(9)
    assert snapshot(9) != snapshot(10)


def test_ten_thousand_synthetic_assets_are_generated_lazily() -> None:
    # Cheap start-up is measured by the benchmark; here: nothing is rendered up front.
    t = Tenant(TenantOptions(synthetic_assets=10_000, seed=42))
    assert len(t.all_objects()) > 10_000
    assert not any(o.loaded for o in t.all_objects() if o.synthetic)
