"""The MCP server through the SDK's client, in process: every read tool, resources, prompts,
and the error of each (a clear message with a hint, never internals).

One module-wide embedded Services (emulator + moto Glue, its own region) with SALES synced and
one unmanaged Glue table; nothing here writes to it (the write tools: test_mcp_config.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client

from core.catalog import AssetCatalog
from core.services import Services
from core.settings import Settings
from mcp_server.server import create_server

from .conftest import own_embedded_services
from .mcp_helpers import (
    READ_TOOLS,
    UNMANAGED_DB,
    UNMANAGED_TABLE,
    WRITE_TOOLS,
    assert_clear_error,
    call,
    run,
    seed_unmanaged_table,
    text_of,
)

REGION = "eu-west-3"  # its own moto backend in this process


@pytest.fixture(scope="module")
def synced() -> Iterator[tuple[Services, str]]:
    """Embedded services with SALES synced to Glue (and the run id) plus an unmanaged table."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as root, own_embedded_services(Path(root), REGION) as services:
        report = services.engine().sync(spaces=["SALES"])
        assert report.status == "succeeded", report.not_in_sync
        seed_unmanaged_table(services)
        yield services, str(report.run_id)


@pytest.fixture(scope="module")
def server(synced: tuple[Services, str]) -> Any:
    services, _ = synced
    return create_server(services=services, catalog=AssetCatalog(services))


def ok(server: Any, tool: str, arguments: dict[str, Any] | None = None) -> Any:
    result = run(lambda: call(server, tool, arguments))
    assert not result.is_error, text_of(result)
    return result.structured_content


# ----------------------------------------------------------------------------- listing


def test_read_only_server_lists_every_read_tool_with_output_schemas_and_no_write_tool(server: Any) -> None:
    async def main() -> Any:
        async with Client(server) as client:
            return (await client.list_tools()).tools

    tools = {t.name: t for t in run(main)}
    assert set(tools) == READ_TOOLS
    assert all(t.description and len(t.description) > 80 for t in tools.values())
    assert all(t.output_schema and t.output_schema.get("type") == "object" for t in tools.values())
    assert tools["search_catalog"].input_schema["required"] == ["query"]
    assert tools["get_lineage"].input_schema["properties"]["depth"]["maximum"] == 20


def test_write_tools_are_listed_only_when_writes_are_enabled(dog_settings: Settings) -> None:
    async def names(allow: bool) -> set[str]:
        async with Client(create_server(dog_settings, allow_write=allow)) as client:
            return {t.name for t in (await client.list_tools()).tools}

    assert run(lambda: names(True)) == READ_TOOLS | WRITE_TOOLS
    result = run(lambda: call(create_server(dog_settings), "apply_config", {"rules": "version: 1\n"}))
    assert result.is_error and "apply_config" in text_of(result)


# ----------------------------------------------------------------------------- search


def test_a_glue_table_name_finds_the_synced_pair_on_both_sides(server: Any) -> None:
    page = ok(server, "search_catalog", {"query": "v_orders"})
    first = page["hits"][0]
    assert (first["space"], first["name"], first["database"], first["table"]) == ("SALES", "V_ORDERS", "sales", "v_orders")
    assert first["sides"] == ["datasphere", "glue"] and first["managed"] is True


def test_business_words_find_assets_in_both_catalogs_including_unmanaged_tables(server: Any) -> None:
    page = ok(server, "search_catalog", {"query": "revenue", "limit": 50})
    sides = {(h["database"], h["table"]): h for h in page["hits"]}
    unmanaged = sides[(UNMANAGED_DB, UNMANAGED_TABLE)]
    assert unmanaged["sides"] == ["glue"] and unmanaged["managed"] is False and unmanaged["space"] is None
    assert any(h["space"] and "datasphere" in h["sides"] for h in page["hits"])


