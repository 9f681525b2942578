"""Analytic-model column types: sources first, ``$metadata`` second, measures never untyped,
the same asset on every path (full read, scoped read, incremental, ``fetch_asset``), and an
asset whose inputs failed is incomplete rather than degraded.

The models are built over the two real SAP exports (``ER_MCT_MEDIUM.json``,
``DP_Salary_Analysis.json``) as the emulator serves them (one space per owner space).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.datasphere.analytic_types import finish_unresolved as _finish_unresolved
from core.datasphere.client import DatasphereClient
from core.datasphere.csn import UNRESOLVED_TYPE, parse_csn, resolve_analytic_types
from core.datasphere.extract import (
    ASSUMED_MEASURE_TYPE,
    NUMERIC_TYPES,
    ExtractionResult,
    Extractor,
)
from core.errors import IncompleteAsset
from core.models import Asset, AssetKind, AssetRef, CdsType, SemanticRole
from core.settings import EmulatorSettings
from doubles.emulator.csnbuild import analytic_model, document
from doubles.emulator.fixtures import _load, load_fixture_content
from doubles.emulator.server import RunningEmulator, start_in_thread
from doubles.emulator.tenant import Tenant, TenantOptions

from .test_extract import AM_METADATA, MODEL, TABLE, _client, _tenant
from .test_integration import ds_settings

SALARY_SPACE = "ABC21B84BF4D4A7BA549"
SALARY = AssetRef(space=SALARY_SPACE, name="3VF_SALARY")
# -- analytic models over the two SAP exports ------------------------------------------------------


def _definition(export: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(_load(export)["definitions"][name])
    return body


def _context(space: str) -> dict[str, Any]:
    return _definition("DP_Salary_Analysis.json", space)


def mct_items_model() -> tuple[str, AssetKind, dict[str, Any]]:
    """``MCT_DEMO.AM_MCT_ITEMS``: base, calculated, restricted and count-distinct measures over
    the ER export's fact, with a dimension source."""
    fact = _definition("ER_MCT_MEDIUM.json", "MCT_OpportunityItems")["elements"]
    products = _definition("ER_MCT_MEDIUM.json", "MCT_Products")["elements"]
    definition, bl = analytic_model(
        name="AM_MCT_ITEMS",
        label="Opportunity items",
        fact_alias="MCT_OpportunityItems",
        fact_key="MCT_OpportunityItems",
        fact_label="Opportunity items",
        fact_elements=fact,
        fact_attributes=["Product", "ItemStatus", "Currency", "Unit"],
        measures=["Quantity", "Value"],
        dimensions=[
            {
                "key": "1",
                "assoc": "_MCT_Produ",
                "fk": "Product",
                "target": "MCT_Products",
                "target_elements": products,
                "attributes": ["Name", "ProductCategory"],
                "renames": {"Name": "ProductName"},
            }
        ],
        calculated=[
            {"name": "ValuePerUnit", "label": "Value per unit", "formula": "Value / Quantity",
             "uses": ["Value", "Quantity"]}
        ],
        restricted=[
            {"name": "ValueOfP1", "label": "Value of P1", "base": "Value",
             "formula": "Product = 'P1'"}
        ],
        count_distinct=[{"name": "Products", "label": "Products", "attributes": ["Product"]}],
    )
    doc = document(AssetKind.ANALYTIC_MODEL, "AM_MCT_ITEMS", definition, business_layer=bl)
    return "MCT_DEMO", AssetKind.ANALYTIC_MODEL, doc


def salary_direct_model(*, exposed: bool = True) -> tuple[str, AssetKind, dict[str, Any]]:
    """``DP_SALARY.AM_SALARY``: fact source ``ABC21B84BF4D4A7BA549.3VF_SALARY``, a view of
    another space (shared into the data product), as the export names it."""
    fact = _definition("DP_Salary_Analysis.json", f"{SALARY_SPACE}.3VF_SALARY")["elements"]
    definition, bl = analytic_model(
        name="AM_SALARY",
        label="Salary",
        fact_alias="3VF_SALARY",
        fact_key=str(SALARY),
        fact_label="Salary",
        fact_elements=fact,
        fact_attributes=["CalenderYear", "Company"],
        measures=["AnnualSal", "AnnualSal_LocalCurr"],
        calculated=[
            {"name": "SalaryBoth", "label": "Both", "formula": "AnnualSal + AnnualSal_LocalCurr",
             "uses": ["AnnualSal", "AnnualSal_LocalCurr"]}
        ],
    )
    definition["@DataWarehouse.consumption.external"] = exposed
    doc = document(
        AssetKind.ANALYTIC_MODEL, "AM_SALARY", definition, business_layer=bl,
        contexts={SALARY_SPACE: _context(SALARY_SPACE)},
    )
    return "DP_SALARY", AssetKind.ANALYTIC_MODEL, doc


