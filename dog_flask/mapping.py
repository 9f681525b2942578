"""The mapping of the whole catalog snapshot, made once per extraction and rules object and
shared by the asset, compare and lineage pages (mapping a 10,000-asset tenant takes seconds;
one asset's preview is then a lookup: ``core.mapping.preview.preview_from_result``)."""

from __future__ import annotations

import threading
from typing import Any

from flask import current_app

from core.catalog import CatalogSnapshot
from core.mapping.mapper import map_assets
from core.mapping.preview import AssetPreview, MappingIndex, preview_from_result
from core.models import Asset
from core.specs import MappingResult
from dog_flask.extension import services

CACHE_KEY = "dgsync.mapping"


class SnapshotCache:
    """Values derived from one (snapshot, rules) pair; a new extraction or new rules drop them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()  # a value may be made from another (lineage from mapping)
        self.snapshot: CatalogSnapshot | None = None
        self.rules: Any = None
        self.values: dict[str, Any] = {}

    def get(self, snapshot: CatalogSnapshot, rules: Any, name: str, make: Any) -> Any:
        with self.lock:
            if self.snapshot is not snapshot or self.rules is not rules:
                self.snapshot, self.rules, self.values = snapshot, rules, {}
            if name not in self.values:
                self.values[name] = make()
            return self.values[name]


def cache() -> SnapshotCache:
    found: SnapshotCache = current_app.extensions.setdefault(CACHE_KEY, SnapshotCache())
    return found


def snapshot_mapping(snapshot: CatalogSnapshot) -> MappingResult:
    """Every asset of ``snapshot`` mapped under the current rules (cached)."""
    svc = services()
    rules = svc.rules()
    result: MappingResult = cache().get(
        snapshot, rules, "mapping",
        lambda: map_assets(snapshot.assets, rules, env=svc.settings.env, spaces=snapshot.spaces),
    )
    return result


def preview(asset: Asset, snapshot: CatalogSnapshot) -> AssetPreview:
    """How ``asset`` maps, in the context of the whole snapshot."""
    rules = services().rules()
    index = cache().get(snapshot, rules, "mapping_index", lambda: MappingIndex.of(snapshot_mapping(snapshot)))
    return preview_from_result(asset, index, rules)
