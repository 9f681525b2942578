"""``python -m mcp_server [--allow-write]``: serve dgsync to an MCP client over stdio
(the same as ``dgsync mcp``)."""

from __future__ import annotations

import sys

from core.log import configure_logging
from mcp_server.server import create_server


def main() -> None:
    # stdout carries the protocol: logs go to stderr (configure_logging's only handler).
    configure_logging(level="INFO", json_format=True)
    create_server(allow_write="--allow-write" in sys.argv[1:]).run("stdio")


if __name__ == "__main__":
    main()
