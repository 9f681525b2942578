"""``python -m mcp_server``: serve dgsync to an MCP client over stdio."""

from __future__ import annotations

from core.log import configure_logging
from mcp_server.server import create_server


def main() -> None:
    # stdout carries the protocol: logs go to stderr (configure_logging's only handler).
    configure_logging(level="INFO", json_format=True)
    create_server().run("stdio")


if __name__ == "__main__":
    main()
