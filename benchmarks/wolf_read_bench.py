"""Wolf read latency on a synthetic tenant while a sync runs (issue 12: every read endpoint
p95 < 100 ms at 10,000 assets).

Every part is its own process: the emulator (``--synthetic-assets N``), ``moto_server`` (behind
the counting proxy of ``sync_bench``) and Wolf (``python -m wolf_fastapi``, uvicorn, profile
``wolf``). The read clients use a **viewer** API key made with ``dgsync keys create``; jobs are
started with the bootstrap admin key.

1. Migrate the store (SQLite, or PostgreSQL with ``--postgres URL``), start Wolf, warm the asset
   catalog (``GET /api/v1/assets`` answers 503 while the extraction runs; polled).
2. Seed the store: a ``sync`` job of one space with ``validate_after`` (a run with items, diffs
   and a validation report) and a ``plan`` job.
3. Time every read endpoint at rest (one client), then start a ``sync`` job of the whole tenant
   (``POST /api/v1/jobs``) and, **for as long as it runs** (every phase: extract, plan, apply;
   at most ``--window`` s), ``--clients`` concurrent clients request the endpoints in random
   order; each endpoint needs at least ``--requests`` samples. Searches draw from ~600 words
   and prefixes (most asked once: the server's per-snapshot search memory does not answer
   them). Wolf refreshes its catalog every ``--catalog-ttl`` s (60; the default is 300), so
   conditional refreshes happen during the load too.
4. Per endpoint: n, p50, p95, max (ms); per sync phase; GC pauses and catalog refreshes during
   the load; JSON to ``benchmarks/results/wolf-read-N-STORE[-LABEL].json``. Exit 1 when an
   endpoint misses p95 < 100 ms or its minimum of samples.

    .venv/bin/python benchmarks/wolf_read_bench.py --assets 10000          # make bench-wolf
    .venv/bin/python benchmarks/wolf_read_bench.py --assets 1000 --requests 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_bench import BIN, ROOT, Bench, free_port, wait_http

TARGET_P95_MS = 100.0
RESULTS = ROOT / "benchmarks" / "results"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(samples: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    return {
        name: {"n": len(v), "p50_ms": round(statistics.median(v), 1), "p95_ms": round(percentile(v, 0.95), 1),
               "max_ms": round(max(v), 1), "ok": percentile(v, 0.95) < TARGET_P95_MS}
        for name, v in samples.items() if v
    }


def wait_job(http: httpx.Client, job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = get(http, f"/api/v1/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.5)
    raise RuntimeError(f"job {job_id} still running after {timeout:.0f} s")


#: An endpoint: one path, or several (a request takes one at random: searches for many words).
Paths = dict[str, str | list[str]]


def query_pool(http: httpx.Client, total: int, size: int = 600) -> list[str]:
    """Search words as people type them, most asked once: the words of asset names and their
    prefixes (``inv``, ``invo``, ``invoice``) and number parts (``05246``), from pages of
    the catalog spread over the tenant — more than the server remembers (128 per snapshot)."""
    found: set[str] = set()
    for offset in range(0, total, max(1, total // 8)):
        for item in get(http, "/api/v1/assets", params={"limit": 200, "offset": offset}).json()["items"]:
            for part in item["name"].lower().split("_"):
                if part.isdigit():
                    found.add(part)
                elif part.isalpha() and len(part) >= 3:
                    found.update(part[:n] for n in range(3, len(part) + 1))
    pool = sorted(found)
    random.Random(1).shuffle(pool)
    return pool[:size]


def endpoints(http: httpx.Client, sync_job: str) -> Paths:
    """Every read endpoint, with realistic parameters (existing asset, run, validation)."""
    views = get(http, "/api/v1/assets", params={"limit": 1, "kind": "view"}).json()
    view = get(http, "/api/v1/assets", params={"limit": 1, "kind": "view", "offset": views["total"] // 3}).json()["items"][0]
    total = int(get(http, "/api/v1/assets", params={"limit": 1}).json()["total"])
    table = get(http, "/api/v1/assets", params={"limit": 1, "kind": "local_table"}).json()["items"][0]
    # A word a person would type (INVOICE of V_INVOICE_05246), not one every asset matches.
    word = max(view["name"].split("_"), key=lambda w: (w.isalpha(), len(w)))
    words = query_pool(http, total)
    runs = get(http, "/api/v1/runs", params={"limit": 5, "kind": "sync", "status": "succeeded"}).json()["items"]
    run_id = runs[0]["id"] if runs else get(http, "/api/v1/runs", params={"limit": 1}).json()["items"][0]["id"]
    validations = get(http, "/api/v1/validations", params={"limit": 1}).json()
    asset = f"{view['space']}/{view['name']}"
    paths: Paths = {
        "api assets page 1": "/api/v1/assets?limit=50",
        "api assets page (middle)": f"/api/v1/assets?limit=50&offset={total // 2}",
        "api assets cursor (end)": f"/api/v1/assets?limit=50&cursor=o{total - 60}",
        "api assets search": [f"/api/v1/assets?q={w}&limit=50" for w in words],
        "api assets search 2 words": [f"/api/v1/assets?q={w}+id&limit=20" for w in words],
        "api assets space+kind": f"/api/v1/assets?space={view['space']}&kind=view&limit=100",
        "api asset (view)": f"/api/v1/assets/{asset}",
        "api asset (table)": f"/api/v1/assets/{table['space']}/{table['name']}",
        "api lineage depth 2": f"/api/v1/lineage/{asset}?depth=2",
        "api runs": "/api/v1/runs?limit=20",
        "api run detail": f"/api/v1/runs/{run_id}",
        "api run validation": f"/api/v1/runs/{run_id}/validation",
        "api validations": "/api/v1/validations?limit=20",
        "api metrics/runs": "/api/v1/metrics/runs?limit=20",
        "api status": "/api/v1/status",
        "api connectivity": "/api/v1/connectivity?history=60",
        "api jobs": "/api/v1/jobs?limit=20",
        "api job (running sync)": f"/api/v1/jobs/{sync_job}",
        "prometheus /metrics": "/metrics",
        "page /": "/",
        "page /assets": "/assets",
        "page /assets?q=": [f"/assets?q={w}" for w in reversed(words)],
        "page /assets?q= (one word)": f"/assets?q={word}",
        "page asset": f"/assets/{asset}",
        "page /runs": "/runs",
        "page run": f"/runs/{run_id}",
        "page /connectivity": "/connectivity",
        "page /performance": "/performance",
        "page /validation": "/validation",
        "page /flow": "/flow",
    }
    if validations:
        vid = validations[0]["id"]
        paths["api validation"] = f"/api/v1/validations/{vid}"
        paths["api validation csv"] = f"/api/v1/validations/{vid}/csv"
        paths["page validation"] = f"/validation/{vid}"
    return paths


#: Requests retried after the server closed a kept-alive connection under the client (uvicorn's
#: keep-alive timer racing a new request; a browser retries those too). Counted in the results.
RETRIED: list[str] = []


def get(http: httpx.Client, path: str, **kw: Any) -> httpx.Response:
    try:
        return http.get(path, **kw)
    except (httpx.ReadError, httpx.RemoteProtocolError):
        RETRIED.append(path)
        return http.get(path, **kw)


def timed_get(http: httpx.Client, path: str | list[str], rng: random.Random | None = None) -> float:
    if isinstance(path, list):
        path = (rng or random).choice(path)
    t0 = time.perf_counter()
    response = get(http, path)
    elapsed = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
    return elapsed


def at_rest(http: httpx.Client, paths: Paths, rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for path in paths.values():  # once untimed: the first connectivity check is live, by design
        timed_get(http, path if isinstance(path, str) else path[-1])
    for _ in range(rounds):
        for name, path in paths.items():
            samples[name].append(timed_get(http, path))
    return samples


class Phases:
    """The running job's phase, polled once a second: each sample is counted in the phase it
    ended in (``extract``, ``plan``, ``apply``...)."""

    def __init__(self) -> None:
        self.current = "start"
        self.seen: list[tuple[float, str, int | None, int | None]] = []

    def update(self, job: dict[str, Any]) -> None:
        phase = str(job.get("phase") or job["status"])
        if phase != self.current or not self.seen:
            self.seen.append((round(time.monotonic(), 1), phase, job.get("done"), job.get("total")))
        self.current = phase


def under_load(base: str, key: str, paths: Paths, *, clients: int, window_s: float,
               job_running: threading.Event, phases: Phases) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """``clients`` threads, each its own connection, request the endpoints in a shuffled
    order for as long as the job runs (at most ``window_s``): per endpoint and per phase."""
    samples: dict[str, list[float]] = {name: [] for name in paths}
    by_phase: dict[str, list[float]] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + window_s
    errors: list[str] = []

    def client(seed: int) -> None:
        rng = random.Random(seed)
        names = list(paths)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
            while time.monotonic() < deadline and job_running.is_set() and not errors:
                name = rng.choice(names)
                try:
                    ms = timed_get(http, paths[name], rng)
                except Exception as exc:
                    errors.append(f"{name}: {exc}")
                    return
                with lock:
                    samples[name].append(ms)
                    by_phase.setdefault(phases.current, []).append(ms)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])
    return samples, by_phase


def process_metrics(http: httpx.Client) -> dict[str, dict[str, float]]:
    """From Wolf's ``/metrics``: per GC generation the collections and their summed pause (s)
    (``gen0``...), and the catalog's extractions by outcome (``catalog``)."""
    out: dict[str, dict[str, float]] = {}
    for line in get(http, "/metrics").text.splitlines():
        metric, _, value = line.rpartition(" ")
        if metric.startswith(("dgsync_process_gc_pause_seconds_count", "dgsync_process_gc_pause_seconds_sum")):
            generation = metric.split('generation="')[1].split('"')[0]
            out.setdefault(f"gen{generation}", {})[metric.split("{")[0].rsplit("_", 1)[1]] = float(value)
        elif metric.startswith("dgsync_catalog_extractions_total"):
            out.setdefault("catalog", {})[metric.split('outcome="')[1].split('"')[0]] = float(value)
    return out


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(), "loadavg": [round(x, 2) for x in os.getloadavg()]}


