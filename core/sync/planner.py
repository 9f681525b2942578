"""Planning one group of spaces: extract → map → read live → decide (writes nothing anywhere).

Incremental (the default once a sync has run): every object is read with the ETag of the
version last synced; ``304`` means unchanged, and an unchanged object is neither re-read, nor
mapped, nor planned — unless its Glue table was edited or removed out of band, in which case
its cached version is re-planned. Flows and name collisions need context: flows come from the
cache, other unchanged assets stand in as name stubs.

The scope rule: every asset planned here belongs to a space of the group. An object listed by
a consumer space but owned by another is synced by its owner (or, if the owner is invisible,
is a lineage node only): it is reported in ``Plan.shared``, never written by the consumer. And
the planner reads what it may write: every database of the plan is listed live first.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.log import get_logger
from core.models import Asset, AssetKind, Priority, Space
from core.specs import MappingResult
from core.sync import incremental
from core.sync.context import RunContext
from core.sync.impact import attach_impact
from core.sync.incremental import StoreView
from core.sync.plan import LiveCatalog, Plan, PlanPolicy, build_plan
from core.sync.report import (
    PlanOutcome,
    datasphere_calls,
    diff_calls,
    summarise_extraction,
)

if TYPE_CHECKING:
    from core.datasphere.extract import ExtractionResult
    from core.services import Services

log = get_logger(__name__)


@dataclass
class _Inputs:
    """What one group's extraction gave, sorted for planning."""

    group: set[str]
    fetched: list[Asset]
    unchanged: dict[str, Any]
    etags: dict[str, str]
    shared: dict[str, str]
    incomplete: dict[str, str]
    spaces: list[Space]
    scope: list[str] | None
    context: dict[str, Asset] = field(default_factory=dict)
    stubs: list[Asset] = field(default_factory=list)
    replan: set[str] = field(default_factory=set)
    #: Flows this run could not read (their last extracted version stands in), and whether a
    #: flow listing of the group failed (then which tables flows write is unknown).
    failed_flows: list[str] = field(default_factory=list)
    flows_unlisted: bool = False
    verified: dict[str, str] = field(default_factory=dict)


