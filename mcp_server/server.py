"""The dgsync MCP server: catalog search, asset details, sync status, runs and dry runs.

``create_server(settings=None) -> MCPServer``. The typed lifespan loads the settings (when not
given) and builds :class:`~core.services.Services`; each tool is a short call into the core,
run off the event loop. Core errors become tool errors with their remediation hint; anything
unexpected reaches the model only as the SDK's generic "Error executing tool".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar, cast

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field

from core.catalog import AssetCatalog, AssetHit
from core.errors import DgsyncError
from core.log import get_logger
from core.services import Services, build_services
from core.settings import Settings, load_settings

log = get_logger(__name__)

T = TypeVar("T")

INSTRUCTIONS = """\
dgsync keeps the AWS Glue Data Catalog in sync with SAP Datasphere. Use these tools to find
Datasphere assets (tables, views, analytic models, data flows) and their business context,
see which Glue table each one becomes, check how the sync is doing, and preview what the next
sync would change. Nothing here writes to Glue or Datasphere.
Start with search_assets, then get_asset for the details of one hit."""


@dataclass
class McpContext:
    """What every tool call can reach: built once per server lifespan."""

    settings: Settings
    services: Services
    catalog: AssetCatalog


class AssetDetail(BaseModel):
    """One Datasphere asset with how dgsync maps it to Glue."""

    model_config = ConfigDict(extra="forbid")

    asset: dict[str, Any] = Field(description="The asset: columns with exact types, measures, "
                                  "dimensions, hierarchies, dependencies and business context.")
    glue_database: str | None = Field(description="The Glue database it is synced to (None: not a table).")
    glue_table: str | None = Field(description="The Glue table it is synced to (None: not a table).")
    skipped: str | None = Field(description="Why the mapping rules exclude it, if they do.")
    note: str | None = Field(description="How non-table assets (data flows) appear in Glue.")
    lineage: list[str] = Field(description="Lineage edges touching it, as `UPSTREAM → DOWNSTREAM (kind)`.")


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


#: At most this many planned changes are listed (``changes_total`` has the full count).
MAX_CHANGES = 200


def _context(ctx: Context) -> McpContext:
    return cast(McpContext, ctx.request_context.lifespan_context)


async def _call(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread; core errors become tool errors with their hint."""
    try:
        return await anyio.to_thread.run_sync(fn)
    except DgsyncError as exc:
        log.info("tool failed", extra={"code": exc.code, "error": exc.message})
        raise ToolError(f"{exc.message} (error {exc.code}). Hint: {exc.hint}") from exc


def create_server(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    catalog: AssetCatalog | None = None,
) -> MCPServer[McpContext]:
    """Build the MCP server; ``services`` given: the caller owns (and closes) them.

    ``catalog`` (over the same services) shares one cached extraction between servers.
    """

    @asynccontextmanager
    async def lifespan(server: MCPServer[McpContext]) -> AsyncIterator[McpContext]:
        current = services.settings if services is not None else settings
        if current is None:
            current = await anyio.to_thread.run_sync(load_settings)
        owned = services is None
        current_services = services if services is not None else build_services(current)
        try:
            yield McpContext(current, current_services, catalog or current_services.catalog())
        finally:
            if owned:
                await anyio.to_thread.run_sync(current_services.close)

    server: MCPServer[McpContext] = MCPServer(
        "dgsync", instructions=INSTRUCTIONS, version="0.1.0", lifespan=lifespan
    )

    @server.tool()
    async def search_assets(
        query: Annotated[str, Field(min_length=1, description="Words to look for, e.g. `sales order` or `revenue margin`.")],
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many hits.")] = 20,
    ) -> list[AssetHit]:
        """Search the Datasphere assets dgsync syncs, by technical name, business label, space,
        description and column names. Every word must match; best matches first. Each hit names
        its space and technical name: pass them to get_asset for columns, measures, lineage and
        the Glue table it becomes."""
        state = _context(ctx)
        return await _call(partial(state.catalog.search, query, limit=limit))

    @server.tool()
    async def get_asset(
        space: Annotated[str, Field(description="The Datasphere space, e.g. `SALES`.")],
        name: Annotated[str, Field(description="The technical name (case-sensitive), e.g. `V_ORDERS`.")],
        ctx: Context,
    ) -> AssetDetail:
        """Everything about one Datasphere asset: columns with exact types and keys, measures,
        dimensions, hierarchies, upstream dependencies, business labels and descriptions, and
        the Glue database and table dgsync maps it to (with its lineage edges)."""
        state = _context(ctx)

        def detail() -> AssetDetail:
            from core.mapping.preview import map_asset_preview

            asset = state.catalog.get(space, name)
            snapshot = state.catalog.snapshot()
            preview = map_asset_preview(asset, state.services.rules(), state.settings.env,
                                        others=snapshot.assets, spaces=snapshot.spaces)
            return AssetDetail(
                asset=asset.model_dump(mode="json", exclude={"fingerprint", "source_hash"}),
                glue_database=preview.table.database if preview.table else None,
                glue_table=preview.table.name if preview.table else None,
                skipped=preview.skipped,
                note=preview.note,
                lineage=[f"{e.upstream} → {e.downstream} ({e.kind})" for e in preview.lineage],
            )

        return await _call(detail)

    @server.tool()
    async def sync_status(ctx: Context) -> dict[str, Any]:
        """How the sync is doing: runs in progress, recent runs with their outcome, each priority
        class's schedule (next due, last result), assets by sync state and open conflicts."""
        state = _context(ctx)

        def overview() -> dict[str, Any]:
            from core.sync.status import status_overview

            return status_overview(state.services).model_dump(mode="json")

        return await _call(overview)

    @server.tool()
    async def list_runs(
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many runs, newest first.")] = 10,
    ) -> list[dict[str, Any]]:
        """The most recent sync runs, newest first: status, trigger, scope, counts of created /
        updated / unchanged / failed objects, duration, API calls and errors with hints."""
        state = _context(ctx)

        def runs() -> list[dict[str, Any]]:
            from core.sync.status import runs_listing

            return [r.model_dump(mode="json") for r in runs_listing(state.services, limit=limit)]

        return await _call(runs)

    @server.tool()
    async def plan_sync(
        ctx: Context,
        spaces: Annotated[list[str] | None, Field(description="Only these Datasphere spaces (default: all).")] = None,
    ) -> PlanSummary:
        """Preview what a sync would change in Glue right now, without writing anything: counts
        per action (create, update, unchanged, deprecate, delete, conflict, skip) and each change
        with its reason, field-level differences and the downstream assets it affects. Takes a
        few seconds: it reads the whole tenant and the live Glue catalog."""
        state = _context(ctx)

        def plan() -> PlanSummary:
            report = state.services.engine().dry_run(spaces=spaces or None)
            items = [i for i in (report.plan.items if report.plan else []) if i.action.value != "noop"]
            return PlanSummary(
                counts=report.counts,
                changes=[
                    PlannedChange(
                        action=i.action.value,
                        object=i.object,
                        asset=i.asset,
                        reason=i.reason,
                        diffs=[f"{d.field}: {d.before!r} → {d.after!r}" for d in i.diffs[:10]],
                        impact=i.impact[:10],
                    )
                    for i in items[:MAX_CHANGES]
                ],
                changes_total=len(items),
                assets=report.extraction.assets,
                failsafe=report.failsafe,
                extraction_errors=report.extraction.errors[:20],
                skipped_spaces=report.extraction.skipped_spaces,
                duration_s=report.duration_s,
            )

        return await _call(plan)

    return server