def test_semantics_and_filters(server: Any) -> None:
    page = ok(server, "search_catalog", {"query": "currency", "space": "SALES", "side": "both", "limit": 100})
    assert page["hits"] and all(h["space"] == "SALES" and h["sides"] == ["datasphere", "glue"] for h in page["hits"])
    assert any("semantics:currency" in h["matched"] for h in page["hits"])
    models = ok(server, "search_catalog", {"query": "margin", "kind": "analytic_model"})
    assert {h["name"] for h in models["hits"]} >= {"AM_SALES_MARGIN"}
    assert all(h["kind"] == "analytic_model" for h in models["hits"])


def test_search_pages_with_a_cursor(server: Any) -> None:
    first = ok(server, "search_catalog", {"query": "sales", "limit": 3})
    assert first["total"] > 3 and len(first["hits"]) == 3 and first["next_cursor"]
    second = ok(server, "search_catalog", {"query": "sales", "limit": 3, "cursor": first["next_cursor"]})
    assert not {json.dumps(h) for h in first["hits"]} & {json.dumps(h) for h in second["hits"]}
    wrong = run(lambda: call(server, "search_catalog", {"query": "orders", "cursor": first["next_cursor"]}))
    assert_clear_error(wrong, "cursor")


# ----------------------------------------------------------------------------- details


def test_get_asset_puts_the_glue_table_beside_the_asset(server: Any) -> None:
    detail = ok(server, "get_asset", {"space": "SALES", "name": "V_ORDERS"})
    assert (detail["glue_database"], detail["glue_table"], detail["glue_exists"], detail["managed"]) == (
        "sales", "v_orders", True, True)
    pair = next(c for c in detail["columns"] if c["name"] == "SalesOrder")
    assert pair["key"] and pair["status"] == "in_sync" and pair["glue_type_live"] == pair["glue_type_planned"]
    assert detail["business"]["modeling_pattern"] and detail["upstream"]


def test_get_asset_of_an_analytic_model_not_yet_synced(server: Any) -> None:
    detail = ok(server, "get_asset", {"space": "FINANCE", "name": "AM_SALES_MARGIN"})
    assert detail["sides"] == ["datasphere"] and detail["glue_exists"] is False
    assert {m["name"] for m in detail["measures"]} >= {"NetAmount", "Margin"}
    assert detail["analytic"]["fact_sources"]
    assert {c["status"] for c in detail["columns"]} == {"not_synced"}


def test_get_glue_table_of_an_unmanaged_table(server: Any) -> None:
    detail = ok(server, "get_glue_table", {"database": UNMANAGED_DB, "table": UNMANAGED_TABLE})
    assert detail["sides"] == ["glue"] and detail["managed"] is False
    assert {c["name"]: c["status"] for c in detail["columns"]} == {"region": "not_in_datasphere", "revenue_eur": "not_in_datasphere"}


@pytest.mark.parametrize(("tool", "arguments", "words"), [
    ("get_asset", {"space": "SALES", "name": "NO_SUCH_VIEW"}, ["SALES.NO_SUCH_VIEW", "case-sensitive"]),
    ("get_glue_table", {"database": "sales", "table": "nope"}, ["sales.nope", "lower case"]),
    ("get_lineage", {"object": "SALES.NOPE"}, ["SALES.NOPE", "SPACE.NAME"]),
    ("get_column_lineage", {"object": "SALES.V_ORDERS", "column": "nope"}, ["nope", "case-sensitive"]),
    ("analyze_impact", {"object": "SALES.V_ORDERS", "column": "nope"}, ["nope"]),
    ("get_run", {"run_id": "NO-SUCH-RUN"}, ["NO-SUCH-RUN", "list_runs"]),
    ("search_audit", {"since": "2026-01-01T00:00:00"}, ["zone"]),
    ("get_config", {"env": "bear"}, ["bear"]),
])
def test_errors_are_clear_and_carry_a_hint(server: Any, tool: str, arguments: dict[str, Any], words: list[str]) -> None:
    assert_clear_error(run(lambda: call(server, tool, arguments)), *words)


