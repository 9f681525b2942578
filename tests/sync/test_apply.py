"""The apply stage on its own: a fake Glue, a recording checkpoint sink, no store, no moto."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import AlreadyExists, ConcurrentModification, DgsyncError, TargetAccessDenied
from core.glue.results import BatchEntryError
from core.models import AssetRef, Priority
from core.specs import (
    MANAGED_BY,
    MANAGED_BY_VALUE,
    SOURCE,
    ColumnSpec,
    DatabaseSpec,
    MappingResult,
    TableSpec,
)
from core.sync.apply import Applier
from core.sync.context import RunContext
from core.sync.plan import Action, Plan, PlanItem, PlanPolicy, plan_database, plan_table
from core.sync.report import FAILED, RECOVERED, ExtractionSummary, PlanOutcome


class FakeGlue:
    """Records calls; ``fail[op]`` is a list of exceptions raised by the next calls of ``op``."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], dict[str, Any]] = {}
        self.databases: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.fail: dict[str, list[Exception]] = {}
        self.delete_errors: dict[str, BatchEntryError] = {}

    def _maybe_fail(self, op: str) -> None:
        self.calls.append(op)
        if self.fail.get(op):
            raise self.fail[op].pop(0)

    def create_database(self, spec: DatabaseSpec) -> None:
        self._maybe_fail("CreateDatabase")
        self.databases[spec.name] = spec.to_database_input()

    def update_database(self, spec: DatabaseSpec) -> None:
        self._maybe_fail("UpdateDatabase")

    def get_database(self, name: str) -> dict[str, Any] | None:
        self.calls.append("GetDatabase")
        return self.databases.get(name)

    def create_table(self, database: str, payload: dict[str, Any]) -> None:
        self._maybe_fail("CreateTable")
        self.tables[(database, payload["Name"])] = {**payload, "VersionId": "1"}

    def update_table(self, database: str, payload: dict[str, Any], **_: Any) -> None:
        self._maybe_fail("UpdateTable")
        self.tables[(database, payload["Name"])] = {**payload, "VersionId": "2"}

    def get_table(self, database: str, name: str) -> dict[str, Any] | None:
        self.calls.append("GetTable")
        return self.tables.get((database, name))

    def batch_delete_tables(self, database: str, names: list[str]) -> dict[str, BatchEntryError]:
        self.calls.append("BatchDeleteTable")
        return {n: self.delete_errors[n] for n in names if n in self.delete_errors}


class Sink:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, bool, str | None]] = []
        self.databases: list[str] = []

    def database(self, run_id: str, item: PlanItem, after_hash: str) -> None:
        self.databases.append(item.object)

    def item(self, run_id: str, item: PlanItem, spec: TableSpec | None, status: str, *,
             write: bool, error: DgsyncError | None = None) -> None:
        self.items.append((item.object, status, write, error.code if error else None))


def spec(name: str = "v_orders") -> TableSpec:
    return TableSpec(
        database="sales", name=name, columns=[ColumnSpec(name="id", type="int")],
        parameters={MANAGED_BY: MANAGED_BY_VALUE, SOURCE: f"SALES.{name.upper()}"},
        source=AssetRef(space="SALES", name=name.upper()), source_fingerprint="f",
        priority=Priority.HIGH,
    )


DB = DatabaseSpec(name="sales", source_space="SALES", parameters={MANAGED_BY: MANAGED_BY_VALUE})


def outcome(*items: PlanItem, tables: list[TableSpec] | None = None) -> PlanOutcome:
    return PlanOutcome(
        plan=Plan(items=list(items)), mapping=MappingResult(databases=[DB], tables=tables or []),
        assets=[], extraction=ExtractionSummary(),
    )


def applier(glue: FakeGlue) -> Applier:
    return Applier(glue, PlanPolicy(), RunContext(env="dog"), concurrency=2, skip_archive=False)  # type: ignore[arg-type]


def test_a_created_table_is_written_and_checkpointed() -> None:
    glue, sink, s = FakeGlue(), Sink(), spec()
    results = applier(glue).apply("r1", outcome(plan_table(s, None, PlanPolicy()), tables=[s]), sink)
    assert [r.status for r in results] == ["done"]
    assert glue.calls == ["CreateTable"]
    assert sink.items == [("sales.v_orders", "done", True, None)]


