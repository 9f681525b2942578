"""Checkpoint: every store write of a run (never Glue).

One transaction per object: its run item, its audit record (for writes), its asset state, its
cached asset and its lineage. A run killed at any point is resumed by the next one from exactly
these rows. Run start/heartbeat/finish and the held deletions are written here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.errors import DgsyncError
from core.models import Asset, Priority
from core.specs import TableSpec
from core.sync.plan import Action, PlanItem
from core.sync.report import DONE, FAILED, ItemResult, PlanOutcome, count_items, stored_counts

if TYPE_CHECKING:
    from core.settings import Settings
    from core.store.db import Store
    from core.store.schemas import AssetStateIn, AuditIn, LineageEdgeIn, RunResult

_RESOLUTIONS = {
    "naming": "skipped_and_flagged",
    "out_of_band_edit": "source_wins_schema_business_merged",
    "concurrent_modification": "flagged_after_retry",
}
_ASSET_STATUS = {
    Action.CREATE: "synced", Action.UPDATE: "synced", Action.NOOP: "synced",
    Action.CONFLICT: "conflict", Action.SKIP: "skipped",
}


def lineage_edges(asset: Asset) -> list[LineageEdgeIn]:
    """The asset's upstream data-flow edges (associations and mixins are not lineage)."""
    from core.store.schemas import LineageEdgeIn

    return [
        LineageEdgeIn(upstream=str(dep.ref), downstream=asset.key, kind=dep.kind.value)
        for dep in asset.upstream
        if dep.kind.is_data_flow
    ]


class Checkpoint:
    """The store side of a run."""

    def __init__(self, store: Store, settings: Settings, *, actor: str) -> None:
        self.store = store
        self.env = settings.env
        self.actor = actor
        self.deletion_action = "deprecate" if settings.sync.deletion_policy == "deprecate" else "delete"
        self.lease_ttl_s = settings.schedule.lease_ttl_s

    # -- the run ------------------------------------------------------------------------
    def start_run(
        self,
        *,
        spaces: Sequence[str] | None,
        kinds: Sequence[str] | None,
        priority: Priority | None,
        resume: bool,
        trigger: str,
        slice_key: str | None,
        config_version: int | None = None,
        run_id: str | None = None,
    ) -> tuple[str, str | None]:
        """Record a new run (``running``), under ``run_id`` if given (the id its scope lease
        was taken for); returns ``(run_id, resumed_from)``."""
        from core.store import repo
        from core.store.schemas import RunIn, RunScope

        with self.store.session() as session:
            repo.mark_stale_runs_interrupted(session=session, stale_after_s=self.lease_ttl_s)
            resumed_from: str | None = None
            if resume:
                previous = repo.latest_interrupted_run(session=session, env=self.env, slice_key=slice_key)
                resumed_from = previous.id if previous else None
            run = repo.start_run(session=session, run=RunIn(
                **({"id": run_id} if run_id else {}),
                env=self.env,
                kind="resume" if resumed_from else "sync",
                trigger=trigger,
                scope=RunScope(spaces=list(spaces or []), kinds=list(kinds or []),
                               priority=priority.value if priority else None,
                               config_version=config_version),
                slice_key=slice_key,
                resumed_from=resumed_from,
            ))
        return run.id, resumed_from

    def heartbeat(self, run_id: str, results: Sequence[ItemResult]) -> None:
        from core.store import repo
        from core.store.schemas import RunCounts

        with self.store.session() as session:
            repo.heartbeat_run(session=session, run_id=run_id,
                               counts=RunCounts(**stored_counts(count_items(results))))

    def finish_run(self, run_id: str, result: RunResult) -> None:
        from core.store import repo

        with self.store.session() as session:
            repo.finish_run(session=session, run_id=run_id, result=result)

    # -- one space ----------------------------------------------------------------------
    def bind(self, outcome: PlanOutcome) -> SpaceCheckpoint:
        """The checkpoint of one space's outcome (its assets and ETags)."""
        return SpaceCheckpoint(self, outcome)

    def after_space(self, run_id: str, outcome: PlanOutcome, results: Sequence[ItemResult], *, stopped: bool) -> None:
        """What a space leaves besides its items: verified versions, held deletions, and the
        assets without a table of their own (cached so the next run reads them conditionally)."""
        from core.store import repo

        if outcome.verified_versions:
            with self.store.session() as session:
                repo.set_glue_versions(session=session, env=self.env, versions=outcome.verified_versions)
        self._record_holds(run_id, outcome, results)
        if not stopped:
            # Assets with a table outside this run's scope (another priority slice) are left
            # uncached: their slice must still see them as changed.
            tabled = {str(t.source) for t in outcome.mapping.tables}
            planned = {i.asset for i in outcome.plan.items if i.object_type == "table" and i.asset}
            self._cache_untabled(run_id, outcome, planned | tabled)

    def _record_holds(self, run_id: str, outcome: PlanOutcome, results: Sequence[ItemResult]) -> None:
        """Held deletions go to the store (pending); approved ones that ran are applied; holds
        of tables this run wants again (the source came back) are cancelled."""
        from core.store import deletions

        held = [i for i in outcome.plan.items if i.hold]
        applied = [r.object for r in results
                   if r.status == DONE and r.action in (Action.DELETE, Action.DEPRECATE)]
        wanted = {i.object for i in outcome.plan.items
                  if i.object_type == "table" and i.action in (Action.CREATE, Action.UPDATE, Action.NOOP)}
        with self.store.session() as session:
            for item in held:
                deletions.hold(session=session, env=self.env, object=item.object, asset=item.asset,
                               kind=item.source_kind, action=self.deletion_action,
                               reason=item.reason, run_id=run_id)
            for obj in applied:
                deletions.mark_applied(session=session, env=self.env, object=obj)
            deletions.cancel_resolved(session=session, env=self.env, objects=wanted)

    def _cache_untabled(self, run_id: str, outcome: PlanOutcome, planned: set[str]) -> None:
        from core.store import repo
        from core.store.cache import put_cached_asset

        rest = [a for a in outcome.assets if a.key not in planned]
        if not rest:
            return
        with self.store.session() as session:
            for asset in rest:
                put_cached_asset(session=session, env=self.env, asset=asset, etag=outcome.etags.get(asset.key))
                repo.replace_lineage(session=session, downstream=asset.key, edges=lineage_edges(asset), run_id=run_id)


