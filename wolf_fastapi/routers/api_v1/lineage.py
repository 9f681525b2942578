"""``GET /api/v1/lineage/{space}/{name}``: the lineage graph around one asset."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from core.catalog import find_asset
from core.lineage import LineageGraph
from wolf_fastapi.deps import CatalogDep
from wolf_fastapi.errors import error_responses
from wolf_fastapi.routers.api_v1 import VIEWER

router = APIRouter(tags=["lineage"], dependencies=VIEWER)


class LineageColumn(BaseModel):
    name: str
    type: str


class LineageNode(BaseModel):
    key: str = Field(description="`SPACE.NAME` for Datasphere objects, `glue:DATABASE.TABLE` for Glue tables.")
    kind: str = Field(description="An asset kind, `glue_table`, or `unknown` (outside the extraction).")
    label: str | None
    columns: list[LineageColumn]


class LineageEdge(BaseModel):
    upstream: str
    downstream: str
    kind: str = Field(description="`from`, `join`, `flow_source`, `flow_target`, `synced_to`…")
    via: str | None = Field(description="The flow that moves the data, when one does.")


class LineageColumnEdge(BaseModel):
    upstream: str
    upstream_column: str
    downstream: str
    downstream_column: str
    kind: str


class LineageOut(BaseModel):
    root: str
    depth: int
    direction: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    column_edges: list[LineageColumnEdge]


def graph_out(graph: LineageGraph, *, root: str, depth: int, direction: str) -> LineageOut:
    return LineageOut.model_validate({"root": root, "depth": depth, "direction": direction, **graph.to_dict()})


@router.get("/lineage/{space}/{name}", response_model=LineageOut, responses=error_responses(404))
async def lineage(
    catalog: CatalogDep,
    space: Annotated[str, Path(max_length=200)],
    name: Annotated[str, Path(max_length=500)],
    depth: Annotated[int, Query(ge=1, le=10, description="Hops from the asset.")] = 2,
    direction: Annotated[Literal["upstream", "downstream", "both"], Query()] = "both",
) -> LineageOut:
    """The asset's neighbourhood: Datasphere objects (flows as nodes), the Glue tables they
    sync to, and column-level edges among them."""

    def build() -> LineageOut:
        snapshot = catalog.ready_snapshot()
        asset = find_asset(snapshot, space, name)
        graph = catalog.neighbourhood(snapshot, asset.key, direction=direction, depth=depth)
        return graph_out(graph, root=asset.key, depth=depth, direction=direction)

    return await anyio.to_thread.run_sync(build)
