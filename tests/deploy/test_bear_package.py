"""The Lambda artifact (``make bear-package`` → dist/bear-lambda.zip): under Lambda's size
limits, free of test and Dog dependencies, and it serves a real API Gateway event under the
Lambda runtime's Python (3.12)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.deploy

ARTIFACT = ROOT / "dist" / "bear-lambda.zip"
SOURCES = ("core", "wolf_fastapi", "bear_lambda", "templates", "static", "pyproject.toml", "scripts/bear_package.py")
FORBIDDEN = ("moto", "flask", "playwright", "werkzeug", "pytest", "doubles", "dog_flask", "dgsync_cli")


def _newest_source() -> float:
    newest = 0.0
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        newest = max([newest, *(p.stat().st_mtime for p in files)])
    return newest


@pytest.fixture(scope="session")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/bear-lambda.zip when it is newer than every source it holds; else a fresh build."""
    if ARTIFACT.exists() and ARTIFACT.stat().st_mtime > _newest_source():
        return ARTIFACT
    out = tmp_path_factory.mktemp("bear") / "bear-lambda.zip"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bear_package.py"), "--output", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MB zipped" in done.stdout  # the size is printed
    return out


def test_the_artifact_is_under_lambdas_size_limits(artifact: Path) -> None:
    with zipfile.ZipFile(artifact) as zf:
        unzipped = sum(i.file_size for i in zf.infolist())
    assert artifact.stat().st_size < 50 * 1024 * 1024  # direct upload limit (zipped)
    assert unzipped < 250 * 1024 * 1024  # function + layers, unzipped


def test_the_artifact_holds_bear_and_its_dependencies_but_no_test_or_dog_packages(artifact: Path) -> None:
    with zipfile.ZipFile(artifact) as zf:
        names = zf.namelist()
    top = {n.split("/", 1)[0].lower().split("-")[0] for n in names}
    assert not [name for name in FORBIDDEN if name in top]
    assert {"core", "wolf_fastapi", "bear_lambda", "templates", "static", "mangum", "fastapi",
            "aws_lambda_powertools", "sqlalchemy", "psycopg_binary", "pydantic_core"} <= top
    # Linux x86_64 binaries for CPython 3.12 (the template's runtime), not this machine's.
    binaries = [n for n in names if n.endswith(".so") and "pydantic_core" in n]
    assert binaries and all("cpython-312-x86_64-linux-gnu" in n for n in binaries)
    assert "bear_lambda/handler.py" in names and "templates/wolf/base.html" in names


def _python312() -> str | None:
    found = os.environ.get("DGSYNC_TEST_PYTHON312") or shutil.which("python3.12")
    if found and subprocess.run([found, "-V"], capture_output=True).returncode == 0:
        return found
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    return candidates[-1] if candidates else None


SMOKE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import bear_lambda.handler as h
class Context:
    aws_request_id = "c0ffee00-0000-4000-8000-000000000001"
    function_name = "dgsync-bear-api"
    def get_remaining_time_in_millis(self): return 29000
event = {"version": "2.0", "routeKey": "$default", "rawPath": "/health", "rawQueryString": "",
         "headers": {"host": "a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com", "x-forwarded-proto": "https"},
         "requestContext": {"http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1",
                                     "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
                            "requestId": "Kz3bKjWSliAEM5g=", "routeKey": "$default", "stage": "$default",
                            "timeEpoch": 1773342238390},
         "isBase64Encoded": False}
answer = h.handler(event, Context())
loaded = sorted(m for m in ("moto", "flask", "playwright", "doubles") if m in sys.modules)
print(json.dumps({"status": answer["statusCode"], "body": json.loads(answer["body"]), "loaded": loaded}))
"""


def test_the_unzipped_artifact_serves_an_api_gateway_event_on_python_312(artifact: Path, tmp_path: Path) -> None:
    python = _python312()
    if python is None:
        pytest.skip("no CPython 3.12 on this machine (set DGSYNC_TEST_PYTHON312)")
    bundle = tmp_path / "task"
    with zipfile.ZipFile(artifact) as zf:
        zf.extractall(bundle)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DGSYNC_ENV": "bear",
           "DGSYNC_DATASPHERE__BASE_URL": "http://127.0.0.1:9", "DGSYNC_DATASPHERE__CLIENT_ID": "qa-client",
           "DGSYNC_DATASPHERE__CLIENT_SECRET": "qa-client-secret-value",
           "DGSYNC_GLUE__ENDPOINT_URL": "http://127.0.0.1:9",
           "DGSYNC_API_TOKEN": "8dXb9fQ4m_auTV605WIS9tjJcnWQ-Q1BGUpElXuXLf4",
           "DGSYNC_DATABASE_URL": f"sqlite:///{tmp_path}/state.db"}
    done = subprocess.run([python, "-I", "-c", SMOKE, str(bundle)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": 200, "body": {"status": "ok", "env": "bear"}, "loaded": []}
