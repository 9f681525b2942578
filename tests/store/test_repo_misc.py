"""Lineage, conflicts, schedule state and security events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import StoreError
from core.models import AssetRef
from core.specs import LineageEdge
from core.store import repo
from core.store.db import Store
from core.store.schemas import (
    ConflictIn,
    ConflictKind,
    LineageEdgeIn,
    RunIn,
    ScheduleStateIn,
    SecurityEventIn,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _edge(up: str, down: str, kind: str = "from", via: str | None = None) -> LineageEdgeIn:
    return LineageEdgeIn(upstream=up, downstream=down, kind=kind, via=via)


def _pairs(edges: list[object]) -> set[tuple[str, str, int]]:
    return {(e.upstream, e.downstream, e.depth) for e in edges}  # type: ignore[attr-defined]


# ------------------------------------------------------------------------ lineage


def test_replace_lineage_replaces_not_appends(store: Store) -> None:
    with store.session() as s:
        assert repo.replace_lineage(session=s, downstream="S.V", edges=[
            _edge("S.T1", "S.V"), _edge("S.T2", "S.V", "join"), _edge("S.T1", "S.V")]) == 2
        repo.replace_lineage(session=s, downstream="S.W", edges=[_edge("S.T1", "S.W")])
    with store.session() as s:
        repo.replace_lineage(session=s, downstream="S.V", edges=[_edge("S.T3", "S.V")],
                             run_id="r2")
    with store.session(readonly=True) as s:
        up = repo.query_lineage(session=s, asset="S.V", direction="upstream")
        down = repo.query_lineage(session=s, asset="S.T1", direction="downstream")
    assert [(e.upstream, e.kind, e.run_id) for e in up] == [("S.T3", "from", "r2")]
    assert [e.downstream for e in down] == ["S.W"]


def test_replace_lineage_with_no_edges_removes_the_upstream(store: Store) -> None:
    with store.session() as s:
        repo.replace_lineage(session=s, downstream="S.V", edges=[_edge("S.T", "S.V")])
        repo.replace_lineage(session=s, downstream="S.V", edges=[])
        assert repo.query_lineage(session=s, asset="S.V") == []


def test_replace_lineage_refuses_edges_of_another_asset(store: Store) -> None:
    with pytest.raises(ValueError, match=r"S\.X"), store.session() as s:
        repo.replace_lineage(session=s, downstream="S.V", edges=[_edge("S.T", "S.X")])


def test_query_lineage_walks_to_the_given_depth_and_survives_cycles(store: Store) -> None:
    # T -> V -> AM -> T (a cycle), and F moves T into L via a flow
    with store.session() as s:
        repo.replace_lineage(session=s, downstream="S.V", edges=[_edge("S.T", "S.V")])
        repo.replace_lineage(session=s, downstream="S.AM",
                             edges=[_edge("S.V", "S.AM", "fact_source")])
        repo.replace_lineage(session=s, downstream="S.T", edges=[_edge("S.AM", "S.T")])
        repo.replace_lineage(session=s, downstream="S.L",
                             edges=[_edge("S.T", "S.L", "flow_target", via="S.F")])
    with store.session(readonly=True) as s:
        one = repo.query_lineage(session=s, asset="S.T", direction="downstream")
        two = repo.query_lineage(session=s, asset="S.T", direction="downstream", depth=2)
        deep = repo.query_lineage(session=s, asset="S.T", direction="downstream", depth=10)
        both = repo.query_lineage(session=s, asset="S.V", direction="both")
    assert _pairs(one) == {("S.T", "S.V", 1), ("S.T", "S.L", 1)}
    assert _pairs(two) == _pairs(one) | {("S.V", "S.AM", 2)}
    assert _pairs(deep) == _pairs(two) | {("S.AM", "S.T", 3)}
    assert _pairs(both) == {("S.T", "S.V", 1), ("S.V", "S.AM", 1)}
    assert next(e for e in one if e.downstream == "S.L").via == "S.F"
    with pytest.raises(ValueError):
        repo.query_lineage(session=s, asset="S.T", depth=0)


def test_lineage_edges_from_mapping_specs(store: Store) -> None:
    spec = LineageEdge(upstream=AssetRef(space="SALES", name="T.A"),
                       downstream=AssetRef(space="SALES", name="V"), kind="from",
                       via=AssetRef(space="SALES", name="DF"))
    edge = LineageEdgeIn.from_spec(spec)
    assert (edge.upstream, edge.downstream, edge.via) == ("SALES.T.A", "SALES.V", "SALES.DF")


# ---------------------------------------------------------------------- conflicts


def test_conflicts_are_recorded_listed_and_resolved(store: Store) -> None:
    with store.session() as s:
        run = repo.start_run(session=s, run=RunIn(env="dog"))
        first = repo.record_conflict(session=s, conflict=ConflictIn(
            run_id=run.id, object="sales.orders", asset_key="SALES.Orders",
            kind=ConflictKind.COLLISION, detail={"with": "SALES.ORDERS"},
            created_at=T0))
        repo.record_conflict(session=s, conflict=ConflictIn(
            object="sales.legacy", kind=ConflictKind.UNMANAGED, resolution="skip_and_flag",
            created_at=T0 + timedelta(minutes=1)))
    with store.session() as s:
        resolved = repo.resolve_conflict(session=s, conflict_id=first.id, resolution="renamed",
                                         now=T0 + timedelta(hours=1))
    assert resolved.resolved_at == T0 + timedelta(hours=1)
    with store.session(readonly=True) as s:
        everything = repo.list_conflicts(session=s)
        of_run = repo.list_conflicts(session=s, run_id=run.id)
        open_ = repo.list_conflicts(session=s, unresolved_only=True)
    assert [c.object for c in everything] == ["sales.legacy", "sales.orders"]
    assert [c.kind for c in of_run] == [ConflictKind.COLLISION]
    assert of_run[0].detail == {"with": "SALES.ORDERS"} and of_run[0].resolution == "renamed"
    assert [c.object for c in open_] == ["sales.legacy"]


def test_resolving_an_unknown_conflict_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError), store.session() as s:
        repo.resolve_conflict(session=s, conflict_id=424242, resolution="x")


# ----------------------------------------------------------------- schedule state


def test_schedule_state_upserts_only_the_fields_given(store: Store) -> None:
    with store.session() as s:
        assert repo.get_schedule_state(session=s, slice_key="high:SALES") is None
        repo.set_schedule_state(session=s, state=ScheduleStateIn(
            slice_key="high:SALES", last_started_at=T0, last_run_id="r1",
            next_due_at=T0 + timedelta(hours=1)))
        repo.set_schedule_state(session=s, state=ScheduleStateIn(slice_key="critical",
                                                                 next_due_at=T0))
    with store.session() as s:
        out = repo.set_schedule_state(session=s, state=ScheduleStateIn(
            slice_key="high:SALES", last_finished_at=T0 + timedelta(minutes=5)))
    assert out.last_started_at == T0 and out.last_run_id == "r1"
    assert out.last_finished_at == T0 + timedelta(minutes=5)
    assert out.next_due_at == T0 + timedelta(hours=1)
    with store.session(readonly=True) as s:
        assert [x.slice_key for x in repo.list_schedule_states(session=s)] == [
            "critical", "high:SALES"]


# ---------------------------------------------------------------- security events


def test_security_events_newest_first_filtered_and_redacted(store: Store) -> None:
    with store.session() as s:
        repo.record_security_event(session=s, event=SecurityEventIn(
            ts=T0, kind="token_refresh", actor="sb-client",
            detail={"refresh_token": "rt-secret", "expires_in": 3600}))
        repo.record_security_event(session=s, event=SecurityEventIn(
            ts=T0 + timedelta(minutes=1), kind="auth_failure", detail={"status": 401}))
    with store.session(readonly=True) as s:
        all_ = repo.list_security_events(session=s)
        failures = repo.list_security_events(session=s, kind="auth_failure")
        recent = repo.list_security_events(session=s, since=T0 + timedelta(seconds=30))
    assert [e.kind for e in all_] == ["auth_failure", "token_refresh"]
    assert [e.kind for e in failures] == ["auth_failure"] == [e.kind for e in recent]
    assert all_[1].detail == {"refresh_token": "***", "expires_in": 3600}
