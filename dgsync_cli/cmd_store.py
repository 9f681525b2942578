"""`dgsync db upgrade|current` and `dgsync audit`: the state store from the command line."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from core.errors import ConfigError
from core.store.schemas import AuditFilter, AuditOut, AuditSystem

if TYPE_CHECKING:
    from core.store.db import Store
from dgsync_cli.context import CliState, handle_errors, pass_state

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str, *, option: str, now: datetime | None = None) -> datetime:
    """``2026-03-01``, ``2026-03-01T12:00:00Z`` (naive means UTC), or ``30m``/``24h``/``7d`` ago."""
    text = value.strip()
    match = _RELATIVE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{option} {value!r} is neither a date/time nor a duration",
            hint=f"Use e.g. {option} 2026-03-01, {option} 2026-03-01T12:00:00Z or {option} 24h.",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _open_unchecked(state: CliState) -> Store:
    from core.store.db import Store

    return Store.open(state.settings().database_url)


def _short(value: str | None) -> str:
    return (value or "-")[:10]


def _print_table(rows: list[AuditOut]) -> None:
    if not rows:
        click.echo("no audit records match")
        return
    header = ("time (UTC)", "actor", "system", "action", "object", "run", "before", "after")
    lines = [
        (
            r.ts.strftime("%Y-%m-%d %H:%M:%S"),
            r.actor,
            r.system,
            r.action,
            r.object,
            r.run_id or "-",
            _short(r.before_hash),
            _short(r.after_hash),
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for line in lines:
        click.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def register(group: click.Group) -> None:
    @group.group("db")
    def db() -> None:
        """The state store's schema (SQLite by default, PostgreSQL with DGSYNC_DATABASE_URL)."""

    @db.command("upgrade")
    @click.option("--revision", default="head", show_default=True, help="Target revision.")
    @click.option("--sql", "as_sql", is_flag=True,
                  help="Print the SQL instead of running it (from an empty schema).")
    @pass_state
    @handle_errors
    def db_upgrade(state: CliState, revision: str, as_sql: bool) -> None:
        """Create or migrate the state store to the newest schema."""
        if as_sql:
            click.echo(_db().upgrade_sql(state.settings().database_url, revision), nl=False)
            return
        store = _open_unchecked(state)
        try:
            before = store.current_revision()
            store.upgrade(revision)
            after = store.current_revision()
        finally:
            store.dispose()
        if before == after:
            click.echo(f"state store at {store.url} is already at revision {after}")
        else:
            click.echo(f"state store at {store.url} upgraded from {before or 'empty'} to {after}")

    @db.command("current")
    @click.option("--check", is_flag=True, help="Exit with status 1 unless at the newest revision.")
    @pass_state
    @handle_errors
    def db_current(state: CliState, check: bool) -> None:
        """Show the schema revision of the state store."""
        store = _open_unchecked(state)
        try:
            current = store.current_revision()
        finally:
            store.dispose()
        head = _db().head_revision()
        if current is None:
            click.echo(f"{store.url}: no schema yet (newest is {head}); run `dgsync db upgrade`")
        elif current == head:
            click.echo(f"{store.url}: revision {current} (head)")
        else:
            click.echo(f"{store.url}: revision {current}, newest is {head}; "
                       "run `dgsync db upgrade`")
        if check and current != head:
            raise SystemExit(1)

    @group.group("audit", invoke_without_command=True)
    @click.option("--since", help="From this time on: ISO date/time (UTC if no zone) or 24h, 7d.")
    @click.option("--until", help="Before this time (same forms as --since).")
    @click.option("--actor", help="Only records by this actor (cli:<user>, key:<name>/<role>, "
                  "scheduler, worker:<class>).")
    @click.option("--audit-env", "audit_env", metavar="ENV",
                  help="Only records of this environment (default: every environment).")
    @click.option("--object", "object_", metavar="TEXT",
                  help="Only objects containing TEXT (case-insensitive).")
    @click.option("--action", help="Only this action (create, update, config_change, login...).")
    @click.option("--run", "run_id", metavar="RUN_ID", help="Only records of this run.")
    @click.option("--system", type=click.Choice([s.value for s in AuditSystem]),
                  help="Only records about this system.")
    @click.option("--search", metavar="TEXT",
                  help="Full text: TEXT in the actor, object, action, run id or details.")
    @click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
                  help="Newest records shown in the table (json/jsonl/csv export every match).")
    @click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv"]),
                  default="table", show_default=True,
                  help="json/jsonl/csv are streamed, oldest first, whatever the size.")
    @click.pass_context
    @pass_state
    @handle_errors
    def audit(
        state: CliState,
        ctx: click.Context,
        since: str | None,
        until: str | None,
        actor: str | None,
        audit_env: str | None,
        object_: str | None,
        action: str | None,
        run_id: str | None,
        system: str | None,
        search: str | None,
        limit: int,
        fmt: str,
    ) -> None:
        """Show or export the audit trail: every write and user action, with its actor
        (never secrets). `dgsync audit prune` applies the retention."""
        if ctx.invoked_subcommand is not None:
            return
        from core.governance import audit as audit_service

        filters = AuditFilter(
            since=parse_time(since, option="--since") if since else None,
            until=parse_time(until, option="--until") if until else None,
            actor=actor,
            object_contains=object_,
            action=action,
            run_id=run_id,
            system=AuditSystem(system) if system else None,
            env=audit_env,
            search=search,
        )
        settings = state.settings()
        store = _db().store_from_settings(settings.database_url, env=settings.env)
        try:
            if fmt == "table":
                _print_table(audit_service.query(store, filters, limit=limit))
            else:
                for chunk in audit_service.export(store, fmt, filters):  # type: ignore[arg-type]
                    click.echo(chunk, nl=False)
        finally:
            store.dispose()

    @audit.command("prune")
    @click.option("--older-than", "older_than", metavar="DAYS", type=click.IntRange(min=1),
                  default=None, help="Retention in days (default: DGSYNC_AUDIT__RETENTION_DAYS).")
    @click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
    @pass_state
    @handle_errors
    def audit_prune(state: CliState, older_than: int | None, dry_run: bool) -> None:
        """Delete audit records and security events older than the retention."""
        from core.governance import audit as audit_service
        from core.sync.engine import default_actor

        settings = state.settings()
        days = older_than if older_than is not None else settings.audit.retention_days
        if days <= 0:
            click.echo("retention is 0 (keep forever): nothing pruned")
            return
        store = _db().store_from_settings(settings.database_url, env=settings.env)
        try:
            result = audit_service.prune(store, retention_days=days, dry_run=dry_run)
            if not dry_run:
                audit_service.record_action(
                    store, actor=default_actor("cli"), action="audit_prune", object="audit",
                    env=settings.env, details={"retention_days": days, "audit": result.audit,
                                               "security_events": result.security_events},
                )
        finally:
            store.dispose()
        verb = "would delete" if dry_run else "deleted"
        cutoff = result.before.isoformat(timespec="seconds") if result.before else "-"
        click.echo(f"{verb} {result.audit} audit record(s) and {result.security_events} security "
                   f"event(s) older than {days} days (before {cutoff})")


def _db() -> Any:
    from core.store import db

    return db


def _repo() -> Any:
    from core.store import repo

    return repo
