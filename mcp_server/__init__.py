"""MCP server: dgsync for AI assistants.

``mcp_server.server.create_server(settings=None, *, allow_write=False) -> MCPServer``; stdio:
``dgsync mcp`` / ``python -m mcp_server``; streamable HTTP: ``mcp_server.http.mount_mcp(app)``
(Wolf and Bear serve it at ``/mcp``). Tools per area in ``tools_*.py``; ``resources.py``,
``prompts.py``, ``auth.py`` (callers and roles). The shared logic lives in ``core``
(``core.search``, ``core.lineage``, ``core.validation``, ``core.config_versions``).
"""
