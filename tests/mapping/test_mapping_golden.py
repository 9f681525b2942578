"""Golden mapping files for the two real SAP CSN exports, and "everything maps" checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mapping_factories import assert_within_glue_limits

from core.datasphere.csn import parse_csn
from core.mapping.mapper import map_assets
from core.mapping.rules import default_rules, load_rules
from core.models import Asset, AssetKind
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


def test_every_asset_of_the_emulated_tenant_maps_without_errors() -> None:
    """The emulator's realistic tenant (every kind, cross-space refs, flows, collisions)."""
    from core.datasphere.csn import resolve_analytic_types
    from core.datasphere.emulator.tenant import Tenant, TenantOptions
    from core.models import Space

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