class Planner:
    """Plans groups of spaces for one run (state in the :class:`RunContext`)."""

    def __init__(self, services: Services, ctx: RunContext) -> None:
        self.services = services
        self.settings = services.settings
        self.ctx = ctx
        self.view = StoreView(services, ctx)

    def policy(self) -> PlanPolicy:
        sync = self.settings.sync
        unmanaged = self.services.rules().unmanaged
        return PlanPolicy(
            deletion_policy=sync.deletion_policy,
            max_delete_share=sync.max_delete_share,
            max_deletes_per_run=sync.max_deletes_per_run,
            unmanaged_policy=unmanaged.policy or sync.unmanaged_policy,
            adopt=frozenset(unmanaged.adopt),
        )

    def database_names(self, spaces: Sequence[str]) -> set[str]:
        rules = self.services.rules()
        return {rules.database_name(sp, self.settings.env) for sp in spaces}

    def read_live(self, wanted: set[str]) -> LiveCatalog:
        """The databases named (those that exist) and all their tables (paged listings).

        ``GetDatabases`` is read once per run. A managed database under another name belongs
        to another environment (prefix) or naming scheme and is never judged from here.
        """
        glue = self.services.glue()
        databases = self.ctx.once("databases", lambda: [dict(db) for db in glue.iter_databases()])
        live = LiveCatalog(checked=set(wanted))
        for db in databases:
            if db["Name"] in wanted:
                live.databases[db["Name"]] = db
        for name in sorted(live.databases):
            live.tables[name] = {t["Name"]: dict(t) for t in glue.iter_tables(name)}
        return live

    def plan(
        self,
        *,
        spaces: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        priority: Priority | None = None,
        incremental_read: bool = True,
        live_ahead: Future[LiveCatalog] | None = None,
    ) -> PlanOutcome:
        """Plan one group of spaces (all visible spaces when ``spaces`` is empty)."""
        client = self.services.datasphere_client()
        calls_before = datasphere_calls(client)
        extraction = self._extract(spaces, with_writing_flows(kinds), self.view.known_etags() if incremental_read else {})
        inputs = self._inputs(extraction, spaces)
        summary = summarise_extraction(extraction)
        summary.assets += len(inputs.unchanged)
        summary.incomplete = inputs.incomplete
        self.ctx.progress("read_live", 0, None)
        live = live_ahead.result() if live_ahead is not None else self.read_live(
            self.database_names(sorted(inputs.group)))
        self._add_context(inputs, live)
        mapping, planned_keys = self._map(inputs)
        needed = {d.name for d in mapping.databases} | {t.database for t in mapping.tables}
        if needed - live.checked:  # the planner reads what it may write
            live.merge(self.read_live(needed - live.checked))
        known = set(inputs.unchanged) - planned_keys
        plan = self._decide(extraction, inputs, mapping, live, known, kinds, priority)
        plan.not_offered = list(summary.not_offered)
        assets = [*inputs.fetched, *inputs.context.values()]
        attach_impact(plan, assets, self.view.lineage_graph(), self.view.tables_of)
        return PlanOutcome(
            plan=plan,
            mapping=mapping,
            assets=inputs.fetched + [inputs.context[k] for k in sorted(inputs.replan) if k in inputs.context],
            extraction=summary,
            datasphere_calls=diff_calls(datasphere_calls(client), calls_before),
            etags=inputs.etags,
            unchanged=len(known),
            verified_versions={k: v for k, v in inputs.verified.items() if k in known},
        )

    def expected(self, *, spaces: Sequence[str], kinds: Sequence[str] | None = None) -> PlanOutcome:
        """What Glue should hold for one group, read in full (no ETags), through the same stages
        as :meth:`plan` up to the mapping; nothing is compared or decided (validation). The
        outcome's plan carries only ``shared`` and ``skipped_assets``."""
        client = self.services.datasphere_client()
        calls_before = datasphere_calls(client)
        extraction = self._extract(spaces, with_writing_flows(kinds), {})
        inputs = self._inputs(extraction, spaces)
        self._stand_in_for_failed_flows(inputs)
        mapping, _ = self._map(inputs)
        summary = summarise_extraction(extraction)
        summary.incomplete = inputs.incomplete
        plan = Plan(shared=dict(sorted(inputs.shared.items())), skipped_assets=dict(mapping.skipped),
                    issues=list(mapping.issues), scope_spaces=inputs.scope)
        return PlanOutcome(plan=plan, mapping=mapping, assets=inputs.fetched, extraction=summary,
                           datasphere_calls=diff_calls(datasphere_calls(client), calls_before),
                           etags=inputs.etags)

    # -- steps --------------------------------------------------------------------------
    def _extract(
        self, spaces: Sequence[str] | None, kinds: Sequence[str] | None, etags: dict[str, str]
    ) -> ExtractionResult:
        extractor = self.services.extractor(
            spaces=list(spaces) if spaces else None, kinds=list(kinds) if kinds else None
        )

        def on_progress(done: int, total: int | None) -> None:
            self.ctx.progress("extract", done, total)

        mark = time.monotonic()
        result = extractor.extract(progress=on_progress, etags=etags)
        log.debug("space extracted", extra={"spaces": list(spaces or []), "s": round(time.monotonic() - mark, 3)})
        return result

    def _inputs(self, extraction: ExtractionResult, spaces: Sequence[str] | None) -> _Inputs:
        """Sort the extraction: own assets, shared ones, incomplete ones, the judged scope."""
        fetched = list(extraction.assets)
        unchanged: dict[str, Any] = dict(extraction.unchanged)
        etags = dict(extraction.etags)
        incomplete: dict[str, str] = dict(extraction.incomplete)
        if unchanged and fetched:
            # Analytic models take their column types from their sources: an unchanged model
            # over a changed source is re-read and re-resolved against it.
            refreshed, failed = incremental.refresh_dependent_models(self.view, fetched, unchanged)
            for asset, etag in refreshed:
                fetched.append(asset)
                unchanged.pop(asset.key, None)
                if etag:
                    etags[asset.key] = etag
            incomplete.update(failed)
        group = set(spaces) if spaces else {sp.name for sp in extraction.spaces}
        shared: dict[str, str] = dict(extraction.shared)
        for asset in (a for a in fetched if a.space not in group):
            shared.setdefault(asset.key, f"owned by space {asset.space}, outside this run's scope")
        scope = list(spaces) if spaces else None
        if extraction.skipped_spaces:
            # A space we could not read is not judged: its tables are neither orphans nor
            # deletable (403 today does not mean "gone").
            every = scope if scope is not None else [sp.name for sp in extraction.spaces]
            scope = [sp for sp in every if sp not in extraction.skipped_spaces]
        flow_kinds = {k.value for k in WRITING_FLOWS}
        return _Inputs(
            group=group, fetched=[a for a in fetched if a.space in group], unchanged=unchanged,
            etags=etags, shared=shared, incomplete=incomplete,
            spaces=[sp for sp in extraction.spaces if sp.name in group], scope=scope,
            failed_flows=sorted(f"{e.space}.{e.name}" for e in extraction.errors.values()
                                if e.space in group and e.name and e.kind in flow_kinds),
            flows_unlisted=any(
                sp not in extraction.skipped_spaces
                and flow_kinds - set(extraction.listings.get(sp, ())) - set(extraction.not_offered)
                for sp in group
            ) if extraction.listings else False,
        )

    def _add_context(self, inputs: _Inputs, live: LiveCatalog) -> None:
        """Unchanged assets: flows from the cache, drifted tables re-planned, the rest stubs."""
        self._stand_in_for_failed_flows(inputs)
        unchanged = inputs.unchanged
        if not unchanged:
            return
        inputs.context.update(self.view.cached([k for k, kind in unchanged.items() if AssetKind(kind).is_flow]))
        inputs.replan = incremental.drifted(self.view, unchanged, live, inputs.verified)
        inputs.replan |= incremental.flow_targets(inputs.fetched, unchanged)
        if inputs.replan:
            inputs.context.update(self.view.cached(sorted(inputs.replan)))
        inputs.stubs = [
            Asset(space=k.split(".", 1)[0], name=k.split(".", 1)[1], kind=AssetKind(kind))
            for k, kind in unchanged.items()
            if k not in inputs.context
        ]

    def _stand_in_for_failed_flows(self, inputs: _Inputs) -> None:
        """A flow this run could not read still writes its targets: their table carries its
        lineage. The flow's last extracted version stands in; without one (or when a flow
        listing failed) the tables flows may write are kept as they are this run — never
        written without their lineage, then rewritten with it."""
        if not inputs.failed_flows and not inputs.flows_unlisted:
            return
        cached = self.view.cached(inputs.failed_flows)
        inputs.context.update(cached)
        missing = [k for k in inputs.failed_flows if k not in cached]
        if not missing and not inputs.flows_unlisted:
            return
        why = (f"flow(s) {', '.join(missing)} could not be read" if missing
               else "a flow listing could not be read") + \
            " this run: a table a flow writes would lose its lineage"
        targets = {AssetKind.LOCAL_TABLE, AssetKind.REMOTE_TABLE}
        for asset in [a for a in inputs.fetched if a.kind in targets]:
            inputs.incomplete.setdefault(asset.key, why)
        inputs.fetched = [a for a in inputs.fetched if a.key not in inputs.incomplete]

    def _map(self, inputs: _Inputs) -> tuple[MappingResult, set[str]]:
        from core.mapping.mapper import map_assets

        self.ctx.progress("map", 0, len(inputs.fetched) + len(inputs.replan))
        assets = [*inputs.fetched, *inputs.context.values(), *inputs.stubs]
        full = map_assets(assets, self.services.rules(), env=self.settings.env, spaces=inputs.spaces)
        planned = {a.key for a in inputs.fetched} | (inputs.replan & set(inputs.context))
        mapping = full.model_copy(update={
            "tables": [t for t in full.tables if str(t.source) in planned],
            "issues": [i for i in full.issues if i.asset is None or i.asset in planned],
            "databases": [d for d in full.databases if d.source_space in inputs.group],
        })
        return mapping, planned

    def _decide(
        self,
        extraction: ExtractionResult,
        inputs: _Inputs,
        mapping: MappingResult,
        live: LiveCatalog,
        known: set[str],
        kinds: Sequence[str] | None,
        priority: Priority | None,
    ) -> Plan:
        present = known | set(inputs.incomplete) | {
            f"{e.space}.{e.name}" for e in extraction.errors.values() if e.space and e.name
        }
        listed_kinds, listed_counts = listing_evidence(extraction, inputs.fetched, inputs.unchanged)
        plan = build_plan(
            mapping=mapping,
            live=live,
            policy=self.policy(),
            scope_spaces=inputs.scope,
            scope_priority=priority,
            scope_kinds=list(kinds) if kinds else None,
            extraction_errors=len(extraction.errors),
            assets_found=len(inputs.fetched) + len(inputs.unchanged) + len(inputs.incomplete),
            known_sources=present,
            listed_kinds=listed_kinds,
            listed_counts=listed_counts,
            approved_deletions=self.view.approved_deletions(),
        )
        plan.shared = dict(sorted(inputs.shared.items()))
        for key, why in sorted(inputs.incomplete.items()):
            plan.skipped_assets.setdefault(key, f"kept as is: {why}")
        return plan


