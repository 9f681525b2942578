"""Dependency direction: frontends → core, never the other way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: What core must never import: web frameworks and servers, moto, and the test doubles (the
#: emulator and embedded Glue live in doubles/ and reach core through an entry point).
FRAMEWORKS = ("flask", "fastapi", "mangum", "mcp", "starlette", "uvicorn", "werkzeug", "moto", "doubles")
FRONTENDS = ("dog_flask", "wolf_fastapi", "bear_lambda", "mcp_server")


def test_importing_every_core_module_loads_no_web_or_mcp_framework() -> None:
    code = (
        "import importlib, pkgutil, sys, core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'core.'):\n"
        "    if '.migrations' not in m.name: importlib.import_module(m.name)\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {FRAMEWORKS!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_source_never_names_a_frontend_or_framework() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if n.split(".")[0] in FRAMEWORKS + FRONTENDS)
        for path in (ROOT / "core").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_frontends_share_only_core() -> None:
    """No frontend imports another; the declared exceptions: Bear runs Wolf's app, and Wolf
    mounts the MCP server's streamable HTTP transport at /mcp."""
    allowed = {("bear_lambda", "wolf_fastapi"), ("wolf_fastapi", "mcp_server")}
    crossings: dict[str, list[str]] = {}
    for frontend in FRONTENDS:
        for path in (ROOT / frontend).rglob("*.py"):
            other = sorted(
                n for n in _imports(path)
                if n.split(".")[0] in FRONTENDS and n.split(".")[0] != frontend
                and (frontend, n.split(".")[0]) not in allowed
            )
            if other:
                crossings[str(path.relative_to(ROOT))] = other
    assert crossings == {}


def test_shared_frontend_helpers_in_core_are_framework_free() -> None:
    web = (*FRAMEWORKS, "starlette", "werkzeug", "jinja2")
    for shared in ("core/http.py", "core/catalog.py"):
        assert not {n for n in _imports(ROOT / shared) if n.split(".")[0] in web}
