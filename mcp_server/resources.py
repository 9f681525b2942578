"""Resources: a Datasphere asset and a Glue table as JSON documents.

* ``dgsync://datasphere/{space}/{name}`` — the asset with its Glue table side by side (as
  ``get_asset``), plus the full extracted asset (every column, no cut).
* ``dgsync://glue/{database}/{table}`` — the live Glue table (as Glue returns it) with its
  Datasphere source when there is one.
"""

from __future__ import annotations

import json

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from core.errors import DgsyncError, InputError, NotFound
from core.log import redact
from mcp_server.context import McpContext, state
from mcp_server.tools_catalog import entry_detail


async def _read(fn: object) -> str:
    try:
        return await anyio.to_thread.run_sync(fn)  # type: ignore[arg-type]
    except (NotFound, InputError) as exc:
        raise ResourceNotFoundError(redact(f"{exc.message}. Hint: {exc.hint}")) from exc
    except DgsyncError as exc:
        raise ResourceError(redact(f"{exc.message} (error {exc.code}). Hint: {exc.hint}")) from exc


def register(server: MCPServer[McpContext]) -> None:
    @server.resource("dgsync://datasphere/{space}/{name}", name="datasphere_asset",
                     title="Datasphere asset", mime_type="application/json",
                     description="A Datasphere asset (space, technical name) with its Glue table side by side.")
    async def datasphere_asset(space: str, name: str, ctx: Context) -> str:
        st = state(ctx)

        def run() -> str:
            entry = st.unified.pair_of_asset(space, name)
            detail = entry_detail(st, entry).model_dump(mode="json")
            assert entry.asset is not None
            detail["asset"] = entry.asset.model_dump(mode="json", exclude={"fingerprint", "source_hash"})
            return json.dumps(detail, indent=1, default=str)

        return await _read(run)

    @server.resource("dgsync://glue/{database}/{table}", name="glue_table",
                     title="Glue table", mime_type="application/json",
                     description="A live Glue table (as Glue returns it) with its Datasphere source, if any.")
    async def glue_table(database: str, table: str, ctx: Context) -> str:
        st = state(ctx)

        def run() -> str:
            entry = st.unified.pair_of_table(database, table)
            detail = entry_detail(st, entry).model_dump(mode="json")
            detail["glue"] = entry.glue
            return json.dumps(detail, indent=1, default=str)

        return await _read(run)