def salary_csrd_model() -> tuple[str, AssetKind, dict[str, Any]]:
    """``DP_SALARY.AM_SALARY_CSRD`` over the export's view ``3VF_SALARY_CSRD``."""
    fact = _definition("DP_Salary_Analysis.json", "3VF_SALARY_CSRD")["elements"]
    definition, bl = analytic_model(
        name="AM_SALARY_CSRD",
        label="Salary (CSRD)",
        fact_alias="3VF_SALARY_CSRD",
        fact_key="3VF_SALARY_CSRD",
        fact_label="Salary (CSRD)",
        fact_elements=fact,
        fact_attributes=["PERIOD_YEAR", "GENDER_EXTERNAL_ID"],
        measures=["MEASURE_VALUE"],
    )
    doc = document(AssetKind.ANALYTIC_MODEL, "AM_SALARY_CSRD", definition, business_layer=bl)
    return "DP_SALARY", AssetKind.ANALYTIC_MODEL, doc


def csrd_view_typed_through_its_source(doc: dict[str, Any]) -> dict[str, Any]:
    """The export's ``3VF_SALARY_CSRD`` with ``MEASURE_VALUE`` declared as "type of"
    ``ABC21B84BF4D4A7BA549.3VF_SALARY.AnnualSal`` (not in the document): its type is only
    known through the other space's view its ``from`` reads."""
    doc = copy.deepcopy(doc)
    element = doc["definitions"]["3VF_SALARY_CSRD"]["elements"]["MEASURE_VALUE"]
    element["type"] = {"ref": [str(SALARY), "AnnualSal"]}
    return doc


MODELS = {
    "MCT_DEMO.AM_MCT_ITEMS": mct_items_model,
    "DP_SALARY.AM_SALARY": salary_direct_model,
    "DP_SALARY.AM_SALARY_CSRD": salary_csrd_model,
}


def _export_assets(*, csrd_chain: bool = False) -> dict[AssetRef, Asset]:
    """Every object of the two exports, parsed in its own space (as the extractor does)."""
    spaces, objects = load_fixture_content()
    known = [s.name for s in spaces]
    out: dict[AssetRef, Asset] = {}
    for obj in objects:
        doc = obj.doc
        if csrd_chain and obj.name == "3VF_SALARY_CSRD":
            doc = csrd_view_typed_through_its_source(doc)
        for asset in parse_csn(
            doc, space=obj.space, known_spaces=known, kind_hint=obj.kind, name=obj.name
        ):
            out[asset.ref] = asset
    return out


def _parse_model(space: str, kind: AssetKind, doc: dict[str, Any]) -> Asset:
    spaces, _ = load_fixture_content()
    name = next(n for n, d in doc["definitions"].items() if d.get("kind") == "entity")
    (asset,) = parse_csn(
        doc, space=space, known_spaces=[s.name for s in spaces], kind_hint=kind, name=name
    )
    return asset


def _assert_measures_numeric(asset: Asset) -> None:
    assert asset.measures, asset.key
    for col in asset.measures:
        assert col.type.name in NUMERIC_TYPES, (asset.key, col.name, col.type)
        assert col.type_origin is not None, (asset.key, col.name)


# -- pure: resolution through sources ---------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(MODELS))
def test_every_measure_of_a_model_over_the_sap_exports_is_numeric(key: str) -> None:
    model = _parse_model(*MODELS[key]())
    assert any(c.type.name == UNRESOLVED_TYPE for c in model.columns)  # CSN leaves them untyped
    typed = _finish_unresolved(resolve_analytic_types(model, _export_assets().get), "no $metadata")
    _assert_measures_numeric(typed)
    assert not any(c.type.name == UNRESOLVED_TYPE for c in typed.columns), typed.warnings


