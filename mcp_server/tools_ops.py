"""Operations tools: status per priority class, runs with their items and errors, the audit
trail, alerts, and a plan preview of a scope (a dry run: nothing is written)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, ConfigDict, Field

from core.errors import InputError
from core.sync.status import RunView, StatusOverview
from mcp_server.context import McpContext, call, cut, shrink, state, tool

#: At most this many planned changes are listed (``changes_total`` has the full count).
MAX_CHANGES = 200


class PlannedChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str
    object: str
    asset: str | None
    reason: str
    diffs: list[str]
    impact: list[str]


class PlanSummary(BaseModel):
    """What a sync would do now (computed by a dry run: nothing was written)."""

    model_config = ConfigDict(extra="forbid")

    counts: dict[str, int]
    changes: list[PlannedChange]
    changes_total: int
    assets: int
    failsafe: str | None
    extraction_errors: list[dict[str, str]]
    skipped_spaces: dict[str, str]
    duration_s: float
    note: str | None = None


class RunItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asset_key: str
    action: str
    status: str
    error: str | None
    hint: str | None
    finished_at: datetime


class RunDetailOut(BaseModel):
    """One run: outcome, counts, errors with hints, items."""

    model_config = ConfigDict(extra="forbid")

    run: dict[str, Any]
    items_by_action: dict[str, int]
    items_by_status: dict[str, int]
    items_total: int
    items: list[RunItem] = Field(description="Items of the run (only failed ones unless asked), in the order they finished.")
    note: str | None = None


class AuditPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]]
    next_offset: int | None = Field(description="Pass as offset for the next page (None: last page).")
    note: str | None = None


class RunList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runs: list[RunView] = Field(description="Newest first.")
    note: str | None = None


class AlertList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alerts: list[dict[str, Any]]
    note: str | None = None


def plan_summary(report: Any) -> PlanSummary:
    items = [i for i in (report.plan.items if report.plan else []) if i.action.value != "noop"]
    changes = [
        PlannedChange(action=i.action.value, object=i.object, asset=i.asset, reason=i.reason,
                      diffs=[f"{d.field}: {d.before!r} → {d.after!r}"[:300] for d in i.diffs[:10]],
                      impact=i.impact[:10])
        for i in items[:MAX_CHANGES]
    ]
    changes, _dropped = shrink(changes, lambda kept: [c.model_dump() for c in kept])
    shown = len(changes)
    note = None if shown == len(items) else f"{len(items) - shown} more changes not shown (of {len(items)}); narrow the scope"
    return PlanSummary(
        counts=report.counts, changes=changes, changes_total=len(items), assets=report.extraction.assets,
        failsafe=report.failsafe, extraction_errors=report.extraction.errors[:20],
        skipped_spaces=report.extraction.skipped_spaces, duration_s=report.duration_s, note=note,
    )


def run_detail(st: McpContext, run_id: str, status: str | None, limit: int) -> RunDetailOut:
    from core.store import repo
    from core.store.schemas import ItemStatus

    with st.services.store().session(readonly=True) as session:
        detail = repo.get_run(session=session, run_id=run_id, failed_limit=0)
        if detail is None:
            raise InputError(f"no run {run_id!r}", hint="list_runs shows the run ids, newest first.")
        items = repo.list_run_items(session=session, run_id=run_id,
                                    status=ItemStatus(status) if status else None)
    kept, note = cut(items, limit, "items")
    kept, over = shrink(kept, lambda rows: [r.model_dump(mode="json") for r in rows])
    if over:
        note = f"{len(kept)} of {len(items)} items shown (size budget); ask for fewer or only failed ones"
    run = detail.model_dump(mode="json", exclude={"failed_items", "items_by_action", "items_by_status", "items_total"})
    return RunDetailOut(
        run=run, items_by_action=detail.items_by_action, items_by_status=detail.items_by_status,
        items_total=detail.items_total,
        items=[RunItem(asset_key=i.asset_key, action=str(i.action.value if hasattr(i.action, "value") else i.action),
                       status=str(i.status.value if hasattr(i.status, "value") else i.status),
                       error=i.error, hint=i.hint, finished_at=i.finished_at) for i in kept],
        note=note,
    )


def register(server: MCPServer[McpContext]) -> None:
    @tool(server)
    async def sync_status(ctx: Context) -> StatusOverview:
        """How the sync is doing: runs in progress, recent runs with their outcome, each
        priority class's schedule (critical: analytic models, high: views and tables,
        medium: flows, low) with next due time and last result, assets by sync state and
        open conflicts."""
        st = state(ctx)

        def overview() -> StatusOverview:
            from core.sync.status import status_overview

            return status_overview(st.services)

        return await call(overview)

    @tool(server)
    async def list_runs(
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many runs, newest first.")] = 10,
        status: Annotated[Literal["running", "succeeded", "partial", "failed", "aborted", "interrupted"] | None,
                          Field(description="Only runs with this outcome.")] = None,
    ) -> RunList:
        """The most recent sync runs, newest first: status, trigger, scope, counts of created /
        updated / unchanged / failed objects, duration, API calls and errors with hints."""
        st = state(ctx)

        def runs() -> RunList:
            from core.sync.status import runs_listing

            found = runs_listing(st.services, limit=limit, status=status)
            kept, dropped = shrink(found, lambda r: [x.model_dump(mode="json") for x in r])
            return RunList(runs=kept, note=f"{dropped} runs cut for size; ask for fewer" if dropped else None)

        return await call(runs)

    @tool(server)
    async def get_run(
        run_id: Annotated[str, Field(description="A run id from list_runs or sync_status.")],
        ctx: Context,
        items: Annotated[Literal["failed", "all"], Field(description="Which items to list.")] = "failed",
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many items.")] = 100,
    ) -> RunDetailOut:
        """One run in detail: outcome, counts, errors with their remediation hints, items by
        action and status, and the items themselves (the failed ones by default) with each
        error and hint. Start here to explain why a run failed."""
        st = state(ctx)
        return await call(lambda: run_detail(st, run_id, "failed" if items == "failed" else None, limit))

    @tool(server)
    async def search_audit(
        ctx: Context,
        text: Annotated[str | None, Field(description="Full text over actor, object, action, run id and details.")] = None,
        actor: Annotated[str | None, Field(description="Exactly this actor, e.g. `key:ops/operator`.")] = None,
        action: Annotated[str | None, Field(description="Exactly this action, e.g. `create`, `update`, `config_change`.")] = None,
        object_contains: Annotated[str | None, Field(description="Part of the object name, e.g. `sales.v_orders`.")] = None,
        run_id: Annotated[str | None, Field(description="Only records of this run.")] = None,
        since: Annotated[datetime | None, Field(description="ISO time with zone, e.g. 2026-01-31T00:00:00Z.")] = None,
        until: Annotated[datetime | None, Field(description="ISO time with zone.")] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> AuditPage:
        """Search the audit trail (every Glue write, config change, key, login, alert action),
        newest first: who did what to which object, when, with the field diff."""
        st = state(ctx)

        def run() -> AuditPage:
            from core.governance import audit
            from core.store.schemas import AuditFilter

            try:
                filters = AuditFilter(search=text, actor=actor, action=action, object_contains=object_contains,
                                      run_id=run_id, since=since, until=until, env=st.settings.env)
            except ValueError as exc:
                raise InputError(f"bad audit filter: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}",
                                 hint="Give since/until as ISO times with a zone, e.g. 2026-01-31T00:00:00Z.") from None
            rows = audit.query(st.services.store(), filters, limit=limit + 1, offset=offset)
            more = len(rows) > limit
            records = [r.model_dump(mode="json") for r in rows[:limit]]
            records, dropped = shrink(records, lambda kept: kept)
            note = f"{dropped} records cut for size; page with a smaller limit" if dropped else None
            return AuditPage(records=records, next_offset=offset + len(records) if (more or dropped) else None, note=note)

        return await call(run)

    @tool(server)
    async def list_alerts(
        ctx: Context,
        status: Annotated[list[Literal["open", "acked", "resolved"]] | None,
                          Field(description="Only these states (default: all).")] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
    ) -> AlertList:
        """Alerts of this environment, newest first: rule, severity, state, what fired them
        (failed runs, drift, token expiry, throttling...), escalation and acknowledgement."""
        st = state(ctx)

        def run() -> AlertList:
            from core.governance.alerts import AlertService

            found = AlertService(st.services.store(), st.settings, channels={}).list_alerts(status=status, limit=limit)
            rows = [a.model_dump(mode="json") for a in found]
            rows, dropped = shrink(rows, lambda kept: kept)
            return AlertList(alerts=rows, note=f"{dropped} alerts cut for size" if dropped else None)

        return await call(run)

    @tool(server)
    async def plan_sync(
        ctx: Context,
        spaces: Annotated[list[str] | None, Field(description="Only these Datasphere spaces (default: all).")] = None,
        kinds: Annotated[list[str] | None, Field(description="Only these kinds, e.g. [`view`, `analytic_model`].")] = None,
    ) -> PlanSummary:
        """Preview what a sync of a scope would change in Glue right now, without writing
        anything: counts per action (create, update, unchanged, deprecate, delete, conflict,
        skip) and each change with its reason, field-level differences and the downstream
        assets it affects. Takes a few seconds: it reads the tenant and the live Glue catalog."""
        st = state(ctx)
        return await call(lambda: plan_summary(st.services.engine().dry_run(spaces=spaces or None, kinds=kinds or None)))
