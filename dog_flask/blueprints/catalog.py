"""Browse and search the assets extracted from the embedded Datasphere emulator."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from core.mapping.preview import map_asset_preview
from dog_flask.extension import catalog, services

bp = Blueprint("catalog", __name__, url_prefix="/catalog")


@bp.get("/")
def index() -> str:
    snapshot = catalog().snapshot(refresh=request.args.get("refresh") == "1")
    return render_template("dog/catalog/index.html", snapshot=snapshot, by_space=snapshot.by_space())


@bp.get("/_rows")
def rows() -> str:
    """Assets matching ``q`` (all of one ``space`` when no query)."""
    query = request.args.get("q", "").strip()
    space = request.args.get("space", "").strip()
    if query:
        hits = catalog().search(query, limit=100)
        assets = [catalog().get(h.space, h.name) for h in hits]
    else:
        assets = [a for a in catalog().snapshot().assets if not space or a.space == space]
    return render_template("dog/catalog/_rows.html", assets=assets, query=query)


@bp.get("/<space>/<name>")
def asset(space: str, name: str) -> str:
    """One asset and how the mapping rules turn it into a Glue table."""
    found = catalog().get(space, name)
    snapshot = catalog().snapshot()
    svc = services()
    preview = map_asset_preview(
        found, svc.rules(), svc.settings.env, others=snapshot.assets, spaces=snapshot.spaces
    )
    table_input = preview.table.to_table_input() if preview.table else None
    return render_template("dog/catalog/asset.html", asset=found, preview=preview, table_input=table_input)
