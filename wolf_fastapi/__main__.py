"""``python -m wolf_fastapi [--host 127.0.0.1] [--port 8080] [--job-executor process|thread]``:
serve Wolf with uvicorn; jobs run in a worker process each by default (core/job_process.py).

Settings, the API token and the bind address are checked before uvicorn starts: a problem is
one line with the fix on stderr and exit code 2 (no traceback).
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from core.errors import DgsyncError
from core.log import configure_logging
from core.settings import load_settings
from core.websec import one_line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m wolf_fastapi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--job-executor", choices=("process", "thread"), default="process",
                        help="Where /api/v1/jobs run: a worker process per job (default; a sync does not "
                        "slow the API down) or a thread of the server.")
    args = parser.parse_args(argv)
    try:
        from core.job_process import ProcessExecutor
        from wolf_fastapi.app import create_app

        settings = load_settings()
        # Before the app is built: the MCP mount's logging.basicConfig (a Rich handler at INFO
        # that logged every httpx request of an extraction) is then a no-op.
        configure_logging(level=settings.log_level, json_format=settings.json_logs)
        executor = ProcessExecutor() if args.job_executor == "process" else None
        app = create_app(settings, bind_host=args.host, job_executor=executor)
    except DgsyncError as exc:
        print(one_line(exc), file=sys.stderr)
        sys.exit(2)
    uvicorn.run(app, host=args.host, port=args.port, proxy_headers=True, log_level="info")


if __name__ == "__main__":
    main()
