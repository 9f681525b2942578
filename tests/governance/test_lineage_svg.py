"""core/lineage_svg.py: flows collapsed into labelled edges, the focus neighbourhood, the
layered layout (left to right, long edges routed through the gaps) and the SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from core.lineage import ColumnEdge, Edge, LineageGraph, Node
from core.lineage_svg import (
    GAP_X,
    NODE_W,
    NodeStyle,
    collapse_flows,
    focus_view,
    layout,
    render_svg,
)

SVG = "{http://www.w3.org/2000/svg}"


def _graph() -> LineageGraph:
    g = LineageGraph()
    for key, kind in [("S.SRC", "local_table"), ("S.DF", "data_flow"), ("S.TGT", "local_table"),
                      ("S.V", "view"), ("S.AM", "analytic_model"), ("O.FAR", "view")]:
        g.add_node(Node(key=key, kind=kind, label=key.lower()))
    g.add_edge(Edge("S.SRC", "S.DF", "flow_source", via="S.DF"))
    g.add_edge(Edge("S.DF", "S.TGT", "flow_target", via="S.DF"))
    g.add_edge(Edge("S.TGT", "S.V", "from"))
    g.add_edge(Edge("S.V", "S.AM", "fact_source"))
    g.add_edge(Edge("S.SRC", "S.AM", "join"))  # spans three layers
    g.add_edge(Edge("S.AM", "O.FAR", "from"))
    g.add_edge(Edge("S.AM", "glue:s.am", "synced_to"))
    g.column_edges.add(ColumnEdge("S.SRC", "A", "S.TGT", "A"))
    return g


def test_flows_become_labelled_edges_but_the_focus_flow_stays_a_node() -> None:
    collapsed = collapse_flows(_graph())
    assert "S.DF" not in collapsed.nodes
    assert Edge("S.SRC", "S.TGT", "flow", via="S.DF") in collapsed.edges
    assert collapsed.column_edges == _graph().column_edges
    kept = collapse_flows(_graph(), keep={"S.DF"})
    assert "S.DF" in kept.nodes and Edge("S.SRC", "S.DF", "flow_source", via="S.DF") in kept.edges


def test_focus_view_counts_levels_on_each_side() -> None:
    g = collapse_flows(_graph())
    assert set(focus_view(g, "S.V", up=1, down=0).nodes) == {"S.V", "S.TGT"}
    assert set(focus_view(g, "S.V", up=2, down=1).nodes) == {"S.SRC", "S.TGT", "S.V", "S.AM"}
    assert set(focus_view(g, "S.V", up=0, down=2).nodes) == {"S.V", "S.AM", "O.FAR", "glue:s.am"}
    alone = focus_view(g, "X.NOT_THERE", up=3, down=3)
    assert list(alone.nodes) == ["X.NOT_THERE"]


def test_layout_goes_left_to_right_and_routes_long_edges_through_the_gaps() -> None:
    placed = layout(collapse_flows(_graph()))
    x = {k: p.x for k, p in placed.nodes.items()}
    assert x["S.SRC"] < x["S.TGT"] < x["S.V"] < x["S.AM"] < x["O.FAR"]
    assert x["glue:s.am"] == x["O.FAR"]
    long = next(e for e in placed.edges if (e.upstream, e.downstream) == ("S.SRC", "S.AM"))
    # two points per skipped layer: the edge crosses each layer's slot horizontally
    assert len(long.points) == 2 + 2 * 2
    for (x0, _), (x1, _) in zip(long.points[::2], long.points[1::2], strict=True):
        assert x1 - x0 == GAP_X
    # no two boxes overlap
    boxes = sorted((p.x, p.y) for p in placed.nodes.values())
    assert len(set(boxes)) == len(boxes)
    assert placed.width >= x["O.FAR"] + NODE_W


def test_parallel_edges_are_drawn_once_with_both_kinds() -> None:
    g = collapse_flows(_graph())
    g.add_edge(Edge("S.V", "S.AM", "from"))
    edge = next(e for e in layout(g).edges if (e.upstream, e.downstream) == ("S.V", "S.AM"))
    assert edge.kinds == ["fact_source", "from"] and edge.label == "fact source, from"


def test_cycles_do_not_loop_forever() -> None:
    g = LineageGraph()
    g.add_edge(Edge("S.A", "S.B", "from"))
    g.add_edge(Edge("S.B", "S.A", "from"))
    assert set(layout(g).nodes) == {"S.A", "S.B"}


def test_svg_is_well_formed_with_links_labels_and_the_focus_marked() -> None:
    g = collapse_flows(_graph())

    def style(node: Node) -> NodeStyle:
        return NodeStyle("view", node.label or node.key, node.key, node.kind,
                         href=f"/lineage/{node.key.replace('.', '/')}" if node.key != "O.FAR" else None)

    svg = render_svg(layout(g), focus="S.V", style=style, edge_href=lambda e: "/flow" if e.vias else None)
    root = ET.fromstring(svg)
    links = {a.get("data-key"): a.get("href") for a in root.iter(f"{SVG}a") if a.get("data-key")}
    assert links["S.SRC"] == "/lineage/S/SRC" and "O.FAR" not in links
    groups = {n.get("data-key") for n in root.iter(f"{SVG}g") if n.get("data-key")}
    assert "O.FAR" in groups  # drawn, not a link
    focused = [a for a in root.iter(f"{SVG}a") if "focus" in (a.get("class") or "")]
    assert [a.get("data-key") for a in focused] == ["S.V"]
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "DF" in texts and "synced to" in texts and "fact source" in texts
    assert any(a.get("href") == "/flow" for a in root.iter(f"{SVG}a"))
    assert "<script" not in svg and "<style" not in svg and " style=" not in svg


def test_long_names_are_cut_with_an_ellipsis_and_kept_whole_in_the_tooltip() -> None:
    g = LineageGraph()
    name = "S." + "VERY_LONG_NAME_" * 6
    g.add_node(Node(key=name, kind="view", label="A label far too long to fit inside one box of the picture"))
    svg = render_svg(layout(g))
    root = ET.fromstring(svg)
    assert any((t.text or "").endswith("…") for t in root.iter(f"{SVG}text"))
    assert name in "".join(t.text or "" for t in root.iter(f"{SVG}title"))