@pytest.mark.parametrize(("tool", "arguments"), [
    ("search_catalog", {"query": ""}), ("search_catalog", {"query": "x", "limit": 0}),
    ("get_asset", {"space": "SALES"}), ("get_lineage", {"object": "SALES.V_ORDERS", "depth": 0}),
    ("list_runs", {"limit": 0}), ("test_mapping_rules", {"rules": "version: 1", "assets": []}),
])
def test_invalid_arguments_are_refused(server: Any, tool: str, arguments: dict[str, Any]) -> None:
    assert run(lambda: call(server, tool, arguments)).is_error


# ----------------------------------------------------------------------------- lineage


def test_lineage_to_a_depth_reaches_other_spaces_and_glue(server: Any) -> None:
    one = ok(server, "get_lineage", {"object": "SALES.V_ORDERS", "direction": "downstream", "depth": 1})
    nodes = {n["key"]: n for n in one["nodes"]}
    assert nodes["SALES.V_ORDERS"]["direction"] == "start"
    assert "glue:sales.v_orders" in nodes and "FINANCE.V_REVENUE_RECON" in nodes
    assert all(n["distance"] <= 1 for n in one["nodes"])
    up = ok(server, "get_lineage", {"object": "glue:sales.v_orders", "direction": "upstream", "depth": 5})
    assert {"SALES.V_ORDERS", "SALES.RT_SALES_ORDER_HEADER"} <= {n["key"] for n in up["nodes"]}
    assert all(n["direction"] in ("start", "upstream") for n in up["nodes"])


def test_path_between_two_objects(server: Any) -> None:
    found = ok(server, "find_lineage_path", {"source": "SALES.RT_SALES_ORDER_HEADER", "target": "glue:sales.v_orders"})
    assert found["paths"] and found["paths"][0] == ["SALES.RT_SALES_ORDER_HEADER", "SALES.V_ORDERS", "glue:sales.v_orders"]
    reverse = ok(server, "find_lineage_path", {"source": "glue:sales.v_orders", "target": "SALES.V_ORDERS"})
    assert reverse["paths"] == []


def test_column_lineage_reaches_the_glue_column(server: Any) -> None:
    found = ok(server, "get_column_lineage", {"object": "SALES.V_ORDERS", "column": "SalesOrder"})
    assert any(c["node"] == "glue:sales.v_orders" for c in found["consumers"])
    assert any(c["node"] == "SALES.RT_SALES_ORDER_HEADER" for c in found["sources"])


def test_impact_lists_downstream_assets_and_their_glue_tables(server: Any) -> None:
    impact = ok(server, "analyze_impact", {"object": "SALES.RT_SALES_ORDER_HEADER"})
    assets = {a["key"]: a for a in impact["assets"]}
    assert assets["SALES.V_ORDERS"]["glue_tables"] == ["sales.v_orders"] and assets["SALES.V_ORDERS"]["glue_exists"]
    assert assets["FINANCE.V_REVENUE_RECON"]["glue_exists"] is False  # FINANCE is not synced
    assert "sales.v_orders" in impact["glue_tables"]
    distances = [a["distance"] for a in impact["assets"]]
    assert distances == sorted(distances)


# ----------------------------------------------------------------------------- operations


def test_status_runs_and_one_run_with_its_items(synced: tuple[Services, str], server: Any) -> None:
    _, run_id = synced
    status = ok(server, "sync_status")
    assert [s["slice_key"] for s in status["slices"]] == ["critical", "high", "medium", "low"]
    runs = ok(server, "list_runs", {"limit": 5, "status": "succeeded"})["runs"]
    assert runs[0]["id"] == run_id
    detail = ok(server, "get_run", {"run_id": run_id, "items": "all", "limit": 5})
    assert detail["run"]["status"] == "succeeded" and detail["items_total"] > 5
    assert len(detail["items"]) == 5 and "more items" in detail["note"]


