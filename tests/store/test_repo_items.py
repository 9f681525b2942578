"""The checkpoint (run items) and the per-asset state, written atomically with the audit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from core.errors import StoreError
from core.store import repo
from core.store.db import Store
from core.store.schemas import (
    AssetStateIn,
    AssetStatus,
    AuditFilter,
    AuditIn,
    AuditSystem,
    ItemAction,
    ItemStatus,
    RunIn,
)
from core.store.tables import AssetStateRow, AuditRow, RunItemRow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def run_id(store: Store) -> str:
    with store.session() as s:
        return repo.start_run(session=s, run=RunIn(env="dog", started_at=T0)).id


def _state(key: str = "SALES.V_ORDERS", **fields: Any) -> AssetStateIn:
    space, name = key.split(".", 1)
    values: dict[str, Any] = {"env": "dog", "space": space, "name": name, "kind": "view",
                              "status": AssetStatus.SYNCED}
    values.update(fields)
    return AssetStateIn(**values)


def _audit(run_id: str, obj: str = "sales.v_orders", **fields: Any) -> AuditIn:
    values: dict[str, Any] = {"actor": "dgsync", "run_id": run_id, "system": AuditSystem.GLUE,
                              "object": obj, "action": "create_table", "after_hash": "h1"}
    values.update(fields)
    return AuditIn(**values)


def _count(store: Store, model: type[Any]) -> int:
    with store.session(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_record_item_writes_item_audit_and_state_together(store: Store, run_id: str) -> None:
    with store.session() as s:
        item = repo.record_item(
            session=s, run_id=run_id, asset_key="SALES.V_ORDERS", action=ItemAction.CREATE,
            status=ItemStatus.DONE, detail={"table": "sales.v_orders"},
            audit=_audit(run_id),
            state=_state(target_hash="h1", glue_version_id="1", last_run_id=run_id,
                         last_synced_at=T0, source_etag='W/"abc"'),
        )
    assert item.action is ItemAction.CREATE and item.detail == {"table": "sales.v_orders"}
    with store.session(readonly=True) as s:
        states = repo.get_asset_states(session=s, env="dog")
        audit = repo.query_audit(session=s, filters=AuditFilter(run_id=run_id))
        done = repo.completed_items(session=s, run_id=run_id)
    assert states["SALES.V_ORDERS"].target_hash == "h1"
    assert states["SALES.V_ORDERS"].source_etag == 'W/"abc"'
    assert states["SALES.V_ORDERS"].last_synced_at == T0
    assert [a.object for a in audit] == ["sales.v_orders"]
    assert done == {"SALES.V_ORDERS"}


class _FailingAuditInsert:
    """Makes every INSERT into ``audit`` fail, as a full disk or a lost connection would."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __call__(self, *_args: Any) -> None:
        raise self.error


@pytest.fixture(params=["database_error", "other_error"])
def failing_audit(request: pytest.FixtureRequest) -> Iterator[type[Exception]]:
    if request.param == "database_error":
        error: Exception = OperationalError("INSERT INTO audit", {}, Exception("disk I/O error"))
        expected: type[Exception] = StoreError
    else:
        error = RuntimeError("audit exploded")
        expected = RuntimeError
    hook = _FailingAuditInsert(error)
    event.listen(AuditRow, "before_insert", hook)
    try:
        yield expected
    finally:
        event.remove(AuditRow, "before_insert", hook)


def test_a_failing_audit_insert_rolls_back_the_item_and_the_state(
    store: Store, run_id: str, failing_audit: type[Exception]
) -> None:
    with store.session() as s, pytest.raises(failing_audit):
        repo.record_item(session=s, run_id=run_id, asset_key="SALES.V_ORDERS",
                         action=ItemAction.CREATE, status=ItemStatus.DONE,
                         audit=_audit(run_id), state=_state(target_hash="h1"))
        # the caller's transaction goes on (and commits) without any of the three writes
    assert _count(store, RunItemRow) == 0
    assert _count(store, AssetStateRow) == 0
    assert _count(store, AuditRow) == 0


