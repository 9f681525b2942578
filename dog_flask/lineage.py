"""Dog's lineage adapter: the end-to-end graph of the current catalog snapshot (cached per
extraction), node styles that link to Dog's pages, and the column-lineage subgraph.

The layout and the SVG are core's (``core/lineage_svg.py``); this module only decides what a
node says and where a click goes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import url_for

from core.catalog import CatalogSnapshot
from core.lineage import GLUE_PREFIX, ColumnEdge, Edge, LineageGraph, Node, ancestors, descendants
from core.lineage_export import graph_from_assets
from core.lineage_svg import NodeStyle, PlacedEdge, collapse_flows, default_style, is_flow_kind
from core.services import Services
from dog_flask import mapping

#: Depth limits of the page's controls.
MAX_DEPTH = 8

def full_graph(services: Services, snapshot: CatalogSnapshot) -> LineageGraph:
    """Every asset of ``snapshot`` and the Glue table its mapping gives (built once per
    extraction and rules: see ``dog_flask/mapping.py``)."""
    result: LineageGraph = mapping.cache().get(
        snapshot, services.rules(), "lineage",
        lambda: graph_from_assets(snapshot.assets, mapping.snapshot_mapping(snapshot)),
    )
    return result


def view_graph(services: Services, snapshot: CatalogSnapshot, focus: str) -> LineageGraph:
    """The graph the page walks: flows collapsed into labelled edges (but a flow in focus).
    The common case (the focus is no flow) is collapsed once per snapshot."""
    graph = full_graph(services, snapshot)
    node = graph.nodes.get(focus)
    if node is not None and is_flow_kind(node.kind):
        return collapse_flows(graph, keep={focus})
    result: LineageGraph = mapping.cache().get(
        snapshot, services.rules(), "lineage-collapsed", lambda: collapse_flows(graph)
    )
    return result


@dataclass(frozen=True)
class Styler:
    """Node styles of one lineage page."""

    focus_space: str
    visible_spaces: frozenset[str]
    known: frozenset[str]
    glue_live: frozenset[str]
    up: int
    down: int

    def __call__(self, node: Node) -> NodeStyle:
        if node.key.startswith(GLUE_PREFIX):
            name = node.key[len(GLUE_PREFIX):]
            database, _, table = name.partition(".")
            live = name in self.glue_live
            return NodeStyle(
                "glue_table" if live else "glue_missing", name, "Glue table (sync target)",
                "in Glue" if live else "not in Glue yet: a sync creates it",
                href=url_for("glue.table", database=database, name=table) if live else None,
                dashed=not live,
            )
        space, _, name = node.key.partition(".")
        if node.key not in self.known:
            why = "hidden owner space" if space not in self.visible_spaces else "not extracted"
            return NodeStyle("hidden", name, f"{space}.{name}", why, dashed=True,
                             tooltip=f"{node.key}: {why} (shared into this tenant by its owner space)")
        base = default_style(node)
        note = base.note
        if space != self.focus_space:
            note = f"{note} · other space {space}"
        return NodeStyle(
            base.category, node.label or name, node.key, note,
            href=url_for("lineage.asset", space=space, name=name, up=self.up, down=self.down),
        )


def edge_href(edge: PlacedEdge) -> str | None:
    """A flow label links to the flow's own lineage page."""
    if not edge.vias:
        return None
    space, _, name = edge.vias[0].partition(".")
    return url_for("lineage.asset", space=space, name=name)


def column_graph(graph: LineageGraph, asset: str, column: str) -> LineageGraph:
    """Column lineage of one column as a graph whose nodes are ``ASSET#COLUMN``: every column
    it is derived from and every column derived from it (Glue columns included)."""
    columns = graph.column_graph()
    start = f"{asset}#{column}"
    keep = {start} | ancestors(columns, start) | descendants(columns, start)
    out = LineageGraph()
    types = {(n.key, c): t for n in graph.nodes.values() for c, t in n.columns}
    for ref in sorted(keep):
        owner, _, col = ref.rpartition("#")
        out.nodes[ref] = Node(key=ref, kind=graph.nodes[owner].kind if owner in graph.nodes else "unknown",
                              label=col, columns=[(col, types.get((owner, col), ""))])
    for c in graph.column_edges:
        up, down = f"{c.upstream}#{c.upstream_column}", f"{c.downstream}#{c.downstream_column}"
        if up in keep and down in keep:
            out.edges.add(Edge(up, down, c.kind))
    return out


def column_styler(known: frozenset[str], up: int, down: int) -> Callable[[Node], NodeStyle]:
    def style(node: Node) -> NodeStyle:
        owner, _, col = node.key.rpartition("#")
        ctype = node.columns[0][1] if node.columns else ""
        if owner.startswith(GLUE_PREFIX):
            database, _, table = owner[len(GLUE_PREFIX):].partition(".")
            return NodeStyle("glue_table", col, f"{database}.{table}", f"Glue · {ctype}".rstrip(" ·"),
                             tooltip=f"Glue column {database}.{table}.{col} {ctype}")
        space, _, name = owner.partition(".")
        category = "flow" if is_flow_kind(node.kind) else default_style(node).category
        if owner not in known:
            return NodeStyle("hidden", col, owner, "owner space not visible", dashed=True)
        return NodeStyle(category, col, owner, ctype or node.kind,
                         href=url_for("lineage.asset", space=space, name=name, column=col, up=up, down=down))
    return style


def column_rows(graph: LineageGraph, asset: str, column: str) -> tuple[list[ColumnEdge], list[ColumnEdge]]:
    """The direct column edges into and out of one column (for the table under the picture)."""
    into = sorted(c for c in graph.column_edges if c.downstream == asset and c.downstream_column == column)
    out = sorted(c for c in graph.column_edges if c.upstream == asset and c.upstream_column == column)
    return into, out
