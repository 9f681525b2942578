"""Wolf API read latency while a sync runs: emulator (N synthetic assets), moto_server and Wolf
(uvicorn, wolf profile, bearer key) each in their own process.

1. Wolf starts against a migrated SQLite store; the first ``/api/v1/assets`` starts the
   extraction in the background (503 ``catalog_warming``) — polled until it answers.
2. Every read endpoint is timed at rest, then again while a ``sync`` job of the whole tenant
   runs (``POST /api/v1/jobs``), until the job ends.
3. Per endpoint: requests, p50, p95, max (ms) and whether p95 < 100 ms.

    .venv/bin/python benchmarks/api_bench.py --assets 1000
    .venv/bin/python benchmarks/api_bench.py --assets 10000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_bench import BIN, Bench, free_port, wait_http

TARGET_P95_MS = 100.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def read_paths(http: httpx.Client) -> dict[str, str]:
    """One URL per read endpoint (an existing asset and job where one is needed)."""
    first = http.get("/api/v1/assets", params={"limit": 1, "kind": "view"}).json()["items"][0]
    word = first["name"].split("_")[0][:6] or first["name"][:4]
    jobs = http.get("/api/v1/jobs", params={"limit": 1}).json()["items"]
    paths = {
        "assets (page)": "/api/v1/assets?limit=50",
        "assets (page 20)": "/api/v1/assets?limit=50&offset=1000",
        "assets (search)": f"/api/v1/assets?q={word}&limit=50",
        "asset": f"/api/v1/assets/{first['space']}/{first['name']}",
        "lineage": f"/api/v1/lineage/{first['space']}/{first['name']}?depth=2",
        "runs": "/api/v1/runs?limit=20",
        "status": "/api/v1/status",
        "connectivity": "/api/v1/connectivity?history=60",
        "metrics/runs": "/api/v1/metrics/runs?limit=20",
        "jobs": "/api/v1/jobs?limit=20",
    }
    if jobs:
        paths["job"] = f"/api/v1/jobs/{jobs[0]['id']}"
    return paths


def time_round(http: httpx.Client, paths: dict[str, str], samples: dict[str, list[float]]) -> None:
    for name, path in paths.items():
        t0 = time.perf_counter()
        response = http.get(path)
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        samples.setdefault(name, []).append(elapsed)


def summary(samples: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    return {
        name: {"n": len(v), "p50_ms": round(statistics.median(v), 1), "p95_ms": round(percentile(v, 0.95), 1),
               "max_ms": round(max(v), 1), "ok": percentile(v, 0.95) < TARGET_P95_MS}
        for name, v in samples.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--rest-rounds", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dgsync-api-bench-"))
    bench = Bench(args.assets, args.seed, workdir, args.rate)
    wolf: subprocess.Popen[bytes] | None = None
    token = secrets.token_urlsafe(32)
    try:
        bench.start_emulator()
        bench.start_glue()
        db = workdir / "state.db"
        env = bench.env(db) | {"DGSYNC_ENV": "wolf", "DGSYNC_API_TOKEN": token,
                               "DGSYNC_WEB__API_KEY_PEPPER": secrets.token_urlsafe(32)}
        subprocess.run([str(BIN / "dgsync"), "db", "upgrade"], env=env, check=True, capture_output=True)
        port = free_port()
        with open(workdir / "wolf.log", "wb") as log:
            wolf = subprocess.Popen([sys.executable, "-m", "wolf_fastapi", "--port", str(port)], env=env,
                                    stdout=log, stderr=subprocess.STDOUT, cwd=str(Path(__file__).resolve().parent.parent))
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/health")
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            t0 = time.monotonic()
            while http.get("/api/v1/assets", params={"limit": 1}).status_code == 503:
                time.sleep(0.5)
            warm_s = time.monotonic() - t0
            rest: dict[str, list[float]] = {}
            paths = read_paths(http)
            for _ in range(args.rest_rounds):
                time_round(http, paths, rest)
            job = http.post("/api/v1/jobs", json={"kind": "sync", "scope": {}})
            job.raise_for_status()
            job_id = job.json()["id"]
            paths["job"] = f"/api/v1/jobs/{job_id}"
            during: dict[str, list[float]] = {}
            t1 = time.monotonic()
            state = job.json()
            while state["status"] in ("queued", "running"):
                time_round(http, paths, during)
                state = http.get(f"/api/v1/jobs/{job_id}").json()
            sync_s = time.monotonic() - t1
        result = {
            "assets": args.assets, "catalog_warm_s": round(warm_s, 1), "sync_s": round(sync_s, 1),
            "sync_status": state["status"], "target_p95_ms": TARGET_P95_MS,
            "at_rest": summary(rest), "during_sync": summary(during),
        }
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"{args.assets} assets: catalog extracted in {warm_s:.1f} s; sync {state['status']} in {sync_s:.1f} s")
            print(f"{'endpoint':<20} {'rest p50':>9} {'rest p95':>9} {'sync n':>7} {'sync p50':>9} {'sync p95':>9} "
                  f"{'sync max':>9}  p95<{TARGET_P95_MS:.0f}")
            for name, row in result["during_sync"].items():
                r = result["at_rest"].get(name, {})
                print(f"{name:<20} {r.get('p50_ms', 0):>9} {r.get('p95_ms', 0):>9} {row['n']:>7} {row['p50_ms']:>9} "
                      f"{row['p95_ms']:>9} {row['max_ms']:>9}  {'yes' if row['ok'] else 'NO'}")
        return 0
    finally:
        if wolf is not None:
            wolf.terminate()
            try:
                wolf.wait(30)
            except subprocess.TimeoutExpired:
                wolf.kill()
        bench.stop()
        if os.environ.get("DGSYNC_BENCH_KEEP") != "1":
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
