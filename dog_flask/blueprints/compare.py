"""Compare an asset with its Glue table column by column (missing, extra, type, comment,
parameter) — what the next sync would change for it."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.errors import NotFound
from dog_flask import mapping
from dog_flask.compare import compare_spec
from dog_flask.extension import catalog, services

bp = Blueprint("compare", __name__, url_prefix="/compare")


@bp.get("/<space>/<name>")
def table(space: str, name: str) -> str:
    snapshot = catalog().snapshot()
    asset = catalog().get(space, name)
    svc = services()
    preview = mapping.preview(asset, snapshot)
    if preview.table is None:
        raise NotFound(
            f"{asset.key} has no Glue table",
            hint=preview.skipped or preview.note or "The mapping rules produce no table for it.",
        )
    live = svc.glue().get_table(preview.table.database, preview.table.name)
    comparison = compare_spec(preview.table, dict(live) if live else None)
    return render_template("dog/compare/table.html", asset=asset, spec=preview.table, cmp=comparison)
