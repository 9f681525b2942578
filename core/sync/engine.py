"""The sync engine: extract → map → read live → plan → apply, with checkpoints.

``SyncEngine.plan()`` writes nothing anywhere: no mutating Glue call, no state saved.
``SyncEngine.sync()`` applies the plan. Each object is committed to the store together with its
audit record (one transaction per object: the checkpoint), so a run killed at any point is
resumed by the next one: the planner compares with the live catalog, so what was written is a
no-op the second time (no duplicate writes), and what was not written is planned again (no
lost update). ``resume=True`` links the new run to the interrupted one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import (
    AlreadyExists,
    AuthError,
    ConcurrentModification,
    DgsyncError,
    SyncAborted,
)
from core.log import bind_run, get_logger
from core.models import Asset, AssetKind, DependencyKind, Priority
from core.specs import (
    MANAGED_BY,
    MANAGED_BY_VALUE,
    RUN_ID,
    SYNCED_AT,
    TARGET_HASH,
    DatabaseSpec,
    MappingResult,
    TableSpec,
    table_input_hash,
)
from core.sync.plan import (
    Action,
    LiveCatalog,
    Plan,
    PlanItem,
    PlanPolicy,
    build_plan,
    deprecated_input,
    plan_table,
)

if TYPE_CHECKING:
    from core.datasphere.extract import ExtractionResult
    from core.services import Services

log = get_logger(__name__)

#: progress(stage, done, total)
ProgressFn = Callable[[str, int, int | None], None]


#: Spaces whose Glue listing is read ahead (its own pipeline: moto/Glue work overlaps the
#: Datasphere reads of earlier spaces).
LIVE_AHEAD = 2

#: Spaces planned ahead of the one being applied: the Glue listing, the extraction and the
#: writes of different spaces overlap; memory stays bounded by this many spaces.
PREFETCH_SPACES = 1


def _noop_progress(stage: str, done: int, total: int | None) -> None:
    return None


class ItemResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: str
    asset: str | None = None
    action: Action
    #: ``done``; ``failed`` (the call was rejected or the object could not be written);
    #: ``recovered`` (Glue rejected the call because another writer got there first, e.g.
    #: ``AlreadyExists``; dgsync re-read, re-planned and finished the object).
    status: str
    reason: str | None = None
    conflict: str | None = None
    error: str | None = None
    hint: str | None = None
    #: Why a deletion is held for confirmation.
    hold: str | None = None


class ExtractionSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assets: int = 0
    spaces: list[str] = Field(default_factory=list)
    skipped_spaces: dict[str, str] = Field(default_factory=dict)
    errors: list[dict[str, str]] = Field(default_factory=list)
    #: ``SPACE.NAME`` → why its table was kept as is (an input failed this run).
    incomplete: dict[str, str] = Field(default_factory=dict)
    #: Kinds the tenant does not offer (their design-time list answered 404).
    not_offered: list[str] = Field(default_factory=list)


class SyncReport(BaseModel):
    """What a plan or a sync did: counts, items, API calls, errors with hints."""

    model_config = ConfigDict(extra="forbid")

    run_id: str | None = None
    dry_run: bool
    status: str
    started_at: datetime
    duration_s: float = 0.0
    counts: dict[str, int] = Field(default_factory=dict)
    items: list[ItemResult] = Field(default_factory=list)
    api_calls: dict[str, dict[str, int]] = Field(default_factory=dict)
    glue_writes: int = 0
    retries: int = 0
    throttles: int = 0
    extraction: ExtractionSummary = Field(default_factory=ExtractionSummary)
    failsafe: str | None = None
    plan: Plan | None = None
    resumed_from: str | None = None
    #: Calls Glue rejected, per operation and AWS error code.
    rejected: dict[str, dict[str, int]] = Field(default_factory=dict)
    #: Why the run is not ``succeeded`` (one line each), empty when it is.
    not_in_sync: list[str] = Field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)


COUNT_KEYS = ("created", "updated", "unchanged", "deprecated", "deleted", "conflicts", "failed", "skipped")
#: Counted in reports (not a stored run column): races with another writer dgsync recovered from.
RECOVERED = "recovered"
_COUNT_OF = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.NOOP: "unchanged",
    Action.DEPRECATE: "deprecated",
    Action.DELETE: "deleted",
    Action.CONFLICT: "conflicts",
    Action.SKIP: "skipped",
}


def count_items(items: Iterable[ItemResult]) -> dict[str, int]:
    counts = dict.fromkeys((*COUNT_KEYS, RECOVERED), 0)
    for item in items:
        if item.status == "failed":
            counts["failed"] += 1
        else:
            counts[_COUNT_OF[item.action]] += 1
            if item.status == RECOVERED:
                counts[RECOVERED] += 1
    return counts


def stored_counts(counts: dict[str, int]) -> dict[str, int]:
    """The counts the store has columns for."""
    return {k: v for k, v in counts.items() if k in COUNT_KEYS}


def not_in_sync(items: Sequence[ItemResult], extraction: ExtractionSummary) -> list[str]:
    """Why a run did not bring everything in scope in sync (empty: it did)."""
    out: list[str] = []
    failed = [i for i in items if i.status == "failed"]
    if failed:
        out.append(f"{len(failed)} object(s) failed")
    conflicts = [i for i in items if i.status != "failed" and i.action is Action.CONFLICT]
    if conflicts:
        out.append(f"{len(conflicts)} conflict(s) left unresolved")
    held = [i for i in items if i.status != "failed" and i.hold]
    if held:
        out.append(f"{len(held)} deletion(s) held for confirmation (dgsync deletions pending)")
    if extraction.errors:
        out.append(f"{len(extraction.errors)} extraction error(s)")
    if extraction.skipped_spaces:
        out.append(f"{len(extraction.skipped_spaces)} space(s) skipped")
    if extraction.incomplete:
        out.append(f"{len(extraction.incomplete)} asset(s) kept as is: inputs failed this run")
    return out


class PlanOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    plan: Plan
    mapping: MappingResult
    assets: list[Asset]
    extraction: ExtractionSummary
    datasphere_calls: dict[str, int] = Field(default_factory=dict)
    #: ``SPACE.NAME`` → ETag of the version read (stored with the checkpoint).
    etags: dict[str, str] = Field(default_factory=dict)
    #: Assets unchanged since the last sync (304), neither mapped nor planned.
    unchanged: int = 0
    #: Unchanged assets whose live table was hashed clean: key → its ``VersionId``.
    verified_versions: dict[str, str] = Field(default_factory=dict)


class SyncEngine:
    """Runs plans and syncs over the services of one settings object."""

    def __init__(self, services: Services, *, progress: ProgressFn | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.progress = progress or _noop_progress
        self._stop = threading.Event()
        self._run_assets: dict[str, Asset] = {}
        self._run_etags: dict[str, str] = {}
        self._db_lock = threading.Lock()
        self._databases: list[dict[str, Any]] | None = None
        self._etags: dict[str, str] | None = None
        self._graph: dict[str, set[str]] | None = None

    def request_stop(self) -> None:
        """Ask a running sync to stop after the objects in flight (SIGTERM)."""
        self._stop.set()

    # -- stages -------------------------------------------------------------------------
    def extract(
        self,
        *,
        spaces: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        etags: dict[str, str] | None = None,
    ) -> ExtractionResult:
        extractor = self.services.extractor(
            spaces=list(spaces) if spaces else None, kinds=list(kinds) if kinds else None
        )

        def on_progress(done: int, total: int | None) -> None:
            self.progress("extract", done, total)

        return extractor.extract(progress=on_progress, etags=etags)

    def map(self, assets: Sequence[Asset], spaces: Iterable[Any] = ()) -> MappingResult:
        from core.mapping.mapper import map_assets

        return map_assets(assets, self.services.rules(), env=self.settings.env, spaces=spaces)

    def read_live(self, wanted: set[str]) -> LiveCatalog:
        """Databases we want or manage (in scope), and all their tables (paged listings).

        The database listing is read once per run (``GetDatabases``) and reused per space.
        """
        glue = self.services.glue()
        live = LiveCatalog(checked=set(wanted))
        with self._db_lock:
            if self._databases is None:
                self._databases = [dict(db) for db in glue.iter_databases()]
            databases = list(self._databases)
        for db in databases:
            # Only the databases these rules map the spaces to: a managed database under
            # another name belongs to another environment (prefix) or naming scheme, and
            # is never judged from here.
            if db["Name"] in wanted:
                live.databases[db["Name"]] = db
        for name in sorted(live.databases):
            live.tables[name] = {t["Name"]: dict(t) for t in glue.iter_tables(name)}
        return live

    def policy(self) -> PlanPolicy:
        sync = self.settings.sync
        unmanaged = self.services.rules().unmanaged
        return PlanPolicy(
            deletion_policy=sync.deletion_policy,
            max_delete_share=sync.max_delete_share,
            unmanaged_policy=unmanaged.policy or sync.unmanaged_policy,
            adopt=frozenset(unmanaged.adopt),
        )

    def plan(
        self,
        *,
        spaces: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        priority: Priority | None = None,
        incremental: bool = True,
        live_ahead: Future[LiveCatalog] | None = None,
    ) -> PlanOutcome:
        """Extract, map, read the live catalog and decide. Writes nothing anywhere.

        Incremental (the default once a sync has run): every object is read with the ETag of
        the version last synced; ``304`` means unchanged, and an unchanged object is neither
        re-read, nor mapped, nor planned — unless its Glue table was edited or removed out of
        band, in which case its cached version is re-planned. Flows and name collisions need
        context: flows come from the cache, other unchanged assets stand in as name stubs.
        """
        etags = self._known_etags() if incremental else {}
        ds_before = _datasphere_calls(self.services.datasphere_client())
        rules = self.services.rules()
        phases: dict[str, float] = {}
        mark = time.monotonic()
        extraction = self.extract(spaces=spaces, kinds=kinds, etags=etags)
        phases["extract"] = time.monotonic() - mark
        fetched: list[Asset] = list(extraction.assets)
        unchanged: dict[str, Any] = dict(extraction.unchanged)
        etags_read = dict(extraction.etags)
        refresh_failed: dict[str, str] = {}
        if unchanged and fetched:
            # Analytic models take their column types from their sources: an unchanged model
            # over a changed source is re-read and re-resolved against it.
            refreshed, refresh_failed = self._refresh_dependent_models(fetched, unchanged)
            for asset, etag in refreshed:
                fetched.append(asset)
                unchanged.pop(asset.key, None)
                if etag:
                    etags_read[asset.key] = etag
        summary = _summarise_extraction(extraction)
        summary.assets += len(unchanged)
        # Every asset written here belongs to a space of this run: an object listed by a
        # consumer space but owned by another is synced by its owner (or is a lineage node).
        group = set(spaces) if spaces else {sp.name for sp in extraction.spaces}
        shared: dict[str, str] = dict(_extraction_field(extraction, "shared", {}))
        for asset in [a for a in fetched if a.space not in group]:
            shared.setdefault(asset.key, f"owned by space {asset.space}, outside this run's scope")
        fetched = [a for a in fetched if a.space in group]
        incomplete: dict[str, str] = dict(_extraction_field(extraction, "incomplete", {}))
        for key, why in refresh_failed.items():
            incomplete.setdefault(key, why)
        summary.incomplete = incomplete
        scope = list(spaces) if spaces else None
        if extraction.skipped_spaces:
            # A space we could not read is not judged: its tables are neither orphans nor
            # deletable (403 today does not mean "gone").
            all_spaces = scope if scope is not None else [sp.name for sp in extraction.spaces]
            scope = [sp for sp in all_spaces if sp not in extraction.skipped_spaces]

        # Live catalog first: it tells which unchanged assets were edited out of band.
        self.progress("read_live", 0, None)
        context: dict[str, Asset] = {}
        if unchanged:
            context = self._load_cached([k for k, kind in unchanged.items() if AssetKind(kind).is_flow])
        stubs = [
            Asset(space=k.split(".", 1)[0], name=k.split(".", 1)[1], kind=AssetKind(kind))
            for k, kind in unchanged.items()
            if k not in context
        ]
        mark = time.monotonic()
        if live_ahead is not None:
            live = live_ahead.result()
        else:
            wanted = {rules.database_name(sp, self.settings.env) for sp in sorted(group)}
            live = self.read_live(wanted)
        phases["read_live_wait"] = time.monotonic() - mark
        mark = time.monotonic()
        verified: dict[str, str] = {}
        replan = self._drifted(unchanged, live, verified) if unchanged else set()
        replan |= self._flow_targets(fetched, unchanged)
        phases["drift"] = time.monotonic() - mark
        if replan:
            context.update(self._load_cached(sorted(replan)))
            stubs = [a for a in stubs if a.key not in replan]
        self.progress("map", 0, len(fetched) + len(replan))
        assets = [*fetched, *context.values()]
        mark = time.monotonic()
        full = self.map([*assets, *stubs], [sp for sp in extraction.spaces if sp.name in group])
        phases["map"] = time.monotonic() - mark
        planned_keys = {a.key for a in fetched} | (replan & set(context))
        mapping = full.model_copy(
            update={
                "tables": [t for t in full.tables if str(t.source) in planned_keys],
                "issues": [i for i in full.issues if i.asset is None or i.asset in planned_keys],
                "databases": [d for d in full.databases if d.source_space in group],
            }
        )
        # The planner reads what it may write: every database of this plan is listed live.
        needed = {d.name for d in mapping.databases} | {t.database for t in mapping.tables}
        if needed - live.checked:
            live.merge(self.read_live(needed - live.checked))
        known = set(unchanged) - planned_keys
        present = known | set(incomplete) | {
            f"{e.space}.{e.name}" for e in extraction.errors.values() if e.space and e.name
        }
        listed_kinds, listed_counts = _listing_evidence(extraction, fetched, unchanged)
        mark = time.monotonic()
        plan = build_plan(
            mapping=mapping,
            live=live,
            policy=self.policy(),
            scope_spaces=scope,
            scope_priority=priority,
            scope_kinds=list(kinds) if kinds else None,
            extraction_errors=len(summary.errors),
            assets_found=len(fetched) + len(unchanged) + len(incomplete),
            known_sources=present,
            listed_kinds=listed_kinds,
            listed_counts=listed_counts,
            approved_deletions=self._approved_deletions(),
        )
        plan.shared = dict(sorted(shared.items()))
        plan.not_offered = list(summary.not_offered)
        for key, why in sorted(incomplete.items()):
            plan.skipped_assets.setdefault(key, f"kept as is: {why}")
        self._attach_impact(plan, assets)
        phases["plan"] = time.monotonic() - mark
        log.debug(
            "space planned",
            extra={"spaces": list(spaces or []), **{f"{k}_s": round(v, 3) for k, v in phases.items()}},
        )
        client = self.services.datasphere_client()
        return PlanOutcome(
            plan=plan,
            mapping=mapping,
            assets=fetched + [context[k] for k in sorted(replan) if k in context],
            extraction=summary,
            datasphere_calls=_diff_calls(_datasphere_calls(client), ds_before),
            etags=etags_read,
            unchanged=len(known),
            verified_versions={k: v for k, v in verified.items() if k in known},
        )

    # -- incremental helpers --------------------------------------------------------------
    def _store_if_present(self) -> Any:
        """The store, or ``None`` when it was never created (a plan must not create it)."""
        url = self.settings.database_url
        if url.startswith("sqlite:///"):
            from pathlib import Path

            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:" and not Path(path).exists():
                return None
        try:
            return self.services.store()
        except DgsyncError:
            return None

    def _known_etags(self) -> dict[str, str]:
        with self._db_lock:
            if self._etags is None:
                self._etags = self._read_known_etags()
            return self._etags

    def _read_known_etags(self) -> dict[str, str]:
        from core.store import repo
        from core.store.cache import cached_etags

        store = self._store_if_present()
        if store is None:
            return {}
        with store.session(readonly=True) as session:
            etags = cached_etags(session=session, env=self.settings.env)
            states = repo.get_asset_states(session=session, env=self.settings.env)
        # Only what was synced cleanly may be skipped; failures and conflicts are re-read.
        bad = {k for k, st in states.items() if st.status.value not in ("synced", "skipped")}
        return {k: v for k, v in etags.items() if k not in bad}

    def _approved_deletions(self) -> set[str]:
        """``database.table`` deletions an operator approved (``dgsync deletions approve``)."""
        from core.store.deletions import approved_objects

        store = self._store_if_present()
        if store is None:
            return set()
        with store.session(readonly=True) as session:
            return approved_objects(session=session, env=self.settings.env)

    def _lineage(self, store: Any) -> dict[str, set[str]]:
        """The stored lineage graph as of the start of the run (read once per run)."""
        from core.store import repo

        with self._db_lock:
            if self._graph is None:
                with store.session(readonly=True) as session:
                    self._graph = repo.lineage_graph(session=session)
            return self._graph

    def _load_cached(self, keys: Sequence[str]) -> dict[str, Asset]:
        if not keys:
            return {}
        from core.store.cache import get_cached_assets

        store = self._store_if_present()
        if store is None:
            return {}
        with store.session(readonly=True) as session:
            return get_cached_assets(session=session, env=self.settings.env, keys=keys)

    def _drifted(
        self, unchanged: dict[str, Any], live: LiveCatalog, verified: dict[str, str]
    ) -> set[str]:
        """Unchanged assets whose Glue table was edited or removed outside dgsync.

        A table whose ``VersionId`` is the one verified by an earlier run is unchanged since
        (every ``UpdateTable`` moves it): no need to hash it again. Tables hashed clean now
        are added to ``verified`` (stored by a sync, never by a plan).
        """
        from core.store import repo

        store = self._store_if_present()
        if store is None:
            return set()
        with store.session(readonly=True) as session:
            states = repo.get_asset_states(session=session, env=self.settings.env, keys=list(unchanged))
        out: set[str] = set()
        for key, st in states.items():
            if not st.glue_database or not st.glue_table or st.status.value != "synced":
                continue
            table = live.table(st.glue_database, st.glue_table)
            if table is None:
                out.add(key)
                continue
            version = table.get("VersionId")
            if version is not None and version == st.glue_version_id:
                continue
            params = table.get("Parameters") or {}
            if params.get(TARGET_HASH) != table_input_hash(table):
                out.add(key)
            elif version is not None:
                verified[key] = str(version)
        return out

    def _refresh_dependent_models(
        self, fetched: Sequence[Asset], unchanged: dict[str, Any]
    ) -> tuple[list[tuple[Asset, str | None]], dict[str, str]]:
        """Unchanged analytic models over a changed source, re-read and re-typed; and the
        models that could not be (key → why): those stay as they are this run."""
        from core.datasphere.client import NOT_MODIFIED

        models = [k for k, kind in unchanged.items() if AssetKind(kind) is AssetKind.ANALYTIC_MODEL]
        store = self._store_if_present()
        if not models or store is None:
            return [], {}
        graph = self._lineage(store)
        changed = {a.key for a in fetched}
        wanted = sorted(k for k in models if any(k in graph.get(c, ()) for c in changed))
        if not wanted:
            return [], {}
        extractor = self.services.extractor()
        sources = {up for up, downs in graph.items() if any(k in downs for k in wanted)}
        cached = self._load_cached(sorted(sources - changed))
        known = {a.ref: a for a in [*cached.values(), *fetched]}
        out: list[tuple[Asset, str | None]] = []
        failed: dict[str, str] = {}
        for key in wanted:
            space, _, name = key.partition(".")
            try:
                got = extractor.fetch_asset(space, AssetKind.ANALYTIC_MODEL, name, None, known=known)
            except AuthError:
                raise
            except DgsyncError as exc:
                # Never written degraded: the model keeps its table until it can be re-typed.
                failed[key] = f"re-typing over a changed source failed: {exc.message}"
                continue
            if got.value is not NOT_MODIFIED and isinstance(got.value, list):
                out.extend((a, got.etag) for a in got.value)
        return out, failed

    @staticmethod
    def _flow_targets(fetched: Sequence[Asset], unchanged: dict[str, Any]) -> set[str]:
        """Unchanged tables written by a changed flow: their lineage Parameters change."""
        out: set[str] = set()
        for asset in fetched:
            if asset.flow is not None:
                out.update(str(t) for t in asset.flow.targets if str(t) in unchanged)
        return out

    def _attach_impact(self, plan: Plan, assets: Sequence[Asset]) -> None:
        """Downstream assets of every change: from this run's assets and stored lineage."""
        from core.mapping.mapper import impact

        # Impact matters for changes to what exists (a new table has no consumers yet).
        changes = (Action.UPDATE, Action.DEPRECATE, Action.DELETE)
        writes = [i for i in plan.items if i.action in changes and i.asset]
        for item in plan.items:
            item.impact = []
        if not writes:
            return
        changed = {i.asset for i in writes if i.asset}
        local = impact(changed, assets) if assets else {}
        stored: dict[str, set[str]] = {}
        store = self._store_if_present()
        if store is not None:
            from core.store import repo

            graph = self._lineage(store)
            for key in changed:
                seen: set[str] = set()
                stack = list(graph.get(key, ()))
                while stack:
                    node = stack.pop()
                    if node not in seen and node != key:
                        seen.add(node)
                        stack.extend(graph.get(node, ()))
                stored[key] = seen
        tables: dict[str, str] = {}
        every = set().union(*local.values(), *stored.values()) if (local or stored) else set()
        if store is not None and every:
            from core.store import repo

            with store.session(readonly=True) as session:
                states = repo.get_asset_states(session=session, env=self.settings.env, keys=every)
            tables = {
                k: f"{st.glue_database}.{st.glue_table}"
                for k, st in states.items()
                if st.glue_database and st.glue_table
            }
        for item in writes:
            key = item.asset or ""
            item.impact = sorted(set(local.get(key, [])) | stored.get(key, set()))
            item.impact_tables = sorted({tables[k] for k in item.impact if k in tables})

    def _space_groups(self, spaces: Sequence[str] | None) -> list[list[str]]:
        """The spaces a run covers, one group each (processed and committed space by space)."""
        chosen = list(spaces) if spaces else list(self.settings.datasphere.spaces)
        if not chosen:
            chosen = sorted(self.services.extractor().known_spaces())
        return [[sp] for sp in chosen]

    def outcomes(
        self,
        *,
        spaces: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        priority: Priority | None = None,
    ) -> Iterator[PlanOutcome]:
        """Plan space by space, up to :data:`PREFETCH_SPACES` ahead of the caller applying them
        (bounded memory; extraction, Glue listings and writes of different spaces overlap)."""
        from core.log import copy_context

        groups = self._space_groups(spaces)
        self._databases = None  # fresh listings for every run
        self._etags = None
        self._graph = None
        if not groups:
            return
        depth = PREFETCH_SPACES
        rules = self.services.rules()
        live_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dgsync-live")
        lives: dict[int, Future[LiveCatalog]] = {}

        def read_live_ahead(index: int) -> None:
            # The Glue listing runs its own pipeline, LIVE_AHEAD spaces ahead at most.
            if index < len(groups) and index not in lives:
                wanted = {rules.database_name(sp, self.settings.env) for sp in groups[index]}
                lives[index] = live_pool.submit(copy_context(), self.read_live, wanted)

        for index in range(min(LIVE_AHEAD, len(groups))):
            read_live_ahead(index)
        try:
            with ThreadPoolExecutor(max_workers=depth, thread_name_prefix="dgsync-prefetch") as pool:

                def submit(index: int) -> Future[PlanOutcome]:
                    read_live_ahead(index)
                    return pool.submit(
                        copy_context(), self.plan, spaces=groups[index], kinds=kinds,
                        priority=priority, live_ahead=lives[index],
                    )

                pending = [submit(i) for i in range(min(depth, len(groups)))]
                next_index = len(pending)
                done = 0
                while pending:
                    outcome = pending.pop(0).result()
                    lives.pop(done, None)
                    done += 1
                    read_live_ahead(done + LIVE_AHEAD - 1)
                    if next_index < len(groups) and not self._stop.is_set():
                        pending.append(submit(next_index))
                        next_index += 1
                    yield outcome
                    if self._stop.is_set():
                        for future in pending:
                            future.cancel()
                        return
        finally:
            live_pool.shutdown(wait=False, cancel_futures=True)

    def dry_run(
        self,
        *,
        spaces: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        priority: Priority | None = None,
    ) -> SyncReport:
        started = datetime.now(UTC)
        t0 = time.monotonic()
        glue_before = self.services.glue().stats.snapshot()
        outcome = _merge_outcomes(list(self.outcomes(spaces=spaces, kinds=kinds, priority=priority)))
        items = [_as_result(i, "done") for i in outcome.plan.items]
        glue_stats = self.services.glue().stats.snapshot()
        counts = count_items(items)
        counts["unchanged"] += outcome.unchanged
        return SyncReport(
            dry_run=True,
            status="planned",
            started_at=started,
            duration_s=round(time.monotonic() - t0, 3),
            counts=counts,
            items=items,
            api_calls={
                "glue": _diff_calls(_glue_calls(glue_stats), _glue_calls(glue_before)),
                "datasphere": outcome.datasphere_calls,
            },
            glue_writes=glue_stats.writes - glue_before.writes,
            extraction=outcome.extraction,
            failsafe=outcome.plan.failsafe,
            plan=outcome.plan,
        )

    # -- sync ---------------------------------------------------------------------------
    def sync(
        self,
        *,
        spaces: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        resume: bool = False,
        trigger: str = "cli",
        slice_key: str | None = None,
        priority: Priority | None = None,
    ) -> SyncReport:
        """Apply the plan; every object is checkpointed with its audit record."""
        from core.store import repo
        from core.store.schemas import RunIn, RunScope

        store = self.services.store()
        env = self.settings.env
        resumed_from: str | None = None
        with store.session() as session:
            repo.mark_stale_runs_interrupted(session=session, stale_after_s=self.settings.schedule.lease_ttl_s)
            if resume:
                previous = repo.latest_interrupted_run(session=session, env=env, slice_key=slice_key)
                resumed_from = previous.id if previous else None
            run = repo.start_run(
                session=session,
                run=RunIn(
                    env=env,
                    kind="resume" if resumed_from else "sync",
                    trigger=trigger,
                    scope=RunScope(
                        spaces=list(spaces or []),
                        kinds=list(kinds or []),
                        priority=priority.value if priority else None,
                    ),
                    slice_key=slice_key,
                    resumed_from=resumed_from,
                ),
            )
        run_id = run.id
        with bind_run(run_id):
            return self._sync_run(run_id, spaces, kinds, resumed_from, priority)

    def _sync_run(
        self,
        run_id: str,
        spaces: Sequence[str] | None,
        kinds: Sequence[str] | None,
        resumed_from: str | None,
        priority: Priority | None = None,
    ) -> SyncReport:
        from core.store import repo
        from core.store.schemas import RunCounts, RunError, RunResult, RunStatus

        store = self.services.store()
        started = datetime.now(UTC)
        t0 = time.monotonic()
        glue = self.services.glue()
        glue_before = glue.stats.snapshot()
        results: list[ItemResult] = []
        outcome: PlanOutcome | None = None
        status = RunStatus.FAILED
        fatal: DgsyncError | None = None
        try:
            parts: list[PlanOutcome] = []
            for part in self.outcomes(spaces=spaces, kinds=kinds, priority=priority):
                results.extend(self._apply(run_id, part))
                # Keep the summaries, not the specs: memory stays bounded by one space.
                parts.append(part.model_copy(update={"assets": [], "mapping": MappingResult(),
                                                     "plan": part.plan.model_copy(update={"items": []})}))
                self._heartbeat(run_id, results)
            outcome = _merge_outcomes(parts)
            failed = sum(1 for r in results if r.status == "failed")
            if self._stop.is_set():
                status = RunStatus.ABORTED
            elif not_in_sync(results, outcome.extraction):
                status = RunStatus.PARTIAL if len(results) > failed else RunStatus.FAILED
            else:
                status = RunStatus.SUCCEEDED
        except DgsyncError as exc:
            fatal = exc
            status = RunStatus.FAILED
            log.error("sync failed", extra={"error": exc.message, "hint": exc.hint})
        glue_after = glue.stats.snapshot()
        glue_calls = _diff_calls(_glue_calls(glue_after), _glue_calls(glue_before))
        ds_calls = outcome.datasphere_calls if outcome else {}
        counts = count_items(results)
        if outcome is not None:
            counts["unchanged"] += outcome.unchanged
        errors = [
            RunError(object=r.object, code="item_failed", message=r.error or "", hint=r.hint)
            for r in results
            if r.status == "failed"
        ]
        errors.extend(
            RunError(object=r.object, code=f"conflict_{r.conflict or 'unresolved'}", message=r.reason or "",
                     hint=_CONFLICT_HINTS.get(r.conflict or "", "Resolve the conflict in Glue, then sync again."))
            for r in results
            if r.status != "failed" and r.action is Action.CONFLICT
        )
        errors.extend(
            RunError(object=r.object, code="deletion_held", message=r.reason or "",
                     hint="Review with `dgsync deletions pending`; confirm with `dgsync deletions approve`.")
            for r in results
            if r.status != "failed" and r.hold
        )
        if outcome:
            errors.extend(
                RunError(object=e.get("asset"), code=e.get("code", "extraction_error"), message=e.get("message", ""), hint=e.get("hint"))
                for e in outcome.extraction.errors
            )
            errors.extend(
                RunError(object=space, code="space_skipped", message=reason, hint="Add the technical user to the space, or exclude it.")
                for space, reason in outcome.extraction.skipped_spaces.items()
            )
            errors.extend(
                RunError(object=key, code="asset_incomplete", message=why,
                         hint="The table was kept as it is; the next run retries once the input is readable.")
                for key, why in outcome.extraction.incomplete.items()
            )
        if fatal:
            errors.append(RunError(object=None, code=fatal.code, message=fatal.message, hint=fatal.hint))
        retries = glue_after.retries - glue_before.retries
        throttles = glue_after.throttles - glue_before.throttles
        rejected = _diff_rejected(glue_after.rejected, glue_before.rejected)
        reasons = not_in_sync(results, outcome.extraction) if outcome else []
        if fatal:
            reasons.append(f"{fatal.code}: {fatal.message}")
        with store.session() as session:
            repo.finish_run(
                session=session,
                run_id=run_id,
                result=RunResult(
                    status=status,
                    counts=RunCounts(**stored_counts(counts)),
                    assets_total=outcome.extraction.assets if outcome else 0,
                    api_calls={
                        "glue": glue_calls,
                        "datasphere": ds_calls,
                        "glue_rejected": _flatten_rejected(rejected),
                    },
                    retries=retries,
                    throttles=throttles,
                    errors=errors,
                    summary=_summary_line(counts, reasons),
                ),
            )
        report = SyncReport(
            run_id=run_id,
            dry_run=False,
            status=status.value,
            started_at=started,
            duration_s=round(time.monotonic() - t0, 3),
            counts=counts,
            items=results,
            api_calls={"glue": glue_calls, "datasphere": ds_calls},
            glue_writes=glue_after.writes - glue_before.writes,
            retries=retries,
            throttles=throttles,
            extraction=outcome.extraction if outcome else ExtractionSummary(),
            failsafe=outcome.plan.failsafe if outcome else None,
            plan=outcome.plan if outcome else None,
            resumed_from=resumed_from,
            rejected=rejected,
            not_in_sync=reasons,
        )
        if fatal is not None and outcome is None:
            raise fatal
        return report

    def _apply(self, run_id: str, outcome: PlanOutcome) -> list[ItemResult]:
        self._run_assets = {a.key: a for a in outcome.assets}
        self._run_etags = dict(outcome.etags)
        plan = outcome.plan
        specs = {(t.database, t.name): t for t in outcome.mapping.tables}
        db_specs = {d.name: d for d in outcome.mapping.databases}
        db_items = [i for i in plan.items if i.object_type == "database"]
        table_items = [i for i in plan.items if i.object_type == "table"]
        results: list[ItemResult] = []
        total = len(plan.items)
        done = 0
        for item in db_items:
            results.append(self._apply_database(run_id, item, db_specs.get(item.database)))
            done += 1
            self.progress("apply", done, total)
        lock = threading.Lock()

        def work(item: PlanItem) -> ItemResult:
            nonlocal done
            if self._stop.is_set():
                raise SyncAborted("stopped before this object")
            spec = specs.get((item.database, item.name or ""))
            result = self._apply_table(run_id, item, spec)
            with lock:
                done += 1
                self.progress("apply", done, total)
            return result

        # Writes in priority order, bounded parallelism on the Glue side.
        workers = max(1, self.settings.glue.concurrency)
        writes = [i for i in table_items if i.action.writes]
        others = [i for i in table_items if not i.action.writes]
        for item in others:
            results.append(work(item))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dgsync-apply") as pool:
            from core.log import copy_context

            futures = [pool.submit(copy_context(), work, item) for item in writes]
            for future in futures:
                try:
                    results.append(future.result())
                except SyncAborted:
                    continue
        if outcome.verified_versions:
            from core.store import repo

            with self.services.store().session() as session:
                repo.set_glue_versions(
                    session=session, env=self.settings.env, versions=outcome.verified_versions
                )
        self._record_holds(run_id, outcome, results)
        if not self._stop.is_set():
            # Assets with a table outside this run's scope (another priority slice) are left
            # uncached: their slice must still see them as changed.
            tabled = {str(t.source) for t in outcome.mapping.tables}
            self._cache_untabled(run_id, {i.asset for i in table_items if i.asset} | tabled)
        return results

    def _record_holds(self, run_id: str, outcome: PlanOutcome, results: Sequence[ItemResult]) -> None:
        """Held deletions go to the store (pending); approved ones that ran are applied;
        holds this run no longer needs (the source came back) are cancelled."""
        from core.store import deletions

        held = [i for i in outcome.plan.items if i.hold]
        applied = [
            r.object for r in results
            if r.status == "done" and r.action in (Action.DELETE, Action.DEPRECATE)
        ]
        wanted = {
            i.object for i in outcome.plan.items
            if i.object_type == "table" and i.action in (Action.CREATE, Action.UPDATE, Action.NOOP)
            and not i.hold
        }
        env = self.settings.env
        with self.services.store().session() as session:
            for item in held:
                deletions.hold(
                    session=session, env=env, object=item.object, asset=item.asset,
                    kind=item.source_kind,
                    action="deprecate" if self.settings.sync.deletion_policy == "deprecate" else "delete",
                    reason=item.reason, run_id=run_id,
                )
            for obj in applied:
                deletions.mark_applied(session=session, env=env, object=obj)
            deletions.cancel_resolved(session=session, env=env, objects=wanted)

    def _cache_untabled(self, run_id: str, planned: set[str]) -> None:
        """Remember fetched assets that have no table of their own (flows, excluded assets),
        so that the next run reads them conditionally too; record their lineage."""
        from core.store import repo
        from core.store.cache import put_cached_asset

        rest = [a for k, a in self._run_assets.items() if k not in planned]
        if not rest:
            return
        with self.services.store().session() as session:
            for asset in rest:
                put_cached_asset(
                    session=session, env=self.settings.env, asset=asset,
                    etag=self._run_etags.get(asset.key),
                )
                repo.replace_lineage(
                    session=session, downstream=asset.key, edges=_lineage_of(asset), run_id=run_id
                )

    def _heartbeat(self, run_id: str, results: Sequence[ItemResult]) -> None:
        from core.store import repo
        from core.store.schemas import RunCounts

        with self.services.store().session() as session:
            repo.heartbeat_run(session=session, run_id=run_id, counts=RunCounts(**stored_counts(count_items(results))))

    # -- one object ---------------------------------------------------------------------
    def _apply_database(self, run_id: str, item: PlanItem, spec: DatabaseSpec | None) -> ItemResult:
        from core.store.schemas import AuditIn

        glue = self.services.glue()
        if item.action in (Action.CREATE, Action.UPDATE) and spec is not None:
            payload = item.payload or {}
            target = DatabaseSpec(
                name=spec.name,
                description=payload.get("Description"),
                parameters=payload.get("Parameters") or {},
                tags=spec.tags,
                source_space=spec.source_space,
            )
            try:
                if item.action is Action.CREATE:
                    glue.create_database(target)
                else:
                    glue.update_database(target)
            except AlreadyExists as exc:
                # Glue rejected the create: someone created it since the listing was read
                # (e.g. the run of another priority slice; databases are shared). A race,
                # recovered if the database is ours — reported as such, never as "unchanged".
                live = glue.get_database(spec.name)
                if live is None or (live.get("Parameters") or {}).get(MANAGED_BY) != MANAGED_BY_VALUE:
                    return _as_result(item, "failed", exc)
                return _as_result(
                    item.model_copy(update={
                        "action": Action.NOOP,
                        "reason": "CreateDatabase rejected (AlreadyExistsException): created "
                        "meanwhile by another dgsync writer; recovered",
                    }),
                    RECOVERED,
                )
            except DgsyncError as exc:
                return _as_result(item, "failed", exc)
            with self.services.store().session() as session:
                from core.store import repo

                repo.record_audit(
                    session=session,
                    entry=AuditIn(
                        actor=self.settings.sync.actor,
                        run_id=run_id,
                        system="glue",
                        object=item.object,
                        action=f"{item.action.value}_database",
                        after_hash=table_input_hash(target.to_database_input()),
                        details={"reason": item.reason},
                    ),
                )
        return _as_result(item, "done")

    def _apply_table(
        self, run_id: str, item: PlanItem, spec: TableSpec | None
    ) -> ItemResult:
        if not item.action.writes:  # noop, skip, conflict: recorded, nothing sent
            self._checkpoint(run_id, item, spec, "done", write=False)
            return _as_result(item, "done")
        try:
            self._write(run_id, item, spec)
        except (ConcurrentModification, AlreadyExists) as race:
            # Another writer got there first: re-read, re-plan, retry once.
            what = "AlreadyExistsException" if isinstance(race, AlreadyExists) else "ConcurrentModificationException"
            retried = self._replan_and_retry(run_id, item, spec)
            if retried is not None:
                if retried.status == "done":
                    retried.status = RECOVERED
                    retried.reason = f"{item.action.value} rejected ({what}): another writer changed it; re-read and re-planned: {retried.reason}"
                return retried
            item = item.model_copy(update={"action": Action.CONFLICT, "conflict": "concurrent_modification",
                                           "reason": f"changed concurrently twice ({what}); not written"})
            error = ConcurrentModification(
                f"{item.object}: {what} twice; the table was not written",
                hint=_CONFLICT_HINTS["concurrent_modification"],
            )
            self._checkpoint(run_id, item, spec, "failed", write=False, error=error)
            return _as_result(item, "failed", error)
        except DgsyncError as exc:
            self._checkpoint(run_id, item, spec, "failed", write=False, error=exc)
            return _as_result(item, "failed", exc)
        self._checkpoint(run_id, item, spec, "done", write=True)
        return _as_result(item, "done")

    def _write(self, run_id: str, item: PlanItem, spec: TableSpec | None) -> None:
        glue = self.services.glue()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        if item.action in (Action.CREATE, Action.UPDATE):
            payload = dict(item.payload or {})
            params = dict(payload.get("Parameters") or {})
            params[RUN_ID] = run_id
            params[TARGET_HASH] = item.desired_hash or table_input_hash(payload)
            params[SYNCED_AT] = now
            payload["Parameters"] = dict(sorted(params.items()))
            if item.action is Action.CREATE:
                glue.create_table(item.database, payload)
            else:
                glue.update_table(
                    item.database,
                    payload,
                    version_id=item.live_version_id,
                    skip_archive=self.settings.glue.skip_archive,
                )
        elif item.action is Action.DEPRECATE:
            live = glue.get_table(item.database, item.name or "")
            if live is None:
                return
            body = deprecated_input(dict(live), now=now)
            body["Parameters"][RUN_ID] = run_id
            glue.update_table(item.database, body, version_id=live.get("VersionId"), skip_archive=self.settings.glue.skip_archive)
        elif item.action is Action.DELETE:
            errors = glue.batch_delete_tables(item.database, [item.name or ""])
            if errors:
                err = next(iter(errors.values()))
                if err.code != "EntityNotFoundException":
                    raise DgsyncError(f"could not delete {item.object}: {err.code} {err.message}")

    def _replan_and_retry(self, run_id: str, item: PlanItem, spec: TableSpec | None) -> ItemResult | None:
        """Re-read the table, re-plan that one object and retry once."""
        if spec is None:
            return None
        glue = self.services.glue()
        live = glue.get_table(item.database, item.name or "")
        fresh = plan_table(spec, dict(live) if live else None, self.policy())
        if not fresh.action.writes:
            self._checkpoint(run_id, fresh, spec, "done", write=False)
            return _as_result(fresh, "done")
        try:
            self._write(run_id, fresh, spec)
        except (ConcurrentModification, AlreadyExists):
            return None
        except DgsyncError as exc:
            self._checkpoint(run_id, fresh, spec, "failed", write=False, error=exc)
            return _as_result(fresh, "failed", exc)
        self._checkpoint(run_id, fresh, spec, "done", write=True)
        return _as_result(fresh, "done")

    def _checkpoint(
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
        from core.store.schemas import AssetStateIn, AuditIn, ConflictIn, ItemAction, ItemStatus

        asset_key = item.asset or item.object
        space, _, name = asset_key.partition(".")
        now = datetime.now(UTC)
        audit = None
        if write:
            audit = AuditIn(
                actor=self.settings.sync.actor,
                run_id=run_id,
                system="glue",
                object=item.object,
                action=item.action.value,
                before_hash=item.live_hash,
                after_hash=item.desired_hash,
                details={
                    "asset": asset_key,
                    "reason": item.reason,
                    "diffs": [d.model_dump(mode="json") for d in item.diffs[:50]],
                },
            )
        state = None
        if spec is not None and name:
            asset_status = {
                Action.CREATE: "synced",
                Action.UPDATE: "synced",
                Action.NOOP: "synced",
                Action.CONFLICT: "conflict",
                Action.SKIP: "skipped",
            }.get(item.action, "synced")
            fields: dict[str, Any] = {
                "env": self.settings.env,
                "space": space,
                "name": name,
                "kind": str(spec.parameters.get("dgsync.source_kind", "")),
                "status": "failed" if status == "failed" else asset_status,
                "priority": spec.priority.value,
                "source_fingerprint": spec.source_fingerprint,
                "glue_database": item.database,
                "glue_table": item.name,
                "last_run_id": run_id,
            }
            if status == "failed":
                fields["last_error"] = error.message if error else None
            else:
                fields["last_synced_at"] = now
                fields["last_error"] = None
                if item.desired_hash and item.action in (Action.CREATE, Action.UPDATE, Action.NOOP):
                    fields["target_hash"] = item.desired_hash
                asset = self._run_assets.get(asset_key)
                if asset is not None:
                    fields["source_hash"] = asset.source_hash or None
                    fields["source_etag"] = self._run_etags.get(asset_key)
            state = AssetStateIn(**fields)
        elif item.action in (Action.DEPRECATE, Action.DELETE) and name:
            state = AssetStateIn(
                env=self.settings.env, space=space, name=name, kind="",
                status="deprecated" if item.action is Action.DEPRECATE else "deleted",
                deprecated_at=now if item.action is Action.DEPRECATE else None,
                last_run_id=run_id,
            )
        with self.services.store().session() as session:
            repo.record_item(
                session=session,
                run_id=run_id,
                asset_key=asset_key,
                action=ItemAction("fail" if status == "failed" else item.action.value),
                status=ItemStatus(status),
                detail={"object": item.object, "reason": item.reason},
                error=error.message if error else None,
                hint=error.hint if error else None,
                audit=audit,
                state=state,
            )
            asset = self._run_assets.get(asset_key)
            if asset is not None and status == "done" and item.action is not Action.CONFLICT:
                from core.store.cache import put_cached_asset

                put_cached_asset(
                    session=session, env=self.settings.env, asset=asset,
                    etag=self._run_etags.get(asset_key),
                )
                repo.replace_lineage(
                    session=session, downstream=asset_key, edges=_lineage_of(asset), run_id=run_id
                )
            if item.conflict:
                repo.record_conflict(
                    session=session,
                    conflict=ConflictIn(
                        run_id=run_id,
                        object=item.object,
                        asset_key=asset_key,
                        kind=item.conflict,
                        detail={"reason": item.reason, "diffs": [d.model_dump(mode="json") for d in item.diffs[:50]]},
                        resolution={
                            "unmanaged": "adopted" if item.action is Action.UPDATE else "skipped_and_flagged",
                            "naming": "skipped_and_flagged",
                            "out_of_band_edit": "source_wins_schema_business_merged",
                            "concurrent_modification": "flagged_after_retry",
                        }.get(item.conflict, "flagged"),
                    ),
                )


def _merge_outcomes(parts: Sequence[PlanOutcome]) -> PlanOutcome:
    """One outcome from the per-space ones (plans concatenated, summaries added up)."""
    if len(parts) == 1:
        return parts[0]
    summary = ExtractionSummary()
    calls: dict[str, int] = {}
    items: list[PlanItem] = []
    issues = []
    skipped: dict[str, str] = {}
    failsafes = []
    for part in parts:
        summary.assets += part.extraction.assets
        summary.spaces.extend(part.extraction.spaces)
        summary.skipped_spaces.update(part.extraction.skipped_spaces)
        summary.errors.extend(part.extraction.errors)
        for route, n in part.datasphere_calls.items():
            calls[route] = calls.get(route, 0) + n
        items.extend(part.plan.items)
        issues.extend(part.plan.issues)
        skipped.update(part.plan.skipped_assets)
        if part.plan.failsafe:
            failsafes.append(part.plan.failsafe)
    shared: dict[str, str] = {}
    not_offered: set[str] = set()
    for part in parts:
        summary.incomplete.update(part.extraction.incomplete)
        not_offered.update(part.extraction.not_offered)
        shared.update(part.plan.shared)
    summary.not_offered = sorted(not_offered)
    plan = Plan(items=items, issues=issues, skipped_assets=skipped,
                failsafe="; ".join(failsafes) or None, shared=dict(sorted(shared.items())),
                not_offered=sorted(not_offered))
    return PlanOutcome(
        plan=plan,
        mapping=MappingResult(),
        assets=[],
        extraction=summary,
        datasphere_calls=calls,
        unchanged=sum(p.unchanged for p in parts),
    )


#: Dependencies that are not data flow: relationships, and a flow's own targets.
_NOT_DATA_FLOW = frozenset({DependencyKind.ASSOCIATION, DependencyKind.MIXIN, DependencyKind.FLOW_TARGET})


def _lineage_of(asset: Asset) -> list[Any]:
    """The asset's upstream data-flow edges as store rows (flows: sources → flow → targets).
    Associations and mixins are relationships, not lineage."""
    from core.store.schemas import LineageEdgeIn

    edges = [
        LineageEdgeIn(upstream=str(dep.ref), downstream=asset.key, kind=dep.kind.value)
        for dep in asset.upstream
        if dep.kind not in _NOT_DATA_FLOW
    ]
    return edges


def _extraction_field(extraction: Any, name: str, default: Any) -> Any:
    """A field of the extraction result that older extractors (test doubles) may not have."""
    value = getattr(extraction, name, None)
    return default if value is None else value


def _listing_evidence(
    extraction: ExtractionResult, fetched: Sequence[Asset], unchanged: dict[str, Any]
) -> tuple[dict[str, set[str]] | None, dict[tuple[str, str], int]]:
    """(space → kinds listed completely this run, (space, kind) → objects listed), the
    positive evidence deletions are judged on. ``None`` when the extractor does not say."""
    listings = _extraction_field(extraction, "listings", None)
    if listings is None:
        return None, {}
    not_offered = set(_extraction_field(extraction, "not_offered", []))
    listed = {space: set(kinds) | not_offered for space, kinds in listings.items()}
    counts: dict[tuple[str, str], int] = {}

    def add(space: str, kind: str) -> None:
        counts[(space, kind)] = counts.get((space, kind), 0) + 1

    for asset in fetched:
        add(asset.space, asset.kind.value)
    for key, kind in unchanged.items():
        add(key.split(".", 1)[0], str(AssetKind(kind).value))
    for issue in extraction.errors.values():
        if issue.space and issue.name and issue.kind:
            add(issue.space, issue.kind)
    return listed, counts


def _as_result(item: PlanItem, status: str, error: DgsyncError | None = None) -> ItemResult:
    return ItemResult(
        object=item.object,
        asset=item.asset,
        action=item.action,
        status=status,
        reason=item.reason,
        conflict=item.conflict,
        error=error.message if error else None,
        hint=error.hint if error else None,
        hold=item.hold,
    )


def _summarise_extraction(extraction: ExtractionResult) -> ExtractionSummary:
    errors = [
        {"asset": key, "code": err.code, "message": err.message, "hint": err.hint or ""}
        for key, err in extraction.errors.items()
    ]
    return ExtractionSummary(
        assets=len(extraction.assets),
        spaces=[sp.name for sp in extraction.spaces],
        skipped_spaces=dict(extraction.skipped_spaces),
        errors=errors,
        not_offered=sorted(_extraction_field(extraction, "not_offered", [])),
    )


def _glue_calls(snapshot: Any) -> dict[str, int]:
    return {op: s.calls for op, s in sorted(snapshot.by_operation.items())}


def _diff_calls(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    out = {k: v - before.get(k, 0) for k, v in after.items()}
    return {k: v for k, v in out.items() if v}


def _datasphere_calls(client: Any) -> dict[str, int]:
    """Requests per route template so far (cumulative for the client)."""
    return dict(client.stats.requests_by_route())


def _summary_line(counts: dict[str, int], reasons: Sequence[str] = ()) -> str:
    line = ", ".join(f"{k} {v}" for k, v in counts.items())
    return line + (f" — not in sync: {'; '.join(reasons)}" if reasons else "")


def _diff_rejected(
    after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for op, codes in after.items():
        diff = {c: n - before.get(op, {}).get(c, 0) for c, n in codes.items()}
        diff = {c: n for c, n in diff.items() if n}
        if diff:
            out[op] = diff
    return out


def _flatten_rejected(rejected: dict[str, dict[str, int]]) -> dict[str, int]:
    """``{"CreateTable/AlreadyExistsException": 1}`` (the store keeps flat counters)."""
    return {f"{op}/{code}": n for op, codes in rejected.items() for code, n in codes.items()}


_CONFLICT_HINTS = {
    "unmanaged": "A table dgsync does not manage is in the way: rename or drop it, or adopt it "
    "(rules: unmanaged.adopt).",
    "naming": "Two source assets map to one Glue table name: add a rules override with another name.",
    "concurrent_modification": "Another writer kept changing the table; sync again when it is done.",
}
