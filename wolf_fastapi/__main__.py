"""``python -m wolf_fastapi [--host 127.0.0.1] [--port 8080]``: serve Wolf with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m wolf_fastapi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    uvicorn.run("wolf_fastapi.app:create_app", factory=True, host=args.host, port=args.port,
                proxy_headers=True, log_level="info")


if __name__ == "__main__":
    main()
