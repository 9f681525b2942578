"""The audit trail: records, filters, JSON and CSV export, no secrets."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from core.store import repo
from core.store.db import Store
from core.store.schemas import AUDIT_CSV_COLUMNS, AuditFilter, AuditIn, AuditSystem

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

ENTRIES = [
    # minute, actor, run, system, object, action
    (0, "dgsync", "run-1", AuditSystem.GLUE, "sales.v_orders", "create_table"),
    (1, "dgsync", "run-1", AuditSystem.GLUE, "sales.v_customers", "update_table"),
    (2, "alice", None, AuditSystem.CONFIG, "rules.yaml", "change_rules"),
    (3, "dgsync", "run-2", AuditSystem.GLUE, "finance.gl_items", "delete_table"),
    (4, "dgsync", "run-2", AuditSystem.DATASPHERE, "SALES.V_Orders", "read_csn"),
]


@pytest.fixture
def audited(store: Store) -> Store:
    with store.session() as s:
        for minute, actor, run_id, system, obj, action in ENTRIES:
            repo.record_audit(session=s, entry=AuditIn(
                ts=T0 + timedelta(minutes=minute), actor=actor, run_id=run_id, system=system,
                object=obj, action=action, before_hash=f"b{minute}", after_hash=f"a{minute}",
                details={"minute": minute}))
    return store


def _objects(store: Store, **filters: object) -> list[str]:
    with store.session(readonly=True) as s:
        rows = repo.query_audit(session=s, filters=AuditFilter.model_validate(filters),
                                newest_first=False)
    return [r.object for r in rows]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["sales.v_orders", "sales.v_customers", "rules.yaml", "finance.gl_items",
              "SALES.V_Orders"]),
        ({"since": T0 + timedelta(minutes=1), "until": T0 + timedelta(minutes=3)},
         ["sales.v_customers", "rules.yaml"]),
        ({"actor": "alice"}, ["rules.yaml"]),
        ({"object_contains": "V_ORD"}, ["sales.v_orders", "SALES.V_Orders"]),
        ({"object_contains": "_"}, ["sales.v_orders", "sales.v_customers", "finance.gl_items",
                                    "SALES.V_Orders"]),
        ({"object_contains": "%"}, []),
        ({"action": "delete_table"}, ["finance.gl_items"]),
        ({"run_id": "run-1"}, ["sales.v_orders", "sales.v_customers"]),
        ({"system": "datasphere"}, ["SALES.V_Orders"]),
        ({"run_id": "run-2", "system": "glue"}, ["finance.gl_items"]),
    ],
)
def test_audit_filters(audited: Store, filters: dict[str, object], expected: list[str]) -> None:
    assert _objects(audited, **filters) == expected


def test_audit_query_is_newest_first_with_limit_and_offset(audited: Store) -> None:
    with audited.session(readonly=True) as s:
        rows = repo.query_audit(session=s, limit=2, offset=1)
    assert [r.object for r in rows] == ["finance.gl_items", "rules.yaml"]
    assert rows[0].ts == T0 + timedelta(minutes=3)


def test_export_json_holds_every_matching_record_oldest_first(audited: Store) -> None:
    with audited.session(readonly=True) as s:
        text = repo.export_audit(session=s, fmt="json", filters=AuditFilter(run_id="run-1"))
    data = json.loads(text)
    assert [d["object"] for d in data] == ["sales.v_orders", "sales.v_customers"]
    first = data[0]
    assert first["ts"] == "2026-03-01T12:00:00Z"
    assert first["before_hash"] == "b0" and first["after_hash"] == "a0"
    assert first["details"] == {"minute": 0}
    assert set(first) == set(AUDIT_CSV_COLUMNS)


def test_export_csv_has_a_header_and_one_row_per_record(audited: Store) -> None:
    with audited.session(readonly=True) as s:
        text = repo.export_audit(session=s, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == AUDIT_CSV_COLUMNS
    assert [r["object"] for r in rows] == [e[4] for e in ENTRIES]
    assert rows[2]["run_id"] == "" and rows[2]["actor"] == "alice"
    assert json.loads(rows[3]["details"]) == {"minute": 3}


def test_export_of_nothing_is_valid(store: Store) -> None:
    with store.session(readonly=True) as s:
        assert json.loads(repo.export_audit(session=s, fmt="json")) == []
        assert repo.export_audit(session=s, fmt="csv").splitlines() == [",".join(AUDIT_CSV_COLUMNS)]


def test_secrets_never_reach_the_audit_trail(store: Store) -> None:
    with store.session() as s:
        repo.record_audit(session=s, entry=AuditIn(
            actor="dgsync", system=AuditSystem.CONFIG, object="datasphere", action="set",
            details={"client_secret": "hunter2", "nested": {"password": "p4ss"},
                     "url": "https://x/?client_secret=hunter2", "client_id": "sb-123"}))
    with store.session(readonly=True) as s:
        exported = repo.export_audit(session=s, fmt="json") + repo.export_audit(session=s,
                                                                               fmt="csv")
    assert "hunter2" not in exported and "p4ss" not in exported
    assert "sb-123" in exported