def test_audit_search_finds_what_the_run_wrote(synced: tuple[Services, str], server: Any) -> None:
    _, run_id = synced
    page = ok(server, "search_audit", {"run_id": run_id, "object_contains": "v_orders", "limit": 5})
    assert page["records"] and all("v_orders" in r["object"] for r in page["records"])
    assert all(r["run_id"] == run_id for r in page["records"])


def test_alerts_listing(server: Any) -> None:
    assert ok(server, "list_alerts", {"status": ["open"]})["alerts"] == []


def test_plan_preview_of_a_scope_writes_nothing(server: Any) -> None:
    plan = ok(server, "plan_sync", {"spaces": ["SALES"]})
    assert plan["changes_total"] == 0 and plan["counts"]["unchanged"] > 0
    hr = ok(server, "plan_sync", {"spaces": ["HR"]})
    assert hr["changes_total"] > 0 and all(c["action"] == "create" for c in hr["changes"])
    again = ok(server, "plan_sync", {"spaces": ["HR"]})
    assert again["changes_total"] == hr["changes_total"]  # nothing was written


# ----------------------------------------------------------------------------- config (reads)


def test_rules_test_shows_the_table_input_diff_against_current_rules_and_live_glue(server: Any) -> None:
    rules = "version: 1\noverrides:\n  - asset: SALES.V_ORDERS\n    table_name: orders_by_customer\n"
    found = ok(server, "test_mapping_rules", {"rules": rules, "assets": ["SALES.V_ORDERS"]})
    result = found["results"][0]
    assert result["glue_table"] == "sales.orders_by_customer"
    assert {"field": "Name", "before": "v_orders", "after": "orders_by_customer"} in result["vs_current_rules"]
    assert result["vs_live_glue"] is None  # no live table of that name yet
    bad = run(lambda: call(server, "test_mapping_rules", {"rules": "version: 1\nnope: 1\n", "assets": ["SALES.V_ORDERS"]}))
    assert_clear_error(bad, "line 2")


def test_rules_test_against_the_live_table(server: Any) -> None:
    rules = "version: 1\ntable_parameters: {team: sales-analytics}\n"
    result = ok(server, "test_mapping_rules", {"rules": rules, "assets": ["SALES.V_ORDERS"]})["results"][0]
    assert {"field": "Parameters.team", "before": None, "after": "sales-analytics"} in result["vs_live_glue"]


# ----------------------------------------------------------------------------- resources, prompts


def test_resources_of_an_asset_and_a_glue_table(server: Any) -> None:
    async def main() -> tuple[Any, Any, Any]:
        async with Client(server) as client:
            templates = (await client.list_resource_templates()).resource_templates
            asset = await client.read_resource("dgsync://datasphere/SALES/V_ORDERS")
            table = await client.read_resource(f"dgsync://glue/{UNMANAGED_DB}/{UNMANAGED_TABLE}")
            return templates, asset, table

    templates, asset, table = run(main)
    assert {t.uri_template for t in templates} == {"dgsync://datasphere/{space}/{name}", "dgsync://glue/{database}/{table}"}
    doc = json.loads(asset.contents[0].text)
    assert doc["asset"]["name"] == "V_ORDERS" and doc["glue_table"] == "v_orders"
    glue = json.loads(table.contents[0].text)
    assert glue["glue"]["Name"] == UNMANAGED_TABLE and glue["managed"] is False


def test_an_unknown_resource_is_an_error_with_a_hint(server: Any) -> None:
    from mcp.shared.exceptions import MCPError

    async def main() -> str:
        async with Client(server) as client:
            try:
                await client.read_resource("dgsync://datasphere/SALES/NOPE")
            except MCPError as exc:
                return str(exc)
        return "no error"

    message = run(main)
    assert "Hint:" in message and "SALES.NOPE" in message


