"""Lineage tools: upstream/downstream to a depth, the paths between two objects, the lineage of
one column, and the impact of a change (downstream assets and their Glue tables).

The graph is end to end (``core.lineage_export.graph_from_assets``): Datasphere objects as
``SPACE.NAME`` (flows are nodes of their own) and Glue tables as ``glue:DATABASE.TABLE``,
built from the current extraction and its mapping, cached per extraction.
"""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, ConfigDict, Field

from core.errors import InputError
from core.lineage import GLUE_PREFIX, LineageGraph, reverse_graph, within_depth
from mcp_server.context import McpContext, call, cut, shrink, state, tool

MAX_NODES = 300
MAX_PATHS = 20


class LineageNode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="`SPACE.NAME` (Datasphere) or `glue:DATABASE.TABLE`.")
    kind: str
    label: str | None
    distance: int = Field(description="Hops from the start (0: the start itself).")
    direction: Literal["start", "upstream", "downstream"]


class LineageEdgeOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upstream: str
    downstream: str
    kind: str = Field(description="from, join, union, fact_source, flow_source, flow_target, synced_to...")
    via: str | None


class LineageResult(BaseModel):
    """The neighbourhood of one object."""

    model_config = ConfigDict(extra="forbid")

    start: str
    nodes: list[LineageNode]
    edges: list[LineageEdgeOut]
    note: str | None = None


class PathsResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    target: str
    paths: list[list[str]] = Field(description="Shortest first; empty: the source does not feed the target.")
    note: str | None = None


class ColumnRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node: str
    column: str


class ColumnLineageResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node: str
    column: str
    sources: list[ColumnRef] = Field(description="Every column it is derived from, transitively.")
    consumers: list[ColumnRef] = Field(description="Every column derived from it (Glue columns included).")


class ImpactedAsset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    kind: str
    label: str | None
    distance: int
    glue_tables: list[str] = Field(description="Its Glue table(s) as `database.table`.")
    glue_exists: bool = Field(description="Whether that Glue table exists now.")


class ImpactResult(BaseModel):
    """What a change to one object (or one of its columns) reaches downstream."""

    model_config = ConfigDict(extra="forbid")

    changed: str
    column: str | None
    assets: list[ImpactedAsset]
    glue_tables: list[str] = Field(description="Every Glue table affected, its own included, as `database.table`.")
    affected_columns: list[ColumnRef] = Field(description="With a column: every column derived from it.")
    note: str | None = None


def graph(st: McpContext) -> LineageGraph:
    from core.lineage_export import graph_from_assets

    snapshot = st.catalog.snapshot()
    cached = st.cache.get("lineage")
    if cached is None or cached[0] is not snapshot:  # the very extraction it was built from
        cached = (snapshot, graph_from_assets(snapshot.assets, st.unified.mapping()))
        st.cache["lineage"] = cached
    found: LineageGraph = cached[1]
    return found


def node_key(g: LineageGraph, ref: str) -> str:
    """Resolve `SPACE.NAME`, `glue:db.table` or `db.table` to a node of the graph."""
    if ref in g.nodes:
        return ref
    lowered = {k.lower(): k for k in g.nodes}
    for candidate in (ref.lower(), f"{GLUE_PREFIX}{ref}".lower()):
        if candidate in lowered:
            return lowered[candidate]
    raise InputError(
        f"{ref!r} is not in the lineage graph",
        hint="Name a Datasphere object as SPACE.NAME (e.g. SALES.V_ORDERS) or a Glue table as "
             "glue:database.table; search_catalog finds the exact names.",
    )


def _neighbourhood(g: LineageGraph, start: str, direction: str, depth: int) -> LineageResult:
    down = g.adjacency()
    found: dict[str, tuple[int, str]] = {start: (0, "start")}
    if direction in ("downstream", "both"):
        found.update({k: (d, "downstream") for k, d in within_depth(down, start, depth).items()})
    if direction in ("upstream", "both"):
        for k, d in within_depth(reverse_graph(down), start, depth).items():
            found.setdefault(k, (d, "upstream"))
    ordered = sorted(found.items(), key=lambda kv: (kv[1][0], kv[0]))
    kept, note = cut(ordered, MAX_NODES, "nodes")
    keys = {k for k, _ in kept}
    nodes = [LineageNode(key=k, kind=g.nodes[k].kind if k in g.nodes else "unknown",
                         label=g.nodes[k].label if k in g.nodes else None, distance=d, direction=dirn)
             for k, (d, dirn) in kept]
    edges = [LineageEdgeOut(upstream=e.upstream, downstream=e.downstream, kind=e.kind, via=e.via)
             for e in sorted(g.edges) if e.upstream in keys and e.downstream in keys]
    node_rows = [n.model_dump() for n in nodes]
    edges, over = shrink(edges, lambda kept: [node_rows, [x.model_dump() for x in kept]])
    nodes, over_nodes = shrink(nodes, lambda kept: [[n.model_dump() for n in kept], [x.model_dump() for x in edges]])
    if over or over_nodes:
        note = (f"{over_nodes} nodes and {over} edges not shown (size budget); "
                "ask for a smaller depth or one direction")
    return LineageResult(start=start, nodes=nodes, edges=edges, note=note)