def test_mct_model_types_come_from_the_fact_and_dimension_columns() -> None:
    model = _parse_model(*mct_items_model())
    typed = resolve_analytic_types(model, _export_assets().get)
    cols = {c.name: c for c in typed.columns}
    assert cols["Quantity"].type == CdsType(name="cds.Decimal", precision=20, scale=3)
    assert cols["Quantity"].type_origin == "source:MCT_DEMO.MCT_OpportunityItems.Quantity"
    assert cols["ProductName"].type == CdsType(name="cds.String", length=5000)
    assert cols["ProductName"].type_origin == "source:MCT_DEMO.MCT_Products.Name"
    assert cols["ValueOfP1"].type == cols["Value"].type  # restricted: its base measure's type
    assert cols["ValueOfP1"].type_origin == "measure:Value"
    # calculated and count-distinct measures have no source column: left for $metadata
    assert {c.name for c in typed.columns if c.type.name == UNRESOLVED_TYPE} == {
        "ValuePerUnit",
        "Products",
    }


def test_cross_space_measure_resolves_through_the_other_spaces_view() -> None:
    typed = resolve_analytic_types(_parse_model(*salary_direct_model()), _export_assets().get)
    sal = next(c for c in typed.columns if c.name == "AnnualSal")
    assert sal.type == CdsType(name="cds.Double")
    assert sal.type_origin == f"source:{SALARY}.AnnualSal"
    assert sal.role is SemanticRole.MEASURE


def test_view_without_own_type_is_followed_through_its_from_chain() -> None:
    assets = _export_assets(csrd_chain=True)
    csrd = assets[AssetRef(space="DP_SALARY", name="3VF_SALARY_CSRD")]
    assert next(c for c in csrd.columns if c.name == "MEASURE_VALUE").type.name == UNRESOLVED_TYPE
    typed = resolve_analytic_types(_parse_model(*salary_csrd_model()), assets.get)
    value = next(c for c in typed.columns if c.name == "MEASURE_VALUE")
    assert value.type == CdsType(name="cds.Double")
    assert value.type_origin == f"source:{SALARY}.AnnualSal"


def test_unavailable_other_space_view_gives_decimal_float_with_a_warning() -> None:
    assets = _export_assets(csrd_chain=True)
    del assets[SALARY]
    for make, measure in ((salary_direct_model, "AnnualSal"), (salary_csrd_model, "MEASURE_VALUE")):
        typed = _finish_unresolved(
            resolve_analytic_types(_parse_model(*make()), assets.get), "not exposed"
        )
        col = next(c for c in typed.columns if c.name == measure)
        assert (col.type, col.type_origin) == (ASSUMED_MEASURE_TYPE, "assumed")
        assert (
            f"measure {measure}: type not found in its source or $metadata; assumed DecimalFloat"
            in typed.warnings
        )
        assert col.type.name != "cds.String"


def test_lookup_is_asked_only_for_sources_untyped_columns_need() -> None:
    asked: list[AssetRef] = []
    assets = _export_assets()

    def lookup(ref: AssetRef) -> Asset | None:
        asked.append(ref)
        return assets.get(ref)

    resolve_analytic_types(_parse_model(*salary_direct_model()), lookup)
    assert set(asked) == {SALARY}
    asked.clear()
    resolve_analytic_types(_parse_model(*mct_items_model()), lookup)
    assert set(asked) == {
        AssetRef(space="MCT_DEMO", name="MCT_OpportunityItems"),
        AssetRef(space="MCT_DEMO", name="MCT_Products"),
    }


def test_type_origin_is_provenance_not_content() -> None:
    model = _parse_model(*salary_direct_model())
    typed = resolve_analytic_types(model, _export_assets().get)
    relabelled = typed.model_copy(
        update={"columns": [c.model_copy(update={"type_origin": "metadata"}) for c in typed.columns]}
    )
    assert relabelled.compute_fingerprint() == typed.compute_fingerprint()
    changed = typed.model_copy(
        update={"columns": [c.model_copy(update={"type": ASSUMED_MEASURE_TYPE})
                            for c in typed.columns]}
    )
    assert changed.compute_fingerprint() != typed.compute_fingerprint()


