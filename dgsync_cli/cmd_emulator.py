"""`dgsync emulator`: serve the SAP Datasphere emulator in the foreground until Ctrl-C."""

from __future__ import annotations

import click

from dgsync_cli.context import CliState, handle_errors, pass_state

DEFAULT_PORT = 8400


@click.command("emulator")
@click.option("--host", default=None, help="Interface to listen on (default: DGSYNC_EMULATOR__HOST or 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port; 0 picks a free one (default: DGSYNC_EMULATOR__PORT if set, else 8400).")
@click.option("--synthetic-assets", type=click.IntRange(min=0), default=None,
              help="Extra synthetic objects for benchmarks (default: DGSYNC_EMULATOR__SYNTHETIC_ASSETS).")
@click.option("--seed", type=int, default=None, help="Seed of the synthetic content (default: 42).")
@click.option("--token-lifetime", type=click.IntRange(min=1), default=None,
              help="Access-token lifetime in seconds for every client (default: SAP's: 1 day / 1 hour).")
@click.option("--synthetic-only", is_flag=True,
              help="Serve only the synthetic objects (no realistic tenant, no SAP sample exports).")
@pass_state
@handle_errors
def emulator(state: CliState, host: str | None, port: int | None, synthetic_assets: int | None, seed: int | None,
             token_lifetime: int | None, synthetic_only: bool) -> None:
    """Serve an emulated SAP Datasphere tenant (catalog, consumption, design-time, OAuth)."""
    from doubles.emulator.server import banner, serve

    base = state.settings().emulator
    updates: dict[str, object] = {"port": port if port is not None else (base.port or DEFAULT_PORT)}
    if host is not None:
        updates["host"] = host
    if synthetic_assets is not None:
        updates["synthetic_assets"] = synthetic_assets
    if seed is not None:
        updates["seed"] = seed
    settings = base.model_copy(update=updates)
    if synthetic_assets:
        click.echo(f"generating {synthetic_assets} synthetic objects (seed {settings.seed})…", err=True)
    extra: dict[str, object] = {}
    if synthetic_only:
        extra = {"include_realistic": False, "include_fixtures": False}
    serve(settings, on_ready=lambda emu: click.echo(banner(emu)), token_lifetime_s=token_lifetime, **extra)


def register(group: click.Group) -> None:
    group.add_command(emulator)
