"""Golden mapping files for the two real SAP CSN exports, and "everything maps" checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mapping_factories import assert_within_glue_limits

from core.datasphere.csn import parse_csn
from core.mapping import params as P
from core.mapping.mapper import map_assets
from core.mapping.names import glue_column_name
from core.mapping.rules import default_rules, load_rules
from core.mapping.types import is_numeric_glue_type
from core.models import Asset, AssetKind, SemanticRole
from core.specs import MappingResult

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "mapping"
_CANDIDATES = [REPO / "tests" / "datasphere" / "fixtures" / "csn", REPO.parent / "shared" / "fixtures" / "csn"]
FIXTURES = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])

#: Export → the space it is loaded into (as the emulator does; see docs/csn-shapes.md).
EXPORTS = {"ER_MCT_MEDIUM.json": "MCT_DEMO", "DP_Salary_Analysis.json": "DP_SALARY"}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def export_assets(name: str) -> list[Asset]:
    """Every asset of an export: its own space plus the spaces its contexts stand for."""
    doc = load(name)
    home = EXPORTS[name]
    context_spaces = {
        str(d["@DataWarehouse.space.name"]): key
        for key, d in doc["definitions"].items()
        if d.get("kind") == "context" and "@DataWarehouse.space.name" in d
    }
    known = {home, *context_spaces}
    assets = parse_csn(doc, space=home, known_spaces=known)
    for space, prefix in sorted(context_spaces.items()):
        assets.extend(
            a for a in parse_csn(doc, space=space, known_spaces=known)
            if f"{prefix}.{a.name}" in doc["definitions"]
        )
    return assets


def dump(result: MappingResult) -> str:
    return json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("export", sorted(EXPORTS))
def test_real_export_maps_like_the_golden_file(export: str, update_golden_mapping: bool) -> None:
    result = map_assets(export_assets(export), default_rules(), env="dog")
    actual = dump(result)
    golden = GOLDEN / export
    if update_golden_mapping:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"missing {golden}; run pytest tests/mapping --update-golden-mapping"
    assert actual == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("export", sorted(EXPORTS))
@pytest.mark.parametrize(
    "rules",
    [default_rules(), load_rules(REPO / "examples" / "rules.yaml")],
    ids=["default-rules", "example-rules"],
)
def test_every_asset_of_a_real_export_maps_without_errors(export: str, rules: Any) -> None:
    assets = export_assets(export)
    result = map_assets(assets, rules, env="wolf")
    assert not [i for i in result.issues if i.severity == "error"]
    mapped = {str(t.source) for t in result.tables} | set(result.skipped)
    assert mapped == {a.key for a in assets if not a.kind.is_flow}
    assert_within_glue_limits(result)
    reordered = map_assets(list(reversed(assets)), rules, env="wolf")
    assert reordered == result


def test_real_export_keeps_exact_types_and_labels() -> None:
    result = map_assets(export_assets("ER_MCT_MEDIUM.json"), default_rules(), env="dog")
    items = next(t for t in result.tables if t.name == "mct_opportunityitems")
    cols = {c.name: c for c in items.columns}
    assert cols["quantity"].type == "decimal(20,3)"
    assert cols["quantity"].parameters["dgsync.unit"] == "Unit"
    assert cols["value"].parameters["dgsync.currency"] == "Currency"
    assert all(t.parameters["dgsync.managed_by"] == "dgsync" for t in result.tables)
    day = next(t for t in result.tables if t.name == "sap_time_view_dimension_day")
    assert day.storage is not None  # a view → external table with the default storage
    assert day.parameters["dgsync.source_kind"] == AssetKind.VIEW.value


def is_decimal_float(cds_type: str, precision: int | None) -> bool:
    name = cds_type.lower().removeprefix("cds.")
    return name in {"decimalfloat", "hana.smalldecimal"} or (
        name in {"decimal", "hana.decimal"} and precision is None
    )


def assert_real_content_rules(assets: list[Asset], result: MappingResult) -> int:
    """Issue 7's promises over one mapping; returns how many measures it checked."""
    by_key = {a.key: a for a in assets}
    flows_into: dict[str, set[str]] = {}
    for flow in (a for a in assets if a.kind.is_flow):
        targets = {str(d.ref) for d in flow.upstream if d.kind.value == "flow_target"}
        if flow.flow is not None:
            targets |= {str(t) for t in flow.flow.targets}
        sources = {str(d.ref) for d in flow.upstream if d.kind.is_data_flow}
        if flow.flow is not None:
            sources |= {str(s) for s in flow.flow.sources}
        for t in targets:
            flows_into.setdefault(t, set()).update(sources)
    measures = 0
    collided = {i.message.split("'")[1] for i in result.issues if i.code == "name_collision"}
    for spec in result.tables:
        asset = by_key[str(spec.source)]
        cols = {c.parameters[P.NAME]: c for c in spec.columns}
        for column in asset.columns:
            glue = cols[column.name]
            # every measure (analytic models included) is numeric: Athena can SUM it
            if column.role is SemanticRole.MEASURE:
                measures += 1
                assert is_numeric_glue_type(glue.type), (asset.key, column.name, glue.type)
            # no DecimalFloat (nor cds.Decimal without precision) becomes a string by default
            if is_decimal_float(column.type.name, column.type.precision):
                assert glue.type == "decimal(34,4)", (asset.key, column.name, glue.type)
            # names match the data: the technical name lowercased (collisions aside)
            if column.name not in collided:
                assert glue.name == glue_column_name(column.name), (asset.key, column.name)
        # lineage means data flow: association and mixin targets are not upstream
        upstream = set(json.loads(spec.parameters.get(P.UPSTREAM, "[]")))
        flowing = {str(d.ref) for d in asset.upstream if d.kind.is_data_flow}
        flowing |= flows_into.get(asset.key, set())
        assert upstream == flowing - {asset.key}, asset.key
        related_only = {
            str(d.ref) for d in asset.upstream if not d.kind.is_data_flow
        } | {str(a.target) for a in asset.associations}
        assert not (upstream & (related_only - flowing)), asset.key
    kinds = {e.kind for e in result.lineage}
    assert not kinds & {"association", "mixin"}, kinds
    return measures


