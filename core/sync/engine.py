"""The sync engine: orchestration of plan, dry run and sync over the stages.

One run, space by space::

    extract → map → read live → plan      (core/sync/planner.py, pure decisions in plan.py)
    → apply                                (core/sync/apply.py: Glue only)
    → checkpoint                           (core/sync/checkpoint.py: the store only)
    → report                               (core/sync/report.py)

``SyncEngine.plan()``/``dry_run()`` write nothing anywhere: no mutating Glue call, no state
saved. ``SyncEngine.sync()`` applies the plan; each object is committed to the store with its
audit record (the checkpoint), so a run killed at any point is resumed by the next one: the
planner compares with the live catalog, so what was written is a no-op the second time, and
what was not written is planned again. Per-run state lives in a :class:`RunContext`, never on
the engine; one engine may run several plans/syncs one after the other.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.errors import DgsyncError
from core.log import bind_run, copy_context, get_logger
from core.models import Priority
from core.perf import PerfProbe
from core.sync.apply import Applier
from core.sync.checkpoint import Checkpoint
from core.sync.context import RunContext
from core.sync.plan import LiveCatalog
from core.sync.planner import Planner
from core.sync.report import (
    DONE,
    FAILED,
    RECOVERED,
    ItemResult,
    PlanOutcome,
    ProgressFn,
    SyncReport,
    as_result,
    count_items,
    diff_calls,
    diff_rejected,
    flatten_rejected,
    glue_calls,
    merge_outcomes,
    not_in_sync,
    run_errors,
    stored_counts,
    summary_line,
)

if TYPE_CHECKING:
    from core.datasphere.responses import RequestStats
    from core.glue.stats import StatsSnapshot
    from core.services import Services

__all__ = ["DONE", "FAILED", "RECOVERED", "ItemResult", "PlanOutcome", "SyncEngine", "SyncReport"]

log = get_logger(__name__)

#: Spaces whose Glue listing is read ahead (its own pipeline: Glue work overlaps the
#: Datasphere reads of earlier spaces).
LIVE_AHEAD = 2

#: Spaces planned ahead of the one being applied: the Glue listing, the extraction and the
#: writes of different spaces overlap; memory stays bounded by this many spaces.
PREFETCH_SPACES = 1


def default_actor(trigger: str, slice_key: str | None = None) -> str:
    """Who a run acts as when the caller does not say: the OS user for the CLI, the scheduler,
    or the worker of a priority class."""
    if trigger == "scheduler":
        return "scheduler"
    if trigger in ("lambda", "worker"):
        return f"worker:{slice_key}" if slice_key else "worker"
    import getpass

    try:
        return f"{trigger}:{getpass.getuser()}"
    except Exception:  # no user name (a container without a passwd entry)
        return f"{trigger}:unknown"


class SyncEngine:
    """Runs plans and syncs over the services of one settings object."""

    def __init__(self, services: Services, *, progress: ProgressFn | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self._ctx = RunContext(env=self.settings.env)
        if progress is not None:
            self._ctx.progress = progress

    @property
    def run_id(self) -> str | None:
        """The id of the sync running now (known once its scope lease is taken), else ``None``."""
        return self._ctx.run_id

    def request_stop(self) -> None:
        """Ask a running sync to stop after the objects in flight (SIGTERM)."""
        self._ctx.stop.set()

    def _new_context(self) -> RunContext:
        """A fresh context for the next run; the stop flag and progress carry over."""
        self._ctx = RunContext(env=self.settings.env, progress=self._ctx.progress, stop=self._ctx.stop)
        return self._ctx

    # -- planning -----------------------------------------------------------------------
    def plan(
        self,
        *,
        spaces: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        priority: Priority | None = None,
        incremental: bool = True,
    ) -> PlanOutcome:
        """Extract, map, read the live catalog and decide for ``spaces``. Writes nothing."""
        planner = Planner(self.services, self._new_context())
        return planner.plan(spaces=spaces, kinds=kinds, priority=priority, incremental_read=incremental)

    def space_groups(self, spaces: Sequence[str] | None) -> list[list[str]]:
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
        ctx = self._ctx
        groups = self.space_groups(spaces)
        if not groups:
            return
        planner = Planner(self.services, ctx)
        live_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dgsync-live")
        lives: dict[int, Future[LiveCatalog]] = {}

        def read_live_ahead(index: int) -> None:
            if index < len(groups) and index not in lives:
                wanted = planner.database_names(groups[index])
                lives[index] = live_pool.submit(copy_context(), planner.read_live, wanted)

        def submit(pool: ThreadPoolExecutor, index: int) -> Future[PlanOutcome]:
            read_live_ahead(index)
            return pool.submit(copy_context(), planner.plan, spaces=groups[index], kinds=kinds,
                               priority=priority, live_ahead=lives[index])

        for index in range(min(LIVE_AHEAD, len(groups))):
            read_live_ahead(index)
        try:
            with ThreadPoolExecutor(max_workers=PREFETCH_SPACES, thread_name_prefix="dgsync-prefetch") as pool:
                pending = [submit(pool, i) for i in range(min(PREFETCH_SPACES, len(groups)))]
                for done in range(len(groups)):
                    if not pending:
                        return
                    outcome = pending.pop(0).result()
                    lives.pop(done, None)
                    read_live_ahead(done + LIVE_AHEAD)
                    following = done + len(pending) + 1
                    if following < len(groups) and not ctx.stopping:
                        pending.append(submit(pool, following))
                    yield outcome
                    if ctx.stopping:
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
        """The plan of every space in scope, as a report (writes nothing)."""
        self._new_context()
        started, t0 = datetime.now(UTC), time.monotonic()
        glue = self.services.glue()
        before = glue.stats.snapshot()
        probe = PerfProbe(glue.stats, self._datasphere_stats())
        outcome = merge_outcomes(list(self.outcomes(spaces=spaces, kinds=kinds, priority=priority)))
        items = [as_result(i, DONE) for i in outcome.plan.items]
        after = glue.stats.snapshot()
        counts = count_items(items)
        counts["unchanged"] += outcome.unchanged
        return SyncReport(
            dry_run=True, status="planned", started_at=started,
            duration_s=round(time.monotonic() - t0, 3), counts=counts, items=items,
            api_calls={"glue": diff_calls(glue_calls(after), glue_calls(before)),
                       "datasphere": outcome.datasphere_calls},
            glue_writes=after.writes - before.writes, extraction=outcome.extraction,
            failsafe=outcome.plan.failsafe, plan=outcome.plan,
            rejected=diff_rejected(after.rejected, before.rejected),
            shared=outcome.plan.shared, perf=probe.finish(),
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
        actor: str | None = None,
        config_version: int | None = None,
        wait_s: float = 0.0,
    ) -> SyncReport:
        """Apply the plan; every object is checkpointed with its audit record.

        ``actor`` is who the audit records name (``cli:<user>``, ``key:<name>/<role>``,
        ``scheduler``, ``worker:<class>``); by default it follows the trigger.
        ``config_version`` (the applied configuration version) is recorded in the run's scope.

        The input (kinds, rules, spaces) is validated before anything is recorded; the run
        then holds the lease of its scope (waiting up to ``wait_s`` for an overlapping run,
        else :class:`~core.errors.LeaseHeld`), sends heartbeats from a background thread, and
        ends in a terminal state whatever is raised (see :mod:`core.sync.liveness`).
        """
        from core.store.schemas import new_run_id
        from core.sync import liveness

        liveness.validate_scope(self.services, spaces=spaces, kinds=kinds)
        store = self.services.store()
        interval, ttl, legacy_ttl = liveness.ttls(self.services)
        scope = liveness.Scope.of(self.settings.env, spaces or self.settings.datasphere.spaces, priority)
        lease = liveness.acquire_scope(store, scope, new_run_id(), ttl_s=ttl, legacy_ttl_s=legacy_ttl,
                                       wait_s=wait_s)
        ctx = self._new_context()
        checkpoint = Checkpoint(store, self.settings, actor=actor or default_actor(trigger, slice_key))
        try:
            run_id, resumed_from = checkpoint.start_run(
                spaces=spaces, kinds=kinds, priority=priority, resume=resume, trigger=trigger,
                slice_key=slice_key, run_id=lease.run_id, config_version=config_version,
            )
        except BaseException:
            lease.release()
            raise
        ctx.run_id = run_id
        heartbeat = liveness.Heartbeat(lease=lease, interval_s=interval, on_lost=self.request_stop).start()
        try:
            with bind_run(run_id):
                return self._run(ctx, checkpoint, spaces, kinds, priority, resumed_from)
        except BaseException as exc:
            # Whatever was raised (a bug, Ctrl-C): the run ends failed/aborted, with a hint.
            try:
                liveness.finish_crashed_run(store, run_id, exc)
            except DgsyncError as store_exc:
                log.error("could not record the end of the run",
                          extra={"run": run_id, "error": store_exc.message})
            raise
        finally:
            heartbeat.stop()
            lease.release()

    def _run(
        self,
        ctx: RunContext,
        checkpoint: Checkpoint,
        spaces: Sequence[str] | None,
        kinds: Sequence[str] | None,
        priority: Priority | None,
        resumed_from: str | None,
    ) -> SyncReport:
        assert ctx.run_id is not None
        started, t0 = datetime.now(UTC), time.monotonic()
        glue = self.services.glue()
        before = glue.stats.snapshot()
        probe = PerfProbe(glue.stats, self._datasphere_stats())
        applier = Applier(glue, Planner(self.services, ctx).policy(), ctx,
                          concurrency=self.settings.glue.concurrency,
                          skip_archive=self.settings.glue.skip_archive)
        results: list[ItemResult] = []
        parts: list[PlanOutcome] = []
        fatal: DgsyncError | None = None
        try:
            for part in self.outcomes(spaces=spaces, kinds=kinds, priority=priority):
                space_results = applier.apply(ctx.run_id, part, checkpoint.bind(part))
                checkpoint.after_space(ctx.run_id, part, space_results, stopped=ctx.stopping)
                results.extend(space_results)
                parts.append(part.summary_only())
                checkpoint.heartbeat(ctx.run_id, results)
        except DgsyncError as exc:
            fatal = exc
            log.error("sync failed", extra={"error": exc.message, "hint": exc.hint})
        outcome = merge_outcomes(parts) if fatal is None else None
        report = self._report(ctx, outcome, results, fatal, before, glue.stats.snapshot(), started, t0)
        report.resumed_from = resumed_from
        report.perf = probe.finish()
        self._finish(checkpoint, ctx.run_id, report, outcome, fatal)
        if fatal is not None and outcome is None:
            raise fatal
        return report

    def _datasphere_stats(self) -> RequestStats | None:
        """The Datasphere client's statistics (``None`` when it cannot be built: the run's
        planning reports why)."""
        try:
            return self.services.datasphere_client().stats
        except DgsyncError:
            return None

    def _report(
        self,
        ctx: RunContext,
        outcome: PlanOutcome | None,
        results: list[ItemResult],
        fatal: DgsyncError | None,
        before: StatsSnapshot,
        after: StatsSnapshot,
        started: datetime,
        t0: float,
    ) -> SyncReport:
        """The run's report; its status says whether everything in scope is in sync."""
        counts = count_items(results)
        reasons = not_in_sync(results, outcome.extraction) if outcome else []
        if outcome is not None:
            counts["unchanged"] += outcome.unchanged
        if fatal is not None:
            reasons.append(f"{fatal.code}: {fatal.message}")
        failed = counts["failed"]
        if fatal is not None or outcome is None:
            status = "failed"
        elif ctx.stopping:
            status = "aborted"
        elif reasons:
            status = "partial" if len(results) > failed else "failed"
        else:
            status = "succeeded"
        return SyncReport(
            run_id=ctx.run_id, dry_run=False, status=status, started_at=started,
            duration_s=round(time.monotonic() - t0, 3), counts=counts, items=results,
            api_calls={"glue": diff_calls(glue_calls(after), glue_calls(before)),
                       "datasphere": outcome.datasphere_calls if outcome else {}},
            glue_writes=after.writes - before.writes, retries=after.retries - before.retries,
            throttles=after.throttles - before.throttles,
            extraction=outcome.extraction if outcome else merge_outcomes([]).extraction,
            failsafe=outcome.plan.failsafe if outcome else None,
            plan=outcome.plan if outcome else None,
            rejected=diff_rejected(after.rejected, before.rejected),
            not_in_sync=reasons,
            shared=outcome.plan.shared if outcome else {},
        )

    @staticmethod
    def _finish(
        checkpoint: Checkpoint,
        run_id: str,
        report: SyncReport,
        outcome: PlanOutcome | None,
        fatal: DgsyncError | None,
    ) -> None:
        from core.store.schemas import RunCounts, RunResult, RunStatus

        checkpoint.finish_run(run_id, RunResult(
            status=RunStatus(report.status),
            counts=RunCounts(**stored_counts(report.counts)),
            assets_total=outcome.extraction.assets if outcome else 0,
            api_calls={**report.api_calls, "glue_rejected": flatten_rejected(report.rejected)},
            retries=report.retries,
            throttles=report.throttles,
            errors=run_errors(report.items, outcome.extraction if outcome else None, fatal),
            summary=summary_line(report.counts, report.not_in_sync),
            metrics=report.perf.model_dump(mode="json") if report.perf else None,
        ))
