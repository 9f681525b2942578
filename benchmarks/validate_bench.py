"""Validation benchmark: emulator (N synthetic assets) + moto_server, each its own process.

    python benchmarks/validate_bench.py --assets 1000 [--json]

After a full sync (not measured here: see sync_bench.py), ``dgsync validate`` runs as a child
process: (a) on the synced catalog (in sync, exit 0; every field check listed, then with
``--failed-only``), (b) after 1 % of the tables were edited
out of band (a column type changed directly in moto, not through dgsync: drift, exit 1). Glue
calls are counted outside dgsync by the counting proxy in front of moto_server, Datasphere
calls by the emulator; peak RSS is that of the ``dgsync validate`` process. The report sizes
are those of the JSON and CSV exports and of the stored (zlib) report. Finally ``dgsync
metrics`` reads the sync run's recorded latencies (p50/p95 per system).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_bench import BIN, Bench


def run_validate(bench: Bench, db: Path, out: Path, *extra: str) -> dict[str, Any]:
    assert bench.proxy is not None
    before = bench.proxy.snapshot()
    bench.ds_stats(reset=True)
    t0 = time.monotonic()
    with open(bench.workdir / "validate.log", "ab") as log:
        proc = subprocess.Popen([str(BIN / "dgsync"), "validate", "--format", "json", "--output", str(out), *extra],
                                env=bench.env(db), stdout=log, stderr=subprocess.STDOUT)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, ps.memory_info().rss)
        time.sleep(0.05)
    wall = time.monotonic() - t0
    calls = bench.proxy.snapshot() - before
    ds_calls = sum(bench.ds_stats().values())
    report = json.loads(out.read_text(encoding="utf-8"))
    csv_out = out.with_suffix(".csv")
    if "--failed-only" not in extra:
        subprocess.run([str(BIN / "dgsync"), "validate", "--format", "csv", "--output", str(csv_out), "--no-save"],
                       env=bench.env(db), capture_output=True, check=False)
    return {
        "wall_s": round(wall, 2),
        "validate_s": report["duration_s"],
        "peak_rss_mb": round(peak / 2**20, 1),
        "exit_code": proc.returncode,
        "in_sync": report["in_sync"],
        "summary": report["summary"],
        "reasons": report["reasons"],
        "glue_calls": dict(sorted(calls.items())),
        "datasphere_calls": ds_calls,
        "json_bytes": out.stat().st_size,
        "csv_bytes": csv_out.stat().st_size if csv_out.exists() else None,
        "stored_bytes": stored_size(db, report["id"]),
    }


def stored_size(db: Path, validation_id: str) -> int | None:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT length(report) FROM validations WHERE id = ?", (validation_id,)).fetchone()
    return int(row[0]) if row else None


def edit_out_of_band(bench: Bench, share: float) -> int:
    """Change one column type in ``share`` of the tables, directly in moto (no proxy)."""
    glue = boto3.client("glue", endpoint_url=f"http://127.0.0.1:{bench.moto_port}", region_name="eu-central-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    keys = ("Name", "Description", "TableType", "StorageDescriptor", "PartitionKeys", "Parameters")
    tables = []
    for page in glue.get_paginator("get_databases").paginate():
        for db in page["DatabaseList"]:
            for tpage in glue.get_paginator("get_tables").paginate(DatabaseName=db["Name"]):
                tables.extend((db["Name"], t) for t in tpage["TableList"] if t["StorageDescriptor"].get("Columns"))
    chosen = tables[:: max(1, round(1 / share))]
    for database, table in chosen:
        edit = {k: table[k] for k in keys if k in table}
        col = edit["StorageDescriptor"]["Columns"][0]
        col["Type"] = "binary" if col["Type"] != "binary" else "string"
        glue.update_table(DatabaseName=database, TableInput=edit)
    return len(chosen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=500.0, help="Glue calls/s allowed to dgsync")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dgsync-vbench-"))
    bench = Bench(args.assets, args.seed, workdir, args.rate)
    out: dict[str, Any] = {"assets": args.assets}
    try:
        bench.start_emulator()
        bench.start_glue()
        db = workdir / "state.db"
        sync = bench.run_sync(db)
        out["sync"] = {"wall_s": sync["wall_s"], "exit_code": sync["exit_code"],
                       "glue_calls": sum(sync["glue_calls"].values())}
        out["in_sync"] = run_validate(bench, db, workdir / "in_sync.json")
        out["in_sync_failed_only"] = run_validate(bench, db, workdir / "in_sync_lean.json", "--failed-only")
        edited = edit_out_of_band(bench, 0.01)
        out["drift"] = run_validate(bench, db, workdir / "drift.json")
        out["drift"]["tables_edited"] = edited
        metrics = subprocess.run([str(BIN / "dgsync"), "metrics", "--last", "1", "--format", "json"],
                                 env=bench.env(db), capture_output=True, text=True, check=True)
        last = json.loads(metrics.stdout)[0]
        out["sync_metrics"] = {
            "duration_s": last["duration_s"], "assets_per_s": last["assets_per_s"],
            **{f"{system}_{k}": v[k] for system, v in last["systems"].items()
               for k in ("calls", "p50_ms", "p95_ms", "p99_ms")},
        }
    finally:
        bench.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    out["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for name in ("in_sync", "in_sync_failed_only", "drift"):
            s = out[name]
            print(f"{name:8} wall {s['wall_s']:>6}s (validate {s['validate_s']}s)  rss {s['peak_rss_mb']} MB  "
                  f"exit {s['exit_code']}  tables {s['summary']['tables']}  checks {s['summary']['checks']}  "
                  f"failed {s['summary']['failed_checks']}  glue calls {sum(s['glue_calls'].values())}  "
                  f"ds calls {s['datasphere_calls']}  json {s['json_bytes']} B  stored {s['stored_bytes']} B")
        print("sync metrics", out["sync_metrics"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
