"""Shared helpers of the MCP tests: run a client session, read results, seed an unmanaged table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
from mcp import Client

from core.services import Services
from core.specs import DatabaseSpec

T = TypeVar("T")

#: The read tools every caller sees.
READ_TOOLS = {
    "search_catalog", "get_asset", "get_glue_table",
    "get_lineage", "find_lineage_path", "get_column_lineage", "analyze_impact",
    "validate_sync",
    "sync_status", "list_runs", "get_run", "search_audit", "list_alerts", "plan_sync",
    "get_config", "get_mapping_rules", "validate_config_change", "test_mapping_rules", "propose_config_change",
}
WRITE_TOOLS = {"apply_config", "promote_config", "rollback_config"}

UNMANAGED_DB = "raw_landing"
UNMANAGED_TABLE = "web_clicks_by_region"


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(fn)


async def call(server: Any, tool: str, arguments: dict[str, Any] | None = None, **client_kw: Any) -> Any:
    async with Client(server, **client_kw) as client:
        return await client.call_tool(tool, arguments or {})


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def assert_clear_error(result: Any, *words: str) -> str:
    """A tool error with a message and a hint, no internals."""
    assert result.is_error, result.structured_content
    text = text_of(result)
    assert "Hint:" in text, text
    for word in words:
        assert word in text, text
    assert "Traceback" not in text and ".py" not in text
    return text


def seed_unmanaged_table(services: Services) -> None:
    """A Glue table dgsync does not manage (a crawler's output, say)."""
    glue = services.glue()
    if glue.get_database(UNMANAGED_DB) is None:
        glue.create_database(DatabaseSpec(name=UNMANAGED_DB, source_space="-"))
    if glue.get_table(UNMANAGED_DB, UNMANAGED_TABLE) is None:
        glue.create_table(UNMANAGED_DB, {
            "Name": UNMANAGED_TABLE, "TableType": "EXTERNAL_TABLE", "Description": "Crawler output",
            "StorageDescriptor": {"Columns": [
                {"Name": "region", "Type": "string"},
                {"Name": "revenue_eur", "Type": "double", "Comment": "revenue in euro"},
            ]},
        })
