"""The planner's decisions, on hand-built specs and live tables (pure)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from core.models import AssetRef, Priority
from core.specs import (
    MANAGED_BY,
    MANAGED_BY_VALUE,
    SOURCE,
    TARGET_HASH,
    ColumnSpec,
    DatabaseSpec,
    MappingResult,
    TableSpec,
    table_input_hash,
)
from core.sync.plan import Action, LiveCatalog, PlanPolicy, build_plan, merge_table_input


def spec(name: str = "v_orders", *, cols: list[tuple[str, str]] | None = None, source: str = "ORDERS") -> TableSpec:
    return TableSpec(
        database="sales",
        name=name,
        description="Orders",
        columns=[ColumnSpec(name=n, type=t) for n, t in (cols or [("id", "int"), ("amount", "decimal(20,2)")])],
        parameters={MANAGED_BY: MANAGED_BY_VALUE, SOURCE: f"SALES.{source}"},
        source=AssetRef(space="SALES", name=source),
        source_fingerprint="f1",
        priority=Priority.HIGH,
    )


def live_of(s: TableSpec, **extra: Any) -> dict[str, Any]:
    """What Glue would return after dgsync wrote `s` (markers + version id)."""
    table = s.to_table_input(run_id="r0")
    table.update({"DatabaseName": s.database, "VersionId": "1", "CreateTime": "x"})
    table.update(extra)
    return table


def mapping(*tables: TableSpec) -> MappingResult:
    return MappingResult(
        databases=[DatabaseSpec(name="sales", source_space="SALES", parameters={MANAGED_BY: MANAGED_BY_VALUE})],
        tables=list(tables),
    )


def catalog(*tables: dict[str, Any]) -> LiveCatalog:
    return LiveCatalog(
        databases={"sales": {"Name": "sales", "Parameters": {MANAGED_BY: MANAGED_BY_VALUE}}},
        tables={"sales": {t["Name"]: t for t in tables}},
    )


def table_item(plan, name="v_orders"):
    return next(i for i in plan.items if i.object_type == "table" and i.name == name)


def test_missing_table_is_created():
    plan = build_plan(mapping=mapping(spec()), live=LiveCatalog(), policy=PlanPolicy())
    assert [i.action for i in plan.items] == [Action.CREATE, Action.CREATE]


def test_unchanged_table_is_noop():
    s = spec()
    plan = build_plan(mapping=mapping(s), live=catalog(live_of(s)), policy=PlanPolicy())
    assert table_item(plan).action is Action.NOOP
    assert plan.writes == []


def test_type_change_is_update_with_field_diff():
    old = spec()
    new = spec(cols=[("id", "bigint"), ("amount", "decimal(20,2)")])
    plan = build_plan(mapping=mapping(new), live=catalog(live_of(old)), policy=PlanPolicy())
    item = table_item(plan)
    assert item.action is Action.UPDATE
    assert item.conflict is None
    assert [(d.field, d.before, d.after) for d in item.diffs] == [("column.id.Type", "int", "bigint")]
    assert item.live_version_id == "1"


def test_unmanaged_table_is_flagged_not_touched():
    s = spec()
    live = {"Name": "v_orders", "StorageDescriptor": {"Columns": [{"Name": "x", "Type": "int"}]}}
    plan = build_plan(mapping=mapping(s), live=catalog(live), policy=PlanPolicy())
    item = table_item(plan)
    assert item.action is Action.CONFLICT and item.conflict == "unmanaged"
    assert item.payload is None


def test_unmanaged_table_adopted_when_rules_say_so():
    s = spec()
    live = {"Name": "v_orders", "Parameters": {"owner": "team-x"}, "StorageDescriptor": {"Columns": []}}
    plan = build_plan(
        mapping=mapping(s), live=catalog(live), policy=PlanPolicy(adopt=frozenset({"sales.v_orders"}))
    )
    item = table_item(plan)
    assert item.action is Action.UPDATE
    assert item.payload["Parameters"]["owner"] == "team-x"


def test_table_of_another_source_is_a_naming_conflict():
    other = spec(source="OTHER")
    plan = build_plan(mapping=mapping(spec()), live=catalog(live_of(other)), policy=PlanPolicy())
    assert table_item(plan).conflict == "naming"


def test_out_of_band_edit_keeps_business_metadata_and_source_wins_schema():
    s = spec()
    live = live_of(s)
    edited = copy.deepcopy(live)
    edited["Parameters"]["steward"] = "anna"
    edited["StorageDescriptor"]["Columns"][0]["Type"] = "string"  # schema edit: reverted
    edited["StorageDescriptor"]["Columns"][1]["Comment"] = "net amount"  # business: kept
    plan = build_plan(mapping=mapping(s), live=catalog(edited), policy=PlanPolicy())
    item = table_item(plan)
    assert item.action is Action.UPDATE and item.conflict == "out_of_band_edit"
    assert item.payload["Parameters"]["steward"] == "anna"
    cols = item.payload["StorageDescriptor"]["Columns"]
    assert cols[0]["Type"] == "int" and cols[1]["Comment"] == "net amount"


def test_merged_table_is_noop_on_the_next_plan():
    s = spec()
    edited = live_of(s)
    edited["Parameters"]["steward"] = "anna"
    edited["StorageDescriptor"]["Columns"][0]["Type"] = "string"
    first = table_item(build_plan(mapping=mapping(s), live=catalog(edited), policy=PlanPolicy()))
    written = {**first.payload, "VersionId": "2"}
    written["Parameters"] = {**written["Parameters"], TARGET_HASH: first.desired_hash, "dgsync.run_id": "r1"}
    second = build_plan(mapping=mapping(s), live=catalog(written), policy=PlanPolicy())
    assert table_item(second).action is Action.NOOP


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("log", Action.SKIP), ("deprecate", Action.DEPRECATE), ("delete", Action.DELETE)],
)
def test_orphan_follows_deletion_policy(policy, expected):
    keep = [spec(f"t{i}", source=f"T{i}") for i in range(9)]
    gone = spec("gone", source="GONE")
    live = catalog(*(live_of(s) for s in [*keep, gone]))
    plan = build_plan(mapping=mapping(*keep), live=live, policy=PlanPolicy(deletion_policy=policy))
    assert table_item(plan, "gone").action is expected


def test_failsafe_skips_mass_deletion():
    keep = [spec("t0", source="T0")]
    gone = [spec(f"g{i}", source=f"G{i}") for i in range(4)]
    live = catalog(*(live_of(s) for s in [*keep, *gone]))
    plan = build_plan(mapping=mapping(*keep), live=live, policy=PlanPolicy(deletion_policy="delete"))
    assert plan.failsafe and "4 of 5" in plan.failsafe
    assert {table_item(plan, f"g{i}").action for i in range(4)} == {Action.SKIP}


def test_failsafe_when_extraction_had_errors():
    keep = [spec(f"t{i}", source=f"T{i}") for i in range(9)]
    live = catalog(*(live_of(s) for s in [*keep, spec("gone", source="GONE")]))
    plan = build_plan(
        mapping=mapping(*keep), live=live, policy=PlanPolicy(deletion_policy="delete"), extraction_errors=1
    )
    assert table_item(plan, "gone").action is Action.SKIP
    assert "error" in plan.failsafe


def test_out_of_scope_tables_are_not_judged():
    other_space = spec("fin", source="X")
    other_live = live_of(other_space)
    other_live["Parameters"][SOURCE] = "FINANCE.X"
    plan = build_plan(
        mapping=mapping(spec()), live=catalog(live_of(spec()), other_live),
        policy=PlanPolicy(deletion_policy="delete"), scope_spaces=["SALES"],
    )
    assert all(i.name != "fin" for i in plan.items)


def test_glue_side_business_addition_alone_needs_no_write():
    s = spec()
    edited = live_of(s)
    edited["Parameters"]["steward"] = "anna"
    plan = build_plan(mapping=mapping(s), live=catalog(edited), policy=PlanPolicy())
    assert table_item(plan).action is Action.NOOP


def test_merge_keeps_glue_side_column_parameters():
    desired = spec().to_table_input()
    live = copy.deepcopy(desired)
    live["StorageDescriptor"]["Columns"][0]["Parameters"] = {"pii": "true", "dgsync.label": "old"}
    merged = merge_table_input(desired, live)
    assert merged["StorageDescriptor"]["Columns"][0]["Parameters"] == {"pii": "true"}
    assert table_input_hash(merged) != table_input_hash(desired)