def print_table(result: dict[str, Any]) -> None:
    print(f"{result['assets']} assets, store {result['store']}: catalog warm {result['catalog_warm_s']} s; "
          f"full sync job {result['sync']['status']} ({result['sync']['phase']} {result['sync']['done']}/"
          f"{result['sync']['total']}) during {result['window_s']} s of load, {result['clients']} clients")
    print("phases: " + ", ".join(f"{p['phase']} at {p['t']} s" for p in result.get("phases", []))
          + f"; catalog refreshes during the load: {result.get('catalog_refreshes')}; GC: "
          + ", ".join(f"{g} {v['collections']}× {v['seconds']} s" for g, v in result.get("gc_pauses", {}).items()))
    for phase, row in result.get("by_phase", {}).items():
        print(f"  all endpoints in {phase:<10} n {row['n']:>6}  p50 {row['p50_ms']:>7}  p95 {row['p95_ms']:>7}  "
              f"max {row['max_ms']:>8}")
    print(f"{'endpoint':<28} {'rest p50':>9} {'rest p95':>9} {'n':>5} {'p50':>8} {'p95':>8} {'max':>8}  p95<100")
    for name, row in result["during_sync"].items():
        r = result["at_rest"].get(name, {})
        print(f"{name:<28} {r.get('p50_ms', 0):>9} {r.get('p95_ms', 0):>9} {row['n']:>5} {row['p50_ms']:>8} "
              f"{row['p95_ms']:>8} {row['max_ms']:>8}  {'yes' if row['ok'] else 'NO'}")


