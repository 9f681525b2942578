"""Real `dgsync sync` processes on one store: a second sync on an overlapping scope is refused
(exit 3, naming the running run) and records nothing; `kill -9` of the running sync followed
by `dgsync sync --resume` marks the killed run `interrupted` at once and links it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.store import repo
from core.store.db import Store, make_engine
from core.store.schemas import RunStatus

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.timeout(240)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGSYNC_")}
    env.update({
        "DGSYNC_ENV": "dog",
        "DGSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "DGSYNC_STATE_DIR": str(tmp_path / "state"),
        "DGSYNC_DATASPHERE__SPACES": '["SALES"]',
        "DGSYNC_SCHEDULE__HEARTBEAT_INTERVAL_S": "0.5",
        **extra,
    })
    return env


def _runs(store: Store) -> list[Any]:
    try:
        with store.session(readonly=True) as s:
            return repo.list_runs(session=s)
    except Exception:
        return []  # the schema is being created


def _items(store: Store, run_id: str) -> int:
    with store.session(readonly=True) as s:
        return len(repo.list_run_items(session=s, run_id=run_id))


def test_a_second_sync_is_refused_and_a_killed_sync_is_resumed_at_once(tmp_path: Path) -> None:
    dgsync = str(BIN / "dgsync")
    # Glue calls throttled to one every 2 s: the first sync (22 tables) is still writing while
    # the second one starts.
    slow = _env(tmp_path, DGSYNC_GLUE__CALLS_PER_SECOND="0.5", DGSYNC_GLUE__BURST="1")
    log = tmp_path / "first.log"
    with log.open("w") as sink:
        first = subprocess.Popen([dgsync, "sync"], env=slow, cwd=tmp_path, stdout=sink, stderr=sink)
    store: Store | None = None
    try:
        deadline = time.monotonic() + 120
        running: list[Any] = []
        while time.monotonic() < deadline:
            assert first.poll() is None, log.read_text()[-2000:]
            if store is None and (tmp_path / "state.db").exists():
                store = Store(make_engine(f"sqlite:///{tmp_path / 'state.db'}"))
            if store is not None:
                running = [r for r in _runs(store) if r.status is RunStatus.RUNNING]
                if running and _items(store, running[0].id) >= 1:
                    break
            time.sleep(0.05)
        assert store is not None and len(running) == 1, "the first sync is writing"
        killed = running[0]
        assert killed.pid == first.pid

        second = subprocess.run([dgsync, "sync", "--no-wait"], env=_env(tmp_path), cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 3, second.stderr[-2000:]
        assert killed.id in second.stderr and "hint:" in second.stderr
        assert "Traceback" not in second.stderr
        assert [r.id for r in _runs(store)] == [killed.id], "the refused sync recorded no run"

        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL

        resumed = subprocess.run([dgsync, "sync", "--resume", "--format", "json"], env=_env(tmp_path),
                                 cwd=tmp_path, capture_output=True, text=True, timeout=200)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        body = json.loads(resumed.stdout)
        assert body["resumed_from"] == killed.id and body["exit_code"] == 0
        with store.session(readonly=True) as s:
            dead = repo.get_run(session=s, run_id=killed.id)
            new = repo.get_run(session=s, run_id=body["run_id"])
        assert dead is not None and dead.status is RunStatus.INTERRUPTED
        assert "is gone" in dead.errors[-1].message
        assert new is not None and new.resumed_from == killed.id and new.status is RunStatus.SUCCEEDED
        with store.session(readonly=True) as s:
            from core.store.leases import list_leases

            assert list_leases(session=s) == [], "no lease is left behind"
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        if store is not None:
            store.dispose()
