"""Golden: both SAP exports as the emulator serves them at the real paths (shared objects, a
hidden owner space, a kind the tenant does not offer), extracted by the connector.

The golden file ``tests/golden/identity/sap_exports.json`` holds identities, dependencies
(with kinds), ``shared``, ``lineage_only``, ``listings`` and ``not_offered``; regenerate with
``pytest tests/datasphere --update-golden`` and review the diff. The invariants are asserted
as well, so a regenerated file cannot hide a broken rule.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.datasphere.extract import ExtractionResult, Extractor
from core.models import AssetKind, AssetRef, DependencyKind
from core.settings import EmulatorSettings
from doubles.emulator.server import RunningEmulator, start_in_thread

from .conftest import REPO
from .test_integration import connector

GOLDEN = REPO / "tests" / "golden" / "identity" / "sap_exports.json"
VISIBLE_OWNER = "D8D90336A0E24D678F9D"
HIDDEN_OWNER = "ABC21B84BF4D4A7BA549"
SPACES = ["MCT_DEMO", "DP_SALARY", VISIBLE_OWNER, HIDDEN_OWNER]


@pytest.fixture(scope="module")
def extraction() -> Iterator[tuple[ExtractionResult, list[logging.LogRecord], RunningEmulator]]:
    with start_in_thread(EmulatorSettings(), include_realistic=False) as emu:
        httpx.post(
            f"{emu.admin_url}/faults", json={"not_offered": ["taskchains"]}, timeout=5
        ).raise_for_status()
        records: list[logging.LogRecord] = []
        handler = logging.Handler(logging.WARNING)
        handler.emit = records.append  # type: ignore[method-assign]
        root = logging.getLogger()
        root.addHandler(handler)
        client = connector(emu)
        try:
            result = Extractor(client, spaces=SPACES, concurrency=4).extract()
        finally:
            root.removeHandler(handler)
            client.close()
        yield result, records, emu


def _summary(result: ExtractionResult) -> dict[str, Any]:
    return {
        "assets": {
            a.key: {
                "kind": a.kind.value,
                "upstream": [f"{d.kind.value} {d.ref}" for d in a.upstream],
                "associations": [f"{x.name} -> {x.target}" for x in a.associations],
            }
            for a in result.assets
        },
        "lineage_assets": [a.key for a in result.lineage_assets],
        "shared": result.shared,
        "lineage_only": result.lineage_only,
        "listings": result.listings,
        "not_offered": result.not_offered,
        "skipped_spaces": sorted(result.skipped_spaces),
        "errors": sorted(result.errors),
    }


def test_extraction_of_the_sap_exports_matches_golden_file(
    extraction: tuple[ExtractionResult, list[logging.LogRecord], RunningEmulator],
    update_golden: bool,
) -> None:
    actual = json.dumps(_summary(extraction[0]), indent=2, ensure_ascii=False) + "\n"
    if update_golden:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(actual, encoding="utf-8")
    assert GOLDEN.exists(), f"missing golden file {GOLDEN}; run pytest --update-golden"
    assert actual == GOLDEN.read_text(encoding="utf-8")


def test_no_foreign_asset_and_the_shared_object_has_its_owner_identity(
    extraction: tuple[ExtractionResult, list[logging.LogRecord], RunningEmulator],
) -> None:
    result, _, emu = extraction
    extracted = {s.name for s in result.spaces}
    assert extracted == {"MCT_DEMO", "DP_SALARY", VISIBLE_OWNER}
    assert all(a.space in extracted for a in result.assets)
    keys = {a.key for a in result.assets}
    assert f"{VISIBLE_OWNER}.3VD_EMPLOYEE_CSRD_ATTR_VIEW" in keys  # from its owner's listing
    assert not any(k.startswith(f"DP_SALARY.{VISIBLE_OWNER}") for k in keys)
    assert not any(k.startswith(f"DP_SALARY.{HIDDEN_OWNER}") for k in keys)
    # the emulator's own view of ownership agrees with the connector's
    owned = {
        f"{o.space}.{o.name}"
        for o in emu.tenant.owned_visible_objects()
        if o.space in extracted and o.kind is not AssetKind.TASK_CHAIN
    }
    assert keys == owned
    # the consumer's view points at the owners' identities
    csrd = result.by_ref()[AssetRef(space="DP_SALARY", name="3VF_SALARY_CSRD")]
    assert {d.ref for d in csrd.upstream} == {
        AssetRef(space=VISIBLE_OWNER, name="3VD_EMPLOYEE_CSRD_ATTR_VIEW"),
        AssetRef(space=HIDDEN_OWNER, name="3VF_SALARY"),
    }
    # SAP.TIME.VIEW_DIMENSION_DAY is one name of MCT_DEMO
    assert AssetRef(space="MCT_DEMO", name="SAP.TIME.VIEW_DIMENSION_DAY") in result.by_ref()


def test_shared_and_lineage_only_objects_are_reported(
    extraction: tuple[ExtractionResult, list[logging.LogRecord], RunningEmulator],
) -> None:
    result = extraction[0]
    visible = f"{VISIBLE_OWNER}.3VD_EMPLOYEE_CSRD_ATTR_VIEW"
    hidden = f"{HIDDEN_OWNER}.3VF_SALARY"
    assert set(result.shared) == {visible, hidden}
    assert "DP_SALARY" in result.shared[visible] and f"synced with {VISIBLE_OWNER}" in result.shared[visible]
    assert "lineage node only" in result.shared[hidden]
    assert set(result.lineage_only) == {hidden}
    assert [a.key for a in result.lineage_assets] == [hidden]
    assert result.skipped_spaces[HIDDEN_OWNER].startswith("not a member (403)")


def test_associations_and_mixins_are_not_data_flow(
    extraction: tuple[ExtractionResult, list[logging.LogRecord], RunningEmulator],
) -> None:
    result = extraction[0]
    view = result.by_ref()[AssetRef(space="MCT_DEMO", name="V_MCT_OpportunityItems_v2")]
    data_flow = {str(d.ref) for d in view.upstream if d.kind.is_data_flow}
    mixins = {str(d.ref) for d in view.upstream if d.kind is DependencyKind.MIXIN}
    assert data_flow == {"MCT_DEMO.MCT_OpportunityItems"}
    assert mixins and not mixins & data_flow
    for asset in result.assets:
        targets = {a.target for a in asset.associations}
        flows = {d.ref for d in asset.upstream if d.kind.is_data_flow}
        if asset.kind is not AssetKind.VIEW:
            assert not targets & flows, asset.key


def test_kind_not_offered_is_one_warning_and_counts_as_listed(
    extraction: tuple[ExtractionResult, list[logging.LogRecord], RunningEmulator],
) -> None:
    result, records, _ = extraction
    assert result.not_offered == ["task_chain"]
    assert not any("taskchains" in k for k in result.errors)
    assert result.errors == {}
    for space in ("MCT_DEMO", "DP_SALARY", VISIBLE_OWNER):
        assert "task_chain" in result.listings[space]
        assert set(result.listings[space]) == {k.value for k in AssetKind}
    warnings = [r for r in records if r.getMessage() == "object kind not offered by this tenant"]
    assert len(warnings) == 1


def test_a_model_over_an_invisible_owner_is_typed_from_the_lineage_asset() -> None:
    """A model of the consumer whose fact source is a shared object of the hidden owner:
    typed from the lineage-only asset read from the consumer, never written itself."""
    from doubles.emulator.tenant import Tenant, TenantOptions

    from .test_analytic_types import salary_direct_model

    tenant = Tenant(TenantOptions(include_realistic=False))
    space, kind, doc = salary_direct_model()
    tenant.put_document(space=space, kind=kind, doc=doc)
    with start_in_thread(EmulatorSettings(), tenant=tenant) as emu:
        client = connector(emu)
        result = Extractor(client, spaces=["DP_SALARY"]).extract()
        client.close()
    assert {a.key for a in result.assets} == {"DP_SALARY.3VF_SALARY_CSRD", "DP_SALARY.AM_SALARY"}
    assert [a.key for a in result.lineage_assets] == [f"{HIDDEN_OWNER}.3VF_SALARY"]
    model = result.by_ref()[AssetRef(space="DP_SALARY", name="AM_SALARY")]
    origins = {c.name: c.type_origin for c in model.columns}
    assert origins["Company"] == f"source:{HIDDEN_OWNER}.3VF_SALARY.Company"
    assert result.incomplete == {}
