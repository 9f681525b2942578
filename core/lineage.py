"""The lineage graph and impact traversal (pure; used by mapping, sync and the frontends).

A graph maps an asset key (``SPACE.NAME``) to the keys that read from it directly
(upstream → downstream). Flows are nodes of their own: source → flow → target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal


def descendants(graph: Mapping[str, Iterable[str]], start: str) -> set[str]:
    """Every node reachable downstream of ``start`` (``start`` itself excluded)."""
    seen: set[str] = set()
    stack = list(graph.get(start, ()))
    while stack:
        node = stack.pop()
        if node in seen or node == start:
            continue
        seen.add(node)
        stack.extend(graph.get(node, ()))
    return seen


def impact_in(graph: Mapping[str, Iterable[str]], changed: Iterable[str]) -> dict[str, list[str]]:
    """For each changed key, every key downstream of it (transitively), sorted."""
    return {start: sorted(descendants(graph, start)) for start in sorted(set(changed))}


def merge_graphs(*graphs: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for graph in graphs:
        for node, downs in graph.items():
            out.setdefault(node, set()).update(downs)
    return out


# --------------------------------------------------------------------- graph queries
#
# The functions below work on any ``upstream → {downstream}`` mapping. Nodes are opaque
# strings; the end-to-end graph (:class:`LineageGraph`) uses ``SPACE.NAME`` for Datasphere
# objects (flows included) and ``glue:DATABASE.TABLE`` for Glue tables.


def reverse_graph(graph: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """``downstream → {upstream}`` of an ``upstream → {downstream}`` graph."""
    out: dict[str, set[str]] = {}
    for node, downs in graph.items():
        for down in downs:
            out.setdefault(down, set()).add(node)
    return out


def ancestors(graph: Mapping[str, Iterable[str]], start: str) -> set[str]:
    """Every node upstream of ``start`` (``start`` itself excluded)."""
    return descendants(reverse_graph(graph), start)


def within_depth(graph: Mapping[str, Iterable[str]], start: str, depth: int) -> dict[str, int]:
    """Nodes reachable from ``start`` in at most ``depth`` hops → their distance (breadth
    first; cycles are safe; ``start`` excluded). ``depth`` must be at least 1."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    seen: dict[str, int] = {start: 0}
    frontier = [start]
    for level in range(1, depth + 1):
        nxt: list[str] = []
        for node in frontier:
            for far in sorted(graph.get(node, ())):
                if far not in seen:
                    seen[far] = level
                    nxt.append(far)
        if not nxt:
            break
        frontier = nxt
    del seen[start]
    return seen


def paths(
    graph: Mapping[str, Iterable[str]],
    source: str,
    target: str,
    *,
    max_paths: int = 100,
    max_length: int = 50,
) -> list[list[str]]:
    """Every simple path ``source → … → target`` (shortest first, then alphabetical), at most
    ``max_paths`` of them and ``max_length`` edges each. Empty when none exists."""
    if source == target:
        return [[source]]
    reach_target = ancestors(graph, target) | {target}
    if source not in reach_target:
        return []
    found: list[list[str]] = []
    stack: list[tuple[str, list[str]]] = [(source, [source])]
    while stack and len(found) < max_paths * 4:
        node, path = stack.pop()
        if len(path) - 1 >= max_length:
            continue
        for far in sorted(graph.get(node, ()), reverse=True):
            if far in path or far not in reach_target:
                continue
            if far == target:
                found.append([*path, far])
            else:
                stack.append((far, [*path, far]))
    found.sort(key=lambda p: (len(p), p))
    return found[:max_paths]


def split_column_ref(ref: str) -> tuple[str, str]:
    """``SPACE.ASSET.COLUMN`` → (``SPACE.ASSET``, ``COLUMN``). Asset names may hold dots, so
    the space is up to the first dot and the column after the last one."""
    space, _, rest = ref.partition(".")
    asset, _, column = rest.rpartition(".")
    if not space or not asset or not column:
        raise ValueError(f"not a column reference (SPACE.ASSET.COLUMN): {ref!r}")
    return f"{space}.{asset}", column


# ----------------------------------------------------------------- end-to-end graph

GLUE_PREFIX = "glue:"

NodeKind = str  # an AssetKind value, or "glue_table"


@dataclass(frozen=True, order=True)
class Edge:
    """``upstream → downstream``: ``kind`` is a dependency kind (``from``, ``join``,
    ``flow_source``, ``flow_target``...) or ``synced_to`` (a Datasphere object → its Glue
    table); ``via`` names the flow that moves the data, when one does."""

    upstream: str
    downstream: str
    kind: str
    via: str | None = None


