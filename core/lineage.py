"""The lineage graph and impact traversal (pure; used by mapping, sync and the frontends).

A graph maps an asset key (``SPACE.NAME``) to the keys that read from it directly
(upstream → downstream). Flows are nodes of their own: source → flow → target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def descendants(graph: Mapping[str, Iterable[str]], start: str) -> set[str]:
    """Every node reachable downstream of ``start`` (``start`` itself excluded)."""
    seen: set[str] = set()
    stack = list(graph.get(start, ()))
    while stack:
        node = stack.pop()
        if node in seen or node == start:
            continue
        seen.add(node)
        stack.extend(graph.get(node, ()))
    return seen


def impact_in(graph: Mapping[str, Iterable[str]], changed: Iterable[str]) -> dict[str, list[str]]:
    """For each changed key, every key downstream of it (transitively), sorted."""
    return {start: sorted(descendants(graph, start)) for start in sorted(set(changed))}


def merge_graphs(*graphs: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for graph in graphs:
        for node, downs in graph.items():
            out.setdefault(node, set()).update(downs)
    return out
