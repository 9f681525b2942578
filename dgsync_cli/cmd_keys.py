"""`dgsync keys create`: print a new strong key for DGSYNC_API_TOKEN / DGSYNC_WEB__SECRET_KEY."""

from __future__ import annotations

import click

from core.websec import DEFAULT_KEY_BYTES, MIN_KEY_BITS, generate_key

_TARGETS = {
    "api-token": "DGSYNC_API_TOKEN",
    "secret-key": "DGSYNC_WEB__SECRET_KEY",
}


@click.group("keys")
def keys() -> None:
    """Keys and tokens of the web frontends (Wolf, Bear, Dog)."""


@keys.command("create")
@click.option("--for", "target", type=click.Choice(sorted(_TARGETS)), default="api-token", show_default=True,
              help="What the key is for (only changes the instructions).")
@click.option("--bytes", "nbytes", type=click.IntRange(min=MIN_KEY_BITS // 8, max=128),
              default=DEFAULT_KEY_BYTES, show_default=True, help="Random bytes (>= 16: 128 bits).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the key (for scripts).")
def create(target: str, nbytes: int, quiet: bool) -> None:
    """Print a new random key (from the OS CSPRNG, base64url) on stdout.

    The key is written nowhere else and never logged; how to configure it goes to stderr, so
    `export DGSYNC_API_TOKEN=$(dgsync keys create -q)` works.
    """
    key = generate_key(nbytes)
    click.echo(key)
    if not quiet:
        name = _TARGETS[target]
        click.echo(
            f"A {nbytes * 8}-bit key. Configure it as {name} (a secret store, e.g. AWS Secrets Manager or "
            f"the Lambda's encrypted environment), e.g. `export {name}=$(dgsync keys create -q)`; "
            "changing the API token signs every dashboard session out.",
            err=True,
        )


def register(group: click.Group) -> None:
    group.add_command(keys)
