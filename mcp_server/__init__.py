"""MCP server: dgsync for AI assistants.

``mcp_server.server.create_server(settings=None) -> MCPServer``; ``python -m mcp_server`` runs
it on stdio. ``core.catalog`` (asset cache and search) imports no MCP code.
"""
