"""What ``dgsync rules test`` and the frontends show for one asset: how it maps, in context."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class MappingIndex:
    """One mapping, looked up per asset key: its table (the first mapped from it), the
    databases by name, the lineage edges touching it (``via`` included) and its issues, in the
    mapping's order. Built once per mapping; a preview is then a few lookups, not scans of
    every table and edge of the tenant."""

    tables: dict[str, TableSpec]
    databases: dict[str, DatabaseSpec]
    lineage: dict[str, list[LineageEdge]]
    issues: dict[str, list[MappingIssue]]
    skipped: dict[str, str]

    @classmethod
    def of(cls, result: MappingResult) -> MappingIndex:
        tables: dict[str, TableSpec] = {}
        for table in result.tables:
            tables.setdefault(str(table.source), table)
        databases: dict[str, DatabaseSpec] = {}
        for database in result.databases:
            databases.setdefault(database.name, database)
        lineage: dict[str, list[LineageEdge]] = {}
        for edge in result.lineage:
            ends = {str(edge.upstream), str(edge.downstream)}
            if edge.via is not None:
                ends.add(str(edge.via))
            for key in ends:
                lineage.setdefault(key, []).append(edge)
        issues: dict[str, list[MappingIssue]] = {}
        for issue in result.issues:
            if issue.asset is not None:
                issues.setdefault(issue.asset, []).append(issue)
        return cls(tables=tables, databases=databases, lineage=lineage, issues=issues, skipped=result.skipped)


def preview_from_result(asset: Asset, result: MappingResult | MappingIndex, rules: Rules) -> AssetPreview:
    """The part of ``asset`` in a mapping already made of it and its context (a frontend maps
    a whole catalog once and previews many assets from it — from its :class:`MappingIndex`:
    mapping 10,000 assets per page would take seconds, scanning them ~10 ms)."""
    index = result if isinstance(result, MappingIndex) else MappingIndex.of(result)
    key = asset.key
    table = index.tables.get(key)
    database = index.databases.get(table.database) if table is not None else None
    note = None
    if asset.kind.is_flow and key not in index.skipped:
        note = (
            f"a {asset.kind.value.replace('_', ' ')} is not a table: it becomes lineage edges and "
            f"a {P.LINEAGE_FLOWS} entry on its target tables"
        )
    return AssetPreview(
        asset=key,
        kind=asset.kind,
        database=database,
        table=table,
        skipped=index.skipped.get(key),
        note=note,
        lineage=list(index.lineage.get(key, ())),
        issues=list(index.issues.get(key, ())),
        overrides=rules.override_for(asset).matched,
    )