def test_a_failed_checkpoint_keeps_earlier_checkpoints_of_the_session(
    store: Store, run_id: str
) -> None:
    hook = _FailingAuditInsert(OperationalError("INSERT INTO audit", {}, Exception("io")))
    with store.session() as s:
        repo.record_item(session=s, run_id=run_id, asset_key="S.A", action=ItemAction.CREATE,
                         status=ItemStatus.DONE, audit=_audit(run_id, "s.a"),
                         state=_state("S.A"))
        event.listen(AuditRow, "before_insert", hook)
        try:
            with pytest.raises(StoreError, match=r"could not checkpoint S\.B"):
                repo.record_item(session=s, run_id=run_id, asset_key="S.B",
                                 action=ItemAction.CREATE, status=ItemStatus.DONE,
                                 audit=_audit(run_id, "s.b"), state=_state("S.B"))
        finally:
            event.remove(AuditRow, "before_insert", hook)
    with store.session(readonly=True) as s:
        assert repo.completed_items(session=s, run_id=run_id) == {"S.A"}
        assert set(repo.get_asset_states(session=s, env="dog")) == {"S.A"}


def test_item_for_an_unknown_run_is_refused(store: Store) -> None:
    with pytest.raises(StoreError), store.session() as s:
        repo.record_item(session=s, run_id="no-such-run", asset_key="S.A",
                         action=ItemAction.CREATE, status=ItemStatus.DONE)


def test_recording_an_item_again_replaces_it(store: Store, run_id: str) -> None:
    with store.session() as s:
        repo.record_item(session=s, run_id=run_id, asset_key="S.A", action=ItemAction.UPDATE,
                         status=ItemStatus.FAILED, error="throttled", hint="retry later")
    with store.session() as s:
        item = repo.record_item(session=s, run_id=run_id, asset_key="S.A",
                                action=ItemAction.UPDATE, status=ItemStatus.DONE)
    assert item.status is ItemStatus.DONE and item.error is None
    with store.session(readonly=True) as s:
        items = repo.list_run_items(session=s, run_id=run_id)
        assert [(i.asset_key, i.status) for i in items] == [("S.A", ItemStatus.DONE)]
        assert repo.list_run_items(session=s, run_id=run_id, status=ItemStatus.FAILED) == []


def test_state_must_belong_to_the_item(store: Store, run_id: str) -> None:
    with pytest.raises(ValueError, match=r"not 'S\.B'"), store.session() as s:
        repo.record_item(session=s, run_id=run_id, asset_key="S.B", action=ItemAction.CREATE,
                         status=ItemStatus.DONE, state=_state("S.A"))


def test_state_update_changes_only_the_fields_given(store: Store) -> None:
    with store.session() as s:
        repo.upsert_asset_state(session=s, state=_state(target_hash="h1", glue_version_id="3",
                                                        source_hash="s1"))
    with store.session() as s:
        out = repo.upsert_asset_state(
            session=s, state=_state(status=AssetStatus.FAILED, last_error="AccessDenied"))
    assert out.status is AssetStatus.FAILED and out.last_error == "AccessDenied"
    assert (out.target_hash, out.glue_version_id, out.source_hash) == ("h1", "3", "s1")
    with store.session() as s:
        out = repo.upsert_asset_state(session=s, state=_state(last_error=None, target_hash="h2"))
    assert out.last_error is None and out.target_hash == "h2" and out.status is AssetStatus.SYNCED


