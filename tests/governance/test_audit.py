"""Audit service: filters (SQLite and PostgreSQL), streamed export, retention."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
import types
from datetime import UTC, datetime, timedelta

from core.governance import audit
from core.store import repo
from core.store.db import Store
from core.store.schemas import AuditFilter, AuditIn, AuditSystem, RunIn, SecurityEventIn

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _fill(store: Store) -> dict[str, str]:
    with store.session() as s:
        wolf = repo.start_run(session=s, run=RunIn(env="wolf", started_at=T0)).id
        dog = repo.start_run(session=s, run=RunIn(env="dog", started_at=T0)).id
        rows = [
            AuditIn(ts=T0, actor="scheduler", run_id=wolf, system=AuditSystem.GLUE,
                    object="sales.orders", action="update", details={"reason": "columns changed"}),
            AuditIn(ts=T0 + timedelta(hours=1), actor="cli:alice", run_id=dog, system=AuditSystem.GLUE,
                    object="hr.people", action="create"),
            AuditIn(ts=T0 + timedelta(hours=2), actor="key:ops/admin", system=AuditSystem.CONFIG,
                    object="settings", action="config_change", env="wolf",
                    details={"comment": "raise the Glue rate for Black Friday"}),
            AuditIn(ts=T0 + timedelta(hours=3), actor="worker:critical", run_id=wolf,
                    system=AuditSystem.GLUE, object="sales.customers", action="delete"),
        ]
        for entry in rows:
            repo.record_audit(session=s, entry=entry)
    return {"wolf": wolf, "dog": dog}


def _objects(store: Store, **filters: object) -> list[str]:
    return [r.object for r in audit.query(store, AuditFilter(**filters))]  # type: ignore[arg-type]


def test_query_by_actor_env_object_action_run_time_and_full_text(store: Store) -> None:
    runs = _fill(store)
    assert _objects(store, actor="cli:alice") == ["hr.people"]
    assert _objects(store, env="wolf") == ["sales.customers", "settings", "sales.orders"]
    assert _objects(store, env="dog") == ["hr.people"]
    assert _objects(store, object_contains="SALES") == ["sales.customers", "sales.orders"]
    assert _objects(store, action="delete") == ["sales.customers"]
    assert _objects(store, run_id=runs["dog"]) == ["hr.people"]
    assert _objects(store, since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3)) == [
        "settings", "hr.people"]
    assert _objects(store, search="black friday") == ["settings"]
    assert _objects(store, search="COLUMNS CHANGED") == ["sales.orders"]
    assert _objects(store, search="worker:") == ["sales.customers"]
    assert _objects(store, search="100%_") == []
    assert _objects(store, env="wolf", system=AuditSystem.GLUE, search="customers") == ["sales.customers"]


def test_exports_are_generators_and_parse(store: Store) -> None:
    _fill(store)
    stream = audit.export(store, "jsonl")
    assert isinstance(stream, types.GeneratorType)
    lines = [json.loads(line) for line in "".join(stream).splitlines()]
    assert [r["object"] for r in lines] == ["sales.orders", "hr.people", "settings", "sales.customers"]
    assert [r["actor"] for r in lines][:2] == ["scheduler", "cli:alice"]
    rows = list(csv.DictReader(io.StringIO("".join(audit.export(store, "csv", AuditFilter(env="wolf"))))))
    assert [r["object"] for r in rows] == ["sales.orders", "settings", "sales.customers"]
    assert json.loads(rows[1]["details"])["comment"].startswith("raise the Glue rate")
    assert [r["object"] for r in json.loads("".join(audit.export(store, "json")))][-1] == "sales.customers"
    assert json.loads("".join(audit.export(store, "json", AuditFilter(actor="nobody")))) == []


def _insert(store: Store, start: int, n: int) -> None:
    from core.store.tables import AuditRow

    pad = "x" * 400
    with store.session() as s:
        s.execute(
            AuditRow.__table__.insert(),
            [{"ts": T0 + timedelta(seconds=i), "actor": "scheduler", "run_id": None, "system": "glue",
              "object": f"db.t{i}", "action": "update", "before_hash": None, "after_hash": None,
              "details": {"pad": pad}, "env": "dog"} for i in range(start, start + n)],
        )


def _export_peak(store: Store) -> tuple[int, int]:
    total = 0
    tracemalloc.start()
    try:
        for chunk in audit.export(store, "jsonl", batch=200):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, total


def test_streamed_export_memory_does_not_grow_with_the_number_of_records(sqlite_store: Store) -> None:
    _insert(sqlite_store, 0, 1000)
    "".join(audit.export(sqlite_store, "jsonl", batch=200))  # warm caches
    small_peak, small_total = _export_peak(sqlite_store)
    _insert(sqlite_store, 1000, 3000)
    big_peak, big_total = _export_peak(sqlite_store)
    assert big_total > 3.9 * small_total
    assert big_peak < 1.5 * small_peak, (small_peak, big_peak)


def test_prune_honours_the_retention(store: Store) -> None:
    now = T0 + timedelta(days=100)
    with store.session() as s:
        for age in (10, 89, 91, 200):
            repo.record_audit(session=s, entry=AuditIn(
                ts=now - timedelta(days=age), actor="cli:a", system=AuditSystem.DGSYNC,
                object=f"age{age}", action="plan"))
            repo.record_security_event(session=s, event=SecurityEventIn(
                ts=now - timedelta(days=age), kind="auth_failure"))
    dry = audit.prune(store, retention_days=90, now=now, dry_run=True)
    assert (dry.audit, dry.security_events) == (2, 2)
    assert len(audit.query(store)) == 4
    done = audit.prune(store, retention_days=90, now=now)
    assert (done.audit, done.security_events) == (2, 2)
    assert sorted(r.object for r in audit.query(store)) == ["age10", "age89"]
    assert audit.prune(store, retention_days=0, now=now).audit == 0


def test_record_action_keeps_a_redacted_diff(sqlite_store: Store) -> None:
    entry = audit.record_action(
        sqlite_store, actor="key:ops/admin", action="validate", object="rules.yaml", env="wolf",
        before={"a": 1, "api_token": "tok-1234567"}, after={"a": 2, "api_token": "tok-7654321"},
    )
    assert entry.details["diff"] == [{"field": "a", "before": 1, "after": 2}]
    assert "tok-" not in repr(entry)
    assert entry.before_hash != entry.after_hash
