"""Validation tool: compare Glue with Datasphere for one asset or a scope, field by field (the
same report as Wolf's validation, ``core.validation``): drift, missing, extra and unmanaged
tables. Nothing is written."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, ConfigDict, Field

from core.errors import InputError
from mcp_server.context import McpContext, call, cut, shrink, state, tool

MAX_TABLES = 100
MAX_CHECKS = 30


class TableResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(description="ok, drift, missing, extra, unmanaged, skipped.")
    space: str
    asset: str | None
    kind: str | None
    glue_table: str = Field(description="`database.table` (or the database).")
    note: str | None
    failed_checks: list[dict[str, Any]] = Field(description="Fields that differ: field, expected (Datasphere), actual (Glue), note.")
    checks: int


class ValidationResult(BaseModel):
    """Glue vs Datasphere for a scope."""

    model_config = ConfigDict(extra="forbid")

    id: str
    scope: dict[str, Any]
    in_sync: bool
    reasons: list[str] = Field(description="Why the scope is not in sync (empty when it is).")
    summary: dict[str, int] = Field(description="Tables by status, checks and failed checks.")
    tables: list[TableResult]
    unmanaged_tables: list[str] = Field(description="Glue tables in the scope's databases that dgsync does not manage.")
    skipped_spaces: dict[str, str]
    duration_s: float
    note: str | None = None


def run_validation(st: McpContext, spaces: list[str] | None, kinds: list[str] | None,
                   asset: str | None, show: str) -> ValidationResult:
    from core.validation import validate

    key = None
    if asset is not None:
        space, sep, name = asset.partition(".")
        if not sep or not name:
            raise InputError(f"{asset!r} is not SPACE.NAME", hint="Name the asset as SPACE.NAME, e.g. SALES.V_ORDERS.")
        found = st.catalog.get(space, name)
        key, spaces, kinds = found.key, [found.space], [found.kind.value]
    report = validate(st.services, spaces=spaces or None, kinds=kinds or None)
    tables = [t for t in report.tables if key is None or t.asset == key]
    if key is not None and not tables:
        raise InputError(f"{key} has no Glue table to validate",
                         hint="get_asset says whether the mapping rules skip it or which table it becomes.")
    listed = tables if show == "all" else [t for t in tables if t.status != "ok"]
    kept, note = cut(listed, MAX_TABLES, "tables")
    rows = [TableResult(status=t.status, space=t.space, asset=t.asset, kind=t.kind, glue_table=t.object,
                        note=t.note, checks=len(t.checks),
                        failed_checks=[c.model_dump(mode="json", exclude={"ok"}) for c in t.failed[:MAX_CHECKS]])
            for t in kept]
    rows, dropped = shrink(rows, lambda r: [x.model_dump() for x in r])
    if dropped:
        note = f"{dropped} tables cut for size; validate a smaller scope"
    summary = report.summary.model_dump() if key is None else {
        s: sum(1 for t in tables if t.status == s) for s in ("ok", "drift", "missing", "extra", "unmanaged", "skipped")}
    return ValidationResult(
        id=report.id, scope={**report.scope.model_dump(mode="json"), "asset": key},
        in_sync=report.in_sync if key is None else all(t.status == "ok" for t in tables),
        reasons=report.reasons if key is None else [f"{t.object}: {t.status}" for t in tables if t.status != "ok"],
        summary=summary, tables=rows,
        unmanaged_tables=sorted(t.object for t in report.tables if t.status == "unmanaged")[:MAX_TABLES],
        skipped_spaces=report.skipped_spaces, duration_s=report.duration_s, note=note,
    )


def register(server: MCPServer[McpContext]) -> None:
    @tool(server)
    async def validate_sync(
        ctx: Context,
        asset: Annotated[str | None, Field(description="Validate only this asset, as SPACE.NAME.")] = None,
        spaces: Annotated[list[str] | None, Field(description="Only these spaces (default: all).")] = None,
        kinds: Annotated[list[str] | None, Field(description="Only these kinds, e.g. [`view`].")] = None,
        show: Annotated[Literal["problems", "all"], Field(description="List only tables that are not ok, or all.")] = "problems",
    ) -> ValidationResult:
        """Prove whether Glue matches Datasphere, column by column and parameter by
        parameter, for one asset or a scope (nothing is written): each table is ok, drift
        (with the differing fields: expected from Datasphere vs actual in Glue), missing,
        extra (dgsync-managed but no longer in Datasphere), unmanaged (not dgsync's) or
        skipped; plus why the scope is not in sync. Takes seconds: reads both sides."""
        st = state(ctx)
        return await call(lambda: run_validation(st, spaces, kinds, asset, show))
