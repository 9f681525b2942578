"""Catalog tools: unified search over both catalogs, an asset with its Glue table side by side,
and a Glue table with its Datasphere source."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, ConfigDict, Field

from core.mapping import params as P
from core.search import Entry, SearchFilters, SearchPage
from mcp_server.context import McpContext, call, cut, shrink, state, tool

#: Longest parameter value shown (the resource has everything).
MAX_VALUE = 400
MAX_COLUMNS = 300


class ColumnPair(BaseModel):
    """One column on both sides."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Datasphere column (or the Glue column of a Glue-only table).")
    label: str | None
    cds_type: str | None
    role: str | None = Field(description="measure, dimension, attribute, text.")
    key: bool
    semantics: dict[str, str]
    glue_name: str | None
    glue_type_planned: str | None = Field(description="The Glue type the mapping rules give it.")
    glue_type_live: str | None = Field(description="The Glue type in the live table.")
    status: Literal["in_sync", "differs", "missing_in_glue", "not_in_datasphere", "not_synced"]


class AssetDetail(BaseModel):
    """One Datasphere asset and its Glue table side by side."""

    model_config = ConfigDict(extra="forbid")

    sides: list[str]
    space: str | None
    name: str | None
    kind: str
    label: str | None
    description: str | None
    business: dict[str, Any] = Field(description="Modeling pattern, exposure, capabilities, dimension type, SQL.")
    glue_database: str | None
    glue_table: str | None
    glue_exists: bool
    managed: bool | None
    skipped: str | None = Field(description="Why the mapping rules exclude it, if they do.")
    note: str | None
    columns: list[ColumnPair]
    measures: list[dict[str, Any]]
    dimensions: list[str]
    hierarchies: list[dict[str, Any]]
    associations: list[dict[str, Any]]
    analytic: dict[str, Any] | None = Field(description="Fact/dimension sources, attributes, variables (analytic models).")
    flow: dict[str, Any] | None
    upstream: list[str] = Field(description="What it reads from, as `SPACE.NAME (kind)`.")
    glue_parameters: dict[str, str] = Field(description="The live table's parameters (long values cut).")
    lineage: list[str] = Field(description="Lineage edges touching it, as `UPSTREAM → DOWNSTREAM (kind)`.")
    notes: list[str]


def _short(value: str) -> str:
    return value if len(value) <= MAX_VALUE else value[:MAX_VALUE] + f"… ({len(value)} chars)"


def _glue_columns(table: Any) -> dict[str, dict[str, Any]]:
    """Source column name → Glue column (by the ``dgsync.name`` parameter, else its own name)."""
    if not table:
        return {}
    sd = table.get("StorageDescriptor") or {}
    cols = [*(sd.get("Columns") or []), *(table.get("PartitionKeys") or [])]
    return {(c.get("Parameters") or {}).get(P.NAME) or c.get("Name", ""): c for c in cols}


def _spec_columns(spec: Any) -> dict[str, dict[str, Any]]:
    if spec is None:
        return {}
    return {c.parameters.get(P.NAME) or c.name: {"Name": c.name, "Type": c.type}
            for c in [*spec.columns, *spec.partition_keys]}


def _column_pairs(entry: Entry, spec: Any) -> list[ColumnPair]:
    live, planned = _glue_columns(entry.glue), _spec_columns(spec)
    out: list[ColumnPair] = []
    for c in entry.asset.columns if entry.asset is not None else []:
        lc, pc = live.get(c.name), planned.get(c.name)
        if entry.glue is None:
            status = "not_synced"
        elif lc is None:
            status = "missing_in_glue"
        elif pc is not None and (lc.get("Type"), lc.get("Name")) != (pc["Type"], pc["Name"]):
            status = "differs"
        else:
            status = "in_sync"
        out.append(ColumnPair(
            name=c.name, label=c.label, cds_type=str(c.type), role=c.role.value, key=c.key,
            semantics=dict(c.semantics), glue_name=(lc or pc or {}).get("Name"),
            glue_type_planned=pc["Type"] if pc else None, glue_type_live=lc.get("Type") if lc else None,
            status=status,
        ))
    known = {c.name for c in entry.asset.columns} if entry.asset is not None else set()
    for source, lc in live.items():
        if source in known:
            continue
        params = lc.get("Parameters") or {}
        out.append(ColumnPair(
            name=source, label=params.get(P.LABEL) or lc.get("Comment"), cds_type=params.get(P.CDS_TYPE),
            role=params.get(P.ROLE), key=params.get(P.KEY) == "true", semantics={},
            glue_name=lc.get("Name"), glue_type_planned=None, glue_type_live=lc.get("Type"),
            status="not_in_datasphere",
        ))
    return out


