"""Apply: the Glue writes of a plan, with replan-and-retry on races (never the store).

Databases first, then the tables that need no write (recorded only), then the writes in
priority order with bounded parallelism. Every outcome goes to a :class:`CheckpointSink`.
A call Glue rejected is a failure with the AWS error code and a hint — never "unchanged"; a
race with another writer (``AlreadyExists``, ``ConcurrentModification``) is re-read, re-planned
and retried once, and reported as *recovered*, or as a failure if it happens again.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from core.errors import AlreadyExists, ConcurrentModification, DgsyncError, SyncAborted
from core.log import copy_context
from core.specs import (
    MANAGED_BY,
    MANAGED_BY_VALUE,
    RUN_ID,
    SYNCED_AT,
    TARGET_HASH,
    DatabaseSpec,
    TableSpec,
    table_input_hash,
)
from core.sync.context import RunContext
from core.sync.plan import Action, PlanItem, PlanPolicy, deprecated_input, plan_table
from core.sync.report import (
    CONFLICT_HINTS,
    DONE,
    FAILED,
    RECOVERED,
    ItemResult,
    PlanOutcome,
    as_result,
)

if TYPE_CHECKING:
    from core.glue.client import GlueClient


class CheckpointSink(Protocol):
    """Where apply reports each object (``core.sync.checkpoint.SpaceCheckpoint`` fits)."""

    def database(self, run_id: str, item: PlanItem, after_hash: str) -> None: ...

    def item(
        self, run_id: str, item: PlanItem, spec: TableSpec | None, status: str, *,
        write: bool, error: DgsyncError | None = None,
    ) -> None: ...


class Applier:
    """Sends one space's plan to Glue."""

    def __init__(
        self, glue: GlueClient, policy: PlanPolicy, ctx: RunContext, *, concurrency: int, skip_archive: bool
    ) -> None:
        self.glue = glue
        self.policy = policy
        self.ctx = ctx
        self.concurrency = max(1, concurrency)
        self.skip_archive = skip_archive

    def apply(self, run_id: str, outcome: PlanOutcome, sink: CheckpointSink) -> list[ItemResult]:
        plan = outcome.plan
        specs = {(t.database, t.name): t for t in outcome.mapping.tables}
        db_specs = {d.name: d for d in outcome.mapping.databases}
        tables = [i for i in plan.items if i.object_type == "table"]
        total, done, lock = len(plan.items), 0, threading.Lock()
        results: list[ItemResult] = []

        def tick() -> None:
            nonlocal done
            with lock:
                done += 1
                self.ctx.progress("apply", done, total)

        for item in (i for i in plan.items if i.object_type == "database"):
            results.append(self.apply_database(run_id, item, db_specs.get(item.database), sink))
            tick()

        def work(item: PlanItem) -> ItemResult:
            if self.ctx.stopping:
                raise SyncAborted("stopped before this object")
            result = self.apply_table(run_id, item, specs.get((item.database, item.name or "")), sink)
            tick()
            return result

        for item in (i for i in tables if not i.action.writes):
            results.append(work(item))
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="dgsync-apply") as pool:
            futures = [pool.submit(copy_context(), work, i) for i in tables if i.action.writes]
            for future in futures:
                try:
                    results.append(future.result())
                except SyncAborted:
                    continue
        return results

    # -- databases ----------------------------------------------------------------------
    def apply_database(
        self, run_id: str, item: PlanItem, spec: DatabaseSpec | None, sink: CheckpointSink
    ) -> ItemResult:
        if item.action not in (Action.CREATE, Action.UPDATE) or spec is None:
            return as_result(item, DONE)
        payload = item.payload or {}
        target = DatabaseSpec(
            name=spec.name, description=payload.get("Description"),
            parameters=payload.get("Parameters") or {}, tags=spec.tags, source_space=spec.source_space,
        )
        try:
            if item.action is Action.CREATE:
                self.glue.create_database(target)
            else:
                self.glue.update_database(target)
        except AlreadyExists as exc:
            # Glue rejected the create: someone created it since the listing was read (e.g.
            # the run of another priority slice; databases are shared). A race, recovered if
            # the database is ours — reported as such, never as "unchanged".
            live = self.glue.get_database(spec.name)
            if live is None or (live.get("Parameters") or {}).get(MANAGED_BY) != MANAGED_BY_VALUE:
                return as_result(item, FAILED, exc)
            recovered = item.model_copy(update={
                "action": Action.NOOP,
                "reason": "CreateDatabase rejected (AlreadyExistsException): created meanwhile "
                "by another dgsync writer; recovered",
            })
            return as_result(recovered, RECOVERED)
        except DgsyncError as exc:
            return as_result(item, FAILED, exc)
        sink.database(run_id, item, table_input_hash(target.to_database_input()))
        return as_result(item, DONE)

    # -- tables -------------------------------------------------------------------------
    def apply_table(
        self, run_id: str, item: PlanItem, spec: TableSpec | None, sink: CheckpointSink
    ) -> ItemResult:
        if not item.action.writes:  # noop, skip, conflict: recorded, nothing sent
            sink.item(run_id, item, spec, DONE, write=False)
            return as_result(item, DONE)
        try:
            self.write(run_id, item)
        except (ConcurrentModification, AlreadyExists) as race:
            return self._race(run_id, item, spec, sink, race)
        except DgsyncError as exc:
            sink.item(run_id, item, spec, FAILED, write=False, error=exc)
            return as_result(item, FAILED, exc)
        sink.item(run_id, item, spec, DONE, write=True)
        return as_result(item, DONE)

    def _race(
        self, run_id: str, item: PlanItem, spec: TableSpec | None, sink: CheckpointSink, race: DgsyncError
    ) -> ItemResult:
        """Another writer got there first: re-read, re-plan, retry once; else a failure."""
        code = "AlreadyExistsException" if isinstance(race, AlreadyExists) else "ConcurrentModificationException"
        retried = self._replan_and_retry(run_id, item, spec, sink)
        if retried is not None:
            if retried.status == DONE:
                retried.status = RECOVERED
                retried.reason = (f"{item.action.value} rejected ({code}): another writer changed it; "
                                  f"re-read and re-planned: {retried.reason}")
            return retried
        conflict = item.model_copy(update={
            "action": Action.CONFLICT, "conflict": "concurrent_modification",
            "reason": f"changed concurrently twice ({code}); not written",
        })
        error = ConcurrentModification(
            f"{item.object}: {code} twice; the table was not written",
            hint=CONFLICT_HINTS["concurrent_modification"],
        )
        sink.item(run_id, conflict, spec, FAILED, write=False, error=error)
        return as_result(conflict, FAILED, error)

    def _replan_and_retry(
        self, run_id: str, item: PlanItem, spec: TableSpec | None, sink: CheckpointSink
    ) -> ItemResult | None:
        if spec is None:
            return None
        live = self.glue.get_table(item.database, item.name or "")
        fresh = plan_table(spec, dict(live) if live else None, self.policy)
        if not fresh.action.writes:
            sink.item(run_id, fresh, spec, DONE, write=False)
            return as_result(fresh, DONE)
        try:
            self.write(run_id, fresh)
        except (ConcurrentModification, AlreadyExists):
            return None
        except DgsyncError as exc:
            sink.item(run_id, fresh, spec, FAILED, write=False, error=exc)
            return as_result(fresh, FAILED, exc)
        sink.item(run_id, fresh, spec, DONE, write=True)
        return as_result(fresh, DONE)

    def write(self, run_id: str, item: PlanItem) -> None:
        """Send one table write (create/update with run markers, deprecate, delete)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        if item.action in (Action.CREATE, Action.UPDATE):
            payload = dict(item.payload or {})
            params = dict(payload.get("Parameters") or {})
            params[RUN_ID] = run_id
            params[TARGET_HASH] = item.desired_hash or table_input_hash(payload)
            params[SYNCED_AT] = now
            payload["Parameters"] = dict(sorted(params.items()))
            if item.action is Action.CREATE:
                self.glue.create_table(item.database, payload)
            else:
                self.glue.update_table(item.database, payload, version_id=item.live_version_id,
                                       skip_archive=self.skip_archive)
        elif item.action is Action.DEPRECATE:
            live = self.glue.get_table(item.database, item.name or "")
            if live is None:
                return
            body = deprecated_input(dict(live), now=now)
            body["Parameters"][RUN_ID] = run_id
            self.glue.update_table(item.database, body, version_id=live.get("VersionId"),
                                   skip_archive=self.skip_archive)
        elif item.action is Action.DELETE:
            errors = self.glue.batch_delete_tables(item.database, [item.name or ""])
            err = next(iter(errors.values()), None)
            if err is not None and err.code != "EntityNotFoundException":
                raise DgsyncError(
                    f"Glue BatchDeleteTable rejected {item.object}: {err.code} {err.message}",
                    hint="Check the dgsync role's glue:DeleteTable permission on this table "
                    "(dgsync iam-policy prints what it needs).",
                )
