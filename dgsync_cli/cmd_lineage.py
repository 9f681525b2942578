"""`dgsync lineage show|path|impact|export`: the end-to-end lineage graph.

Nodes are ``SPACE.NAME`` (Datasphere objects, flows included) and ``glue:DATABASE.TABLE``
(Glue tables). The graph comes from a fresh extraction (``--source live``, the default:
columns and column lineage included) or from what earlier runs stored (``--source store``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dgsync_cli.context import CliState, echo_json, handle_errors, pass_state

_SOURCE = click.option("--source", type=click.Choice(["live", "store"]), default="live",
                       show_default=True, help="Extract now, or use what earlier runs stored.")
_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                       show_default=True)


def _graph(state: CliState, source: str) -> Any:
    from core.lineage_export import graph_from_services, graph_from_store
    from core.services import build_services

    settings = state.settings()
    with build_services(settings) as services:
        if source == "store":
            return graph_from_store(services.store(), settings.env)
        return graph_from_services(services)


def _known(graph: Any, key: str) -> None:
    from core.errors import ConfigError

    if key not in graph.nodes:
        raise ConfigError(f"{key!r} is not in the lineage graph",
                          hint="Use SPACE.NAME for Datasphere objects and glue:DATABASE.TABLE "
                               "for Glue tables (names are case-sensitive).")


def register(group: click.Group) -> None:
    @group.group("lineage")
    def lineage() -> None:
        """Lineage: Datasphere objects and flows → Glue tables, column → column."""

    @lineage.command("show")
    @click.argument("asset")
    @click.option("--direction", type=click.Choice(["upstream", "downstream", "both"]), default="both",
                  show_default=True)
    @click.option("--depth", type=click.IntRange(min=1), default=1, show_default=True)
    @_SOURCE
    @_FORMAT
    @pass_state
    @handle_errors
    def show(state: CliState, asset: str, direction: str, depth: int, source: str, fmt: str) -> None:
        """The graph around ASSET up to --depth hops."""
        graph = _graph(state, source)
        _known(graph, asset)
        sub = graph.neighbourhood(asset, direction=direction, depth=depth)  # type: ignore[arg-type]
        if fmt == "json":
            echo_json(sub.to_dict())
            return
        for e in sorted(sub.edges):
            via = f" via {e.via}" if e.via and e.via not in (e.upstream, e.downstream) else ""
            click.echo(f"{e.upstream} -> {e.downstream}  [{e.kind}{via}]")
        if not sub.edges:
            click.echo(f"{asset}: no lineage within {depth} hop(s)")

    @lineage.command("path")
    @click.argument("source_asset")
    @click.argument("target_asset")
    @click.option("--max-paths", type=click.IntRange(min=1), default=20, show_default=True)
    @_SOURCE
    @_FORMAT
    @pass_state
    @handle_errors
    def path(state: CliState, source_asset: str, target_asset: str, max_paths: int, source: str,
             fmt: str) -> None:
        """Every path from SOURCE_ASSET down to TARGET_ASSET (shortest first)."""
        graph = _graph(state, source)
        _known(graph, source_asset)
        _known(graph, target_asset)
        found = graph.paths(source_asset, target_asset, max_paths=max_paths)
        if fmt == "json":
            echo_json({"from": source_asset, "to": target_asset, "paths": found})
            return
        if not found:
            click.echo(f"no path from {source_asset} to {target_asset}")
        for p in found:
            click.echo(" -> ".join(p))

    @lineage.command("impact")
    @click.argument("asset")
    @click.option("--column", default=None, help="Column-level impact of one column of ASSET.")
    @_SOURCE
    @_FORMAT
    @pass_state
    @handle_errors
    def impact(state: CliState, asset: str, column: str | None, source: str, fmt: str) -> None:
        """Everything downstream of ASSET (or of one of its columns), Glue tables included."""
        graph = _graph(state, source)
        _known(graph, asset)
        if column:
            cols = graph.column_impact(asset, column)
            if fmt == "json":
                echo_json({"asset": asset, "column": column,
                           "impact": [{"node": n, "column": c} for n, c in cols]})
                return
            for node, col in cols:
                click.echo(f"{node}.{col}")
            return
        keys = graph.impact([asset])[asset]
        if fmt == "json":
            echo_json({"asset": asset, "impact": keys})
            return
        for key in keys:
            click.echo(key)

    @lineage.command("export")
    @click.option("--format", "fmt", type=click.Choice(["openlineage", "dot", "svg"]), required=True)
    @click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
                  help="Write to this file (default: standard output).")
    @click.option("--url", default=None, help="POST OpenLineage events to this endpoint "
                  "(e.g. http://marquez:5000/api/v1/lineage).")
    @click.option("--asset", default=None, help="Only the graph around this asset.")
    @click.option("--depth", type=click.IntRange(min=1), default=3, show_default=True)
    @click.option("--namespace", default=None,
                  help="Dataset namespace of Datasphere objects (default: datasphere://<tenant host>).")
    @_SOURCE
    @pass_state
    @handle_errors
    def export(state: CliState, fmt: str, output: Path | None, url: str | None, asset: str | None,
               depth: int, namespace: str | None, source: str) -> None:
        """Export as OpenLineage events (JSON Lines), Graphviz DOT or SVG."""
        import json
        from urllib.parse import urlsplit

        from core.errors import ConfigError
        from core.lineage_export import (
            DEFAULT_DATASPHERE_NAMESPACE,
            openlineage_events,
            post_events,
            to_dot,
            to_svg,
            write_events,
        )

        if url and fmt != "openlineage":
            raise ConfigError("--url sends OpenLineage events only", hint="Add --format openlineage.")
        if url and output:
            raise ConfigError("give --output or --url, not both", hint="Export twice for both.")
        settings = state.settings()
        graph = _graph(state, source)
        if asset:
            _known(graph, asset)
            graph = graph.neighbourhood(asset, direction="both", depth=depth)
        if fmt == "openlineage":
            host = urlsplit(settings.datasphere.base_url or "").hostname
            ds_ns = namespace or (f"datasphere://{host}" if host else DEFAULT_DATASPHERE_NAMESPACE)
            account = settings.glue.catalog_id or "000000000000"
            events = openlineage_events(graph, datasphere_namespace=ds_ns,
                                        glue_namespace=f"arn:aws:glue:{settings.glue.region}:{account}")
            if url:
                sent = post_events(events, url)
                click.echo(f"sent {sent} OpenLineage events to {url}", err=True)
            elif output:
                write_events(events, output)
                click.echo(f"wrote {len(events)} OpenLineage events to {output}", err=True)
            else:
                for event in events:
                    click.echo(json.dumps(event, sort_keys=True))
            return
        text = to_dot(graph) if fmt == "dot" else to_svg(graph)
        if output:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot write {output}: {exc.strerror}",
                                  hint="Pass a writable --output path.") from exc
            click.echo(f"wrote {fmt} of {len(graph.nodes)} nodes to {output}", err=True)
        else:
            click.echo(text, nl=False)
