"""The standalone emulator: ``dgsync emulator`` and ``python -m doubles.emulator``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

DGSYNC = Path(sys.executable).parent / "dgsync"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize("command", ["dgsync", "module"])
def test_standalone_emulator_starts_prints_credentials_and_answers(command: str, tmp_path: Path) -> None:
    port = _free_port()
    args = ["--port", str(port), "--synthetic-assets", "30", "--seed", "4", "--token-lifetime", "600"]
    argv = [str(DGSYNC), "emulator", *args] if command == "dgsync" else [
        sys.executable, "-m", "doubles.emulator", *args]
    env = {**os.environ, "DGSYNC_ENV": "dog", "DGSYNC_STATE_DIR": str(tmp_path)}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=Path(__file__).resolve().parents[2])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=base, timeout=2) as c:
            while True:
                try:
                    token = c.post("/oauth/token", auth=("dgsync-demo", "dgsync-demo-secret"),
                                   data={"grant_type": "client_credentials"})
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                    assert time.monotonic() < deadline, "emulator did not start"
                    time.sleep(0.1)
            assert token.json()["expires_in"] == 600
            spaces = c.get("/api/v1/datasphere/consumption/catalog/spaces",
                           headers={"Authorization": f"Bearer {token.json()['access_token']}"}).json()
            assert "SYN_00" in {s["name"] for s in spaces["value"]}
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"{base}/oauth/token" in out
    assert "dgsync-demo / dgsync-demo-secret" in out
    assert "dgsync-restricted / dgsync-restricted-secret" in out


def test_busy_port_is_a_clean_error() -> None:
    from dgsync_cli.main import cli

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["--env", "dog", "emulator", "--port", str(port)])
    assert result.exit_code == 2
    assert "cannot listen" in result.output
