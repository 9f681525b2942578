"""`dgsync mcp` over stdio: the SDK's client launches the real command in a subprocess (the
embedded dog tenant), read-only by default, write tools only with --allow-write."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from core import config_versions as cv
from core.governance import audit
from core.store.db import Store
from core.store.schemas import AuditFilter

from .mcp_helpers import READ_TOOLS, WRITE_TOOLS, assert_clear_error, run, text_of

ROOT = Path(__file__).resolve().parents[2]
DGSYNC = Path(sys.executable).parent / "dgsync"


def _params(tmp_path: Path, *args: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGSYNC_")}
    env.update({"DGSYNC_STATE_DIR": str(tmp_path / "state"),
                "DGSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'state' / 'state.db'}"})
    return StdioServerParameters(command=str(DGSYNC), args=["mcp", *args], env=env, cwd=str(ROOT))


def test_dgsync_mcp_is_read_only_by_default(tmp_path: Path) -> None:
    async def main() -> tuple[set[str], Any, Any, Any]:
        async with Client(_params(tmp_path)) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            found = await client.call_tool("search_catalog", {"query": "sales order", "limit": 3})
            refused = await client.call_tool("apply_config", {"settings": {"sync": {"deletion_policy": "deprecate"}}})
            error = await client.call_tool("get_asset", {"space": "SALES", "name": "NOPE"})
            return tools, found, refused, error

    tools, found, refused, error = run(main)
    assert tools == READ_TOOLS
    assert not found.is_error, text_of(found)
    hits = found.structured_content["hits"]
    assert hits and hits[0]["space"] == "SALES" and hits[0]["sides"] == ["datasphere"]  # Glue is empty
    assert refused.is_error and "apply_config" in text_of(refused)
    assert_clear_error(error, "SALES.NOPE")


def test_dgsync_mcp_allow_write_applies_a_version_authored_by_the_os_user(tmp_path: Path) -> None:
    async def main() -> tuple[set[str], Any]:
        async with Client(_params(tmp_path, "--allow-write")) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            applied = await client.call_tool("apply_config", {
                "settings": {"sync": {"deletion_policy": "deprecate"}}, "comment": "via stdio", "plan": False})
            return tools, applied

    tools, applied = run(main)
    assert tools == READ_TOOLS | WRITE_TOOLS
    assert not applied.is_error, text_of(applied)
    actor = f"mcp:{getpass.getuser()}"
    assert applied.structured_content["author"] == actor
    store = Store.from_url(f"sqlite:///{tmp_path / 'state' / 'state.db'}", auto_upgrade=False)
    try:
        version = cv.active(store, "dog")
        assert version is not None and version.author == actor and version.comment == "via stdio"
        assert version.settings["sync"]["deletion_policy"] == "deprecate"
        records = audit.query(store, AuditFilter(action="config_change"))
        assert [(r.actor, r.details["version"]) for r in records] == [(actor, str(version.id))]
    finally:
        store.dispose()
