"""A lineage neighbourhood as a picture: pure layered layout and an SVG renderer (no Graphviz).

Framework-free and dependency-free, for every frontend that shows lineage (Dog's
``/lineage/<space>/<name>``, exports):

* :func:`collapse_flows` — data flows become labelled edges (source ─[flow]→ target) instead
  of nodes of their own, so "N levels" counts data hops.
* :func:`focus_view` — the subgraph ``up`` levels upstream and ``down`` levels downstream of
  one node.
* :func:`layout` — a Sugiyama-style layered layout: longest-path layers (cycles broken),
  dummy points for edges that span several layers, barycentre sweeps against crossings.
* :func:`render_svg` — the laid-out graph as one ``<svg>``: nodes are links (``href`` decides
  where a click goes), edges carry their labels, styling is presentation attributes only
  (no ``<style>``, no inline script: the pages' CSP allows neither).
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from core.lineage import GLUE_PREFIX, Edge, LineageGraph, Node, reverse_graph, within_depth
from core.models import AssetKind

#: Box size and gaps of the layout (px).
NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 224, 58, 120, 22, 16
#: Approximate advance of one character at the node font sizes (no font metrics here).
_CHAR_W = {"title": 8.2, "mono": 6.7, "small": 6.0, "label": 6.7}

#: Fill / stroke per node category.
_COLOURS = {
    "focus": ("#fff7d6", "#0b6bcb"),
    "table": ("#eef7ee", "#3d7a45"),
    "view": ("#eaf2fb", "#2f5f99"),
    "analytic_model": ("#f3ecfa", "#6b4596"),
    "flow": ("#fdf3e1", "#a15c00"),
    "glue_table": ("#e7f4f8", "#1d6f86"),
    "glue_missing": ("#ffffff", "#1d6f86"),
    "hidden": ("#f2f2f2", "#777777"),
}


def is_flow_kind(kind: str) -> bool:
    try:
        return AssetKind(kind).is_flow
    except ValueError:
        return False


def collapse_flows(graph: LineageGraph, *, keep: Iterable[str] = ()) -> LineageGraph:
    """``graph`` with every flow node (but those in ``keep``) replaced by one edge per
    source × target, ``kind="flow"`` and ``via`` the flow's key. Column edges stay."""
    kept = set(keep)
    flows = {k for k, n in graph.nodes.items() if is_flow_kind(n.kind) and k not in kept}
    sources: dict[str, set[str]] = {}
    targets: dict[str, set[str]] = {}
    out = LineageGraph(column_edges=set(graph.column_edges))
    for key, node in graph.nodes.items():
        if key not in flows:
            out.nodes[key] = node
    for e in graph.edges:
        if e.downstream in flows:
            sources.setdefault(e.downstream, set()).add(e.upstream)
        elif e.upstream in flows:
            targets.setdefault(e.upstream, set()).add(e.downstream)
        else:
            out.add_edge(e)
    for flow in flows:
        for src in sources.get(flow, ()):
            for tgt in targets.get(flow, ()):
                if src != tgt:
                    out.add_edge(Edge(src, tgt, "flow", via=flow))
    return out


def focus_view(graph: LineageGraph, focus: str, *, up: int, down: int) -> LineageGraph:
    """The subgraph of ``focus``, everything at most ``up`` hops upstream and ``down`` hops
    downstream (0 = none on that side), and the edges among them."""
    adjacency = graph.adjacency()
    keep = {focus}
    if down > 0:
        keep |= set(within_depth(adjacency, focus, down))
    if up > 0:
        keep |= set(within_depth(reverse_graph(adjacency), focus, up))
    view = graph.subgraph(keep)
    if focus not in view.nodes:
        view.nodes[focus] = graph.nodes.get(focus) or Node(key=focus, kind="unknown")
    return view


# --------------------------------------------------------------------------- layout


@dataclass
class PlacedNode:
    node: Node
    x: float
    y: float
    layer: int


