"""Every part its own process: `dgsync emulator` and `moto_server` on free loopback ports,
optionally behind a counting proxy (Glue calls counted outside dgsync)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from doubles.glue_faults import CountingProxy

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def separate_systems(*, counting: bool = False) -> Iterator[dict[str, Any]]:
    """``{"emulator": url, "glue": url (the proxy when counting), "moto": url, "proxy": …}``."""
    emu_port, moto_port = free_port(), free_port()
    emulator = subprocess.Popen(
        [str(BIN / "dgsync"), "emulator", "--host", "127.0.0.1", "--port", str(emu_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    moto = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    proxy: CountingProxy | None = None
    try:
        wait_for(f"http://127.0.0.1:{emu_port}/_emulator/stats", emulator)
        wait_for(f"http://127.0.0.1:{moto_port}/moto-api/", moto)
        moto_url = f"http://127.0.0.1:{moto_port}"
        proxy = CountingProxy(moto_port) if counting else None
        yield {"emulator": f"http://127.0.0.1:{emu_port}", "moto": moto_url, "proxy": proxy,
               "glue": f"http://127.0.0.1:{proxy.port}" if proxy else moto_url}
    finally:
        if proxy is not None:
            proxy.stop()
        for proc in (emulator, moto):
            proc.terminate()
            proc.wait(timeout=10)
