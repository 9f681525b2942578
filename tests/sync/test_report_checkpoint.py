"""Report (why a run is not in sync), checkpoint (held deletions, lineage edges), lineage traversal."""

from __future__ import annotations

from core.lineage import descendants, impact_in, merge_graphs
from core.models import Asset, AssetKind, AssetRef, Dependency, DependencyKind
from core.settings import load_settings
from core.specs import MappingResult
from core.store import deletions
from core.store.db import Store
from core.sync.checkpoint import Checkpoint, lineage_edges
from core.sync.plan import Action, Plan, PlanItem
from core.sync.report import (
    ExtractionSummary,
    ItemResult,
    PlanOutcome,
    count_items,
    not_in_sync,
    stored_counts,
)


def result(action: Action, status: str = "done", **kw: object) -> ItemResult:
    return ItemResult(object=f"db.{action.value}", action=action, status=status, **kw)  # type: ignore[arg-type]


def test_a_clean_run_is_in_sync_and_recovered_races_count_under_their_action() -> None:
    items = [result(Action.CREATE), result(Action.NOOP, "recovered")]
    assert not_in_sync(items, ExtractionSummary()) == []
    counts = count_items(items)
    assert counts["created"] == 1 and counts["unchanged"] == 1 and counts["recovered"] == 1
    assert "recovered" not in stored_counts(counts)


def test_every_reason_a_run_is_not_in_sync_is_named() -> None:
    items = [
        result(Action.UPDATE, "failed"),
        result(Action.CONFLICT, conflict="unmanaged"),
        result(Action.SKIP, hold="listing empty"),
        result(Action.SKIP),  # a log-policy skip is not a failure
    ]
    summary = ExtractionSummary(errors=[{"asset": "S.X"}], skipped_spaces={"HR": "403"},
                                incomplete={"S.AM": "source read failed"})
    reasons = not_in_sync(items, summary)
    assert reasons == [
        "1 object(s) failed", "1 conflict(s) left unresolved",
        "1 deletion(s) held for confirmation (dgsync deletions pending)",
        "1 extraction error(s)", "1 space(s) skipped",
        "1 asset(s) kept as is: inputs failed this run",
    ]


def test_associations_and_mixins_are_not_lineage_edges() -> None:
    asset = Asset(space="S", name="V", kind=AssetKind.VIEW, upstream=[
        Dependency(ref=AssetRef(space="S", name="T"), kind=DependencyKind.FROM),
        Dependency(ref=AssetRef(space="S", name="D"), kind=DependencyKind.ASSOCIATION),
        Dependency(ref=AssetRef(space="S", name="M"), kind=DependencyKind.MIXIN),
    ])
    assert [(e.upstream, e.kind) for e in lineage_edges(asset)] == [("S.T", "from")]


def test_lineage_traversal_is_transitive_and_cycle_safe() -> None:
    graph = merge_graphs({"a": {"b"}, "b": {"c"}}, {"c": {"a", "d"}})
    assert descendants(graph, "a") == {"b", "c", "d"}
    assert impact_in(graph, ["b"]) == {"b": ["a", "c", "d"]}


def _held(obj: str) -> PlanItem:
    return PlanItem(action=Action.SKIP, object_type="table", database="sales", name=obj.split(".")[1],
                    asset="SALES.X", reason="held", hold="listing empty", source_kind="view")


def test_held_deletions_go_pending_then_approved_applied_or_cancelled(store: Store) -> None:
    settings = load_settings(env="dog", overrides={"sync": {"deletion_policy": "delete"}})
    checkpoint = Checkpoint(store, settings, actor="cli:test")
    held = PlanOutcome(plan=Plan(items=[_held("sales.a"), _held("sales.b")]), mapping=MappingResult(),
                       assets=[], extraction=ExtractionSummary())
    checkpoint.after_space("r1", held, [], stopped=False)
    with store.session() as s:
        assert [(p.object, p.status, p.action) for p in deletions.list_pending(session=s, env="dog")] == [
            ("sales.a", "pending", "delete"), ("sales.b", "pending", "delete")]
        assert deletions.decide(session=s, env="dog", objects=["sales.a"], actor="cli:ops", approve=True) == ["sales.a"]
        assert deletions.approved_objects(session=s, env="dog") == {"sales.a"}
    # Next run: a is deleted (approved), b's source came back (planned noop).
    applied = ItemResult(object="sales.a", action=Action.DELETE, status="done")
    back = PlanItem(action=Action.NOOP, object_type="table", database="sales", name="b", reason="up to date")
    nxt = PlanOutcome(plan=Plan(items=[back]), mapping=MappingResult(), assets=[], extraction=ExtractionSummary())
    checkpoint.after_space("r2", nxt, [applied], stopped=False)
    with store.session(readonly=True) as s:
        rows = {p.object: p for p in deletions.list_pending(session=s, env="dog", statuses=("pending", "approved", "applied", "cancelled"))}
        assert rows["sales.a"].status == "applied" and rows["sales.a"].decided_by == "cli:ops"
        assert rows["sales.b"].status == "cancelled"
        from core.store import repo
        audit = repo.query_audit(session=s, limit=10)
        assert any(a.action == "approve_deletion" and a.actor == "cli:ops" and a.object == "sales.a" for a in audit)
