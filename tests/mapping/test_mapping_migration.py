"""Migration to the names rule (source names lowercased, leading ``_`` kept): a table whose Glue
column names change is planned as one update in place, never drop + create."""

from __future__ import annotations

import copy
from typing import Any

from mapping_factories import col, table

from core.mapping.mapper import map_assets
from core.mapping.rules import default_rules
from core.models import AssetKind, SemanticRole
from core.specs import TableSpec
from core.sync.plan import Action, LiveCatalog, PlanPolicy, build_plan, plan_table

#: What earlier versions named these columns (leading ``_`` dropped).
OLD_NAMES = {"_description": "description", "_langu": "langu"}


def texts_table_spec() -> tuple[Any, TableSpec]:
    asset = table(
        "MCT_DEMO", "SAP.TIME.M_TIME_DIMENSION_TDAY",
        col("DAY_INT", "cds.hana.TINYINT", key=True, nullable=False),
        col("_LANGU", "cds.String", length=6, key=True),
        col("_DESCRIPTION", "cds.String", length=50, role=SemanticRole.TEXT, label="Day"),
        kind=AssetKind.LOCAL_TABLE,
    )
    result = map_assets([asset], default_rules(), env="dog")
    (spec,) = result.tables
    return result, spec


def live_as_previously_written(spec: TableSpec) -> dict[str, Any]:
    """The Glue ``Table`` an earlier version wrote: same table, old column names."""
    table_input = copy.deepcopy(spec.to_table_input(run_id="run-before"))
    for column in table_input["StorageDescriptor"]["Columns"]:
        column["Name"] = OLD_NAMES.get(column["Name"], column["Name"])
    table_input["DatabaseName"] = spec.database
    table_input["VersionId"] = "7"
    return table_input


def test_renamed_columns_are_one_update_in_place() -> None:
    _, spec = texts_table_spec()
    live = live_as_previously_written(spec)
    item = plan_table(spec, live, PlanPolicy())
    assert item.action is Action.UPDATE
    assert (item.database, item.name) == (spec.database, spec.name)
    assert item.live_version_id == "7"  # optimistic lock on the table that is there
    assert item.payload is not None
    names = [c["Name"] for c in item.payload["StorageDescriptor"]["Columns"]]
    assert names == ["day_int", "_langu", "_description"]
    changed = {d.field for d in item.diffs}
    assert {"column._description", "column.description", "column._langu",
            "column.langu"} <= changed


def test_the_plan_has_no_create_or_delete_for_a_renamed_column_table() -> None:
    result, spec = texts_table_spec()
    live_db = copy.deepcopy(result.databases[0].to_database_input())
    live = LiveCatalog(
        databases={spec.database: live_db},
        tables={spec.database: {spec.name: live_as_previously_written(spec)}},
    )
    plan = build_plan(mapping=result, live=live, policy=PlanPolicy(deletion_policy="delete"))
    tables = [i for i in plan.items if i.object_type == "table"]
    assert [(i.action, i.name) for i in tables] == [(Action.UPDATE, spec.name)]
    assert not [i for i in plan.items if i.action in (Action.CREATE, Action.DELETE)]


def test_after_the_update_the_next_plan_is_a_noop() -> None:
    _, spec = texts_table_spec()
    written = {**spec.to_table_input(run_id="run-after"), "VersionId": "8"}
    assert plan_table(spec, written, PlanPolicy()).action is Action.NOOP
