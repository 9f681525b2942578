"""Sync benchmark: emulator (N synthetic assets) + moto_server, each its own process.

    python benchmarks/sync_bench.py --assets 1000 [--json]

Scenarios, in one run: (a) full sync, (b) no-change resync, (c) resync after 1 % of the assets
changed, (d) a full sync killed (SIGKILL) at about 50 % of its writes and resumed. Glue calls
are counted OUTSIDE dgsync, by a counting HTTP proxy in front of moto_server (operation from
the ``X-Amz-Target`` header); Datasphere calls come from the emulator's ``/_emulator/stats``.
Table versions are counted with ``GetTableVersions`` after each scenario. Peak RSS is that of
the ``dgsync sync`` process (psutil sampling of the child).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WRITE_PREFIXES = ("Create", "Update", "Delete", "Batch", "Tag", "Untag")

from doubles.glue_faults import CountingProxy  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class Bench:
    def __init__(self, assets: int, seed: int, workdir: Path, rate: float) -> None:
        self.assets = assets
        self.seed = seed
        self.workdir = workdir
        self.rate = rate
        self.procs: list[subprocess.Popen[bytes]] = []
        self.emu_port = free_port()
        self.emu_url = f"http://127.0.0.1:{self.emu_port}"
        self.moto_port = 0
        self.proxy: CountingProxy | None = None

    def start_emulator(self) -> None:
        log = open(self.workdir / "emulator.log", "wb")  # noqa: SIM115 - lives as long as the child
        self.procs.append(subprocess.Popen(
            [str(BIN / "dgsync"), "emulator", "--host", "127.0.0.1", "--port", str(self.emu_port),
             "--synthetic-assets", str(self.assets), "--seed", str(self.seed), "--synthetic-only"],
            stdout=log, stderr=subprocess.STDOUT,
        ))
        wait_http(self.emu_url + "/_emulator/stats", timeout=300)

    def start_glue(self) -> None:
        """A fresh moto_server behind a fresh counting proxy."""
        if self.proxy is not None:
            self.proxy.stop()
        self.moto_port = free_port()
        log = open(self.workdir / f"moto-{self.moto_port}.log", "wb")  # noqa: SIM115 - lives as long as the child
        self.procs.append(subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.moto_port)],
            stdout=log, stderr=subprocess.STDOUT,
        ))
        wait_http(f"http://127.0.0.1:{self.moto_port}/moto-api/")
        self.proxy = CountingProxy(self.moto_port)

    def env(self, db: Path) -> dict[str, str]:
        assert self.proxy is not None
        env = dict(os.environ)
        env.update({
            "DGSYNC_ENV": "dog",
            "DGSYNC_DATASPHERE__BASE_URL": self.emu_url,
            "DGSYNC_DATASPHERE__TOKEN_URL": self.emu_url + "/oauth/token",
            "DGSYNC_DATASPHERE__CLIENT_ID": "dgsync-demo",
            "DGSYNC_DATASPHERE__CLIENT_SECRET": "dgsync-demo-secret",
            "DGSYNC_DATASPHERE__CONCURRENCY": "8",
            "DGSYNC_GLUE__ENDPOINT_URL": f"http://127.0.0.1:{self.proxy.port}",
            "DGSYNC_GLUE__CALLS_PER_SECOND": str(self.rate),
            "DGSYNC_GLUE__BURST": str(int(self.rate)),
            "DGSYNC_GLUE__CONCURRENCY": "8",
            "DGSYNC_DATABASE_URL": f"sqlite:///{db}",
            "DGSYNC_STATE_DIR": str(self.workdir / "state"),
            "DGSYNC_LOG_LEVEL": "WARNING",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-central-1",
        })
        return env

    def ds_stats(self, reset: bool = False) -> dict[str, int]:
        body = httpx.get(self.emu_url + "/_emulator/stats", timeout=30).json()
        if reset:
            httpx.post(self.emu_url + "/_emulator/stats/reset", timeout=30)
        routes = body.get("routes", body.get("by_route", {}))
        return {str(k): int(v if isinstance(v, int) else v.get("count", 0)) for k, v in routes.items()}

    def run_sync(self, db: Path, *extra: str, kill_at_writes: int | None = None) -> dict[str, Any]:
        """Run `dgsync sync` as a child; sample its RSS; optionally SIGKILL it."""
        assert self.proxy is not None
        before = self.proxy.snapshot()
        self.ds_stats(reset=True)
        t0 = time.monotonic()
        with open(self.workdir / "sync.out", "ab") as out:
            proc = subprocess.Popen([str(BIN / "dgsync"), "sync", "--format", "json", *extra],
                                    env=self.env(db), stdout=out, stderr=subprocess.STDOUT)
        ps = psutil.Process(proc.pid)
        peak = 0
        killed = False
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, ps.memory_info().rss)
            if kill_at_writes is not None:
                now = self.proxy.snapshot() - before
                if sum(v for k, v in now.items() if k.startswith(WRITE_PREFIXES)) >= kill_at_writes:
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                    proc.wait()
                    break
            time.sleep(0.05)
        wall = time.monotonic() - t0
        calls = self.proxy.snapshot() - before
        return {
            "wall_s": round(wall, 2),
            "peak_rss_mb": round(peak / 2**20, 1),
            "glue_calls": dict(sorted(calls.items())),
            "glue_writes": sum(v for k, v in calls.items() if k.startswith(WRITE_PREFIXES)),
            "datasphere_calls": self.ds_stats(),
            "exit_code": None if killed else proc.returncode,
            "killed": killed,
        }

    def table_versions(self) -> dict[str, int]:
        """Versions per table, read directly from moto (not through the proxy)."""
        glue = boto3.client("glue", endpoint_url=f"http://127.0.0.1:{self.moto_port}",
                            region_name="eu-central-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing")
        out: dict[str, int] = {}
        for page in glue.get_paginator("get_databases").paginate():
            for db in page["DatabaseList"]:
                for tpage in glue.get_paginator("get_tables").paginate(DatabaseName=db["Name"]):
                    for t in tpage["TableList"]:
                        versions = glue.get_table_versions(DatabaseName=db["Name"], TableName=t["Name"])
                        out[f"{db['Name']}.{t['Name']}"] = len(versions["TableVersions"])
        return out

    def mutate(self, count: int) -> list[dict[str, Any]]:
        resp = httpx.post(self.emu_url + "/_emulator/mutate",
                          json={"count": count, "seed": self.seed + 1, "operations": ["add_column", "change_column", "remove_column"]}, timeout=60)
        resp.raise_for_status()
        body = resp.json()
        return list(body.get("changes", body if isinstance(body, list) else []))

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def scenario(result: dict[str, Any], versions: dict[str, int], before: dict[str, int] | None, changed: int) -> dict[str, Any]:
    new_versions = sum(versions.values()) - (sum(before.values()) if before else 0)
    return {
        "wall_s": result["wall_s"],
        "peak_rss_mb": result["peak_rss_mb"],
        "glue_calls": result["glue_calls"],
        "glue_writes": result["glue_writes"],
        "new_table_versions": new_versions,
        "datasphere_calls": result["datasphere_calls"],
        "changed_assets": changed,
        "exit_code": result["exit_code"],
    }


def minimum_calls(scenarios: dict[str, Any], tables_per_db: dict[str, int], changed: int) -> None:
    """Add ``min_glue_calls`` / ``glue_call_ratio`` and ``min_datasphere_calls`` /
    ``datasphere_call_ratio`` to each scenario.

    Glue minimum: one GetDatabases; for a full sync one create per table and database; for a
    resync the paged listing (ceil(tables/100) GetTables per database) plus one write per
    changed asset. Datasphere minimum: one token, the list pages actually needed (routes
    without ``{name}``, as served) and one CSN read per asset.
    """
    databases = len(tables_per_db)
    tables = sum(tables_per_db.values())
    listing = 1 + sum(max(1, math.ceil(n / 100)) for n in tables_per_db.values())
    glue_min = {
        "full": 1 + databases + tables,
        "noop": listing,
        "one_percent": listing + changed,
        "resume": 1 + databases + tables,
    }
    for name, sc in scenarios.items():
        made = sum(sc["glue_calls"].values())
        sc["min_glue_calls"] = glue_min[name]
        sc["glue_call_ratio"] = round(made / glue_min[name], 3) if glue_min[name] else None
        ds = sc["datasphere_calls"]
        reads = sum(v for k, v in ds.items() if "{name}" in k)
        pages = sum(v for k, v in ds.items() if "{name}" not in k and "oauth" not in k)
        assets = sc.get("assets_in_tenant", 0)
        ds_min = 1 + pages + assets
        sc["min_datasphere_calls"] = ds_min
        sc["datasphere_call_ratio"] = round((reads + pages + ds.get("POST /oauth/token", 0)) / ds_min, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=500.0, help="Glue calls/s allowed to dgsync")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dgsync-bench-"))
    bench = Bench(args.assets, args.seed, workdir, args.rate)
    scenarios: dict[str, Any] = {}
    try:
        bench.start_emulator()
        bench.start_glue()
        db = workdir / "state.db"
        full = bench.run_sync(db)
        v_full = bench.table_versions()
        tables = len(v_full)
        scenarios["full"] = scenario(full, v_full, None, args.assets)
        noop = bench.run_sync(db)
        v_noop = bench.table_versions()
        scenarios["noop"] = scenario(noop, v_noop, v_full, 0)
        changes = bench.mutate(max(1, args.assets // 100))
        one = bench.run_sync(db)
        v_one = bench.table_versions()
        scenarios["one_percent"] = scenario(one, v_one, v_noop, len(changes))
        # (d) a fresh catalog and store, killed at about half of the writes, then resumed.
        bench.start_glue()
        db2 = workdir / "state-resume.db"
        first = bench.run_sync(db2, kill_at_writes=max(1, tables // 2))
        second = bench.run_sync(db2, "--resume")
        v_res = bench.table_versions()
        merged = {
            "wall_s": round(first["wall_s"] + second["wall_s"], 2),
            "peak_rss_mb": max(first["peak_rss_mb"], second["peak_rss_mb"]),
            "glue_calls": dict(Counter(first["glue_calls"]) + Counter(second["glue_calls"])),
            "glue_writes": first["glue_writes"] + second["glue_writes"],
            "datasphere_calls": dict(Counter(first["datasphere_calls"]) + Counter(second["datasphere_calls"])),
            "exit_code": second["exit_code"],
        }
        scenarios["resume"] = scenario(merged, v_res, None, args.assets)
        scenarios["resume"]["killed_after_writes"] = first["glue_writes"]
        scenarios["resume"]["tables_with_more_than_one_version"] = sum(1 for v in v_res.values() if v != 1)
        databases = len({k.split(".", 1)[0] for k in v_full})
        scenarios["noop"]["glue_read_budget"] = math.ceil(tables / 100) + databases
        scenarios["full"]["tables"] = tables
        per_db: dict[str, int] = {}
        for key in v_full:
            per_db[key.split(".", 1)[0]] = per_db.get(key.split(".", 1)[0], 0) + 1
        for sc in scenarios.values():
            sc["assets_in_tenant"] = args.assets
        scenarios["resume"]["assets_in_tenant"] = 2 * args.assets  # two runs read the tenant
        minimum_calls(scenarios, per_db, len(changes))
    finally:
        bench.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    out = {
        "assets": args.assets,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "scenarios": scenarios,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for name, s in scenarios.items():
            print(f"{name:12} wall {s['wall_s']:>8}s  rss {s['peak_rss_mb']:>7} MB  glue writes {s['glue_writes']:>6}"
                  f"  new versions {s['new_table_versions']:>6}  ds calls {sum(s['datasphere_calls'].values()):>6}"
                  f"  glue calls {sum(s['glue_calls'].values()):>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
