"""`dgsync iam-policy`: the least-privilege IAM policy for the effective settings and rules."""

from __future__ import annotations

from pathlib import Path

import click

from core.errors import ConfigError
from dgsync_cli.context import CliState, handle_errors, pass_state


def register(group: click.Group) -> None:
    @group.command("iam-policy")
    @click.option("--space", "spaces", multiple=True, metavar="SPACE",
                  help="A Datasphere space in scope (repeatable; default: "
                       "DGSYNC_DATASPHERE__SPACES).")
    @click.option("--discover", is_flag=True,
                  help="Read the spaces from the tenant (needs the Datasphere credentials).")
    @click.option("--account", metavar="ACCOUNT_ID",
                  help="The 12-digit account owning the catalog (default: "
                       "DGSYNC_GLUE__CATALOG_ID, else the <ACCOUNT_ID> placeholder).")
    @click.option("--rules", "rules_file", type=click.Path(path_type=Path, dir_okay=False),
                  help="Mapping rules (default: DGSYNC_SYNC__RULES_FILE, else the built-in rules).")
    @click.option("--deletion-policy", type=click.Choice(["log", "deprecate", "delete"]),
                  help="Override DGSYNC_SYNC__DELETION_POLICY.")
    @click.option("--allow-delete-database", is_flag=True,
                  help="Also grant glue:DeleteDatabase on the managed databases.")
    @click.option("--allow-wildcard", is_flag=True,
                  help="Accept a policy that covers every database of the account.")
    @click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
                  help="Write the policy to this file instead of stdout.")
    @pass_state
    @handle_errors
    def iam_policy(
        state: CliState,
        spaces: tuple[str, ...],
        discover: bool,
        account: str | None,
        rules_file: Path | None,
        deletion_policy: str | None,
        allow_delete_database: bool,
        allow_wildcard: bool,
        output: Path | None,
    ) -> None:
        """Print the IAM policy dgsync needs: exact Glue database/table ARNs of the databases
        the rules produce, only the actions the deletion policy needs, never DeleteDatabase
        unless asked. Notes (placeholders, patterns and why) go to stderr."""
        from core.glue.iam import database_scope, generate_policy
        from core.mapping.rules import default_rules, load_rules

        settings = state.settings()
        path = rules_file or settings.sync.rules_file
        rules = load_rules(path) if path else default_rules()
        in_scope = list(spaces) or list(settings.datasphere.spaces)
        if discover:
            if spaces:
                raise ConfigError("--discover and --space exclude each other",
                                  hint="Give the spaces, or read them from the tenant, not both.")
            in_scope = _discover_spaces(state)
        scope = database_scope(rules, env=settings.env, spaces=in_scope)
        policy = generate_policy(
            scope,
            region=settings.glue.region,
            account=account or settings.glue.catalog_id,
            deletion_policy=deletion_policy or settings.sync.deletion_policy,  # type: ignore[arg-type]
            allow_delete_database=allow_delete_database,
            allow_wildcard=allow_wildcard,
        )
        text = policy.to_json()
        if output is not None:
            output.write_text(text, encoding="utf-8")
            click.echo(f"wrote {output}", err=True)
        else:
            click.echo(text, nl=False)
        databases = ", ".join(scope.all())
        click.echo(f"note: databases covered: {databases}", err=True)
        for note in policy.notes:
            click.echo(f"note: {note}", err=True)


def _discover_spaces(state: CliState) -> list[str]:
    from core.services import build_services

    with build_services(state.settings()) as services:
        names = sorted({s.name for s in services.datasphere_client().iter_spaces() if s.name})
    if not names:
        raise ConfigError("the tenant lists no spaces",
                          hint="Check that the technical user is a member of the spaces.")
    return names
