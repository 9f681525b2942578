"""`dgsync deletions pending|approve|reject`: deletions held for an operator's confirmation.

The planner holds a deletion (or deprecation) when the evidence is weak — a listing that
dropped by more than the share or to zero, more than ``max_deletes_per_run`` at once. Held
deletions are listed here; approving one lets the next sync apply it (if the table is still an
orphan then). Every decision is audited with the operator's name.
"""

from __future__ import annotations

import getpass
from typing import Any

import click

from dgsync_cli.context import CliState, echo_json, handle_errors, pass_state


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name (container without passwd entry)
        return "cli:unknown"


def register(group: click.Group) -> None:
    @group.group("deletions")
    def deletions() -> None:
        """Deletions held for confirmation (see docs/operations.md)."""

    @deletions.command("pending")
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                  show_default=True)
    @click.option("--all", "show_all", is_flag=True, help="Also applied and cancelled ones.")
    @pass_state
    @handle_errors
    def pending(state: CliState, fmt: str, show_all: bool) -> None:
        """List held deletions (pending and approved)."""
        from core.store import deletions as store_deletions
        from core.store.db import store_from_settings

        settings = state.settings()
        store = store_from_settings(settings.database_url, env=settings.env)
        statuses = (
            (store_deletions.PENDING, store_deletions.APPROVED, store_deletions.APPLIED,
             store_deletions.CANCELLED)
            if show_all else (store_deletions.PENDING, store_deletions.APPROVED)
        )
        try:
            with store.session(readonly=True) as session:
                rows = store_deletions.list_pending(
                    session=session, env=settings.env, statuses=statuses
                )
        finally:
            store.dispose()
        if fmt == "json":
            echo_json([r.model_dump(mode="json") for r in rows])
            return
        if not rows:
            click.echo("no deletions held")
            return
        for row in rows:
            click.echo(f"{row.status:9} {row.action:9} {row.object}  ({row.asset or '-'})")
            click.echo(f"          {row.reason}")
        click.echo("approve with: dgsync deletions approve OBJECT... (or --all)")

    def _decide(state: CliState, objects: tuple[str, ...], all_: bool, approve: bool) -> None:
        from core.store import deletions as store_deletions
        from core.store.db import store_from_settings

        if not objects and not all_:
            raise click.UsageError("name the objects (database.table) or pass --all")
        settings = state.settings()
        store = store_from_settings(settings.database_url, env=settings.env)
        try:
            with store.session() as session:
                decided = store_deletions.decide(
                    session=session, env=settings.env, objects=None if all_ else objects,
                    actor=_operator(), approve=approve,
                )
        finally:
            store.dispose()
        verb = "approved" if approve else "rejected"
        missing = sorted(set(objects) - set(decided))
        for obj in decided:
            click.echo(f"{verb}: {obj}")
        if missing:
            from core.errors import InputError

            raise InputError("not pending: " + ", ".join(missing),
                             hint="`dgsync deletions pending` lists what is held.")
        if not decided:
            click.echo("nothing pending")
        elif approve:
            click.echo("the next sync applies them (if the tables are still orphans then)")

    @deletions.command("approve")
    @click.argument("objects", nargs=-1)
    @click.option("--all", "all_", is_flag=True, help="Approve every pending deletion.")
    @pass_state
    @handle_errors
    def approve(state: CliState, objects: tuple[str, ...], all_: bool) -> None:
        """Approve held deletions: the next sync applies them."""
        _decide(state, objects, all_, approve=True)

    @deletions.command("reject")
    @click.argument("objects", nargs=-1)
    @click.option("--all", "all_", is_flag=True, help="Reject every pending deletion.")
    @pass_state
    @handle_errors
    def reject(state: CliState, objects: tuple[str, ...], all_: bool) -> None:
        """Reject held deletions: they stay; a later run holds them again if still orphaned."""
        _decide(state, objects, all_, approve=False)


__all__: list[Any] = ["register"]
