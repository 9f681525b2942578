"""``python -m wolf_fastapi [--host 127.0.0.1] [--port 8080]``: serve Wolf with uvicorn.

Settings, the API token and the bind address are checked before uvicorn starts: a problem is
one line with the fix on stderr and exit code 2 (no traceback).
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from core.errors import DgsyncError
from core.settings import load_settings
from core.websec import one_line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m wolf_fastapi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    try:
        from wolf_fastapi.app import create_app

        app = create_app(load_settings(), bind_host=args.host)
    except DgsyncError as exc:
        print(one_line(exc), file=sys.stderr)
        sys.exit(2)
    uvicorn.run(app, host=args.host, port=args.port, proxy_headers=True, log_level="info")


if __name__ == "__main__":
    main()
