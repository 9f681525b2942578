"""Entry point of the `dgsync` command."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from dgsync_cli.context import CliState

#: Command modules; each defines `register(group)`.
COMMAND_MODULES = (
    "dgsync_cli.cmd_datasphere",
    "dgsync_cli.cmd_emulator",
    "dgsync_cli.cmd_keys",
    "dgsync_cli.cmd_sync",
    "dgsync_cli.cmd_rules",
    "dgsync_cli.cmd_store",
    "dgsync_cli.cmd_run",
    "dgsync_cli.cmd_deletions",
    "dgsync_cli.cmd_iam",
    "dgsync_cli.cmd_lineage",
    "dgsync_cli.cmd_config",
    "dgsync_cli.cmd_alerts",
    "dgsync_cli.cmd_mcp",
    "dgsync_cli.cmd_validate",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--env", "env", type=click.Choice(["dog", "wolf", "bear"]), default=None,
              help="Environment profile (default: DGSYNC_ENV or dog).")
@click.option("--config", "config", type=click.Path(path_type=Path), default=None,
              help="YAML config file (default: DGSYNC_CONFIG_FILE).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.option("--debug", is_flag=True, help="Print the traceback of an error (default: one line with a hint).")
@click.version_option(package_name="dgsync")
@click.pass_context
def cli(ctx: click.Context, env: str | None, config: Path | None, verbose: bool, debug: bool) -> None:
    """dgsync: keep the AWS Glue Data Catalog in sync with SAP Datasphere.

    \b
    Exit codes (sync, plan, run --once):
      0  everything in scope is in sync (plan: the plan could be made)
      1  some objects failed or were skipped (run partial/failed/aborted,
         a space skipped after 403/429, extraction errors, unresolved conflicts)
      2  bad input or configuration (usage, settings, rules file, unknown space
         or kind); nothing was started
      3  could not run (authentication, unreachable system, state store,
         an overlapping run holds the scope)
    """
    ctx.obj = CliState(env=env, config=config, verbose=verbose, debug=debug)


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(cli)


def main() -> None:
    cli(prog_name="dgsync")