def entry_detail(st: McpContext, entry: Entry) -> AssetDetail:
    """The side-by-side detail of one paired entry."""
    from core.mapping.preview import map_asset_preview

    notes: list[str] = []
    a, g = entry.asset, entry.glue
    spec, skipped, note, lineage = None, None, None, []
    if a is not None:
        snapshot = st.catalog.snapshot()
        preview = map_asset_preview(a, st.services.rules(), st.settings.env,
                                    others=snapshot.assets, spaces=snapshot.spaces)
        spec, skipped, note = preview.table, preview.skipped, preview.note
        lineage = [f"{e.upstream} → {e.downstream} ({e.kind})" for e in preview.lineage]
    columns, dropped = cut(_column_pairs(entry, spec), MAX_COLUMNS, "columns")
    columns, over = shrink(columns, lambda kept: [c.model_dump() for c in kept])
    if dropped or over:
        notes.append(f"{len(columns)} columns shown; read the resource dgsync://datasphere/... or "
                     "dgsync://glue/... for all")
    params = {k: _short(v) for k, v in sorted(((g or {}).get("Parameters") or {}).items())}
    business = a.business.model_dump(mode="json") if a is not None else {}
    if business.get("sql"):
        business["sql"] = _short(business["sql"])
    return AssetDetail(
        sides=list(entry.sides), space=a.space if a else None, name=a.name if a else None,
        kind=a.kind.value if a else "glue_table",
        label=(a.label or a.business.label) if a else params.get(P.LABEL),
        description=(a.business.description if a else None) or ((g or {}).get("Description")),
        business=business,
        glue_database=entry.database, glue_table=entry.table_name, glue_exists=g is not None,
        managed=None if g is None else (g.get("Parameters") or {}).get("dgsync.managed_by") == "dgsync",
        skipped=skipped, note=note, columns=columns,
        measures=[m.model_dump(mode="json", exclude_none=True) for m in (a.analytic.measures if a and a.analytic else [])]
        or [{"name": c.name, "label": c.label, "aggregation": c.aggregation, "type": str(c.type)}
            for c in (a.measures if a else [])],
        dimensions=[c.name for c in (a.dimensions if a else [])],
        hierarchies=[h.model_dump(mode="json") for h in (a.hierarchies if a else [])],
        associations=[{"name": x.name, "target": str(x.target), "label": x.label, "cardinality": x.cardinality,
                       "on": [list(p) for p in x.on]} for x in (a.associations if a else [])],
        analytic=a.analytic.model_dump(mode="json", exclude={"measures"}) if a and a.analytic else None,
        flow=a.flow.model_dump(mode="json") if a and a.flow else None,
        upstream=[f"{d.ref} ({d.kind.value})" for d in (a.upstream if a else [])],
        glue_parameters=params, lineage=lineage, notes=notes,
    )


def register(server: MCPServer[McpContext]) -> None:
    @tool(server)
    async def search_catalog(
        query: Annotated[str, Field(min_length=1, description="Words to look for: names, business terms, column names or semantics, e.g. `revenue region`, `currency`, `sales_orders`.")],
        ctx: Context,
        space: Annotated[str | None, Field(description="Only assets of this Datasphere space.")] = None,
        database: Annotated[str | None, Field(description="Only objects in (or mapped to) this Glue database.")] = None,
        kind: Annotated[str | None, Field(description="Only this kind: local_table, remote_table, view, analytic_model, data_flow, ..., or glue_table (Glue tables without a Datasphere source).")] = None,
        side: Annotated[Literal["any", "datasphere", "glue", "both"], Field(description="`both`: only synced pairs; `glue`: only what exists in Glue.")] = "any",
        limit: Annotated[int, Field(ge=1, le=100, description="Hits per page.")] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page (same query and filters).")] = None,
    ) -> SearchPage:
        """Search SAP Datasphere and the AWS Glue Data Catalog as one. Matches technical and
        business names, labels, descriptions, column names and labels, and column semantics
        (measure, dimension, key, currency, unit, date). Every word must match; best first.
        Each hit says which side(s) it lives on (`datasphere`, `glue` or both) and names the
        pair: space+name of the asset and database+table of its Glue table. Glue tables that
        dgsync does not manage appear too (`managed: false`). Follow up with get_asset or
        get_glue_table."""
        st = state(ctx)
        filters = SearchFilters(space=space, database=database, kind=kind, side=side)
        return await call(partial(st.unified.search, query, filters=filters, limit=limit, cursor=cursor))

    @tool(server)
    async def get_asset(
        space: Annotated[str, Field(description="The Datasphere space, e.g. `SALES`.")],
        name: Annotated[str, Field(description="The technical name (case-sensitive), e.g. `V_ORDERS`.")],
        ctx: Context,
    ) -> AssetDetail:
        """One Datasphere asset with its Glue table side by side: every column with its CDS
        type, label, role and semantics next to its planned and live Glue type (in_sync,
        differs, missing_in_glue, not_synced); measures, dimensions, hierarchies,
        associations, analytic sources, upstream dependencies, business context and the
        live table's parameters."""
        st = state(ctx)
        return await call(lambda: entry_detail(st, st.unified.pair_of_asset(space, name)))

    @tool(server)
    async def get_glue_table(
        database: Annotated[str, Field(description="The Glue database, e.g. `sales`.")],
        table: Annotated[str, Field(description="The Glue table, e.g. `v_orders`.")],
        ctx: Context,
    ) -> AssetDetail:
        """One live Glue table with its Datasphere source side by side (when dgsync manages
        it or the mapping targets it): columns, types, parameters, and whether dgsync owns
        it. Works for tables dgsync does not manage, too."""
        st = state(ctx)
        return await call(lambda: entry_detail(st, st.unified.pair_of_table(database, table)))