def markdown(result: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    """The docs/benchmarks.md table of a result (``before``: a column of an earlier result)."""
    head = "| endpoint | at rest p50 / p95 | n | p50 | p95 | max | p95 < 100 ms |"
    if before:
        head += f" p95 before ({before.get('label') or before.get('date', '?')}) |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, row in result["during_sync"].items():
        rest = result["at_rest"].get(name, {})
        line = (f"| {name} | {rest.get('p50_ms', '–')} / {rest.get('p95_ms', '–')} | {row['n']} | {row['p50_ms']} | "
                f"{row['p95_ms']} | {row['max_ms']} | {'yes' if row['ok'] else '**no**'} |")
        if before:
            line += f" {before['during_sync'].get(name, {}).get('p95_ms', '–')} |"
        lines.append(line)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=500.0, help="Glue calls/s of the sync (client token bucket).")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=40,
                        help="At least this many samples per endpoint while the sync runs (else it fails).")
    parser.add_argument("--rest-rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=900.0,
                        help="Load lasts as long as the sync job, at most this long (s).")
    parser.add_argument("--catalog-ttl", type=float, default=60.0,
                        help="Wolf's DGSYNC_WEB__CATALOG_TTL_S: the browsing catalog is refreshed in the "
                        "background this often, so refreshes happen while the sync runs (default 300 s).")
    parser.add_argument("--postgres", metavar="URL", help="A PostgreSQL URL (an empty database) instead of SQLite.")
    parser.add_argument("--job-executor", choices=("process", "thread"), default="process",
                        help="Wolf's --job-executor (thread: the sync shares the server's GIL).")
    parser.add_argument("--py-spy", metavar="FILE", dest="py_spy",
                        help="Profile Wolf with py-spy (raw stacks to FILE) during the window under load "
                        "(not a dependency: `.venv/bin/pip install py-spy` first).")
    parser.add_argument("--label", default="", help="Appended to the result file name.")
    parser.add_argument("--json", action="store_true", help="Print the JSON result instead of the table.")
    parser.add_argument("--markdown", nargs="+", metavar="JSON",
                        help="Only print the docs table of a result file (and a 'before' one), then exit.")
    args = parser.parse_args()
    if args.markdown:
        results = [json.loads(Path(p).read_text()) for p in args.markdown]
        print(markdown(results[0], results[1] if len(results) > 1 else None))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="dgsync-wolf-bench-"))
    bench = Bench(args.assets, args.seed, workdir, args.rate)
    wolf: subprocess.Popen[bytes] | None = None
    token = secrets.token_urlsafe(32)
    try:
        t_start = time.monotonic()
        bench.start_emulator()
        bench.start_glue()
        env = bench.env(workdir / "state.db") | {
            "DGSYNC_ENV": "wolf", "DGSYNC_API_TOKEN": token, "DGSYNC_WEB__API_KEY_PEPPER": secrets.token_urlsafe(32),
            "DGSYNC_WEB__CATALOG_TTL_S": str(args.catalog_ttl)}
        # Glue straight to moto: the counting proxy is a thread of this process and would
        # compete with the timing clients for its GIL.
        env["DGSYNC_GLUE__ENDPOINT_URL"] = f"http://127.0.0.1:{bench.moto_port}"
        if args.postgres:
            env["DGSYNC_DATABASE_URL"] = args.postgres
        subprocess.run([str(BIN / "dgsync"), "db", "upgrade"], env=env, check=True, capture_output=True)
        made = subprocess.run([str(BIN / "dgsync"), "keys", "create", "--name", "bench-reader", "--role", "viewer",
                               "-q"], env=env, check=True, capture_output=True, text=True)
        viewer_key = made.stdout.split()[-1]
        port = free_port()
        with open(workdir / "wolf.log", "wb") as log:
            wolf = subprocess.Popen([sys.executable, "-m", "wolf_fastapi", "--port", str(port),
                                     "--job-executor", args.job_executor], env=env,
                                    stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/health")
        admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        reader = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {viewer_key}"}, timeout=120)
        t0 = time.monotonic()
        while get(reader, "/api/v1/assets", params={"limit": 1}).status_code == 503:
            time.sleep(0.5)
        warm_s = time.monotonic() - t0
        first_space = get(reader, "/api/v1/assets", params={"limit": 1}).json()["items"][0]["space"]
        seeded = admin.post("/api/v1/jobs", json={"kind": "sync", "scope": {"spaces": [first_space],
                                                                           "validate_after": True}})
        seeded.raise_for_status()
        seed_job = wait_job(reader, seeded.json()["id"], 900)
        plan = admin.post("/api/v1/jobs", json={"kind": "plan", "scope": {"spaces": [first_space]}})
        plan.raise_for_status()
        wait_job(reader, plan.json()["id"], 900)
        paths = endpoints(reader, plan.json()["id"])
        rest = at_rest(reader, paths, args.rest_rounds)

        job = admin.post("/api/v1/jobs", json={"kind": "sync", "scope": {}})
        job.raise_for_status()
        job_id = job.json()["id"]
        paths["api job (running sync)"] = f"/api/v1/jobs/{job_id}"
        running = threading.Event()
        running.set()
        stop_watch = threading.Event()
        phases = Phases()

        def watch() -> None:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {viewer_key}"}, timeout=120) as h:
                while not stop_watch.is_set():
                    live = get(h, f"/api/v1/jobs/{job_id}").json()
                    phases.update(live)
                    if live["status"] not in ("queued", "running"):
                        running.clear()
                        return
                    stop_watch.wait(1.0)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        # Let the sync get past its start (token, listings) before measuring.
        # Let the sync get going (its run recorded) before measuring; its run pages are read too.
        deadline = time.monotonic() + 120
        while running.is_set() and time.monotonic() < deadline:
            live = get(reader, f"/api/v1/jobs/{job_id}").json()
            if live.get("run_id"):
                paths["api run detail (running sync)"] = f"/api/v1/runs/{live['run_id']}"
                paths["page run (running sync)"] = f"/runs/{live['run_id']}"
                break
            time.sleep(0.5)
        spy = None
        if args.py_spy:
            spy = subprocess.Popen([str(BIN / "py-spy"), "record", "-p", str(wolf.pid), "-r", "100", "-f", "raw",
                                    "--nonblocking", "-o", args.py_spy], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        before = process_metrics(reader)
        t1 = time.monotonic()
        during, by_phase = under_load(base, viewer_key, paths, clients=args.clients, window_s=args.window,
                                      job_running=running, phases=phases)
        window_s = time.monotonic() - t1
        after = process_metrics(reader)
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            spy.wait(60)
        stop_watch.set()
        state = get(reader, f"/api/v1/jobs/{job_id}").json()
        result = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
            "assets": args.assets, "store": "postgresql" if args.postgres else "sqlite", "clients": args.clients,
            "job_executor": args.job_executor, "label": args.label,
            "catalog_warm_s": round(warm_s, 1), "seed_sync": seed_job["status"], "window_s": round(window_s, 1),
            "sync": {"status": state["status"], "phase": state.get("phase"), "done": state.get("done"),
                     "total": state.get("total")},
            "target_p95_ms": TARGET_P95_MS, "paths": {n: p if isinstance(p, str) else f"{len(p)} paths, e.g. {p[0]}"
                                                      for n, p in paths.items()},
            "phases": [{"t": round(t - t1, 1), "phase": ph, "done": d, "total": n} for t, ph, d, n in phases.seen],
            "catalog_refreshes": {k: int(v - before.get("catalog", {}).get(k, 0))
                                  for k, v in after.get("catalog", {}).items()},
            "gc_pauses": {g: {"collections": int(v.get("count", 0) - before.get(g, {}).get("count", 0)),
                              "seconds": round(v.get("sum", 0) - before.get(g, {}).get("sum", 0), 3)}
                          for g, v in after.items() if g.startswith("gen")},
            "at_rest": summary(rest), "during_sync": summary(during), "by_phase": summary(by_phase),
            "min_samples": args.requests,
            "slow": sorted(n for n, row in summary(during).items() if not row["ok"] or row["n"] < args.requests)
            + sorted(n for n, v in during.items() if not v),
            "bench_s": round(time.monotonic() - t_start, 1), "retried_after_reset": len(RETRIED),
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        suffix = f"-{args.label}" if args.label else ""
        out = RESULTS / f"wolf-read-{args.assets}-{result['store']}{suffix}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print_table(result)
            print(f"JSON: {out.relative_to(ROOT)}; total {result['bench_s']} s")
        admin.close()
        reader.close()
        return 0 if not result["slow"] else 1
    finally:
        if wolf is not None:
            wolf.terminate()
            try:
                wolf.wait(60)
            except subprocess.TimeoutExpired:
                wolf.kill()
        bench.stop()
        if os.environ.get("DGSYNC_BENCH_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