@dataclass
class PlacedEdge:
    """One drawn edge (parallel edges of a pair are merged: ``kinds``/``vias`` list them)."""

    upstream: str
    downstream: str
    kinds: list[str]
    vias: list[str]
    points: list[tuple[float, float]]

    @property
    def label(self) -> str:
        if self.vias:
            return ", ".join(v.partition(".")[2] or v for v in self.vias)
        return ", ".join(k.replace("_", " ") for k in self.kinds)


@dataclass
class Layout:
    nodes: dict[str, PlacedNode] = field(default_factory=dict)
    edges: list[PlacedEdge] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def _layers(keys: list[str], ups: Mapping[str, set[str]]) -> dict[str, int]:
    """Longest-path layer of every node; a back edge of a cycle is ignored (visiting order)."""
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(node: str) -> int:
        if node in layer:
            return layer[node]
        if node in visiting:
            return -1  # a cycle: this edge does not push the layer
        visiting.add(node)
        value = max((depth(u) + 1 for u in sorted(ups.get(node, ()))), default=0)
        visiting.discard(node)
        layer[node] = max(value, 0)
        return layer[node]

    for key in keys:
        depth(key)
    return layer


def _order(rows: dict[int, list[str]], links: list[tuple[str, str]], sweeps: int = 6) -> None:
    """Barycentre sweeps (down, then up) that reorder each layer in place to cut crossings."""
    ups: dict[str, list[str]] = {}
    downs: dict[str, list[str]] = {}
    for a, b in links:
        downs.setdefault(a, []).append(b)
        ups.setdefault(b, []).append(a)
    layers = sorted(rows)

    def reorder(layer: int, neighbours: dict[str, list[str]], ref: int) -> None:
        index = {k: i for i, k in enumerate(rows.get(ref, []))}
        current = {k: i for i, k in enumerate(rows[layer])}

        def key(k: str) -> tuple[float, int]:
            around = [index[n] for n in neighbours.get(k, ()) if n in index]
            return (sum(around) / len(around) if around else float(current[k]), current[k])

        rows[layer].sort(key=key)

    for sweep in range(sweeps):
        if sweep % 2 == 0:
            for layer in layers[1:]:
                reorder(layer, ups, layer - 1)
        else:
            for layer in reversed(layers[:-1]):
                reorder(layer, downs, layer + 1)


def layout(graph: LineageGraph) -> Layout:
    """Positions for every node and polyline points for every edge (left to right)."""
    keys = sorted(graph.nodes)
    ups: dict[str, set[str]] = {}
    for e in graph.edges:
        if e.upstream != e.downstream:
            ups.setdefault(e.downstream, set()).add(e.upstream)
    layer = _layers(keys, ups)
    merged: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for e in sorted(graph.edges):
        if e.upstream == e.downstream:
            continue
        kinds, vias = merged.setdefault((e.upstream, e.downstream), ([], []))
        if e.kind not in kinds:
            kinds.append(e.kind)
        if e.via and e.via not in vias:
            vias.append(e.via)
    rows: dict[int, list[str]] = {}
    for key in keys:
        rows.setdefault(layer[key], []).append(key)
    # Dummy points for edges spanning several layers, so they route between the boxes.
    chains: dict[tuple[str, str], list[str]] = {}
    links: list[tuple[str, str]] = []
    for (a, b) in merged:
        chain = [a]
        if layer[b] > layer[a] + 1:
            for mid in range(layer[a] + 1, layer[b]):
                dummy = f"\x00{a}\x00{b}\x00{mid}"
                rows.setdefault(mid, []).append(dummy)
                chain.append(dummy)
        chain.append(b)
        chains[(a, b)] = chain
        links.extend(itertools.pairwise(chain))
    _order(rows, links)
    tallest = max((len(r) for r in rows.values()), default=1)
    centres: dict[str, tuple[float, float]] = {}
    out = Layout()
    for index, lay in enumerate(sorted(rows)):
        row = rows[lay]
        offset = (tallest - len(row)) * (NODE_H + GAP_Y) / 2
        for i, key in enumerate(row):
            x = PAD + index * (NODE_W + GAP_X)
            y = PAD + offset + i * (NODE_H + GAP_Y)
            centres[key] = (x, y)
            if not key.startswith("\x00"):
                out.nodes[key] = PlacedNode(graph.nodes[key], x, y, lay)
    for (a, b), chain in chains.items():
        points: list[tuple[float, float]] = []
        ax, ay = centres[a]
        bx, by = centres[b]
        backwards = bx <= ax
        points.append((ax + NODE_W, ay + NODE_H / 2) if not backwards else (ax + NODE_W / 2, ay + NODE_H))
        for dummy in chain[1:-1]:  # straight through the dummy's slot: labels stay in the gaps
            dx, dy = centres[dummy]
            points.extend([(dx, dy + NODE_H / 2), (dx + NODE_W, dy + NODE_H / 2)])
        points.append((bx, by + NODE_H / 2) if not backwards else (bx + NODE_W / 2, by + NODE_H))
        kinds, vias = merged[(a, b)]
        out.edges.append(PlacedEdge(a, b, kinds, vias, points))
    out.width = PAD * 2 + len(rows) * (NODE_W + GAP_X) - GAP_X if rows else PAD * 2
    out.height = PAD * 2 + tallest * (NODE_H + GAP_Y) - GAP_Y
    return out


