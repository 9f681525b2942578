"""MCP server: dgsync for AI assistants."""
