"""Dog's catalog search at scale: a synthetic tenant of N assets, the pages a developer clicks.

    python benchmarks/catalog_search_bench.py --assets 10000 [--repeat 5] [--json]

The Datasphere emulator runs as its own process (``dgsync emulator --synthetic-assets N``,
the realistic spaces included, as in ``sync_bench.py``: in-process it would share the GIL with
the extraction); Dog is built on it with the embedded moto Glue and SQLite in a temp state dir
and driven through Flask's test client, so each figure is the server-side time of one request:
routing, search, pagination and template rendering (no network, no browser). The catalog is extracted once (``extract``: Dog caches an extraction for five
minutes); every other request reuses it, as Dog does. Each request is repeated ``--repeat``
times; the table shows the median and the worst.

Target (issue 11): every search or page request answers in well under a second at N = 10,000.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_bench import BIN, free_port, wait_http

REQUESTS = {
    "catalog page 1": "/catalog/",
    "rows page 1 (no query)": "/catalog/_rows",
    "rows page 100": "/catalog/_rows?page=100",
    "search one word (name)": "/catalog/_rows?q=orders",
    "search one word (column)": "/catalog/_rows?q=amount",
    "search two words": "/catalog/_rows?q=sales+amount",
    "search, no hit": "/catalog/_rows?q=zzzz_nothing",
    "search + space filter": "/catalog/_rows?q=amount&space=SYN_03",
    "search page 5": "/catalog/_rows?q=amount&page=5",
    "asset page": "/catalog/SALES/V_ORDERS",
    "lineage page": "/lineage/SALES/V_ORDERS",
}


def run(assets: int, repeat: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="dgsync-search-bench-"))
    port = free_port()
    emu_url = f"http://127.0.0.1:{port}"
    log = open(root / "emulator.log", "wb")  # noqa: SIM115 - lives as long as the child
    emulator = subprocess.Popen(
        [str(BIN / "dgsync"), "emulator", "--host", "127.0.0.1", "--port", str(port),
         "--synthetic-assets", str(assets)], stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_http(emu_url + "/_emulator/stats", timeout=300)
        return _measure(root, emu_url, repeat)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        log.close()


def _measure(root: Path, emu_url: str, repeat: int) -> dict[str, Any]:
    for name in list(os.environ):
        if name.startswith("DGSYNC_"):
            del os.environ[name]
    os.environ.update({
        "DGSYNC_STATE_DIR": str(root / "state"),
        "DGSYNC_DATABASE_URL": f"sqlite:///{root / 'state' / 'state.db'}",
        "DGSYNC_DATASPHERE__BASE_URL": emu_url,
        "DGSYNC_DATASPHERE__TOKEN_URL": emu_url + "/oauth/token",
        "DGSYNC_DATASPHERE__CLIENT_ID": "dgsync-demo",
        "DGSYNC_DATASPHERE__CLIENT_SECRET": "dgsync-demo-secret",
        "DGSYNC_DATASPHERE__CONCURRENCY": "8",
    })
    from core.settings import load_settings
    from dog_flask.app import create_app
    from dog_flask.extension import catalog, close_app

    app = create_app(load_settings(env="dog"))
    client = app.test_client()
    try:
        started = time.perf_counter()
        with app.app_context():
            snapshot = catalog().snapshot()
        extract_s = time.perf_counter() - started
        rows: dict[str, dict[str, Any]] = {}
        for label, path in REQUESTS.items():
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (path, response.status_code)
                body = response.get_data(as_text=True)
            total = None
            if "_rows" in path:
                import re

                found = re.search(r"(\d+) asset\(s\)", body)
                total = int(found.group(1)) if found else None
            rows[label] = {"path": path, "median_ms": round(statistics.median(times), 1),
                           "max_ms": round(max(times), 1), "first_ms": round(times[0], 1), "hits": total}
        return {
            "assets": len(snapshot.assets), "spaces": len(snapshot.spaces), "extract_s": round(extract_s, 1),
            "repeat": repeat, "requests": rows,
            "machine": f"{os.cpu_count()} CPU, {platform.system()} {platform.release()}, Python {platform.python_version()}",
        }
    finally:
        close_app(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.assets, args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['assets']} assets in {result['spaces']} spaces, extracted in {result['extract_s']} s")
    print(f"{'request':32} {'hits':>6} {'first ms':>9} {'median ms':>10} {'max ms':>8}")
    for label, row in result["requests"].items():
        hits = "" if row["hits"] is None else str(row["hits"])
        print(f"{label:32} {hits:>6} {row['first_ms']:>9} {row['median_ms']:>10} {row['max_ms']:>8}")


if __name__ == "__main__":
    main()
