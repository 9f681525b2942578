"""Unit tests of the small stages: run context, impact, incremental detection, the planner's
pure helpers (kinds to extract, listing evidence)."""

from __future__ import annotations

import threading
from typing import Any

from core.datasphere.extract import ExtractionIssue, ExtractionResult
from core.models import Asset, AssetKind, AssetRef, Dependency, DependencyKind, FlowDefinition
from core.specs import TARGET_HASH, table_input_hash
from core.sync import incremental
from core.sync.context import RunContext
from core.sync.impact import attach_impact
from core.sync.plan import Action, LiveCatalog, Plan, PlanItem
from core.sync.planner import listing_evidence, with_writing_flows


def test_a_run_context_reads_each_value_once_even_from_many_threads() -> None:
    ctx = RunContext(env="dog")
    calls: list[int] = []

    def read() -> int:
        calls.append(1)
        return 42

    threads = [threading.Thread(target=lambda: ctx.once("x", read)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ctx.once("x", read) == 42 and len(calls) == 1


def _view(a: str, b: str) -> Asset:
    return Asset(space="S", name=b, kind=AssetKind.VIEW,
                 upstream=[Dependency(ref=AssetRef(space="S", name=a), kind=DependencyKind.FROM)])


def test_impact_follows_this_runs_assets_and_stored_lineage_for_changes_only() -> None:
    plan = Plan(items=[
        PlanItem(action=Action.UPDATE, object_type="table", database="s", name="t", asset="S.T", reason="x"),
        PlanItem(action=Action.CREATE, object_type="table", database="s", name="n", asset="S.N", reason="x"),
    ])
    stored = {"S.V": {"S.AM"}}  # an earlier run saw S.AM read S.V
    attach_impact(plan, [_view("T", "V")], stored, lambda keys: {"S.AM": "s.am"} if "S.AM" in keys else {})
    update, create = plan.items
    assert update.impact == ["S.AM", "S.V"] and update.impact_tables == ["s.am"]
    assert create.impact == []  # a new table has no consumers yet


def test_flow_targets_of_a_changed_flow_are_replanned() -> None:
    flow = Asset(space="S", name="DF", kind=AssetKind.DATA_FLOW,
                 flow=FlowDefinition(targets=[AssetRef(space="S", name="T")]))
    assert incremental.flow_targets([flow], {"S.T": "local_table", "S.U": "local_table"}) == {"S.T"}


class _State:
    def __init__(self, table: str, version: str | None) -> None:
        self.glue_database, self.glue_table, self.glue_version_id = "s", table, version
        self.status = type("St", (), {"value": "synced"})()


class _View:
    def __init__(self, states: dict[str, Any]) -> None:
        self._states = states

    def states(self, keys: Any) -> dict[str, Any]:
        return {k: v for k, v in self._states.items() if k in set(keys)}


def test_drift_finds_edited_and_deleted_tables_and_trusts_verified_versions() -> None:
    clean = {"Name": "clean", "VersionId": "7", "Parameters": {}}
    clean["Parameters"][TARGET_HASH] = table_input_hash(clean)
    edited = {"Name": "edited", "VersionId": "3", "Parameters": {TARGET_HASH: "not-the-hash"}}
    trusted = {"Name": "trusted", "VersionId": "5", "Parameters": {TARGET_HASH: "whatever"}}
    live = LiveCatalog(tables={"s": {"clean": clean, "edited": edited, "trusted": trusted}})
    view = _View({"S.CLEAN": _State("clean", "6"), "S.EDITED": _State("edited", "2"),
                  "S.TRUSTED": _State("trusted", "5"), "S.GONE": _State("gone", "1")})
    verified: dict[str, str] = {}
    drifted = incremental.drifted(view, dict.fromkeys(view._states, "view"), live, verified)  # type: ignore[arg-type]
    assert drifted == {"S.EDITED", "S.GONE"}
    assert verified == {"S.CLEAN": "7"}


def test_tables_are_extracted_with_the_flows_that_may_write_them() -> None:
    assert with_writing_flows(None) is None
    assert with_writing_flows(["view"]) == ["view"]
    assert set(with_writing_flows(["local_table"]) or []) == {
        "local_table", "data_flow", "replication_flow", "transformation_flow"}


def test_listing_evidence_counts_listed_objects_and_treats_kinds_not_offered_as_listed() -> None:
    result = ExtractionResult(
        listings={"S": ["view"]}, not_offered=["task_chain"],
        errors={"S.BROKEN": ExtractionIssue(code="csn_error", message="m", hint="h", space="S",
                                            name="BROKEN", kind="view")},
    )
    listed, counts = listing_evidence(result, [_view("T", "V")], {"S.OLD": "view"})
    assert listed == {"S": {"view", "task_chain"}}
    assert counts == {("S", "view"): 3}
