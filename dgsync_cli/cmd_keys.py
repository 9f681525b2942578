"""`dgsync keys create|list|revoke`: API keys with roles for Wolf, Bear, Dog and MCP.

``keys create --name N --role viewer|operator|admin`` stores a new key (only its HMAC) and
prints it as the last word of the output; without ``--name`` it only generates a random
secret for a setting (DGSYNC_API_TOKEN, DGSYNC_WEB__SECRET_KEY, DGSYNC_WEB__API_KEY_PEPPER),
storing nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

import click

from core.websec import DEFAULT_KEY_BYTES, MIN_KEY_BITS, generate_key
from dgsync_cli.context import CliState, echo_json, handle_errors, pass_state

if TYPE_CHECKING:
    from core.apikeys import ApiKeys

_TARGETS = {
    "api-token": "DGSYNC_API_TOKEN",
    "secret-key": "DGSYNC_WEB__SECRET_KEY",
    "pepper": "DGSYNC_WEB__API_KEY_PEPPER",
}


@contextmanager
def _service(state: CliState) -> Iterator[ApiKeys]:
    from core.apikeys import ApiKeys
    from core.store.db import store_from_settings

    settings = state.settings()
    store = store_from_settings(settings.database_url, env=settings.env)
    try:
        yield ApiKeys(store, settings)
    finally:
        store.dispose()


def _actor() -> str:
    from core.sync.engine import default_actor

    return default_actor("cli")


@click.group("keys")
def keys() -> None:
    """API keys with roles (viewer < operator < admin) and secrets of the web frontends."""


@keys.command("create")
@click.option("--name", default=None, help="Store a named API key (the caller's identity in the audit).")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), default=None,
              help="Role of the named key: viewer reads, operator plans/syncs/validates, admin manages keys and config.")
@click.option("--comment", default=None, help="Free text stored with the key (whose, what for).")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None, help="Expire the key after N days.")
@click.option("--for", "target", type=click.Choice(sorted(_TARGETS)), default="api-token", show_default=True,
              help="Without --name: the setting the generated secret is for (only changes the instructions).")
@click.option("--bytes", "nbytes", type=click.IntRange(min=MIN_KEY_BITS // 8, max=128),
              default=DEFAULT_KEY_BYTES, show_default=True, help="Without --name: random bytes (>= 16: 128 bits).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the key (for scripts).")
@pass_state
@handle_errors
def create(state: CliState, name: str | None, role: str | None, comment: str | None, expires_in_days: int | None,
           target: str, nbytes: int, quiet: bool) -> None:
    """Create an API key (``--name N --role R``: stored hashed, printed once as the last
    word), or, without --name, print a random secret for a setting.

    `export DGSYNC_API_TOKEN=$(dgsync keys create -q)` and
    `KEY=$(dgsync keys create --name ci --role operator -q)` both work.
    """
    if name is None:
        if role is not None:
            raise click.UsageError("--role needs --name (a stored key has a name): dgsync keys create --name N --role R")
        _generate(target, nbytes, quiet)
        return
    if role is None:
        raise click.UsageError("--name needs --role viewer|operator|admin")
    expires = timedelta(days=expires_in_days) if expires_in_days else None
    with _service(state) as service:
        out, key = service.create(name, role, created_by=_actor(), comment=comment, expires_in=expires)
    if quiet:
        click.echo(key)
        return
    until = f", expires {out.expires_at:%Y-%m-%d %H:%M} UTC" if out.expires_at else ""
    click.echo(f"Created API key {out.name!r} (role {out.role}{until}). It is shown only now; only its "
               "hash is stored. Send it as `Authorization: Bearer <key>` or sign in to the dashboard with it.")
    click.echo(f"Key: {key}")


def _generate(target: str, nbytes: int, quiet: bool) -> None:
    key = generate_key(nbytes)
    click.echo(key)
    if not quiet:
        setting = _TARGETS[target]
        click.echo(
            f"A {nbytes * 8}-bit secret. Configure it as {setting} (a secret store, e.g. AWS Secrets Manager or "
            f"the Lambda's encrypted environment), e.g. `export {setting}=$(dgsync keys create -q)`. "
            "For a named API key with a role use `dgsync keys create --name NAME --role viewer|operator|admin`.",
            err=True,
        )


@keys.command("list")
@click.option("--active", is_flag=True, help="Only keys that are not revoked.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_state
@handle_errors
def list_keys(state: CliState, active: bool, fmt: str) -> None:
    """The stored keys: name, role, creator, last use (time and source), revocation. Never the key."""
    with _service(state) as service:
        rows = service.list(include_revoked=not active)
    if fmt == "json":
        echo_json({"keys": [k.model_dump(mode="json") | {"active": k.active} for k in rows]})
        return
    if not rows:
        click.echo("No API keys. Create one with `dgsync keys create --name NAME --role viewer|operator|admin`.")
        return
    headers = ["NAME", "ROLE", "STATUS", "CREATED", "BY", "LAST USED", "FROM"]
    table = [[k.name, k.role, "active" if k.active else ("revoked" if k.revoked_at else "expired"),
              f"{k.created_at:%Y-%m-%d %H:%M}", k.created_by,
              f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "-", k.last_used_source or "-"] for k in rows]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]
    for row in [headers, *table]:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@keys.command("revoke")
@click.argument("name")
@pass_state
@handle_errors
def revoke(state: CliState, name: str) -> None:
    """Revoke the key NAME at once (its dashboard sessions end too)."""
    with _service(state) as service:
        out = service.revoke(name, actor=_actor())
    click.echo(f"Revoked API key {out.name!r} (role {out.role}).")


def register(group: click.Group) -> None:
    group.add_command(keys)
