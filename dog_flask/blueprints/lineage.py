"""Lineage: a picture of one asset's upstream and downstream N levels (flows on the edges,
Glue tables as the sync targets, hidden owners marked), every node a link to its own page,
and the column lineage of one column."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from core.lineage import GLUE_PREFIX
from core.lineage_svg import focus_view, layout, render_svg
from dog_flask import lineage as lin
from dog_flask.errors import BadInput
from dog_flask.extension import catalog, services

bp = Blueprint("lineage", __name__, url_prefix="/lineage")


def _depth(name: str, default: int = 2) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > lin.MAX_DEPTH:
        raise BadInput(f"{name}={raw!r} is not a depth", hint=f"Use a whole number from 0 to {lin.MAX_DEPTH}.")
    return int(raw)


@bp.get("/")
def index() -> str:
    """Where to start: every asset with lineage, by space."""
    snapshot = catalog().snapshot()
    graph = lin.full_graph(services(), snapshot)
    linked: set[str] = set()
    for e in graph.edges:
        if e.kind != "synced_to":
            linked.update((e.upstream, e.downstream))
    by_space: dict[str, list[object]] = {}
    for asset in snapshot.assets:
        if asset.key in linked:
            by_space.setdefault(asset.space, []).append(asset)
    return render_template("dog/lineage/index.html", by_space=dict(sorted(by_space.items())))


def _page_context(space: str, name: str) -> dict[str, object]:
    up, down = _depth("up"), _depth("down")
    snapshot = catalog().snapshot()
    asset = catalog().get(space, name)
    svc = services()
    graph = lin.full_graph(svc, snapshot)
    view = focus_view(lin.view_graph(svc, snapshot, asset.key), asset.key, up=up, down=down)
    glue_live: set[str] = set()
    glue = svc.glue()
    for database in sorted({k[len(GLUE_PREFIX):].partition(".")[0] for k in view.nodes if k.startswith(GLUE_PREFIX)}):
        if glue.get_database(database) is not None:
            glue_live.update(f"{database}.{t['Name']}" for t in glue.iter_tables(database))
    known = frozenset(a.key for a in snapshot.assets)
    styler = lin.Styler(
        focus_space=asset.space, visible_spaces=frozenset(s.name for s in snapshot.spaces),
        known=known, glue_live=frozenset(glue_live), up=up, down=down,
    )
    svg = render_svg(layout(view), focus=asset.key, style=styler, edge_href=lin.edge_href,
                     title=f"Lineage of {asset.key}")
    column = request.args.get("column", "").strip()
    names = [c.name for c in asset.columns]
    col_svg = None
    into: list[object] = []
    out: list[object] = []
    if column:
        if column not in names:
            raise BadInput(f"{asset.key} has no column {column!r}",
                           hint="Pick one from the list (names are case-sensitive).")
        cgraph = lin.column_graph(graph, asset.key, column)
        col_svg = render_svg(layout(cgraph), focus=f"{asset.key}#{column}",
                             style=lin.column_styler(known, up, down), title=f"Column lineage of {asset.key}.{column}")
        into, out = lin.column_rows(graph, asset.key, column)  # type: ignore[assignment]
    return {
        "asset": asset, "up": up, "down": down, "max_depth": lin.MAX_DEPTH, "svg": svg, "view": view,
        "column": column, "columns": names, "col_svg": col_svg, "col_into": into, "col_out": out,
        "counts": {
            "upstream": sum(1 for e in view.edges if e.downstream == asset.key),
            "nodes": len(view.nodes), "edges": len(view.edges),
        },
    }


@bp.get("/<space>/<name>")
def asset(space: str, name: str) -> str:
    return render_template("dog/lineage/asset.html", **_page_context(space, name))


@bp.get("/<space>/<name>.svg")
def asset_svg(space: str, name: str) -> Response:
    """The picture alone (download or embed)."""
    context = _page_context(space, name)
    return Response(str(context["svg"]), mimetype="image/svg+xml")
