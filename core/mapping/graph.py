"""The asset graph of a mapping: the ends of a flow, who reads from whom, and impact analysis
(what is downstream of a changed asset, and which Glue tables that is).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from core.lineage import impact_in
from core.models import Asset, AssetRef, DependencyKind
from core.specs import MappingResult


def flow_ends(flow: Asset) -> tuple[list[AssetRef], list[AssetRef]]:
    """Sources and targets of a flow, from its definition and its dependencies."""
    sources: dict[AssetRef, None] = {}
    targets: dict[AssetRef, None] = {}
    if flow.flow is not None:
        sources.update(dict.fromkeys(flow.flow.sources))
        targets.update(dict.fromkeys(flow.flow.targets))
    for dep in flow.upstream:
        if dep.kind is DependencyKind.FLOW_TARGET:
            targets[dep.ref] = None
        else:
            sources[dep.ref] = None
    key = ref_key
    return sorted(sources, key=key), sorted(targets, key=key)


def ref_key(ref: AssetRef) -> tuple[str, str]:
    """Sort key of an asset reference: (space, name)."""
    return (ref.space, ref.name)


def downstream_graph(assets: Iterable[Asset]) -> dict[str, set[str]]:
    """``SPACE.NAME`` → the assets that read from it directly (flows included as nodes)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for asset in assets:
        if asset.kind.is_flow:
            sources, targets = flow_ends(asset)
            for s in sources:
                graph[str(s)].add(asset.key)
            for t in targets:
                graph[asset.key].add(str(t))
            continue
        for dep in asset.upstream:
            if dep.kind is DependencyKind.FLOW_TARGET:
                graph[asset.key].add(str(dep.ref))
            else:
                graph[str(dep.ref)].add(asset.key)
    for node in graph.values():
        node.discard("")
    return graph


def impact(changed: set[str], assets: Iterable[Asset]) -> dict[str, list[str]]:
    """For each changed asset key, every asset downstream of it (transitively), sorted.

    Dependencies are followed from upstream to downstream: a view read by two analytic models
    impacts both; a table read by a data flow impacts the flow and the flow's target tables.
    Use :func:`impacted_tables` to turn the keys into Glue tables.
    """
    return impact_in(downstream_graph(assets), changed)


def impacted_tables(
    impact_map: Mapping[str, list[str]], mapping: MappingResult
) -> dict[str, list[str]]:
    """For each changed key, the Glue tables (``database.table``) of it and its downstream."""
    table_of = {str(t.source): t.key for t in mapping.tables}
    out: dict[str, list[str]] = {}
    for start, downstream in impact_map.items():
        keys = [start, *downstream]
        out[start] = sorted({table_of[k] for k in keys if k in table_of})
    return out