# -- through the extractor, on the emulator (real HTTP, real paths) ---------------------------------


@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    """The two SAP exports, plus the three analytic models above (the CSRD view's measure
    typed only through its ``from``). Both owner spaces of the data product are plain visible
    spaces here (``shared_objects=False``): these tests read the sources where they are owned."""
    tenant = Tenant(TenantOptions(include_realistic=False, shared_objects=False))
    csrd = tenant.get("DP_SALARY", "3VF_SALARY_CSRD")
    assert csrd is not None
    tenant.put_document(
        space="DP_SALARY", kind=AssetKind.VIEW, name="3VF_SALARY_CSRD",
        doc=csrd_view_typed_through_its_source(csrd.doc),
    )
    for make in MODELS.values():
        space, kind, doc = make()
        tenant.put_document(space=space, kind=kind, doc=doc)
    with start_in_thread(EmulatorSettings(), tenant=tenant) as running:
        yield running


_OPEN: list[DatasphereClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def connector(emu: RunningEmulator, **overrides: Any) -> DatasphereClient:
    """A client on the emulator, no retries (a fault is a failure at once); closed after."""
    client = DatasphereClient(ds_settings(emu, max_retries=0, **overrides), sleep=lambda _s: None)
    _OPEN.append(client)
    return client


def _faults(emu: RunningEmulator, **body: Any) -> None:
    httpx.post(f"{emu.admin_url}/faults", json=body, timeout=5).raise_for_status()


def _models(result: ExtractionResult) -> dict[str, Asset]:
    return {a.key: a for a in result.assets if a.kind is AssetKind.ANALYTIC_MODEL}


def _metadata_requests(extractor: Extractor) -> int:
    stats = extractor.client.stats.snapshot()
    return sum(row["requests"] for route, row in stats.items() if "$metadata" in route)


def test_full_read_types_every_measure_of_both_exports_numeric(emu: RunningEmulator) -> None:
    result = Extractor(connector(emu), concurrency=4).extract()
    assert result.errors == {} and result.incomplete == {}
    models = _models(result)
    assert set(models) == set(MODELS)
    for model in models.values():
        _assert_measures_numeric(model)
        assert not any(c.type.name == UNRESOLVED_TYPE for c in model.columns), model.warnings
    salary = {c.name: c for c in models["DP_SALARY.AM_SALARY"].columns}
    assert salary["AnnualSal"].type_origin == f"source:{SALARY}.AnnualSal"
    assert salary["SalaryBoth"].type_origin == "metadata"  # calculated: sources cannot type it
    csrd = {c.name: c for c in models["DP_SALARY.AM_SALARY_CSRD"].columns}
    assert csrd["MEASURE_VALUE"].type == CdsType(name="cds.Double")
    assert csrd["MEASURE_VALUE"].type_origin == f"source:{SALARY}.AnnualSal"


def test_model_is_the_same_on_every_path(emu: RunningEmulator) -> None:
    """Full read, a read of the model's space only, an incremental read (sources 304), and
    ``fetch_asset`` with cached sources or none: byte-identical assets."""
    full = Extractor(connector(emu)).extract()
    expected = _models(full)
    scoped = _models(Extractor(connector(emu), spaces=["DP_SALARY"]).extract())
    paths: dict[str, dict[str, Asset]] = {"scoped": scoped}
    # only the models changed: every source answers 304 and is not among this run's assets
    etags = {k: v for k, v in full.etags.items() if k not in MODELS}
    incremental = Extractor(connector(emu)).extract(etags=etags)
    assert sorted(a.key for a in incremental.assets) == sorted(MODELS)
    assert {str(SALARY), "MCT_DEMO.MCT_OpportunityItems"} <= set(incremental.unchanged)
    paths["incremental"] = _models(incremental)
    for key in MODELS:
        space, _, name = key.partition(".")
        for label, known in (("cached", full.by_ref()), ("nothing cached", {})):
            got = Extractor(connector(emu)).fetch_asset(
                space, AssetKind.ANALYTIC_MODEL, name, known=known
            )
            (asset,) = got.value  # type: ignore[misc]
            paths.setdefault(label, {})[key] = asset
    for label, models in paths.items():
        for key, asset in models.items():
            assert asset.model_dump() == expected[key].model_dump(), (label, key)
            assert asset.fingerprint == expected[key].fingerprint, (label, key)


def test_absent_source_falls_back_to_metadata(emu: RunningEmulator) -> None:
    emu.tenant.remove(SALARY_SPACE, "3VF_SALARY")
    result = Extractor(connector(emu)).extract()
    model = _models(result)["DP_SALARY.AM_SALARY"]
    assert result.incomplete == {} and "DP_SALARY.AM_SALARY" not in result.errors
    _assert_measures_numeric(model)
    origins = {c.name: c.type_origin for c in model.columns}
    assert set(origins.values()) <= {"metadata", "assumed"}, origins
    assert origins["Company"] == "metadata"


def test_failed_source_read_makes_the_model_incomplete(emu: RunningEmulator) -> None:
    _faults(emu, server_error={"status": 503, "count": 1000},
            match=f"{SALARY_SPACE}/localtables/3VF_SALARY")
    result = Extractor(connector(emu)).extract()
    assert str(SALARY) in result.errors  # the source's own failure
    for key in ("DP_SALARY.AM_SALARY", "DP_SALARY.AM_SALARY_CSRD"):
        assert key in result.incomplete and str(SALARY) in result.incomplete[key]
        assert key not in _models(result) and key not in result.etags
    assert "MCT_DEMO.AM_MCT_ITEMS" in _models(result)  # the rest goes on

    # the model's space only: the source is read on demand, fails, same verdict
    scoped = Extractor(connector(emu), spaces=["DP_SALARY"]).extract()
    assert set(scoped.incomplete) == {"DP_SALARY.AM_SALARY", "DP_SALARY.AM_SALARY_CSRD"}
    assert scoped.errors[str(SALARY)].code == "source_unavailable"

    # the incremental path says so instead of typing it another way
    with pytest.raises(IncompleteAsset) as info:
        Extractor(connector(emu)).fetch_asset(
            "DP_SALARY", AssetKind.ANALYTIC_MODEL, "AM_SALARY", known={}
        )
    assert info.value.key == "DP_SALARY.AM_SALARY" and str(SALARY) in info.value.reason
    assert info.value.hint


def test_failed_metadata_read_a_column_needs_makes_the_model_incomplete(
    emu: RunningEmulator,
) -> None:
    _faults(emu, server_error={"status": 503, "count": 1000}, match="AM_SALARY/$metadata")
    result = Extractor(connector(emu)).extract()
    # SalaryBoth (calculated) needs the $metadata, which failed
    assert "DP_SALARY.AM_SALARY" in result.incomplete
    assert "$metadata" in result.incomplete["DP_SALARY.AM_SALARY"]
    assert result.errors["DP_SALARY.AM_SALARY"].code == "source_unavailable"
    assert "DP_SALARY.AM_SALARY" not in _models(result)
    # AM_SALARY_CSRD is fully typed by its sources: its $metadata is never needed
    assert "DP_SALARY.AM_SALARY_CSRD" in _models(result)


def test_metadata_not_read_when_sources_type_every_column(emu: RunningEmulator) -> None:
    extractor = Extractor(connector(emu))
    extractor.fetch_asset("DP_SALARY", AssetKind.ANALYTIC_MODEL, "AM_SALARY_CSRD")
    assert _metadata_requests(extractor) == 0
    extractor.fetch_asset("DP_SALARY", AssetKind.ANALYTIC_MODEL, "AM_SALARY")
    assert _metadata_requests(extractor) == 1  # the calculated measure needs it


# -- supplementary read answering 404 (scripted tenant) ---------------------------------------------


def test_metadata_404_with_every_column_typed_is_no_error() -> None:
    model = copy.deepcopy(MODEL)
    elements = model["definitions"]["AM"]["elements"]
    del elements["REGION"], elements["DOUBLE_AMOUNT"]
    bl = model["businessLayerDefinitions"]["AM"]
    del bl["attributes"]["REGION"], bl["measures"]["DOUBLE_AMOUNT"]
    fake = _tenant(
        {"SALES": {"localtables": {"T_ORDERS": TABLE}, "analyticmodels": {"AM": model}}},
        metadata=None,
    )
    result = Extractor(_client(fake)).extract()
    assert result.errors == {} and result.incomplete == {}
    am = next(a for a in result.assets if a.name == "AM")
    assert [c.type_origin for c in am.columns] == [
        "source:SALES.T_ORDERS.ID",
        "source:SALES.T_ORDERS.AMOUNT",
    ]
    assert am.warnings == []


def test_metadata_404_for_a_needed_column_is_a_warning_with_fallbacks() -> None:
    fake = _tenant(
        {"SALES": {"localtables": {"T_ORDERS": TABLE}, "analyticmodels": {"AM": MODEL}}},
        metadata=None,
    )
    result = Extractor(_client(fake)).extract()
    assert result.errors == {} and result.incomplete == {}
    am = next(a for a in result.assets if a.name == "AM")
    cols = {c.name: c for c in am.columns}
    assert cols["DOUBLE_AMOUNT"].type == cols["AMOUNT"].type  # the formula's measure
    assert cols["DOUBLE_AMOUNT"].type_origin == "formula:AMOUNT"
    assert cols["REGION"].type.name == UNRESOLVED_TYPE  # not a measure: stays, with a warning
    assert any("404" in w for w in am.warnings)
    assert any(w.startswith("column types unresolved") and "REGION" in w for w in am.warnings)


def test_metadata_measure_that_is_not_numeric_is_assumed_decimal_float() -> None:
    xml = AM_METADATA.replace(
        '<Property Name="AMOUNT" Type="Edm.Decimal" Precision="15" Scale="2"/>',
        '<Property Name="AMOUNT" Type="Edm.String"/>',
    )
    fake = _tenant({"SALES": {"analyticmodels": {"AM": MODEL}}}, metadata=xml)
    result = Extractor(_client(fake)).extract()
    (am,) = result.assets
    cols = {c.name: c for c in am.columns}
    assert (cols["AMOUNT"].type, cols["AMOUNT"].type_origin) == (ASSUMED_MEASURE_TYPE, "assumed")
    assert cols["REGION"].type == CdsType(name="cds.String", length=3, edm_type="Edm.String")
    assert cols["REGION"].type_origin == "metadata"
    _assert_measures_numeric(am)


# -- the realistic tenant: every analytic model, full read vs. the incremental path -------------------


def test_every_model_of_the_realistic_tenant_is_the_same_via_fetch_asset() -> None:
    with start_in_thread(EmulatorSettings()) as running:
        full = Extractor(connector(running), concurrency=4).extract()
        assert full.incomplete == {}
        models = _models(full)
        assert len(models) >= 4
        cached = full.by_ref()
        for key, expected in models.items():
            _assert_measures_numeric(expected)
            space, _, name = key.partition(".")
            for known in (cached, {}):
                got = Extractor(connector(running)).fetch_asset(
                    space, AssetKind.ANALYTIC_MODEL, name, known=known
                )
                (asset,) = got.value  # type: ignore[misc]
                assert asset.model_dump() == expected.model_dump(), key
                assert asset.fingerprint == expected.fingerprint, key


def test_source_shared_from_an_invisible_space_is_read_where_it_is_shared() -> None:
    """The owner space answers 403; the consumer lists the object as ``OWNER.NAME``."""
    context = {"kind": "context", "@DataWarehouse.space.name": "OWNER"}
    model = copy.deepcopy(MODEL)
    model["definitions"]["OWNER"] = context
    model["businessLayerDefinitions"]["AM"]["sourceModel"]["factSources"]["f"]["dataEntity"][
        "key"
    ] = "OWNER.T_ORDERS"
    table = {"definitions": {"OWNER.T_ORDERS": TABLE["definitions"]["T_ORDERS"], "OWNER": context}}
    fake = _tenant(
        {"DP": {"analyticmodels": {"AM": model}, "localtables": {"OWNER.T_ORDERS": table}},
         "OWNER": {}},
        OWNER=403,
    )
    extractor = Extractor(_client(fake))
    got = extractor.fetch_asset("DP", AssetKind.ANALYTIC_MODEL, "AM", known={})
    (am,) = got.value  # type: ignore[misc]
    amount = next(c for c in am.columns if c.name == "AMOUNT")
    assert amount.type == CdsType(name="cds.Decimal", precision=15, scale=2)
    assert amount.type_origin == "source:OWNER.T_ORDERS.AMOUNT"