def impact_of(st: McpContext, ref: str, column: str | None) -> ImpactResult:
    g = graph(st)
    start = node_key(g, ref)
    glue = st.unified.glue.snapshot()
    down = g.adjacency()
    distances = within_depth(down, start, 1000)
    affected_columns: list[ColumnRef] = []
    if column is not None:
        node_columns = {c for c, _t in g.nodes[start].columns} if start in g.nodes else set()
        if column not in node_columns:
            raise InputError(f"{start} has no column {column!r}",
                             hint="Column names are case-sensitive; get_asset lists them.")
        hits = g.column_impact(start, column)
        affected_columns = [ColumnRef(node=n, column=c) for n, c in hits]
        reached = {n for n, _ in hits}
        distances = {k: d for k, d in distances.items() if k in reached}
    tables_of: dict[str, list[str]] = {}
    for e in g.edges:
        if e.kind == "synced_to":
            tables_of.setdefault(e.upstream, []).append(e.downstream.removeprefix(GLUE_PREFIX))
    assets: list[ImpactedAsset] = []
    for key, dist in sorted(distances.items(), key=lambda kv: (kv[1], kv[0])):
        if key.startswith(GLUE_PREFIX):
            continue
        tables = sorted(tables_of.get(key, []))
        node = g.nodes.get(key)
        assets.append(ImpactedAsset(
            key=key, kind=node.kind if node else "unknown", label=node.label if node else None,
            distance=dist, glue_tables=tables,
            glue_exists=any(tuple(t.split(".", 1)) in glue.tables for t in tables),
        ))
    every = sorted({t for a in assets for t in a.glue_tables} | set(tables_of.get(start, []))
                   | {k.removeprefix(GLUE_PREFIX) for k in distances if k.startswith(GLUE_PREFIX)})
    kept, note = cut(assets, MAX_NODES, "assets")
    return ImpactResult(changed=start, column=column, assets=kept, glue_tables=every,
                        affected_columns=affected_columns[:MAX_NODES], note=note)


def register(server: MCPServer[McpContext]) -> None:
    @tool(server)
    async def get_lineage(
        object: Annotated[str, Field(description="`SPACE.NAME` of a Datasphere object or `glue:database.table`.")],
        ctx: Context,
        direction: Annotated[Literal["upstream", "downstream", "both"], Field(description="Which way to follow.")] = "both",
        depth: Annotated[int, Field(ge=1, le=20, description="Hops to follow.")] = 3,
    ) -> LineageResult:
        """Lineage of one object to a depth: what it reads from (upstream) and what reads
        from it (downstream), across spaces, through data flows, down to the Glue tables
        dgsync syncs them to (edges of kind `synced_to`). Each node says its distance."""
        st = state(ctx)

        def run() -> LineageResult:
            g = graph(st)
            return _neighbourhood(g, node_key(g, object), direction, depth)

        return await call(run)

    @tool(server)
    async def find_lineage_path(
        source: Annotated[str, Field(description="Upstream end: `SPACE.NAME` or `glue:database.table`.")],
        target: Annotated[str, Field(description="Downstream end: `SPACE.NAME` or `glue:database.table`.")],
        ctx: Context,
    ) -> PathsResult:
        """Every way data gets from `source` to `target` (shortest paths first), e.g. from a
        local table to the Glue table of an analytic model built on it. An empty list means
        the source does not feed the target (try swapping them)."""
        st = state(ctx)

        def run() -> PathsResult:
            g = graph(st)
            a, b = node_key(g, source), node_key(g, target)
            found = g.paths(a, b, max_paths=MAX_PATHS + 1)
            kept, note = cut(found, MAX_PATHS, "paths")
            return PathsResult(source=a, target=b, paths=kept, note=note)

        return await call(run)

    @tool(server)
    async def get_column_lineage(
        object: Annotated[str, Field(description="`SPACE.NAME` or `glue:database.table`.")],
        column: Annotated[str, Field(description="The column (case-sensitive).")],
        ctx: Context,
    ) -> ColumnLineageResult:
        """Column-level lineage of one column: the source columns it derives from and every
        column derived from it, down to the Glue columns."""
        st = state(ctx)

        def run() -> ColumnLineageResult:
            g = graph(st)
            key = node_key(g, object)
            if column not in {c for c, _t in g.nodes[key].columns}:
                raise InputError(f"{key} has no column {column!r}",
                                 hint="Column names are case-sensitive; get_asset lists them.")
            return ColumnLineageResult(
                node=key, column=column,
                sources=[ColumnRef(node=n, column=c) for n, c in g.column_sources(key, column)][:MAX_NODES],
                consumers=[ColumnRef(node=n, column=c) for n, c in g.column_impact(key, column)][:MAX_NODES],
            )

        return await call(run)

    @tool(server)
    async def analyze_impact(
        object: Annotated[str, Field(description="What would change: `SPACE.NAME` (or `glue:database.table`).")],
        ctx: Context,
        column: Annotated[str | None, Field(description="Only a change to this column (follows column lineage).")] = None,
    ) -> ImpactResult:
        """What breaks if this object (or one of its columns) changes: every downstream
        Datasphere asset, nearest first, with the Glue tables they are synced to and whether
        those exist now; plus the full list of affected Glue tables."""
        st = state(ctx)
        return await call(lambda: impact_of(st, object, column))