#: Flows that write tables: a table's lineage Parameters name them.
WRITING_FLOWS = (AssetKind.DATA_FLOW, AssetKind.REPLICATION_FLOW, AssetKind.TRANSFORMATION_FLOW)


def with_writing_flows(kinds: Sequence[str] | None) -> list[str] | None:
    """The kinds to extract for ``kinds``: tables come with the flows that may write them (read
    as context only), so a table synced with ``--kind local_table`` is the same table a full
    run writes."""
    if not kinds:
        return None
    wanted = list(kinds)
    if {AssetKind.LOCAL_TABLE.value, AssetKind.REMOTE_TABLE.value} & set(wanted):
        wanted += [k.value for k in WRITING_FLOWS if k.value not in wanted]
    return wanted


def listing_evidence(
    extraction: ExtractionResult, fetched: Sequence[Asset], unchanged: dict[str, Any]
) -> tuple[dict[str, set[str]], dict[tuple[str, str], int]]:
    """(space → kinds listed completely this run, (space, kind) → objects listed): the
    positive evidence deletions are judged on (a kind the tenant does not offer is listed,
    empty)."""
    not_offered = set(extraction.not_offered)
    listed = {space: set(kinds) | not_offered for space, kinds in extraction.listings.items()}
    counts: dict[tuple[str, str], int] = {}
    keys = [(a.space, a.kind.value) for a in fetched]
    keys += [(k.split(".", 1)[0], AssetKind(kind).value) for k, kind in unchanged.items()]
    keys += [(e.space, e.kind) for e in extraction.errors.values() if e.space and e.name and e.kind]
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return listed, counts
