"""Throttle benchmark: how much a burst of Glue throttles costs a full sync.

    python benchmarks/throttle_bench.py --assets 300 [--throttles 60] [--json]

Same deployment shape as ``sync_bench.py`` (emulator, ``moto_server`` and ``dgsync sync`` each
their own process, Glue behind a counting HTTP proxy), with dgsync's *default* Glue pacing
(``DGSYNC_GLUE__CALLS_PER_SECOND`` / ``__BURST`` unset: 20/s, burst 20). Two scenarios, each
on a fresh catalog and store:

* ``clean``: a full sync;
* ``throttled``: a full sync during which the proxy answers the first ``--throttles`` Glue
  requests that reach it (after the first ``--after`` requests) with HTTP 400
  ``ThrottlingException`` / ``Rate exceeded`` — what Glue answers when an account is over its
  rate — without forwarding them to moto.

The target (issue 8): ``throttled`` wall time < 2 x ``clean`` wall time, and the same tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_bench import Bench, CountingProxy


class ThrottlingProxy(CountingProxy):
    """A :class:`CountingProxy` that answers a programmed number of requests with a throttle."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port)
        self.throttle_lock = threading.Lock()
        self.skip = 0
        self.remaining = 0
        self.throttled = 0
        handler: type[BaseHTTPRequestHandler] = self.server.RequestHandlerClass  # type: ignore[assignment]
        forward = handler.do_POST
        proxy = self

        def do_post(req: BaseHTTPRequestHandler) -> None:
            if proxy.take():
                length = int(req.headers.get("Content-Length") or 0)
                req.rfile.read(length)
                body = json.dumps(
                    {"__type": "ThrottlingException", "message": "Rate exceeded"}
                ).encode()
                req.send_response(400)
                req.send_header("x-amzn-errortype", "ThrottlingException:")
                req.send_header("x-amzn-requestid", uuid.uuid4().hex)
                req.send_header("Content-Type", "application/x-amz-json-1.1")
                req.send_header("Content-Length", str(len(body)))
                req.end_headers()
                req.wfile.write(body)
                return
            forward(req)

        handler.do_POST = do_post  # type: ignore[method-assign]
        handler.do_GET = do_post  # type: ignore[method-assign]

    def program(self, throttles: int, *, after: int) -> None:
        with self.throttle_lock:
            self.skip = after
            self.remaining = throttles
            self.throttled = 0

    def take(self) -> bool:
        with self.throttle_lock:
            if self.skip > 0:
                self.skip -= 1
                return False
            if self.remaining > 0:
                self.remaining -= 1
                self.throttled += 1
                return True
            return False


class ThrottleBench(Bench):
    def start_glue(self) -> None:
        super().start_glue()
        assert self.proxy is not None
        self.proxy.stop()
        self.proxy = ThrottlingProxy(self.moto_port)

    def env(self, db: Path) -> dict[str, str]:
        env = super().env(db)
        # dgsync's default pacing, as a real deployment would run it
        for key in ("DGSYNC_GLUE__CALLS_PER_SECOND", "DGSYNC_GLUE__BURST"):
            env.pop(key, None)
        env["DGSYNC_GLUE__CONCURRENCY"] = "4"
        return env


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--assets", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--throttles", type=int, default=60)
    parser.add_argument("--after", type=int, default=5, help="requests served before throttling")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dgsync-throttle-"))
    bench = ThrottleBench(args.assets, args.seed, workdir, 20.0)
    out: dict[str, Any] = {}
    try:
        bench.start_emulator()
        bench.start_glue()
        clean = bench.run_sync(workdir / "clean.db")
        clean_tables = len(bench.table_versions())
        bench.start_glue()
        proxy = bench.proxy
        assert isinstance(proxy, ThrottlingProxy)
        proxy.program(args.throttles, after=args.after)
        throttled = bench.run_sync(workdir / "throttled.db")
        throttled_tables = len(bench.table_versions())
        out = {
            "assets": args.assets,
            "throttles_injected": proxy.throttled,
            "clean": {"wall_s": clean["wall_s"], "tables": clean_tables,
                      "exit_code": clean["exit_code"], "glue_calls": sum(clean["glue_calls"].values())},
            "throttled": {"wall_s": throttled["wall_s"], "tables": throttled_tables,
                          "exit_code": throttled["exit_code"],
                          "glue_calls": sum(throttled["glue_calls"].values())},
            "ratio": round(throttled["wall_s"] / clean["wall_s"], 2) if clean["wall_s"] else None,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        }
    finally:
        bench.stop()
        if args.keep:
            print(f"work directory: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"clean     {out['clean']['wall_s']:>7} s  tables {out['clean']['tables']}"
              f"  rc {out['clean']['exit_code']}")
        print(f"throttled {out['throttled']['wall_s']:>7} s  tables {out['throttled']['tables']}"
              f"  rc {out['throttled']['exit_code']}  ({out['throttles_injected']} throttles)")
        print(f"ratio     {out['ratio']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