def test_asset_keys_keep_case_and_dots_and_envs_are_separate(store: Store) -> None:
    with store.session() as s:
        for key in ("SALES.Orders", "SALES.ORDERS", "SALES.A.B", "SALES.∞ x"):
            repo.upsert_asset_state(session=s, state=_state(key))
        repo.upsert_asset_state(session=s, state=_state("SALES.Orders", env="wolf"))
    with store.session(readonly=True) as s:
        dog = repo.get_asset_states(session=s, env="dog")
        assert set(dog) == {"SALES.Orders", "SALES.ORDERS", "SALES.A.B", "SALES.∞ x"}
        assert dog["SALES.A.B"].name == "A.B"
        assert set(repo.get_asset_states(session=s, env="wolf")) == {"SALES.Orders"}
        some = repo.get_asset_states(session=s, env="dog", keys=["SALES.A.B", "SALES.nope"])
        assert set(some) == {"SALES.A.B"}


def test_get_asset_states_handles_many_keys(store: Store) -> None:
    keys = [f"S.T{i:04d}" for i in range(600)]
    with store.session() as s:
        for key in keys:
            repo.upsert_asset_state(session=s, state=_state(key))
    with store.session(readonly=True) as s:
        assert len(repo.get_asset_states(session=s, env="dog", keys=[*keys, "S.nope"])) == 600
        assert repo.asset_status_counts(session=s, env="dog") == {"synced": 600}


def test_concurrent_checkpoints_from_threads_all_land(store: Store, run_id: str) -> None:
    import threading

    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                key = f"S.W{n}_{i}"
                with store.session() as s:
                    repo.record_item(session=s, run_id=run_id, asset_key=key,
                                     action=ItemAction.CREATE, status=ItemStatus.DONE,
                                     audit=_audit(run_id, key.lower()), state=_state(key))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert _count(store, RunItemRow) == _count(store, AuditRow) == _count(store, AssetStateRow) == 60


def test_a_page_of_items_and_the_glue_diffs_of_its_objects(store: Store, run_id: str) -> None:
    """What Wolf's run views read of a large run: a page of items (changed ones only, or by
    status) and the diffs of those objects' Glue writes — the newest write of each wins."""
    from datetime import timedelta

    actions = [ItemAction.CREATE, ItemAction.NOOP, ItemAction.UPDATE, ItemAction.NOOP, ItemAction.FAIL]
    with store.session() as s:
        for i, action in enumerate(actions):
            status = ItemStatus.FAILED if action is ItemAction.FAIL else ItemStatus.DONE
            repo.record_item(session=s, run_id=run_id, asset_key=f"S.T{i}", action=action, status=status,
                             detail={"object": f"s.t{i}"}, now=T0 + timedelta(seconds=i))
        for n, obj in enumerate(["s.t0", "s.t2", "s.t2", "s.other"]):
            repo.record_audit(session=s, entry=AuditIn(
                ts=T0 + timedelta(seconds=n), actor="test", run_id=run_id, system=AuditSystem.GLUE, object=obj,
                action="UpdateTable", details={"diffs": [{"field": "Description", "n": n}]}))
        repo.record_audit(session=s, entry=AuditIn(actor="test", run_id=run_id, system=AuditSystem.DATASPHERE,
                                                   object="s.t0", action="read", details={"diffs": ["no"]}))
    with store.session(readonly=True) as s:
        keys = [i.asset_key for i in repo.list_run_items(session=s, run_id=run_id, limit=2, offset=1)]
        assert keys == ["S.T1", "S.T2"]
        changed = repo.list_run_items(session=s, run_id=run_id, changed_only=True)
        assert [i.asset_key for i in changed] == ["S.T0", "S.T2", "S.T4"]
        assert [i.asset_key for i in repo.list_run_items(session=s, run_id=run_id, changed_only=True, offset=2)] == [
            "S.T4"]
        diffs = repo.glue_diffs(session=s, run_id=run_id, objects=["s.t0", "s.t2", "s.t1", "s.t0"])
    assert diffs == {"s.t0": [{"field": "Description", "n": 0}], "s.t2": [{"field": "Description", "n": 2}]}