# --------------------------------------------------------------------------- render


def _fit(text: str, width: float, style: str) -> str:
    """``text`` cut with an ellipsis to fit ``width`` px (estimated)."""
    room = int(width / _CHAR_W[style])
    return text if len(text) <= room else text[: max(room - 1, 1)] + "…"


def _path(points: list[tuple[float, float]]) -> str:
    """A smooth path through ``points``: horizontal-tangent cubic Béziers between them."""
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M{x0:.1f},{y0:.1f}"]
    px, py = x0, y0
    for x, y in rest:
        bend = max(abs(x - px) / 2, 30.0)
        parts.append(f"C{px + bend:.1f},{py:.1f} {x - bend:.1f},{y:.1f} {x:.1f},{y:.1f}")
        px, py = x, y
    return " ".join(parts)


@dataclass(frozen=True)
class NodeStyle:
    """How one node is drawn: ``category`` (a key of the palette), the lines, the link."""

    category: str
    title: str
    subtitle: str
    note: str
    href: str | None = None
    tooltip: str = ""
    dashed: bool = False


def default_style(node: Node) -> NodeStyle:
    """A style from the node alone (the frontends pass their own for links and markers)."""
    if node.key.startswith(GLUE_PREFIX):
        return NodeStyle("glue_table", node.key[len(GLUE_PREFIX):], "Glue table", "synced target")
    category = "flow" if is_flow_kind(node.kind) else node.kind
    if node.kind in ("local_table", "remote_table"):
        category = "table"
    if node.kind == "unknown":
        return NodeStyle("hidden", node.key, "not visible", "owner space hidden", dashed=True)
    return NodeStyle(category, node.label or node.key, node.key, node.kind.replace("_", " "))


