"""`dgsync check`, `dgsync extract`, `dgsync login`: the Datasphere side from the shell."""

from __future__ import annotations

import sys
from typing import Any

import click

from core.errors import IncompleteAsset
from core.models import Asset, AssetKind, DependencyKind
from core.services import build_services
from dgsync_cli.context import CliState, echo_json, handle_errors, pass_state, stage_progress


def asset_json(asset: Asset) -> dict[str, Any]:
    """The `dgsync extract --format json` shape of one asset."""
    upstream = [str(d.ref) for d in asset.upstream if d.kind is not DependencyKind.FLOW_TARGET]
    return {
        "space": asset.space,
        "name": asset.name,
        "kind": asset.kind.value,
        "label": asset.label,
        "exposed": asset.business.exposed,
        "modeling_pattern": asset.business.modeling_pattern,
        "columns": [
            {
                "name": c.name,
                "type": c.type.name,
                "length": c.type.length,
                "precision": c.type.precision,
                "scale": c.type.scale,
                "srid": c.type.srid,
                "key": c.key,
                "nullable": c.nullable,
                "label": c.label,
                "role": c.role.value,
                "aggregation": c.aggregation,
                "semantics": c.semantics,
                "type_origin": c.type_origin,
            }
            for c in asset.columns
        ],
        "upstream": list(dict.fromkeys(upstream)),
        "targets": [str(r) for r in asset.flow.targets] if asset.flow else [],
        "hierarchies": [
            {
                "name": h.name,
                "kind": h.kind,
                "levels": h.levels,
                "parent": h.parent,
                "child": h.child,
            }
            for h in asset.hierarchies
        ],
        "warnings": asset.warnings,
        "fingerprint": asset.fingerprint,
    }


def type_origins(asset: Asset) -> str:
    """Where the asset's column types came from, counted: ``csn 12, source 3, assumed 1``
    (``source:SPACE.ASSET.COLUMN`` counts as ``source``; untyped columns as ``unresolved``)."""
    counts: dict[str, int] = {}
    for c in asset.columns:
        origin = (c.type_origin or "unresolved").split(":", 1)[0]
        counts[origin] = counts.get(origin, 0) + 1
    return ", ".join(f"{origin} {n}" for origin, n in counts.items())


def _print_table(assets: list[Asset]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    for col in ("space", "name", "kind", "label", "columns", "types from", "upstream"):
        table.add_column(col, overflow="fold")
    for a in assets:
        upstream = {str(d.ref) for d in a.upstream if d.kind is not DependencyKind.FLOW_TARGET}
        table.add_row(
            a.space,
            a.name,
            a.kind.value,
            a.label or "",
            str(len(a.columns)),
            type_origins(a),
            str(len(upstream)),
        )
    Console().print(table)


def _report_problems(result: Any) -> None:
    for key, reason in result.shared.items():
        click.echo(f"shared {key}: {reason}", err=True)
    if result.not_offered:
        click.secho(
            "not offered by this tenant (404 on its list; nothing to extract): "
            + ", ".join(result.not_offered),
            fg="yellow",
            err=True,
        )
    for space, reason in result.skipped_spaces.items():
        click.secho(f"space {space} skipped: {reason}", fg="yellow", err=True)
    for key, issue in result.errors.items():
        click.secho(f"{key}: {issue.message}", fg="red", err=True)
        click.echo(f"  hint: {issue.hint}", err=True)
    for key, reason in result.incomplete.items():
        click.secho(f"{key}: incomplete, not produced: {reason}", fg="yellow", err=True)
        click.echo(f"  hint: {IncompleteAsset.default_hint}", err=True)


def register(group: click.Group) -> None:
    @group.command("extract")
    @click.option("--space", "spaces", multiple=True, help="Only this space (repeatable).")
    @click.option(
        "--kind",
        "kinds",
        multiple=True,
        type=click.Choice([k.value for k in AssetKind]),
        help="Only this object kind (repeatable).",
    )
    @click.option(
        "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
    )
    @pass_state
    @handle_errors
    def extract(state: CliState, spaces: tuple[str, ...], kinds: tuple[str, ...], fmt: str) -> None:
        """Read the tenant's metadata (CSN and $metadata) and print the assets."""
        with build_services(state.settings()) as services:
            extractor = services.extractor(spaces=list(spaces) or None, kinds=list(kinds) or None)
            with stage_progress() as on_stage:
                on_progress = (lambda done, total: on_stage("extract", done, total)) if on_stage else None
                result = extractor.extract(progress=on_progress)
        if fmt == "json":
            echo_json([asset_json(a) for a in result.assets])
        else:
            _print_table(result.assets)
            click.echo(
                f"{len(result.assets)} assets in {len(result.spaces)} spaces, "
                f"{sum(r['requests'] for r in result.stats.values())} requests, {result.duration_s:.2f}s",
                err=True,
            )
        _report_problems(result)

    @group.command("check")
    @click.option("--space", "spaces", multiple=True, help="Check only this space (repeatable).")
    @click.option(
        "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
    )
    @pass_state
    @handle_errors
    def check(state: CliState, spaces: tuple[str, ...], fmt: str) -> None:
        """Test the token, the catalog and access to each space, with a diagnosis per failure."""
        from core.datasphere.check import check_connection

        with build_services(state.settings()) as services:
            report = check_connection(services.datasphere_settings(), spaces=list(spaces) or None)
        if fmt == "json":
            echo_json({**report.model_dump(mode="json"), "ok": report.ok})
        else:
            click.echo(f"tenant     {report.base_url}")
            click.echo(f"token URL  {report.token_url} ({report.grant})")
            steps = [report.token, *([report.catalog] if report.catalog else []), *report.spaces]
            for step in steps:
                latency = (
                    f"{step.latency_ms:7.1f} ms" if step.latency_ms is not None else "        -"
                )
                mark = click.style("ok  ", fg="green") if step.ok else click.style("FAIL", fg="red")
                click.echo(f"{mark} {step.name:<28} {latency}  {step.detail}")
                if not step.ok:
                    click.echo(f"     diagnosis: {step.explanation}")
                    if step.hint:
                        click.echo(f"     hint: {step.hint}")
        if not report.ok:
            sys.exit(1)

    @group.command("login")
    @click.option("--no-browser", is_flag=True, help="Print the URL instead of opening a browser.")
    @click.option(
        "--timeout",
        "timeout_s",
        type=float,
        default=300.0,
        show_default=True,
        help="Seconds to wait for the browser redirect.",
    )
    @pass_state
    @handle_errors
    def login_cmd(state: CliState, no_browser: bool, timeout_s: float) -> None:
        """Sign in as an interactive user; stores a refresh token for later runs."""
        import webbrowser

        from core.datasphere.login import login

        with build_services(state.settings()) as services:
            result = login(
                services.datasphere_settings(),
                open_browser=None if no_browser else webbrowser.open,
                echo=click.echo,
                timeout_s=timeout_s,
            )
        click.echo(f"signed in; refresh token saved to {result.token_cache} (mode 0600)")
        click.echo("set DGSYNC_DATASPHERE__GRANT=authorization_code to use it")
