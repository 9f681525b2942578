"""Validation without servers: the field comparison, the judgement of a space, the exports,
and the store round trip (SQLite and PostgreSQL). The two real SAP CSN exports are mapped and
compared with a Glue catalog built from their own mapping, then edited."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.datasphere.csn import parse_csn
from core.mapping.mapper import map_assets
from core.mapping.rules import default_rules
from core.models import Asset
from core.specs import MANAGED_BY, SOURCE, SOURCE_KIND, MappingResult
from core.store.db import Store
from core.sync.plan import LiveCatalog, Plan
from core.sync.report import ExtractionSummary, PlanOutcome
from core.validation import (
    FieldCheck,
    TableCheck,
    ValidationReport,
    ValidationScope,
    checks_from_csv,
    compare_table,
    from_json,
    get_validation,
    iter_csv,
    judge_space,
    latest_validation,
    list_validations,
    load_validation,
    save_validation,
    to_json,
)
from core.validation.models import reasons_of, summarise

REPO = Path(__file__).resolve().parents[2]
_CANDIDATES = [REPO.parent / "shared" / "fixtures" / "csn", REPO / "tests" / "datasphere" / "fixtures" / "csn"]
FIXTURES = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[-1])
#: Export → the space it is loaded into (as the emulator does; see docs/csn-shapes.md).
EXPORTS = {"ER_MCT_MEDIUM.json": "MCT_DEMO", "DP_Salary_Analysis.json": "DP_SALARY"}


def export_assets(name: str) -> list[Asset]:
    doc = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    home = EXPORTS[name]
    contexts = {str(d["@DataWarehouse.space.name"]): key for key, d in doc["definitions"].items()
                if d.get("kind") == "context" and "@DataWarehouse.space.name" in d}
    known = {home, *contexts}
    assets = parse_csn(doc, space=home, known_spaces=known)
    for space, prefix in sorted(contexts.items()):
        assets.extend(a for a in parse_csn(doc, space=space, known_spaces=known)
                      if f"{prefix}.{a.name}" in doc["definitions"])
    return assets


def synced_catalog(mapping: MappingResult) -> LiveCatalog:
    """What a sync of ``mapping`` leaves in Glue (markers of a run included)."""
    live = LiveCatalog()
    for db in mapping.databases:
        live.databases[db.name] = {"Name": db.name, "Parameters": dict(db.parameters)}
        live.tables.setdefault(db.name, {})
    for spec in mapping.tables:
        table = spec.to_table_input(run_id="01RUN")
        table["DatabaseName"] = spec.database
        table["VersionId"] = "1"
        live.tables.setdefault(spec.database, {})[spec.name] = table
    return live


def outcome(mapping: MappingResult, shared: dict[str, str] | None = None, **extraction: Any) -> PlanOutcome:
    return PlanOutcome(plan=Plan(shared=shared or {}), mapping=mapping, assets=[],
                       extraction=ExtractionSummary(**extraction))


@pytest.fixture(scope="module", params=sorted(EXPORTS))
def sap_export(request: pytest.FixtureRequest) -> tuple[str, MappingResult]:
    name = request.param
    space = EXPORTS[name]
    mapping = map_assets(export_assets(name), default_rules(), env="dog")
    own = mapping.model_copy(update={"tables": [t for t in mapping.tables if t.source.space == space]})
    assert own.tables
    return space, own


def judge(space: str, mapping: MappingResult, live: LiveCatalog, **kw: Any) -> list[TableCheck]:
    database = next(d.name for d in mapping.databases if d.source_space == space)
    return judge_space(space, outcome(mapping, kw.pop("shared", None), **kw.pop("extraction", {})), live,
                       kinds=kw.pop("kinds", None), database=database, detail=kw.pop("detail", "all"))


# -- the SAP exports -----------------------------------------------------------------------------


def test_a_real_export_synced_as_mapped_is_in_sync_field_by_field(sap_export: Any) -> None:
    space, mapping = sap_export
    checks = judge(space, mapping, synced_catalog(mapping))
    assert {c.status for c in checks} == {"ok"}
    assert len(checks) == len(mapping.tables)
    for spec, check in zip(sorted(mapping.tables, key=lambda t: t.key), sorted(checks, key=lambda c: c.object),
                           strict=True):
        fields = {c.field for c in check.checks}
        assert {f"columns.{c.name}.type" for c in spec.columns} <= fields
        assert {f"columns.{c.name}.comment" for c in spec.columns} <= fields
        assert {f"parameters.{k}" for k in spec.parameters} <= fields
        assert {f"columns.{c.name}.parameters.{k}" for c in spec.columns for k in c.parameters} <= fields


def test_a_real_export_edited_in_glue_names_each_edited_field(sap_export: Any) -> None:
    space, mapping = sap_export
    live = synced_catalog(mapping)
    spec = max(mapping.tables, key=lambda t: len(t.columns))
    table = live.tables[spec.database][spec.name]
    cols = table["StorageDescriptor"]["Columns"]
    first, second = cols[0], cols[1]
    first["Type"] = "binary"
    second.setdefault("Parameters", {})["dgsync.role"] = "edited"
    cols[2], cols[3] = cols[3], cols[2]  # reordered
    table["Parameters"]["dgsync.source_fingerprint"] = "0" * 64
    table["Parameters"]["classification"] = "confidential"  # added in Glue: kept by sync
    checks = judge(space, mapping, live)
    edited = next(c for c in checks if c.table == spec.name)
    assert edited.status == "drift"
    assert {c.field for c in edited.failed} == {
        f"columns.{first['Name']}.type", f"columns.{second['Name']}.parameters.dgsync.role", "columns.order",
        "parameters.dgsync.source_fingerprint",
    }
    kept = next(c for c in edited.checks if c.field == "parameters.classification")
    assert kept.ok and kept.note
    assert all(c.status == "ok" for c in checks if c is not edited)


def test_failed_detail_keeps_failures_and_counts_the_rest(sap_export: Any) -> None:
    space, mapping = sap_export
    live = synced_catalog(mapping)
    spec = mapping.tables[0]
    table = live.tables[spec.database][spec.name]
    table["StorageDescriptor"]["Columns"][0]["Type"] = "binary"
    table["Parameters"]["steward"] = "bi-team"
    full = judge(space, mapping, live)
    lean = judge(space, mapping, live, detail="failed")
    assert [(t.object, t.status, t.fields, t.columns) for t in lean] == [
        (t.object, t.status, t.fields, t.columns) for t in full]
    edited = next(t for t in lean if t.table == spec.name)
    assert [c.field for c in edited.checks] == [f"columns.{spec.columns[0].name}.type", "parameters.steward"]
    assert all(t.checks == [] for t in lean if t.table != spec.name)
    assert summarise(lean) == summarise(full)
    assert summarise(full).columns == sum(len(t.columns) + len(t.partition_keys) for t in mapping.tables)


def test_missing_extra_unmanaged_shared_and_unreadable_are_told_apart(sap_export: Any) -> None:
    space, mapping = sap_export
    live = synced_catalog(mapping)
    database = mapping.tables[0].database
    missing = mapping.tables[0]
    del live.tables[database][missing.name]
    managed = {MANAGED_BY: "dgsync", SOURCE_KIND: "view"}
    live.tables[database]["old_view"] = {"Name": "old_view", "Parameters": {**managed, SOURCE: f"{space}.OLD"}}
    live.tables[database]["shared_copy"] = {"Name": "shared_copy", "Parameters": {**managed, SOURCE: "OTHER.X"}}
    live.tables[database]["broken"] = {"Name": "broken", "Parameters": {**managed, SOURCE: f"{space}.BROKEN"}}
    live.tables[database]["by_hand"] = {"Name": "by_hand", "Parameters": {"owner": "bi-team"}}
    checks = judge(space, mapping, live, shared={"OTHER.X": "owned by space OTHER"}, extraction={
        "errors": [{"asset": f"{space}.BROKEN", "code": "source_error", "message": "500 twice"}]})
    by_table = {c.table: c for c in checks}
    assert by_table[missing.name].status == "missing"
    assert by_table["old_view"].status == "extra" and "not in Datasphere" in (by_table["old_view"].note or "")
    assert by_table["shared_copy"].status == "extra" and "shared object" in (by_table["shared_copy"].note or "")
    assert by_table["broken"].status == "skipped" and "500 twice" in (by_table["broken"].note or "")
    assert by_table["by_hand"].status == "unmanaged" and by_table["by_hand"].checks == []
    # --kind: a managed table of another kind is outside the scope (neither expected nor extra).
    # (The SAP exports hold no analytic model.)
    models_only = judge(space, mapping.model_copy(update={"tables": []}), live, kinds=["analytic_model"])
    assert {c.table for c in models_only} == {"by_hand"}
    tables_only = judge(space, mapping.model_copy(update={"tables": []}), live, kinds=["local_table"])
    assert {c.status for c in tables_only if c.table != "by_hand"} <= {"extra"}
    assert {c.kind for c in tables_only if c.table != "by_hand"} <= {"local_table"}
    # When the rules put OTHER in the same database, its table is judged with OTHER, not here.
    together = judge_space(space, outcome(mapping), live, kinds=None, database=database,
                           owner_database=lambda sp: database)
    assert "shared_copy" not in {c.table for c in together}
    summary = summarise(checks)
    assert reasons_of(summary, {}) == [
        "1 table(s) missing in Glue", "2 managed table(s) in Glue without a source asset (extra)",
        "1 table(s) not checked (the source could not be read)"]


def test_a_space_that_could_not_be_read_is_one_skipped_entry(sap_export: Any) -> None:
    space, mapping = sap_export
    live = synced_catalog(mapping)
    live.tables[mapping.tables[0].database].clear()
    checks = judge(space, mapping, live, extraction={"skipped_spaces": {space: "not a member (403)"}})
    assert [(c.status, c.table) for c in checks] == [("skipped", None)]


# -- the comparison ---------------------------------------------------------------------------


def base_table() -> dict[str, Any]:
    return {
        "Name": "t", "TableType": "EXTERNAL_TABLE", "Description": None,
        "StorageDescriptor": {"Columns": [
            {"Name": "a", "Type": "int", "Comment": "A"},
            {"Name": "b", "Type": "string", "Parameters": {"dgsync.role": "dimension"}},
        ], "Location": "s3://bucket/t/"},
        "PartitionKeys": [{"Name": "year", "Type": "int"}],
        "Parameters": {"dgsync.managed_by": "dgsync", "dgsync.label": "T"},
    }


@pytest.mark.parametrize(("edit", "field", "ok"), [
    (lambda t: t["StorageDescriptor"]["Columns"][0].update(Comment="changed"), "columns.a.comment", False),
    (lambda t: t["StorageDescriptor"]["Columns"][1].update(Comment="added in Glue"), "columns.b.comment", True),
    (lambda t: t["StorageDescriptor"]["Columns"][1]["Parameters"].update(steward="x"),
     "columns.b.parameters.steward", True),
    (lambda t: t["StorageDescriptor"]["Columns"][1]["Parameters"].update({"dgsync.key": "true"}),
     "columns.b.parameters.dgsync.key", False),
    (lambda t: t.update(Description="written in Glue"), "description", True),
    (lambda t: t["Parameters"].update({"dgsync.extra": "1"}), "parameters.dgsync.extra", False),
    (lambda t: t["Parameters"].pop("dgsync.label"), "parameters.dgsync.label", False),
    (lambda t: t["PartitionKeys"][0].update(Type="string"), "partition_keys.year.type", False),
    (lambda t: t["StorageDescriptor"].update(Location="s3://elsewhere/"), "storage.location", False),
    (lambda t: t["StorageDescriptor"]["Columns"].append({"Name": "c", "Type": "int"}), "columns.c", False),
    (lambda t: t.update(TableType="VIRTUAL_VIEW"), "table_type", False),
])
def test_each_edit_is_judged_by_the_rule_sync_applies_to_it(edit: Any, field: str, ok: bool) -> None:
    expected = base_table()
    live = copy.deepcopy(expected)
    edit(live)
    checks = {c.field: c for c in compare_table(expected, live)}
    assert checks[field].ok is ok
    assert [c.field for c in checks.values() if not c.ok] == ([] if ok else [field])
    if ok:
        assert checks[field].note  # accepted, and says why


def test_volatile_markers_are_not_compared() -> None:
    expected = base_table()
    live = copy.deepcopy(expected)
    live["Parameters"].update({"dgsync.run_id": "01X", "dgsync.target_hash": "abc", "dgsync.synced_at": "now"})
    checks = compare_table(expected, live)
    assert all(c.ok for c in checks)
    assert not any(c.field.startswith("parameters.dgsync.run_id") for c in checks)


# -- exports and store ----------------------------------------------------------------------------


def sample_report(*, run_id: str | None = "01RUN", when: datetime | None = None, spaces: list[str] | None = None,
                  ident: str = "01VAL") -> ValidationReport:
    tables = [
        TableCheck(space="S", asset="S.A", kind="view", database="d", table="a", status="drift", checks=[
            FieldCheck(field="columns.x.type", expected="int", actual="string", ok=False),
            FieldCheck(field="columns.x.comment", expected=None, actual="+1, \"quoted\"\nline", ok=True,
                       group="business", note="added in Glue; sync keeps it (the source has none)"),
            FieldCheck(field="description", expected="=SUM(A1)", actual="'leading quote", ok=False, group="business"),
        ]),
        TableCheck(space="S", database="d", table="by_hand", status="unmanaged", note="not managed"),
        TableCheck(space="H", database="d_h", status="skipped", note="space not checked: 403"),
    ]
    summary = summarise(tables)
    reasons = reasons_of(summary, {"H": "403"})
    return ValidationReport(
        id=ident, scope=ValidationScope(env="dog", spaces=spaces if spaces is not None else ["S", "H"]),
        generated_at=when or datetime(2026, 11, 27, 10, 0, tzinfo=UTC), run_id=run_id, config_version=3,
        summary=summary, in_sync=not reasons, reasons=reasons, tables=tables, skipped_spaces={"H": "403"},
    )


def test_json_and_csv_read_back_exactly() -> None:
    report = sample_report()
    assert from_json(to_json(report)) == report
    lines = list(iter_csv(report))
    assert len(lines) == 1 + 3 + 1 + 1
    assert checks_from_csv(lines) == report.tables
    assert "'=SUM(A1)" in "".join(lines) and "''leading quote" in "".join(lines)
    failed = list(iter_csv(report, failed_only=True))
    assert len(failed) == 1 + 2 + 1  # two failed fields, the skipped space; not the unmanaged table
    with pytest.raises(ValueError, match="header"):
        checks_from_csv(["a,b\r\n"])


def test_the_summary_counts_statuses_and_why_not_in_sync() -> None:
    report = sample_report()
    assert report.summary.drift == 1 and report.summary.unmanaged == 1 and report.summary.skipped == 1
    assert report.summary.failed_checks == 2 and report.summary.columns == 1
    assert report.reasons == ["1 table(s) differ from the source (drift)", "1 space(s) not checked (no access)"]
    assert not report.in_sync


def test_reports_round_trip_through_the_store(store: Store) -> None:
    t0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    first = sample_report(ident="01A", when=t0)
    newer = sample_report(ident="01B", when=t0 + timedelta(minutes=5), run_id="01RUN2")
    other_scope = sample_report(ident="01C", when=t0 + timedelta(minutes=9), run_id=None, spaces=["S"])
    for report in (first, newer, other_scope):
        assert save_validation(store, report) == report.id
    assert load_validation(store, "01A") == first
    assert load_validation(store, "nope") is None
    assert get_validation(store, "01RUN") == first
    assert get_validation(store, "01RUN2") == newer
    assert get_validation(store, "01NONE") is None
    assert latest_validation(store, first.scope) == newer
    assert latest_validation(store, other_scope.scope) == other_scope
    assert latest_validation(store, env="dog") == other_scope
    assert latest_validation(store, ValidationScope(env="wolf")) is None
    listed = list_validations(store)
    assert [v.id for v in listed] == ["01C", "01B", "01A"]
    assert listed[1].in_sync is False and listed[1].summary["drift"] == 1 and listed[1].config_version == 3
