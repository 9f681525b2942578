"""The MCP server through the SDK's client: in-process (direct and JSON-RPC) and over stdio."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from mcp import Client, StdioServerParameters

from core.catalog import AssetCatalog
from core.services import Services, build_services
from core.settings import Settings
from mcp_server.server import create_server

from .conftest import seed_runs

T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(fn)


async def call(server: Any, tool: str, arguments: dict[str, Any] | None = None, **client_kw: Any) -> Any:
    async with Client(server, **client_kw) as client:
        return await client.call_tool(tool, arguments or {})


@pytest.fixture
def embedded_server(embedded_services: Services, embedded_catalog: AssetCatalog) -> Any:
    """A server over the shared embedded services and their one cached extraction."""
    return create_server(services=embedded_services, catalog=embedded_catalog)


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def test_tools_are_listed_with_product_descriptions_and_schemas(dog_settings: Settings) -> None:
    async def main() -> Any:
        async with Client(create_server(dog_settings)) as client:
            return (await client.list_tools()).tools

    tools = {t.name: t for t in run(main)}
    assert set(tools) == {"search_assets", "get_asset", "sync_status", "list_runs", "plan_sync"}
    assert all(t.description and len(t.description) > 80 for t in tools.values())
    assert tools["search_assets"].input_schema["required"] == ["query"]
    assert tools["get_asset"].input_schema["required"] == ["space", "name"]
    assert tools["list_runs"].input_schema["properties"]["limit"]["maximum"] == 100


def test_search_finds_assets_by_business_words(embedded_server: Any) -> None:
    result = run(lambda: call(embedded_server, "search_assets",
                              {"query": "sales order", "limit": 5}))
    assert not result.is_error
    hits = result.structured_content["result"]
    assert 0 < len(hits) <= 5
    assert hits[0]["space"] == "SALES"
    assert all("order" in (h["name"] + (h["label"] or "")).lower() for h in hits[:3])
    assert hits == sorted(hits, key=lambda h: -h["score"])


def test_get_asset_returns_columns_and_the_glue_table(embedded_server: Any) -> None:
    result = run(lambda: call(embedded_server, "get_asset",
                              {"space": "SALES", "name": "V_ORDERS"}))
    assert not result.is_error
    detail = result.structured_content
    assert detail["asset"]["kind"] == "view"
    assert any(c["name"] == "SalesOrder" and c["key"] for c in detail["asset"]["columns"])
    assert (detail["glue_database"], detail["glue_table"]) == ("sales", "v_orders")


def test_an_unknown_asset_is_a_tool_error_with_a_hint_and_no_internals(embedded_server: Any) -> None:
    result = run(lambda: call(embedded_server, "get_asset",
                              {"space": "SALES", "name": "NO_SUCH_VIEW"}))
    assert result.is_error
    text = text_of(result)
    assert "no asset SALES.NO_SUCH_VIEW" in text
    assert "Hint:" in text and "case-sensitive" in text
    assert "Traceback" not in text and ".py" not in text


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [("list_runs", {"limit": 0}), ("search_assets", {"query": ""}), ("get_asset", {"space": "SALES"})],
)
def test_invalid_arguments_are_refused(dog_settings: Settings, tool: str, arguments: dict[str, Any]) -> None:
    result = run(lambda: call(create_server(dog_settings), tool, arguments))
    assert result.is_error


def test_list_runs_newest_first(dog_settings: Settings) -> None:
    services = build_services(dog_settings)
    try:
        ids = seed_runs(services, 3)
        result = run(lambda: call(create_server(services=services), "list_runs", {"limit": 2}))
    finally:
        services.close()
    assert not result.is_error
    runs = result.structured_content["result"]
    assert [r["id"] for r in runs] == [ids[2], ids[1]]
    assert runs[0]["counts"]["created"] == 5


def test_sync_status_covers_every_priority_class(dog_settings: Settings) -> None:
    result = run(lambda: call(create_server(dog_settings), "sync_status"))
    assert not result.is_error
    status = result.structured_content
    assert status["env"] == "dog"
    assert [s["slice_key"] for s in status["slices"]] == ["critical", "high", "medium", "low"]


def test_plan_sync_previews_changes_without_writing(embedded_server: Any) -> None:
    result = run(lambda: call(embedded_server, "plan_sync", {"spaces": ["HR"]}))
    assert not result.is_error
    plan = result.structured_content
    assert plan["assets"] > 0
    assert plan["changes_total"] == len(plan["changes"])
    assert all(c["object"] == "hr" or c["object"].startswith("hr.") for c in plan["changes"])
    assert sum(plan["counts"].values()) >= plan["changes_total"]


class _BrokenServices:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def store(self) -> Any:
        raise RuntimeError("secret internals: /srv/dgsync/core/store/db.py line 42")

    def catalog(self) -> AssetCatalog:
        return AssetCatalog(self)  # type: ignore[arg-type]


def test_an_unexpected_failure_reaches_the_model_only_as_a_generic_error(dog_settings: Settings) -> None:
    server = create_server(services=_BrokenServices(dog_settings))  # type: ignore[arg-type]
    result = run(lambda: call(server, "list_runs"))
    assert result.is_error
    assert "secret internals" not in text_of(result)
    assert "list_runs" in text_of(result)


def test_the_json_rpc_session_over_memory_streams(embedded_server: Any) -> None:
    result = run(lambda: call(embedded_server, "search_assets",
                              {"query": "margin"}, mode="legacy"))
    assert not result.is_error
    assert any(h["name"] == "AM_SALES_MARGIN" for h in result.structured_content["result"])


def test_python_dash_m_mcp_server_speaks_stdio(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGSYNC_")}
    env.update({"DGSYNC_STATE_DIR": str(tmp_path / "state"),
                "DGSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'state' / 'state.db'}"})
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server"], env=env,
                                   cwd=str(Path(__file__).resolve().parents[2]))

    async def main() -> tuple[list[str], Any]:
        async with Client(params) as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            return tools, await client.call_tool("list_runs", {"limit": 1})

    tools, result = run(main)
    assert "search_assets" in tools
    assert not result.is_error
    assert json.loads(json.dumps(result.structured_content)) == {"result": []}
