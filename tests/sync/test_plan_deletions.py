"""Deletion needs positive evidence: per (space, kind) listings, holds, the absolute cap."""

from __future__ import annotations

from typing import Any

from core.models import AssetRef, Priority
from core.specs import (
    MANAGED_BY,
    MANAGED_BY_VALUE,
    SOURCE,
    SOURCE_KIND,
    ColumnSpec,
    DatabaseSpec,
    MappingResult,
    TableSpec,
)
from core.sync.plan import Action, LiveCatalog, PlanPolicy, build_plan


def spec(name: str, kind: str = "view") -> TableSpec:
    return TableSpec(
        database="sales",
        name=name.lower(),
        columns=[ColumnSpec(name="id", type="int")],
        parameters={MANAGED_BY: MANAGED_BY_VALUE, SOURCE: f"SALES.{name}", SOURCE_KIND: kind},
        source=AssetRef(space="SALES", name=name),
        source_fingerprint="f",
        priority=Priority.HIGH,
    )


def live_of(s: TableSpec) -> dict[str, Any]:
    table = s.to_table_input(run_id="r0")
    table.update({"DatabaseName": s.database, "VersionId": "1"})
    return table


def plan_for(keep: list[TableSpec], gone: list[TableSpec], **kwargs: Any) -> Any:
    live = LiveCatalog(
        databases={"sales": {"Name": "sales", "Parameters": {MANAGED_BY: MANAGED_BY_VALUE}}},
        tables={"sales": {s.name: live_of(s) for s in [*keep, *gone]}},
        checked={"sales"},
    )
    mapping = MappingResult(
        databases=[DatabaseSpec(name="sales", source_space="SALES", parameters={MANAGED_BY: MANAGED_BY_VALUE})],
        tables=keep,
    )
    policy = kwargs.pop("policy", PlanPolicy(deletion_policy="delete"))
    return build_plan(mapping=mapping, live=live, policy=policy, **kwargs)


def item(plan: Any, name: str) -> Any:
    return next(i for i in plan.items if i.name == name.lower())


