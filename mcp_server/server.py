"""The dgsync MCP server: both catalogs as one, lineage and impact, validation, operations, and
configuration management with guard rails.

``create_server(settings=None, *, allow_write=False) -> MCPServer``. The typed lifespan loads
the settings (when not given) and builds :class:`~core.services.Services`; each tool is a short
call into the core, run off the event loop (tools_*.py per area; resources.py; prompts.py).
Write tools (``apply_config``, ``promote_config``, ``rollback_config``) are registered only
with ``allow_write``: otherwise they are not even listed. Transports: stdio (``dgsync mcp``,
``python -m mcp_server``) and streamable HTTP mounted in Wolf/Bear (:mod:`mcp_server.http`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
from mcp.server.mcpserver import MCPServer

from core.catalog import AssetCatalog
from core.search import GlueIndex, UnifiedCatalog
from core.services import Services, build_services
from core.settings import Settings, load_settings
from mcp_server import (
    prompts,
    resources,
    tools_catalog,
    tools_config,
    tools_lineage,
    tools_ops,
    tools_validation,
)
from mcp_server.auth import Caller, stdio_caller
from mcp_server.context import McpContext

INSTRUCTIONS = """\
dgsync keeps the AWS Glue Data Catalog in sync with SAP Datasphere. Use these tools to find
objects in both catalogs as one (search_catalog), see an asset next to its Glue table
(get_asset, get_glue_table), follow lineage and the impact of a change (get_lineage,
find_lineage_path, get_column_lineage, analyze_impact), prove Glue matches Datasphere
(validate_sync), check how the sync is doing (sync_status, list_runs, get_run, search_audit,
list_alerts, plan_sync), and read or propose configuration and mapping-rule changes
(get_config, get_mapping_rules, validate_config_change, test_mapping_rules,
propose_config_change). Nothing writes to Glue or Datasphere. apply_config, promote_config and
rollback_config exist only for callers allowed to change configuration; show the user the
proposal (propose_config_change) before applying."""

ServicesSource = Services | Callable[[], Services]


class _Shared:
    """What outlives one lifespan (a stateless HTTP request) and is shared by the servers over
    one Services (Wolf's read-only and read-write ones): the caches."""

    def __init__(self, services: Services, catalog: AssetCatalog | None) -> None:
        self.services = services
        self.catalog = catalog or services.catalog()
        self.unified = UnifiedCatalog(services, assets=self.catalog, glue=GlueIndex(services))
        self.cache: dict[str, object] = {}


Caches = dict[int, _Shared]


def create_server(
    settings: Settings | None = None,
    *,
    services: ServicesSource | None = None,
    catalog: AssetCatalog | None = None,
    allow_write: bool = False,
    caller: Caller | None = None,
    caches: Caches | None = None,
) -> MCPServer[McpContext]:
    """Build the MCP server. ``services`` given (or a callable giving them, e.g. the Wolf
    app's): the caller owns (and closes) them. ``catalog`` (over the same services) shares
    one cached extraction. ``allow_write`` registers the write tools; ``caller`` is who calls
    over stdio (default ``mcp:<os user>``). ``caches`` shares the search and lineage caches
    between servers over the same services (Wolf's read-only and read-write servers)."""
    shared: Caches = caches if caches is not None else {}
    who = caller or stdio_caller(allow_write=allow_write)

    @asynccontextmanager
    async def lifespan(server: MCPServer[McpContext]) -> AsyncIterator[McpContext]:
        given = services() if callable(services) else services
        owned = given is None
        if given is None:
            current = settings if settings is not None else await anyio.to_thread.run_sync(load_settings)
            given = build_services(current)
        state = shared.get(id(given))
        if state is None or state.services is not given:
            state = shared[id(given)] = _Shared(given, catalog)
        try:
            yield McpContext(settings=given.settings, services=given, catalog=state.catalog,
                             unified=state.unified, caller=who, allow_write=allow_write,
                             cache=state.cache)
        finally:
            if owned:
                shared.pop(id(given), None)
                await anyio.to_thread.run_sync(given.close)

    server: MCPServer[McpContext] = MCPServer(
        "dgsync", instructions=INSTRUCTIONS, version="0.2.0", lifespan=lifespan
    )
    tools_catalog.register(server)
    tools_lineage.register(server)
    tools_validation.register(server)
    tools_ops.register(server)
    tools_config.register(server, allow_write=allow_write)
    resources.register(server)
    prompts.register(server)
    return server
