"""A real third-party client: the MCP Inspector CLI (npm ``@modelcontextprotocol/inspector``)
lists and calls tools over stdio (``dgsync mcp``) and over streamable HTTP (Wolf's /mcp).

The Inspector is installed into ``.cache/inspector`` (``scripts/test.sh`` does it before the
suite; the fixture does it when missing). Without npm or the registry the tests are skipped on
a developer's machine, but fail in CI (``CI`` set) or with ``DGSYNC_REQUIRE_INSPECTOR=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.apikeys import ApiKeys
from core.services import Services
from wolf_fastapi.app import create_app

from .conftest import own_embedded_services
from .mcp_helpers import READ_TOOLS, WRITE_TOOLS, serve

ROOT = Path(__file__).resolve().parents[2]
#: Pinned: the version this suite was written against (runs on Node 20 despite its engines field).
INSPECTOR_VERSION = "2.12.0"
PREFIX = ROOT / ".cache" / "inspector"
BIN = PREFIX / "node_modules" / ".bin" / "mcp-inspector"
DGSYNC = Path(sys.executable).parent / "dgsync"
REGION = "us-west-1"  # its own moto backend in this process


def _required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("DGSYNC_REQUIRE_INSPECTOR") == "1"


def _unavailable(why: str) -> None:
    if _required():
        pytest.fail(f"the MCP Inspector CLI is required here (CI or DGSYNC_REQUIRE_INSPECTOR=1): {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def inspector() -> Path:
    """The Inspector's launcher, installed into .cache/inspector when missing."""
    if not BIN.exists():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm is not installed (Node 20+ with npm is needed)")
        done = subprocess.run(
            [str(npm), "install", "--prefix", str(PREFIX), "--no-audit", "--no-fund", "--loglevel=error",
             f"@modelcontextprotocol/inspector@{INSPECTOR_VERSION}"],
            capture_output=True, text=True, timeout=600, check=False,
        )
        if done.returncode != 0 or not BIN.exists():
            _unavailable(f"npm install of the Inspector failed: {done.stderr.strip()[-500:]}")
    return BIN


def inspect(inspector: Path, target: list[str], *args: str, env: dict[str, str] | None = None,
            home: Path) -> tuple[int, Any]:
    """Run ``mcp-inspector --cli TARGET ARGS``; return its exit code and its JSON output (or
    its error output when it printed nothing)."""
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("DGSYNC_")}
    run_env["MCP_CATALOG_PATH"] = str(home / "catalog.json")  # never the user's ~/.mcp-inspector
    done = subprocess.run([str(inspector), "--cli", *target, *args], capture_output=True, text=True,
                          timeout=180, env=run_env, cwd=str(ROOT), check=False, stdin=subprocess.DEVNULL)
    out = done.stdout.strip() or done.stderr.strip()
    try:
        return done.returncode, json.loads(out) if out else None
    except json.JSONDecodeError:
        return done.returncode, out


def _stdio_target(state: Path, *flags: str) -> list[str]:
    return ["-e", f"DGSYNC_STATE_DIR={state}", "-e", f"DGSYNC_DATABASE_URL=sqlite:///{state / 'state.db'}",
            str(DGSYNC), "mcp", *flags]


def test_inspector_lists_and_calls_tools_over_stdio(inspector: Path, tmp_path: Path) -> None:
    target = _stdio_target(tmp_path / "state")
    code, listed = inspect(inspector, target, "--method", "tools/list", home=tmp_path)
    assert code == 0, listed
    assert {t["name"] for t in listed["tools"]} == READ_TOOLS
    assert all("outputSchema" in t for t in listed["tools"])
    code, found = inspect(inspector, target, "--method", "tools/call", "--tool-name", "search_catalog",
                          "--tool-arg", "query=sales order", home=tmp_path)
    assert code == 0, found
    assert found["structuredContent"]["hits"][0]["space"] == "SALES"
    code, refused = inspect(inspector, target, "--method", "tools/call", "--tool-name", "get_asset",
                            "--tool-arg", "space=SALES", "--tool-arg", "name=NOPE", home=tmp_path)
    assert code != 0 and refused["isError"] is True
    assert "Hint:" in refused["content"][0]["text"]


@pytest.fixture(scope="module")
def wolf_url() -> Iterator[tuple[str, dict[str, str]]]:
    with tempfile.TemporaryDirectory() as root, own_embedded_services(Path(root), REGION) as services:
        report = services.engine().sync(spaces=["HR"])
        assert report.status == "succeeded", report.not_in_sync
        made = ApiKeys(services.store(), services.settings)
        keys = {role: made.create(f"insp-{role}", role, created_by="cli:test")[1] for role in ("viewer", "operator")}
        app_services: Services = services
        with serve(create_app(services=app_services)) as url:
            yield f"{url}/mcp", keys


def test_inspector_over_http_with_each_role_and_without_a_key(inspector: Path, wolf_url: Any, tmp_path: Path) -> None:
    url, keys = wolf_url

    def with_key(key: str | None, *args: str) -> tuple[int, Any]:
        auth = ["--header", f"Authorization: Bearer {key}"] if key else []
        # --stored-auth-only: a 401 is reported, not answered with an interactive OAuth login.
        return inspect(inspector, [url, "--transport", "http", "--stored-auth-only", *auth], *args, home=tmp_path)

    code, viewer = with_key(keys["viewer"], "--method", "tools/list")
    assert code == 0, viewer
    assert {t["name"] for t in viewer["tools"]} == READ_TOOLS
    code, operator = with_key(keys["operator"], "--method", "tools/list")
    assert code == 0, operator
    assert {t["name"] for t in operator["tools"]} == READ_TOOLS | WRITE_TOOLS
    code, detail = with_key(keys["viewer"], "--method", "tools/call", "--tool-name", "get_asset",
                            "--tool-arg", "space=HR", "--tool-arg", "name=V_EMPLOYEE_DIM")
    assert code == 0, detail
    assert detail["structuredContent"]["glue_table"] == "v_employee_dim"
    code, templates = with_key(keys["viewer"], "--method", "resources/templates/list")
    assert code == 0 and len(templates["resourceTemplates"]) == 2
    code, refused = with_key(None, "--method", "tools/list")
    assert code != 0 and refused["error"]["code"] == "auth_required", refused  # the 401