class SpaceCheckpoint:
    """Checkpoints of one space's objects (what :class:`core.sync.apply.Applier` calls)."""

    def __init__(self, parent: Checkpoint, outcome: PlanOutcome) -> None:
        self.parent = parent
        self.assets = {a.key: a for a in outcome.assets}
        self.etags = dict(outcome.etags)

    def database(self, run_id: str, item: PlanItem, after_hash: str) -> None:
        from core.store import repo
        from core.store.schemas import AuditIn, AuditSystem

        with self.parent.store.session() as session:
            repo.record_audit(session=session, entry=AuditIn(
                actor=self.parent.actor, run_id=run_id, system=AuditSystem.GLUE, object=item.object,
                action=f"{item.action.value}_database", after_hash=after_hash,
                details={"reason": item.reason}, env=self.parent.env,
            ))

    def item(
        self,
        run_id: str,
        item: PlanItem,
        spec: TableSpec | None,
        status: str,
        *,
        write: bool,
        error: DgsyncError | None = None,
    ) -> None:
        """Commit the item, its audit record (for writes) and the asset state atomically."""
        from core.store import repo
        from core.store.schemas import ItemStatus

        asset_key = item.asset or item.object
        with self.parent.store.session() as session:
            repo.record_item(
                session=session, run_id=run_id, asset_key=asset_key,
                action=Action.FAIL if status == FAILED else item.action,
                status=ItemStatus(FAILED if status == FAILED else DONE),
                detail={"object": item.object, "reason": item.reason},
                error=error.message if error else None,
                hint=error.hint if error else None,
                audit=self._audit(run_id, item, asset_key) if write else None,
                state=self._state(run_id, item, spec, status, error),
            )
            asset = self.assets.get(asset_key)
            if asset is not None and status != FAILED and item.action is not Action.CONFLICT:
                from core.store.cache import put_cached_asset

                put_cached_asset(session=session, env=self.parent.env, asset=asset, etag=self.etags.get(asset_key))
                repo.replace_lineage(session=session, downstream=asset_key, edges=lineage_edges(asset), run_id=run_id)
            if item.conflict:
                self._conflict(session, run_id, item, asset_key)

    def _audit(self, run_id: str, item: PlanItem, asset_key: str) -> AuditIn:
        from core.store.schemas import AuditIn, AuditSystem

        return AuditIn(
            actor=self.parent.actor, run_id=run_id, system=AuditSystem.GLUE, object=item.object,
            action=item.action.value, before_hash=item.live_hash, after_hash=item.desired_hash,
            details={"asset": asset_key, "reason": item.reason,
                     "diffs": [d.model_dump(mode="json") for d in item.diffs[:50]]},
            env=self.parent.env,
        )

    def _state(
        self, run_id: str, item: PlanItem, spec: TableSpec | None, status: str, error: DgsyncError | None
    ) -> AssetStateIn | None:
        from core.store.schemas import AssetStateIn

        space, _, name = (item.asset or item.object).partition(".")
        now = datetime.now(UTC)
        if spec is None or not name:
            if item.action in (Action.DEPRECATE, Action.DELETE) and name and status != FAILED:
                return AssetStateIn(
                    env=self.parent.env, space=space, name=name, kind="",
                    status="deprecated" if item.action is Action.DEPRECATE else "deleted",
                    deprecated_at=now if item.action is Action.DEPRECATE else None, last_run_id=run_id,
                )
            return None
        fields: dict[str, Any] = {
            "env": self.parent.env, "space": space, "name": name,
            "kind": str(spec.parameters.get("dgsync.source_kind", "")),
            "status": "failed" if status == FAILED else _ASSET_STATUS.get(item.action, "synced"),
            "priority": spec.priority.value, "source_fingerprint": spec.source_fingerprint,
            "glue_database": item.database, "glue_table": item.name, "last_run_id": run_id,
            "last_error": error.message if error and status == FAILED else None,
        }
        if status != FAILED:
            fields["last_synced_at"] = now
            if item.desired_hash and item.action in (Action.CREATE, Action.UPDATE, Action.NOOP):
                fields["target_hash"] = item.desired_hash
            asset = self.assets.get(item.asset or "")
            if asset is not None:
                fields["source_hash"] = asset.source_hash or None
                fields["source_etag"] = self.etags.get(asset.key)
        return AssetStateIn(**fields)

    def _conflict(self, session: Any, run_id: str, item: PlanItem, asset_key: str) -> None:
        from core.store import repo
        from core.store.schemas import ConflictIn

        resolution = ("adopted" if item.action is Action.UPDATE else "skipped_and_flagged") \
            if item.conflict == "unmanaged" else _RESOLUTIONS.get(item.conflict or "", "flagged")
        repo.record_conflict(session=session, conflict=ConflictIn(
            run_id=run_id, object=item.object, asset_key=asset_key, kind=item.conflict,
            detail={"reason": item.reason, "diffs": [d.model_dump(mode="json") for d in item.diffs[:50]]},
            resolution=resolution,
        ))
