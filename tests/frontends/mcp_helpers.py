"""Shared helpers of the MCP tests: run a client session, read results, seed an unmanaged table."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
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


#: One call of every read tool that succeeds on the embedded tenant with HR synced.
HR_READ_CALLS: dict[str, dict[str, Any]] = {
    "search_catalog": {"query": "employee", "limit": 5},
    "get_asset": {"space": "HR", "name": "V_EMPLOYEE_DIM"},
    "get_glue_table": {"database": "hr", "table": "v_employee_dim"},
    "get_lineage": {"object": "HR.EMPLOYEE", "direction": "downstream", "depth": 2},
    "find_lineage_path": {"source": "HR.EMPLOYEE", "target": "glue:hr.v_employee_dim"},
    "get_column_lineage": {"object": "HR.V_EMPLOYEE_DIM", "column": "EmployeeID"},
    "analyze_impact": {"object": "HR.EMPLOYEE"},
    "validate_sync": {"asset": "HR.V_EMPLOYEE_DIM"},
    "sync_status": {},
    "list_runs": {"limit": 2},
    "get_run": {},  # filled with the run id
    "search_audit": {"text": "hr", "limit": 3},
    "list_alerts": {},
    "plan_sync": {"spaces": ["HR"], "kinds": ["view"]},
    "get_config": {},
    "get_mapping_rules": {},
    "validate_config_change": {"settings": {"sync": {"deletion_policy": "deprecate"}}},
    "test_mapping_rules": {"rules": "version: 1\ntable_parameters: {team: hr}\n", "assets": ["HR.EMPLOYEE"]},
    "propose_config_change": {"settings": {"sync": {"deletion_policy": "deprecate"}}, "comment": "safer deletes"},
}


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port (in a thread); yield its URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
