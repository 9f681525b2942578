"""Stored lineage edges: replace one asset's edges, the whole graph, and bounded walks up or down."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.store.schemas import LineageDirection, LineageEdgeIn, LineageEdgeOut
from core.store.tables import LineageEdgeRow


def replace_lineage(
    *,
    session: Session,
    downstream: str,
    edges: Iterable[LineageEdgeIn],
    run_id: str | None = None,
) -> int:
    """Replace every edge into ``downstream`` with ``edges`` (deduplicated); return how
    many are stored. An empty ``edges`` removes the asset's upstream lineage."""
    unique: dict[tuple[str, str, str, str | None], LineageEdgeIn] = {}
    for edge in edges:
        if edge.downstream != downstream:
            raise ValueError(f"edge into {edge.downstream!r} given for {downstream!r}")
        unique.setdefault((edge.upstream, edge.downstream, edge.kind, edge.via), edge)
    session.execute(delete(LineageEdgeRow).where(LineageEdgeRow.downstream == downstream))
    session.add_all(
        LineageEdgeRow(
            upstream=e.upstream, downstream=e.downstream, kind=e.kind, via=e.via, run_id=run_id
        )
        for e in unique.values()
    )
    session.flush()
    return len(unique)


def _walk(session: Session, asset: str, depth: int, upstream: bool) -> list[LineageEdgeOut]:
    near = LineageEdgeRow.downstream if upstream else LineageEdgeRow.upstream
    seen_nodes = {asset}
    frontier = {asset}
    out: list[LineageEdgeOut] = []
    for level in range(1, depth + 1):
        if not frontier:
            break
        rows = session.scalars(
            select(LineageEdgeRow)
            .where(near.in_(sorted(frontier)))
            .order_by(LineageEdgeRow.upstream, LineageEdgeRow.downstream, LineageEdgeRow.kind)
        ).all()
        next_frontier: set[str] = set()
        for row in rows:
            out.append(
                LineageEdgeOut(
                    upstream=row.upstream,
                    downstream=row.downstream,
                    kind=row.kind,
                    via=row.via,
                    run_id=row.run_id,
                    depth=level,
                )
            )
            far = row.upstream if upstream else row.downstream
            if far not in seen_nodes:
                seen_nodes.add(far)
                next_frontier.add(far)
        frontier = next_frontier
    return out


def lineage_graph(*, session: Session) -> dict[str, set[str]]:
    """Every stored edge as ``upstream → {downstream}`` (one query; for impact analysis)."""
    graph: dict[str, set[str]] = {}
    for upstream, downstream in session.execute(
        select(LineageEdgeRow.upstream, LineageEdgeRow.downstream)
    ):
        graph.setdefault(upstream, set()).add(downstream)
    return graph


def query_lineage(
    *,
    session: Session,
    asset: str,
    direction: LineageDirection = "both",
    depth: int = 1,
) -> list[LineageEdgeOut]:
    """Edges around ``asset`` up to ``depth`` hops (cycles are safe), nearest first."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    edges: list[LineageEdgeOut] = []
    if direction in ("upstream", "both"):
        edges += _walk(session, asset, depth, upstream=True)
    if direction in ("downstream", "both"):
        edges += _walk(session, asset, depth, upstream=False)
    return edges
