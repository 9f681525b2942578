"""Bear serves the same /mcp through Mangum: JSON-RPC in API Gateway events, one Lambda
invocation each (Mangum runs the app's lifespan around every one)."""

from __future__ import annotations

import json
from typing import Any

from core.settings import Settings

from .conftest import API_TOKEN
from .mcp_helpers import READ_TOOLS, WRITE_TOOLS
from .test_bear_lambda import bear_settings, call, http_api_v2_event

__all__ = ["bear_settings"]  # the fixture, imported for this module

HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def rpc(method: str, params: dict[str, Any], *, key: str | None = API_TOKEN) -> tuple[int, Any]:
    headers = {**HEADERS, **({"Authorization": f"Bearer {key}"} if key else {})}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    return call(http_api_v2_event("POST", "/mcp", headers=headers, body=body))


def test_bear_answers_mcp_requests_in_lambda_invocations(bear_settings: Settings) -> None:
    status, listed = rpc("tools/list", {})
    assert status == 200, listed
    # The bootstrap token is the admin key: the write tools are listed.
    assert {t["name"] for t in listed["result"]["tools"]} == READ_TOOLS | WRITE_TOOLS
    status, config = rpc("tools/call", {"name": "get_config", "arguments": {}})  # a second invocation
    assert status == 200, config
    content = config["result"]["structuredContent"]
    assert content["env"] == "bear" and content["settings"]["datasphere"]["client_secret"] == "<redacted>"
    assert "qa-client-secret-value" not in json.dumps(config)


def test_bear_refuses_mcp_without_a_key(bear_settings: Settings) -> None:
    status, body = rpc("tools/list", {}, key=None)
    assert status == 401
    assert "dgsync keys create" in body["error"]["hint"]
