"""``GET /api/v1/assets`` (paginated, searchable) and ``/api/v1/assets/{space}/{name}``:
what was extracted from Datasphere (``core.catalog``; a web request never waits for an
extraction: the first one answers 503 with ``Retry-After`` while it runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from core.catalog import AssetCatalog, CatalogSnapshot, find_asset
from core.models import Asset, AssetKind
from wolf_fastapi.deps import CatalogDep
from wolf_fastapi.errors import error_responses
from wolf_fastapi.routers.api_v1 import VIEWER

router = APIRouter(tags=["assets"], dependencies=VIEWER)

_CURSOR_PREFIX = "o"


class AssetSummary(BaseModel):
    """One asset of a listing; ``score``/``matched`` are set when searching."""

    key: str = Field(description="`SPACE.NAME`")
    space: str
    name: str
    kind: AssetKind
    label: str | None
    description: str | None
    columns: int
    score: int | None = None
    matched: list[str] = Field(default_factory=list, description="Where the words matched: name, label, column…")


class AssetPage(BaseModel):
    items: list[AssetSummary]
    total: int = Field(description="Assets matching the filters (all pages).")
    limit: int
    offset: int
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    extracted_at: datetime


def encode_cursor(offset: int) -> str:
    return f"{_CURSOR_PREFIX}{offset}"


def page_start(offset: int | None, cursor: str | None) -> int:
    """The start of the page: ``cursor`` when given (it wins over ``offset``), else ``offset``."""
    if cursor is not None:
        return int(cursor[len(_CURSOR_PREFIX):])
    return offset or 0


def _summary(asset: Asset, score: int | None = None, matched: list[str] | None = None) -> AssetSummary:
    return AssetSummary(
        key=asset.key, space=asset.space, name=asset.name, kind=asset.kind,
        label=asset.label or asset.business.label, description=asset.business.description,
        columns=len(asset.columns), score=score, matched=matched or [],
    )


def listing(
    catalog: AssetCatalog, snapshot: CatalogSnapshot, *, q: str | None, space: str | None, kind: AssetKind | None,
    start: int, limit: int,
) -> AssetPage:
    """One page, from the snapshot's sorted index; summaries are built for that page only (a
    tenant may hold 10,000 assets)."""
    wanted_space = space.upper() if space is not None else None

    def keep(asset: Asset) -> bool:
        return (wanted_space is None or asset.space.upper() == wanted_space) and (kind is None or asset.kind is kind)

    end = start + limit
    if q and q.strip():
        ranked = catalog.search_in(snapshot, q, keep)
        total = len(ranked)
        items = [_summary(asset, score, matched) for asset, score, matched in ranked[start:end]]
    else:
        chosen = catalog.filtered(snapshot, space=space, kind=kind)
        total = len(chosen)
        items = [_summary(a) for a in chosen[start:end]]
    return AssetPage(items=items, total=total, limit=limit, offset=start,
                     next_cursor=encode_cursor(end) if end < total else None, extracted_at=snapshot.extracted_at)


@router.get("/assets", response_model=AssetPage)
async def list_assets(
    catalog: CatalogDep,
    q: Annotated[str | None, Query(max_length=200, description="Words to search in names, labels, descriptions, "
                                   "columns (every word must match; ranked).")] = None,
    space: Annotated[str | None, Query(max_length=200, description="Only this space (case-insensitive).")] = None,
    kind: Annotated[AssetKind | None, Query(description="Only this kind.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int | None, Query(ge=0, le=10_000_000, description="Skip this many (see `cursor`).")] = None,
    cursor: Annotated[str | None, Query(pattern=r"^o[0-9]{1,8}$", description="`next_cursor` of the previous "
                                        "page, passed as is (when given, `offset` is ignored).")] = None,
) -> AssetPage:
    """Extracted assets, sorted by space and name (by relevance with `q`), one page."""
    start = page_start(offset, cursor)

    def read() -> AssetPage:  # off the event loop: a search ranks thousands of assets
        snapshot = catalog.ready_snapshot()
        return listing(catalog, snapshot, q=q, space=space, kind=kind, start=start, limit=limit)

    return await anyio.to_thread.run_sync(read)


@router.get("/assets/{space}/{name}", response_model=Asset, responses=error_responses(404))
async def get_asset(
    catalog: CatalogDep,
    space: Annotated[str, Path(max_length=200)],
    name: Annotated[str, Path(max_length=500, description="Technical name (case-sensitive).")],
) -> Asset:
    """One asset with its columns, measures, dimensions, hierarchies, dependencies and
    business context."""
    snapshot = await anyio.to_thread.run_sync(catalog.ready_snapshot)
    return find_asset(snapshot, space, name)