def test_a_database_created_meanwhile_by_dgsync_is_a_recovered_race_not_unchanged() -> None:
    glue, sink = FakeGlue(), Sink()
    glue.databases["sales"] = DB.to_database_input()  # another dgsync writer got there first
    glue.fail["CreateDatabase"] = [AlreadyExists("Glue CreateDatabase on sales failed: AlreadyExistsException")]
    [result] = applier(glue).apply("r1", outcome(plan_database(DB, None)), sink)
    assert result.status == RECOVERED
    assert "AlreadyExistsException" in (result.reason or "")
    assert sink.databases == []  # nothing written by us: no audit of a write


def test_a_database_someone_else_owns_is_a_failure_with_the_aws_code() -> None:
    glue, sink = FakeGlue(), Sink()
    glue.databases["sales"] = {"Name": "sales", "Parameters": {}}
    glue.fail["CreateDatabase"] = [AlreadyExists("Glue CreateDatabase on sales failed: AlreadyExistsException")]
    [result] = applier(glue).apply("r1", outcome(plan_database(DB, None)), sink)
    assert result.status == FAILED
    assert "AlreadyExistsException" in (result.error or "") and result.hint


def test_a_table_created_meanwhile_is_replanned_and_reported_recovered() -> None:
    glue, sink, s = FakeGlue(), Sink(), spec()
    # Another writer created exactly the same table while we planned.
    glue.tables[("sales", "v_orders")] = {**s.to_table_input(), "VersionId": "1"}
    glue.fail["CreateTable"] = [AlreadyExists("Glue CreateTable on sales.v_orders failed: AlreadyExistsException")]
    [result] = applier(glue).apply("r1", outcome(plan_table(s, None, PlanPolicy()), tables=[s]), sink)
    assert result.status == RECOVERED
    assert result.action is Action.NOOP
    assert "AlreadyExistsException" in (result.reason or "")


def test_a_race_lost_twice_is_a_failure_not_a_silent_conflict() -> None:
    glue, sink, s = FakeGlue(), Sink(), spec()
    live = {**s.to_table_input(), "VersionId": "1"}
    live["StorageDescriptor"] = {"Columns": [{"Name": "id", "Type": "string"}]}  # source changed the type
    glue.tables[("sales", "v_orders")] = live
    glue.fail["UpdateTable"] = [ConcurrentModification("x"), ConcurrentModification("y")]
    item = plan_table(s, live, PlanPolicy())
    assert item.action is Action.UPDATE
    [result] = applier(glue).apply("r1", outcome(item, tables=[s]), sink)
    assert result.status == FAILED and result.action is Action.CONFLICT
    assert "ConcurrentModificationException twice" in (result.error or "")
    assert sink.items[-1][1] == FAILED


def test_access_denied_is_a_failure_with_its_hint() -> None:
    glue, sink, s = FakeGlue(), Sink(), spec()
    glue.fail["CreateTable"] = [TargetAccessDenied("Glue CreateTable on sales.v_orders failed: AccessDeniedException",
                                                   hint="grant glue:CreateTable")]
    [result] = applier(glue).apply("r1", outcome(plan_table(s, None, PlanPolicy()), tables=[s]), sink)
    assert result.status == FAILED and "AccessDeniedException" in (result.error or "")
    assert result.hint == "grant glue:CreateTable"
    assert [(o, st, w) for o, st, w, _ in sink.items] == [("sales.v_orders", FAILED, False)]


@pytest.mark.parametrize(("code", "status"), [("EntityNotFoundException", "done"), ("AccessDeniedException", FAILED)])
def test_a_rejected_delete_is_a_failure_and_a_gone_table_is_fine(code: str, status: str) -> None:
    glue, sink = FakeGlue(), Sink()
    glue.delete_errors["gone"] = BatchEntryError(entry="gone", code=code, message="no")
    item = PlanItem(action=Action.DELETE, object_type="table", database="sales", name="gone",
                    asset="SALES.GONE", reason="source asset no longer exists")
    [result] = applier(glue).apply("r1", outcome(item), sink)
    assert result.status == status
    if status == FAILED:
        assert code in (result.error or "") and "iam-policy" in (result.hint or "")


def test_a_stop_request_leaves_the_rest_unwritten() -> None:
    glue, sink = FakeGlue(), Sink()
    specs = [spec(f"t{i}") for i in range(5)]
    ctx = RunContext(env="dog")
    ctx.stop.set()
    results = Applier(glue, PlanPolicy(), ctx, concurrency=1, skip_archive=False).apply(  # type: ignore[arg-type]
        "r1", outcome(*(plan_table(s, None, PlanPolicy()) for s in specs), tables=specs), sink
    )
    assert results == [] and glue.calls == []
