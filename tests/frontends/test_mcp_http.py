"""The MCP server over streamable HTTP at /mcp of the Wolf app, served by uvicorn on a loopback
port: the SDK's client with and without an API key, with each role (viewer, operator,
admin), every read tool, the write tools and their audit trail."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from core import config_versions as cv
from core.apikeys import ApiKeys
from core.governance import audit
from core.services import Services
from core.store.schemas import AuditFilter
from wolf_fastapi.app import create_app

from .conftest import own_embedded_services
from .mcp_helpers import (
    HR_READ_CALLS,
    READ_TOOLS,
    WRITE_TOOLS,
    assert_clear_error,
    run,
    serve,
    text_of,
)

REGION = "eu-south-1"  # its own moto backend in this process
ROLES = ("viewer", "operator", "admin")


@pytest.fixture(scope="module")
def wolf() -> Iterator[tuple[str, Services, dict[str, str], str]]:
    """Wolf (dog profile, embedded systems, HR synced) on a loopback port; a key per role."""
    with tempfile.TemporaryDirectory() as root, own_embedded_services(Path(root), REGION) as services:
        report = services.engine().sync(spaces=["HR"])
        assert report.status == "succeeded", report.not_in_sync
        made = ApiKeys(services.store(), services.settings)
        keys = {role: made.create(f"qa-{role}", role, created_by="cli:test")[1] for role in ROLES}
        with serve(create_app(services=services)) as url:
            yield url, services, keys, str(report.run_id)


@asynccontextmanager
async def transport(url: str, key: str | None) -> AsyncIterator[Any]:
    """The SDK's streamable HTTP transport with the key's header (closing its HTTP client)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with create_mcp_http_client(headers=headers) as http, \
            streamable_http_client(f"{url}/mcp", http_client=http) as streams:
        yield streams


async def tools_of(url: str, key: str) -> set[str]:
    async with Client(transport(url, key)) as client:
        return {t.name for t in (await client.list_tools()).tools}


@pytest.mark.parametrize("key", [None, "dgk_not-a-key", "Basic abc"])
def test_without_a_valid_key_the_endpoint_answers_401_with_a_hint(wolf: Any, key: str | None) -> None:
    url = wolf[0]
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if key == "Basic abc":
        headers["Authorization"] = key
    elif key:
        headers["Authorization"] = f"Bearer {key}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = httpx.post(f"{url}/mcp", json=body, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert "API key" in error["message"] and "dgsync keys create" in error["hint"]


def test_the_sdk_client_without_a_key_cannot_connect(wolf: Any) -> None:
    async def main() -> None:
        async with Client(transport(wolf[0], None)) as client:
            await client.list_tools()

    with pytest.raises(BaseException) as info:
        run(main)
    # The SDK reports the refused request (the 401 itself: the test above).
    assert info.group_contains(MCPError) if isinstance(info.value, BaseExceptionGroup) else isinstance(info.value, MCPError)


@pytest.mark.parametrize(("role", "expected"), [
    ("viewer", READ_TOOLS), ("operator", READ_TOOLS | WRITE_TOOLS), ("admin", READ_TOOLS | WRITE_TOOLS)])
def test_each_role_sees_its_tools(wolf: Any, role: str, expected: set[str]) -> None:
    url, _, keys, _ = wolf
    assert run(lambda: tools_of(url, keys[role])) == expected


@pytest.mark.parametrize("role", ROLES)
def test_every_read_tool_answers_over_http_for_each_role(wolf: Any, role: str) -> None:
    url, _, keys, run_id = wolf
    calls = {**HR_READ_CALLS, "get_run": {"run_id": run_id}}

    async def main() -> dict[str, Any]:
        async with Client(transport(url, keys[role])) as client:
            return {tool: await client.call_tool(tool, args) for tool, args in calls.items()}

    results = run(main)
    assert set(results) == READ_TOOLS
    failed = {tool: text_of(r) for tool, r in results.items() if r.is_error}
    assert failed == {}
    assert all(r.structured_content is not None for r in results.values())
    assert results["get_asset"].structured_content["glue_exists"] is True
    assert results["validate_sync"].structured_content["in_sync"] is True
    assert results["get_run"].structured_content["run"]["id"] == run_id


def test_errors_over_http_are_clear(wolf: Any) -> None:
    url, _, keys, _ = wolf

    async def main() -> Any:
        async with Client(transport(url, keys["viewer"])) as client:
            return await client.call_tool("get_asset", {"space": "HR", "name": "NOPE"})

    assert_clear_error(run(main), "HR.NOPE", "case-sensitive")


def test_a_viewer_cannot_call_a_write_tool(wolf: Any) -> None:
    url, services, keys, _ = wolf

    async def main() -> Any:
        async with Client(transport(url, keys["viewer"])) as client:
            return await client.call_tool("apply_config", {"settings": {"sync": {"deletion_policy": "deprecate"}}})

    result = run(main)
    assert result.is_error and "apply_config" in text_of(result)
    assert cv.active(services.store(), "dog") is None


def test_operator_applies_and_admin_rolls_back_each_attributed_and_audited(wolf: Any) -> None:
    url, services, keys, _ = wolf
    store = services.store()

    async def call(role: str, tool: str, args: dict[str, Any]) -> Any:
        async with Client(transport(url, keys[role])) as client:
            return await client.call_tool(tool, args)

    applied = run(lambda: call("operator", "apply_config", {
        "settings": {"sync": {"deletion_policy": "deprecate"}}, "comment": "safer deletes", "plan": False}))
    assert not applied.is_error, text_of(applied)
    first = applied.structured_content
    assert first["author"] == "key:qa-operator/operator" and first["action"] == "apply"
    assert cv.active(store, "dog").settings["sync"]["deletion_policy"] == "deprecate"

    again = run(lambda: call("admin", "apply_config", {"settings": {"sync": {"deletion_policy": "log"}}, "plan": False}))
    assert not again.is_error, text_of(again)
    back = run(lambda: call("admin", "rollback_config", {"version_id": first["id"], "plan": False}))
    assert not back.is_error, text_of(back)
    rolled = back.structured_content
    assert rolled["author"] == "key:qa-admin/admin" and rolled["source_id"] == first["id"]
    assert rolled["hash"] == first["hash"]

    records = audit.query(store, AuditFilter(action="config_change"))
    actors = [(r.actor, r.details["comment"].split(":")[0]) for r in reversed(records)]
    assert actors == [("key:qa-operator/operator", "apply"), ("key:qa-admin/admin", "apply"),
                      ("key:qa-admin/admin", "rollback")]
    assert any(d["field"] == "sync.deletion_policy" for d in records[0].details["diff"]), records[0].details["diff"]


def test_a_refused_key_is_recorded_as_a_security_event_of_the_mcp_frontend(wolf: Any) -> None:
    from core.store import repo

    url, services, _, _ = wolf
    bad = "dgk_never-issued-key-4242"
    headers = {"Authorization": f"Bearer {bad}", "Accept": "application/json, text/event-stream"}
    assert httpx.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                      headers=headers, timeout=10).status_code == 401
    with services.store().session(readonly=True) as s:
        events = repo.list_security_events(session=s, kind="auth_failure", limit=50)
    mine = [e for e in events if e.detail.get("frontend") == "mcp"]
    assert mine and mine[0].source == "127.0.0.1"
    assert all(bad not in str(e.detail) for e in events)