@pytest.mark.parametrize("export", sorted(EXPORTS))
def test_real_export_keeps_issue_7_promises(export: str) -> None:
    assets = export_assets(export)
    result = map_assets(assets, default_rules(), env="dog")
    assert assert_real_content_rules(assets, result) > 0


def test_real_exports_keep_underscore_names_and_drop_association_lineage() -> None:
    result = map_assets(export_assets("ER_MCT_MEDIUM.json"), default_rules(), env="dog")
    tday = next(t for t in result.tables if t.name == "sap_time_m_time_dimension_tday")
    assert {"_description", "_langu"} <= {c.name for c in tday.columns}
    assert "description" not in {c.name for c in tday.columns}
    # MCT_Opportunities only associates (employees, sales organisation, time): no upstream
    opportunities = next(t for t in result.tables if t.name == "mct_opportunities")
    assert P.UPSTREAM not in opportunities.parameters
    assert "MCT_DEMO.SAP.TIME.VIEW_DIMENSION_DAY" in opportunities.parameters[P.ASSOCIATIONS]
    # the view reads MCT_OpportunityItems; its mixins/associations are not upstream
    view = next(t for t in result.tables if t.name == "v_mct_opportunityitems_v2")
    assert json.loads(view.parameters[P.UPSTREAM]) == ["MCT_DEMO.MCT_OpportunityItems"]


def test_every_asset_of_the_emulated_tenant_maps_without_errors() -> None:
    """The emulator's realistic tenant (every kind, cross-space refs, flows, collisions)."""
    from core.datasphere.csn import resolve_analytic_types
    from core.models import Space
    from doubles.emulator.tenant import Tenant, TenantOptions

    tenant = Tenant(TenantOptions())
    spaces = [s.name for s in tenant.spaces()]
    assets: list[Asset] = []
    for obj in tenant.all_objects():
        assets += parse_csn(obj.doc, space=obj.space, known_spaces=spaces, kind_hint=obj.kind,
                            name=obj.name)
    by_ref = {a.ref: a for a in assets}
    assets = [resolve_analytic_types(a, by_ref.get) if a.analytic else a for a in assets]
    assert {a.kind for a in assets} == set(AssetKind)

    result = map_assets(assets, default_rules(), env="dog",
                        spaces=[Space(name=s.name, label=s.label) for s in tenant.spaces()])
    assert not [i for i in result.issues if i.severity == "error"]
    assert {str(t.source) for t in result.tables} == {a.key for a in assets if not a.kind.is_flow}
    assert_within_glue_limits(result)
    flow_edges = {str(e.via) for e in result.lineage if e.via is not None}
    flow_edges |= {str(e.downstream) for e in result.lineage if e.kind == "flow_source"}
    flow_edges |= {str(e.upstream) for e in result.lineage if e.kind == "flow_target"}
    assert {a.key for a in assets if a.kind.is_flow} <= flow_edges

    # The SAP exports hold no analytic model; the emulated tenant does (measures from other
    # spaces, calculated measures without a resolvable type, DecimalFloat, TINYINT).
    by_key = {a.key: a for a in assets}
    models = [t for t in result.tables if by_key[str(t.source)].kind is AssetKind.ANALYTIC_MODEL]
    assert models
    assert assert_real_content_rules(assets, result) > 0
    model_measures = [
        c for t in models for c in t.columns if c.parameters[P.ROLE] == SemanticRole.MEASURE.value
    ]
    assert model_measures and all(is_numeric_glue_type(c.type) for c in model_measures)
    fallback = [c for c in model_measures if c.parameters[P.CDS_TYPE] == "unresolved"]
    warned = {i.message.split("'")[1] for i in result.issues if i.code == "unresolved_type"}
    assert {c.parameters[P.NAME] for c in fallback} <= warned
    all_columns = [c for t in result.tables for c in t.columns]
    tinyint = [c for c in all_columns if c.parameters[P.CDS_TYPE] == "cds.hana.TINYINT"]
    assert tinyint and {c.type for c in tinyint} == {"smallint"}
    decimal_float = [c for c in all_columns if c.parameters[P.CDS_TYPE] == "cds.DecimalFloat"]
    assert decimal_float and {c.type for c in decimal_float} == {"decimal(34,4)"}