def counts_of(keep: list[TableSpec]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for s in keep:
        key = ("SALES", s.parameters[SOURCE_KIND])
        out[key] = out.get(key, 0) + 1
    return out


def test_a_failed_kind_blocks_only_its_own_deletions() -> None:
    views = [spec(f"V{i}") for i in range(9)]
    tables = [spec(f"T{i}", "local_table") for i in range(9)]
    plan = plan_for(
        [*views, *tables], [spec("V_GONE"), spec("T_GONE", "local_table")],
        extraction_errors=3,  # per-kind evidence replaces the run-wide rule
        listed_kinds={"SALES": {"view"}},  # the local_table listing failed
        listed_counts=counts_of([*views, *tables]),
    )
    assert plan.failsafe is None
    assert item(plan, "V_GONE").action is Action.DELETE
    held = item(plan, "T_GONE")
    assert held.action is Action.SKIP and held.hold
    assert "did not complete" in held.hold


def test_an_empty_listing_of_a_kind_with_managed_tables_is_held() -> None:
    views = [spec(f"V{i}") for i in range(20)]
    plan = plan_for(
        views, [spec("T_ONLY", "local_table")],
        listed_kinds={"SALES": {"view", "local_table"}},
        listed_counts=counts_of(views),  # local_table: listed, but []
    )
    held = item(plan, "T_ONLY")
    assert held.action is Action.SKIP
    assert held.hold and "empty" in held.hold
    assert "dgsync deletions approve" in held.reason


def test_a_sharp_drop_of_one_kind_is_held_even_under_the_overall_share() -> None:
    views = [spec(f"V{i}") for i in range(100)]
    tables = [spec(f"T{i}", "local_table") for i in range(2)]
    gone = [spec(f"TG{i}", "local_table") for i in range(3)]
    plan = plan_for(
        [*views, *tables], gone,
        listed_kinds={"SALES": {"view", "local_table"}},
        listed_counts=counts_of([*views, *tables]),
    )
    # 3 of 105 overall (< 20 %), but 3 of 5 local tables: held.
    assert {item(plan, s.name).action for s in gone} == {Action.SKIP}
    assert all("3 of 5" in (item(plan, s.name).hold or "") for s in gone)


def test_deletions_within_the_share_go_ahead() -> None:
    views = [spec(f"V{i}") for i in range(20)]
    plan = plan_for(
        views, [spec("V_GONE")],
        listed_kinds={"SALES": {"view"}}, listed_counts=counts_of(views),
    )
    assert item(plan, "V_GONE").action is Action.DELETE
    assert item(plan, "V_GONE").hold is None


def test_the_absolute_cap_holds_the_rest() -> None:
    views = [spec(f"V{i}") for i in range(100)]
    gone = [spec(f"G{i}") for i in range(5)]
    plan = plan_for(
        views, gone, policy=PlanPolicy(deletion_policy="delete", max_deletes_per_run=2),
        listed_kinds={"SALES": {"view"}}, listed_counts=counts_of(views),
    )
    actions = [item(plan, s.name).action for s in gone]
    assert actions.count(Action.DELETE) == 2
    assert actions.count(Action.SKIP) == 3
    assert all("max_deletes_per_run" in (i.hold or "") for i in plan.items if i.action is Action.SKIP)


def test_an_approved_hold_is_applied() -> None:
    views = [spec(f"V{i}") for i in range(20)]
    kwargs: dict[str, Any] = {
        "listed_kinds": {"SALES": {"view", "local_table"}}, "listed_counts": counts_of(views),
    }
    held = plan_for(views, [spec("T_ONLY", "local_table")], **kwargs)
    assert item(held, "T_ONLY").hold
    approved = plan_for(
        views, [spec("T_ONLY", "local_table")], approved_deletions={"sales.t_only"}, **kwargs
    )
    assert item(approved, "T_ONLY").action is Action.DELETE
    assert "approved" in item(approved, "T_ONLY").reason


def test_log_policy_never_holds_and_deprecate_holds_like_delete() -> None:
    views = [spec(f"V{i}") for i in range(20)]
    kwargs: dict[str, Any] = {
        "listed_kinds": {"SALES": {"view", "local_table"}}, "listed_counts": counts_of(views),
    }
    log = plan_for(views, [spec("T_ONLY", "local_table")], policy=PlanPolicy(), **kwargs)
    assert item(log, "T_ONLY").action is Action.SKIP and item(log, "T_ONLY").hold is None
    dep = plan_for(
        views, [spec("T_ONLY", "local_table")], policy=PlanPolicy(deletion_policy="deprecate"),
        **kwargs,
    )
    assert item(dep, "T_ONLY").action is Action.SKIP and item(dep, "T_ONLY").hold


def test_nothing_found_at_all_stops_every_deletion() -> None:
    gone = [spec(f"V{i}") for i in range(3)]
    plan = plan_for([], gone, listed_kinds={"SALES": {"view"}}, listed_counts={}, assets_found=0)
    assert plan.failsafe == "extraction found no assets"
    assert {item(plan, s.name).action for s in gone} == {Action.SKIP}


def test_known_sources_are_never_orphans() -> None:
    views = [spec(f"V{i}") for i in range(20)]
    unreadable = spec("V_UNREADABLE")
    plan = plan_for(
        views, [unreadable], known_sources={"SALES.V_UNREADABLE"},
        listed_kinds={"SALES": {"view"}}, listed_counts=counts_of(views),
    )
    assert all(i.name != "v_unreadable" for i in plan.items)


def test_a_table_whose_source_now_maps_to_another_name_is_an_orphan() -> None:
    views = [spec(f"V{i}") for i in range(20)]
    renamed = spec("V0")
    old = renamed.model_copy(update={"name": "v0_old"})
    plan = plan_for(views, [old], listed_kinds={"SALES": {"view"}}, listed_counts=counts_of(views))
    item = next(i for i in plan.items if i.name == "v0_old")
    assert item.action is Action.DELETE
    assert "now maps to sales.v0" in item.reason
