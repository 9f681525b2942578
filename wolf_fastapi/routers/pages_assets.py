"""The extraction browser: spaces → assets (server-side search, paginated) → asset page with
every column's CDS type and Glue type side by side, measures and dimensions, hierarchies and
its lineage neighbours (upstream and downstream).

A request never waits for an extraction (``AssetCatalog.ready_snapshot``): before the first
one is done the page says so and polls ``/assets/_ready``, which tells htmx to reload the page
(``HX-Refresh``) once the catalog is there; a stale catalog is shown while a new one is made."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from core.catalog import AssetCatalog, CatalogSnapshot, CatalogWarming, find_asset
from core.errors import NotFound
from core.mapping.preview import preview_from_result
from core.models import Asset
from wolf_fastapi.deps import ServicesDep
from wolf_fastapi.ui import is_htmx, page_window, render

router = APIRouter(tags=["dashboard"], include_in_schema=False)

PAGE_SIZE = 50


def _rows(catalog: AssetCatalog, snapshot: CatalogSnapshot, *, query: str, space: str, page: int) -> dict[str, Any]:
    if space and space not in {s.name for s in snapshot.spaces}:
        known = ", ".join(sorted(s.name for s in snapshot.spaces)) or "(none)"
        raise NotFound(f"no space {space!r} in the tenant", hint=f"Known spaces: {known}.")
    if query:
        # Ranked from the snapshot's search index (built once), not by scoring every asset.
        assets = [a for a, _, _ in catalog.search_in(snapshot, query, lambda a: not space or a.space == space)]
    else:
        assets = catalog.filtered(snapshot, space=space or None)
    page, pages, offset = page_window(len(assets), page, PAGE_SIZE)
    return {"assets": assets[offset:offset + PAGE_SIZE], "query": query, "space": space, "page": page,
            "pages": pages, "total": len(assets)}


def _warming(request: Request) -> HTMLResponse:
    return render(request, "wolf/assets/warming.html", active="assets")


@router.get("/assets/_ready")
def assets_ready(services: ServicesDep) -> Response:
    """204 while the first extraction runs; then 200 with ``HX-Refresh`` (htmx reloads the page)."""
    try:
        services.catalog().ready_snapshot()
    except CatalogWarming:
        return Response(status_code=204)
    return Response(status_code=200, headers={"HX-Refresh": "true"})


@router.get("/assets", response_class=HTMLResponse)
def assets_page(
    request: Request, services: ServicesDep, q: str = "", space: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    try:
        snapshot = services.catalog().ready_snapshot()
    except CatalogWarming:
        return _warming(request)
    rows = _rows(services.catalog(), snapshot, query=q.strip(), space=space.strip(), page=page)
    template = "wolf/assets/_rows.html" if is_htmx(request) else "wolf/assets/index.html"
    return render(request, template, {"snapshot": snapshot, "by_space": snapshot.by_space(), **rows}, active="assets")


def _downstream(catalog: AssetCatalog, snapshot: CatalogSnapshot, asset: Asset) -> list[tuple[Asset, str]]:
    """Assets that read ``asset`` (a dependency, an association or a flow source), from the
    snapshot's reverse index (built once, not a scan of the tenant per page)."""
    return [(other, how.replace("_", " "))
            for other, how in catalog.readers(snapshot).get((asset.space, asset.name), [])
            if other.key != asset.key]


@router.get("/assets/{space}/{name:path}", response_class=HTMLResponse)
def asset_page(request: Request, space: str, name: str, services: ServicesDep) -> HTMLResponse:
    try:
        snapshot = services.catalog().ready_snapshot()
    except CatalogWarming:
        return _warming(request)
    found = find_asset(snapshot, space, name)
    # The mapping of the whole extraction, made once per snapshot (not the tenant per request).
    preview = preview_from_result(found, services.catalog().mapping_index(snapshot), services.rules())
    glue_by_source: dict[str, Any] = {}
    if preview.table is not None:
        for col in [*preview.table.columns, *preview.table.partition_keys]:
            glue_by_source[col.parameters.get("dgsync.name", col.name)] = col
    measures = [c for c in found.columns if c.role.value == "measure"]
    dimensions = [c for c in found.columns if c.role.value != "measure"]
    return render(
        request, "wolf/assets/asset.html",
        {"asset": found, "preview": preview, "glue_by_source": glue_by_source,
         "table_input": preview.table.to_table_input() if preview.table else None,
         "measures": measures, "dimensions": dimensions,
         "downstream": _downstream(services.catalog(), snapshot, found),
         "known": services.catalog().by_name(snapshot)},
        active="assets",
    )
