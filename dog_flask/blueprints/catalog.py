"""The Datasphere explorer: spaces → assets (server-side search, paginated) → asset page with
the CDS type and the Glue type of every column side by side."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from dog_flask import mapping
from dog_flask.extension import catalog

bp = Blueprint("catalog", __name__, url_prefix="/catalog")

PAGE_SIZE = 50


def _page_of(items: list, page: int) -> tuple[list, int, int]:  # type: ignore[type-arg]
    pages = max(1, (len(items) + PAGE_SIZE - 1) // PAGE_SIZE)
    page = min(max(page, 1), pages)
    return items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], page, pages


def _rows_context() -> dict[str, object]:
    query = request.args.get("q", "").strip()
    space = request.args.get("space", "").strip()
    page = request.args.get("page", 1, type=int) or 1
    snapshot = catalog().snapshot()
    if query:  # ranked on the snapshot's search index (built once per extraction)
        ranked = catalog().search_in(snapshot, query, keep=lambda a: not space or a.space == space)
        assets = [asset for asset, _, _ in ranked]
    else:
        assets = [a for a in snapshot.assets if not space or a.space == space]
    shown, page, pages = _page_of(assets, page)
    return {"assets": shown, "query": query, "space": space, "page": page, "pages": pages, "total": len(assets)}


@bp.get("/")
def index() -> str:
    snapshot = catalog().snapshot(refresh=request.args.get("refresh") == "1")
    return render_template(
        "dog/catalog/index.html", snapshot=snapshot, by_space=snapshot.by_space(), **_rows_context()
    )


@bp.get("/_rows")
def rows() -> str:
    """One page of the assets matching ``q`` (names, labels, columns) within ``space``."""
    return render_template("dog/catalog/_rows.html", **_rows_context())


@bp.get("/<space>/<name>")
def asset(space: str, name: str) -> str:
    """One asset and how the mapping rules turn it into a Glue table."""
    found = catalog().get(space, name)
    snapshot = catalog().snapshot()
    preview = mapping.preview(found, snapshot)
    glue_by_source = {}
    if preview.table is not None:
        for col in [*preview.table.columns, *preview.table.partition_keys]:
            glue_by_source[col.parameters.get("dgsync.name", col.name)] = col
    table_input = preview.table.to_table_input() if preview.table else None
    return render_template(
        "dog/catalog/asset.html", asset=found, preview=preview, table_input=table_input,
        glue_by_source=glue_by_source, known={(a.space, a.name) for a in snapshot.assets},
    )