@dataclass(frozen=True, order=True)
class ColumnEdge:
    """Column-level lineage: ``upstream.upstream_column → downstream.downstream_column``."""

    upstream: str
    upstream_column: str
    downstream: str
    downstream_column: str
    kind: str = "derived"


@dataclass
class Node:
    key: str
    kind: NodeKind
    label: str | None = None
    #: ``(name, type)`` pairs: CDS types for Datasphere objects, Glue types for tables.
    columns: list[tuple[str, str]] = field(default_factory=list)
    description: str | None = None


@dataclass
class LineageGraph:
    """Datasphere objects (flows included) and Glue tables with their edges, plus column
    lineage. Build it with :func:`core.lineage_export.build_graph` or by hand (tests)."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[Edge] = field(default_factory=set)
    column_edges: set[ColumnEdge] = field(default_factory=set)

    def add_node(self, node: Node) -> None:
        known = self.nodes.get(node.key)
        if known is None or (not known.columns and node.columns) or known.kind == "unknown":
            self.nodes[node.key] = node

    def add_edge(self, edge: Edge) -> None:
        for key in (edge.upstream, edge.downstream):
            if key not in self.nodes:
                self.nodes[key] = Node(key=key, kind="glue_table" if key.startswith(GLUE_PREFIX) else "unknown")
        self.edges.add(edge)

    def adjacency(self) -> dict[str, set[str]]:
        """``upstream → {downstream}`` over every edge."""
        out: dict[str, set[str]] = {}
        for edge in self.edges:
            out.setdefault(edge.upstream, set()).add(edge.downstream)
        return out

    def neighbourhood(
        self, start: str, *, direction: Literal["upstream", "downstream", "both"] = "both", depth: int = 1
    ) -> LineageGraph:
        """The subgraph within ``depth`` hops of ``start`` in ``direction`` (edges between the
        kept nodes only; column edges among them)."""
        down = self.adjacency()
        keep: set[str] = {start}
        if direction in ("downstream", "both"):
            keep |= set(within_depth(down, start, depth))
        if direction in ("upstream", "both"):
            keep |= set(within_depth(reverse_graph(down), start, depth))
        return self.subgraph(keep)

    def subgraph(self, keep: Iterable[str]) -> LineageGraph:
        wanted = set(keep)
        out = LineageGraph()
        for key in sorted(wanted):
            if key in self.nodes:
                out.nodes[key] = self.nodes[key]
        out.edges = {e for e in self.edges if e.upstream in wanted and e.downstream in wanted}
        out.column_edges = {
            c for c in self.column_edges if c.upstream in wanted and c.downstream in wanted
        }
        return out

    def paths(self, source: str, target: str, *, max_paths: int = 100) -> list[list[str]]:
        return paths(self.adjacency(), source, target, max_paths=max_paths)

    def impact(self, changed: Iterable[str]) -> dict[str, list[str]]:
        return impact_in(self.adjacency(), changed)

    def column_graph(self) -> dict[str, set[str]]:
        """``ASSET#COLUMN → {ASSET#COLUMN}`` (``#`` separates: asset names may hold dots)."""
        out: dict[str, set[str]] = {}
        for c in self.column_edges:
            out.setdefault(f"{c.upstream}#{c.upstream_column}", set()).add(
                f"{c.downstream}#{c.downstream_column}"
            )
        return out

    def column_impact(self, asset: str, column: str) -> list[tuple[str, str]]:
        """Every ``(node, column)`` downstream of one column (Glue columns included), sorted."""
        found = descendants(self.column_graph(), f"{asset}#{column}")
        return sorted(tuple(f.rsplit("#", 1)) for f in found)  # type: ignore[misc]

    def column_sources(self, asset: str, column: str) -> list[tuple[str, str]]:
        """Every ``(node, column)`` upstream of one column, sorted."""
        found = ancestors(self.column_graph(), f"{asset}#{column}")
        return sorted(tuple(f.rsplit("#", 1)) for f in found)  # type: ignore[misc]

    def to_dict(self) -> dict[str, object]:
        return {
            "nodes": [
                {"key": n.key, "kind": n.kind, "label": n.label,
                 "columns": [{"name": c, "type": t} for c, t in n.columns]}
                for n in sorted(self.nodes.values(), key=lambda n: n.key)
            ],
            "edges": [
                {"upstream": e.upstream, "downstream": e.downstream, "kind": e.kind, "via": e.via}
                for e in sorted(self.edges)
            ],
            "column_edges": [
                {"upstream": c.upstream, "upstream_column": c.upstream_column,
                 "downstream": c.downstream, "downstream_column": c.downstream_column,
                 "kind": c.kind}
                for c in sorted(self.column_edges)
            ],
        }
