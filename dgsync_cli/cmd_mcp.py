"""`dgsync mcp`: serve dgsync to an AI assistant over stdio (the Model Context Protocol).

Read-only unless ``--allow-write``: only then are ``apply_config``, ``promote_config`` and
``rollback_config`` listed; every change they make is a configuration version authored by
``mcp:<os user>`` and audited. Over HTTP the server is mounted in Wolf/Bear at ``/mcp``
(API keys and roles; docs/mcp.md).
"""

from __future__ import annotations

import click

from dgsync_cli.context import CliState, handle_errors, pass_state


def register(group: click.Group) -> None:
    @group.command("mcp")
    @click.option("--allow-write", is_flag=True,
                  help="Offer the configuration write tools (apply, promote, rollback).")
    @pass_state
    @handle_errors
    def mcp(state: CliState, allow_write: bool) -> None:
        """Serve the MCP server on stdio (for Claude Desktop, IDEs, the MCP Inspector).

        stdout carries the protocol; logs go to stderr.
        """
        try:
            from mcp_server.server import create_server
        except ImportError as exc:  # the mcp extra is not installed
            from core.errors import ConfigError

            raise ConfigError("the MCP server needs the `mcp` package",
                              hint="Install dgsync with the mcp extra: pip install 'dgsync[mcp]'.") from exc
        settings = state.settings()
        create_server(settings, allow_write=allow_write).run("stdio")
