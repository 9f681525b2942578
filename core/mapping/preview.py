"""What ``dgsync rules test`` and the frontends show for one asset: how it maps, in context."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from core.mapping.mapper import map_assets
from core.models import Asset, AssetKind, Space
from core.specs import DatabaseSpec, LineageEdge, MappingIssue, MappingResult, TableSpec

from . import params as P
from .rules import Rules


class AssetPreview(BaseModel):
    """How one asset maps: what ``dgsync rules test`` shows."""

    model_config = ConfigDict(extra="forbid")

    asset: str
    kind: AssetKind
    database: DatabaseSpec | None = None
    table: TableSpec | None = None
    skipped: str | None = None
    note: str | None = None
    lineage: list[LineageEdge] = Field(default_factory=list)
    issues: list[MappingIssue] = Field(default_factory=list)
    overrides: list[int] = Field(default_factory=list)


def map_asset_preview(
    asset: Asset,
    rules: Rules,
    env: str,
    *,
    others: Iterable[Asset] = (),
    spaces: Iterable[Space] = (),
) -> AssetPreview:
    """Map ``asset`` (with ``others`` as context: name collisions, flows) and keep its part."""
    context = [a for a in others if a.key != asset.key]
    result = map_assets([asset, *context], rules, env=env, spaces=spaces)
    return preview_from_result(asset, result, rules)


def preview_from_result(asset: Asset, result: MappingResult, rules: Rules) -> AssetPreview:
    """The part of ``asset`` in a mapping already made of it and its context (a frontend maps
    a whole catalog once and previews many assets from it: mapping 10,000 assets per page
    would take seconds)."""
    key = asset.key
    table = next((t for t in result.tables if str(t.source) == key), None)
    database = None
    if table is not None:
        database = next((d for d in result.databases if d.name == table.database), None)
    note = None
    if asset.kind.is_flow and key not in result.skipped:
        note = (
            f"a {asset.kind.value.replace('_', ' ')} is not a table: it becomes lineage edges and "
            f"a {P.LINEAGE_FLOWS} entry on its target tables"
        )
    lineage = [
        e for e in result.lineage
        if key in (str(e.upstream), str(e.downstream)) or (e.via is not None and str(e.via) == key)
    ]
    return AssetPreview(
        asset=key,
        kind=asset.kind,
        database=database,
        table=table,
        skipped=result.skipped.get(key),
        note=note,
        lineage=lineage,
        issues=[i for i in result.issues if i.asset == key],
        overrides=rules.override_for(asset).matched,
    )
