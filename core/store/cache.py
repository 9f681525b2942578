"""The asset cache: the last extracted version of each asset, for incremental sync."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.models import Asset
from core.store.repo.base import upsert
from core.store.schemas import utcnow
from core.store.tables import AssetCacheRow


def put_cached_asset(*, session: Session, env: str, asset: Asset, etag: str | None) -> None:
    """Remember ``asset`` as extracted (with the ETag it was read with)."""
    upsert(
        session,
        "asset_cache",
        {
            "env": env,
            "key": asset.key,
            "kind": asset.kind.value,
            "etag": etag,
            "asset": asset.model_dump_json(),
            "updated_at": utcnow(),
        },
        keys=("env", "key"),
        update=("kind", "etag", "asset", "updated_at"),
    )


def get_cached_assets(*, session: Session, env: str, keys: Iterable[str]) -> dict[str, Asset]:
    """Cached assets by key (missing keys are left out)."""
    wanted = sorted(set(keys))
    out: dict[str, Asset] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.scalars(
            select(AssetCacheRow).where(AssetCacheRow.env == env, AssetCacheRow.key.in_(chunk))
        )
        for row in rows:
            out[row.key] = Asset.model_validate_json(row.asset)
    return out


def cached_etags(*, session: Session, env: str) -> dict[str, str]:
    """``key → etag`` of every cached asset that has one."""
    rows = session.execute(
        select(AssetCacheRow.key, AssetCacheRow.etag).where(
            AssetCacheRow.env == env, AssetCacheRow.etag.is_not(None)
        )
    )
    return {key: etag for key, etag in rows if etag}


def drop_cached_assets(*, session: Session, env: str, keys: Iterable[str]) -> None:
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), 500):
        session.execute(
            delete(AssetCacheRow).where(
                AssetCacheRow.env == env, AssetCacheRow.key.in_(wanted[start : start + 500])
            )
        )