def render_svg(
    placed: Layout,
    *,
    focus: str | None = None,
    style: Callable[[Node], NodeStyle] = default_style,
    title: str = "Lineage",
    edge_href: Callable[[PlacedEdge], str | None] | None = None,
) -> str:
    """The layout as an SVG document fragment (embeddable inline in HTML)."""
    w, h = max(placed.width, NODE_W + 2 * PAD), max(placed.height, NODE_H + 2 * PAD)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage-graph" role="img" width="{w:.0f}" '
        f'height="{h:.0f}" viewBox="0 0 {w:.0f} {h:.0f}" font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{html.escape(title)}</title>",
        '<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#5b6472"/></marker></defs>',
    ]
    labels: list[str] = []
    for e in placed.edges:
        synced = e.kinds == ["synced_to"]
        dash = ' stroke-dasharray="5 4"' if synced else ""
        colour = "#1d6f86" if synced else ("#a15c00" if e.vias else "#5b6472")
        out.append(
            f'<g class="edge" data-from="{html.escape(e.upstream)}" data-to="{html.escape(e.downstream)}">'
            f'<path d="{_path(e.points)}" fill="none" stroke="{colour}" stroke-width="1.5"{dash} '
            f'marker-end="url(#lineage-arrow)"/><title>{html.escape(e.upstream)} → '
            f'{html.escape(e.downstream)} ({html.escape(", ".join(e.kinds))})</title></g>'
        )
        labels.append(_edge_label(e, colour, edge_href(e) if edge_href else None))
    for key, p in sorted(placed.nodes.items()):
        out.append(_node(p, style(p.node), focused=key == focus))
    out.extend(labels)  # labels over everything: readable where edges cross boxes
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _edge_label(e: PlacedEdge, colour: str, href: str | None) -> str:
    (x0, y0), (x1, y1) = e.points[0], e.points[1]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    text = _fit(e.label, GAP_X - 22, "label")
    width = len(text) * _CHAR_W["label"] + 10
    flow = bool(e.vias)
    body = (
        f'<rect x="{cx - width / 2:.1f}" y="{cy - 9:.1f}" width="{width:.1f}" height="16" rx="8" '
        f'fill="{"#fdf3e1" if flow else "#ffffff"}" stroke="{colour}" stroke-width="{1 if flow else 0.5}"/>'
        f'<text x="{cx:.1f}" y="{cy + 3:.1f}" text-anchor="middle" font-size="10.5" fill="{colour}">'
        f"{html.escape(text)}</text>"
    )
    tip = f"<title>{html.escape(' · '.join([*e.vias, *e.kinds]))}</title>"
    cls = "edge-label flow" if flow else "edge-label"
    if href:
        return f'<a class="{cls}" href="{html.escape(href)}">{tip}{body}</a>'
    return f'<g class="{cls}">{tip}{body}</g>'


def _node(p: PlacedNode, s: NodeStyle, *, focused: bool) -> str:
    fill, stroke = _COLOURS["focus"] if focused else _COLOURS.get(s.category, _COLOURS["table"])
    width = 2.5 if focused else 1.2
    dash = ' stroke-dasharray="4 3"' if s.dashed else ""
    rx = 18 if s.category == "flow" else 6
    inner = NODE_W - 20
    tip = s.tooltip or f"{s.title}\n{s.subtitle}\n{s.note}"
    body = (
        f"<title>{html.escape(tip)}</title>"
        f'<rect x="{p.x:.1f}" y="{p.y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="{rx}" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="{width}"{dash}/>'
        f'<text x="{p.x + 10:.1f}" y="{p.y + 18:.1f}" font-weight="600" fill="#1d2330">'
        f"{html.escape(_fit(s.title, inner, 'title'))}</text>"
        f'<text x="{p.x + 10:.1f}" y="{p.y + 34:.1f}" font-family="ui-monospace, monospace" font-size="11" '
        f'fill="#344054">{html.escape(_fit(s.subtitle, inner, "mono"))}</text>'
        f'<text x="{p.x + 10:.1f}" y="{p.y + 49:.1f}" font-size="10.5" fill="{stroke}">'
        f"{html.escape(_fit(s.note, inner, 'small'))}</text>"
    )
    attrs = (
        f'class="node node-{html.escape(s.category)}{" focus" if focused else ""}" '
        f'data-key="{html.escape(p.node.key)}" data-kind="{html.escape(p.node.kind)}"'
    )
    if s.href:
        return f'<a {attrs} href="{html.escape(s.href)}">{body}</a>'
    return f"<g {attrs}>{body}</g>"