def test_prompts(server: Any) -> None:
    async def main() -> tuple[Any, Any]:
        async with Client(server) as client:
            listed = (await client.list_prompts()).prompts
            got = await client.get_prompt("why_did_this_run_fail", {"run_id": "RUN-1"})
            return listed, got

    listed, got = run(main)
    assert {p.name for p in listed} == {"explain_asset", "why_did_this_run_fail"}
    assert "get_run(run_id='RUN-1'" in got.messages[0].content.text


# ----------------------------------------------------------------------------- size budget


def test_results_stay_under_the_size_budget_with_a_note(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import mcp_server.context

    full = ok(server, "get_asset", {"space": "SALES", "name": "V_SALES_ORDER_ITEMS"})
    monkeypatch.setattr(mcp_server.context, "MAX_RESULT_CHARS", 1500)
    small = ok(server, "get_asset", {"space": "SALES", "name": "V_SALES_ORDER_ITEMS"})
    assert 0 < len(small["columns"]) < len(full["columns"])
    assert any("dgsync://" in n for n in small["notes"]) and not full["notes"]
    lineage = ok(server, "get_lineage", {"object": "SALES.V_ORDERS", "depth": 5})
    assert lineage["note"] and "size budget" in lineage["note"]


# ----------------------------------------------------------------------------- failure modes


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


def test_the_json_rpc_session_over_memory_streams(server: Any) -> None:
    result = run(lambda: call(server, "search_catalog", {"query": "margin"}, mode="legacy"))
    assert not result.is_error
    assert any(h["name"] == "AM_SALES_MARGIN" for h in result.structured_content["hits"])


# ----------------------------------------------------------------------------- validation
# Last in the module: it changes Glue (and puts it back).


def test_validation_of_a_scope_in_sync(server: Any) -> None:
    report = ok(server, "validate_sync", {"spaces": ["SALES"]})
    assert report["in_sync"] is True and report["reasons"] == []
    assert report["summary"]["ok"] > 5 and report["tables"] == []  # only problems are listed
    everything = ok(server, "validate_sync", {"spaces": ["SALES"], "kinds": ["view"], "show": "all"})
    assert everything["tables"] and {t["status"] for t in everything["tables"]} == {"ok"}


def test_validation_finds_drift_and_unmanaged_tables(synced: tuple[Services, str], server: Any) -> None:
    services, _ = synced
    glue = services.glue()
    live = glue.get_table("sales", "v_orders")
    assert live is not None
    from core.glue.results import table_to_input

    original = table_to_input(live)
    drifted = json.loads(json.dumps(original, default=str))
    drifted["StorageDescriptor"]["Columns"][0]["Type"] = "string" if drifted["StorageDescriptor"]["Columns"][0]["Type"] != "string" else "int"
    glue.update_table("sales", drifted, version_id=live.get("VersionId"), skip_archive=True)
    glue.create_table("sales", {"Name": "hand_made", "TableType": "EXTERNAL_TABLE",
                                "StorageDescriptor": {"Columns": [{"Name": "x", "Type": "int"}]}})
    try:
        one = ok(server, "validate_sync", {"asset": "SALES.V_ORDERS"})
        assert one["in_sync"] is False and [t["status"] for t in one["tables"]] == ["drift"]
        failed = one["tables"][0]["failed_checks"]
        assert any(c["field"].startswith("columns.") and c["actual"] in ("string", "int") for c in failed)
        scope = ok(server, "validate_sync", {"spaces": ["SALES"]})
        assert scope["in_sync"] is False and "sales.hand_made" in scope["unmanaged_tables"]
        assert scope["reasons"]
    finally:
        glue.delete_table("sales", "hand_made")
        current = glue.get_table("sales", "v_orders")
        glue.update_table("sales", original, version_id=(current or {}).get("VersionId"), skip_archive=True)
    missing = run(lambda: call(server, "validate_sync", {"asset": "SALES.NOPE"}))
    assert_clear_error(missing, "SALES.NOPE")
