"""Impact analysis of a plan: which downstream assets (and their Glue tables) a change touches.

Downstream assets come from this run's assets and from the lineage stored by earlier runs;
only changes to what exists have impact (a new table has no consumers yet).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from core.lineage import impact_in, merge_graphs
from core.models import Asset
from core.sync.plan import Action, Plan

_CHANGES = (Action.UPDATE, Action.DEPRECATE, Action.DELETE)


def attach_impact(
    plan: Plan,
    assets: Sequence[Asset],
    stored: Mapping[str, set[str]],
    tables_of: Callable[[set[str]], dict[str, str]],
) -> None:
    """Fill ``impact`` and ``impact_tables`` of every change in ``plan``.

    ``stored`` is the lineage graph of earlier runs; ``tables_of(keys)`` gives the Glue table
    (``database.table``) of each key as last synced.
    """
    from core.mapping.mapper import downstream_graph

    for item in plan.items:
        item.impact = []
    writes = [i for i in plan.items if i.action in _CHANGES and i.asset]
    if not writes:
        return
    graph = merge_graphs(downstream_graph(assets), stored) if assets else dict(stored)
    impact = impact_in(graph, {i.asset for i in writes if i.asset})
    every = {k for downs in impact.values() for k in downs}
    tables = tables_of(every) if every else {}
    for item in writes:
        item.impact = impact.get(item.asset or "", [])
        item.impact_tables = sorted({tables[k] for k in item.impact if k in tables})
