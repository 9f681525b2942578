"""`dgsync validate` (Glue vs Datasphere, field by field) and `dgsync metrics` (run performance)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from core.models import AssetKind
from core.services import build_services
from dgsync_cli.context import CliState, echo_json, handle_errors, pass_state, stage_progress

KIND_CHOICE = click.Choice([k.value for k in AssetKind])

VALIDATE_EXIT_CODES = """
\b
Exit codes:
  0  Glue matches Datasphere for the whole scope
  1  not in sync: drift, missing or extra tables, or something could not be
     checked (a space without access, an asset that could not be read)
  2  bad input or configuration (unknown space or kind); nothing was read
  3  could not run: authentication, unreachable system, state store
"""


def print_validation(report: Any, *, show_all: bool = False, limit: int = 50) -> None:
    """The report for a terminal: summary, then every table that is not ok with each failed
    field (all tables and fields with ``show_all``), one line each."""
    s = report.summary
    scope = ", ".join(report.scope.spaces) or "all spaces"
    kinds = f" · kinds {', '.join(report.scope.kinds)}" if report.scope.kinds else ""
    click.echo(f"validation {report.id} of {scope}{kinds} ({report.scope.env})"
               + (f" after run {report.run_id}" if report.run_id else ""))
    click.echo(f"  tables {s.tables}: ok {s.ok} · drift {s.drift} · missing {s.missing} · extra {s.extra}"
               f" · unmanaged {s.unmanaged} · skipped {s.skipped}")
    click.echo(f"  fields checked {s.checks} ({s.columns} columns) · failed {s.failed_checks}"
               f" · {report.duration_s:.2f}s")
    colour = {"drift": "red", "missing": "red", "extra": "red", "skipped": "yellow", "ok": "green"}
    shown = [t for t in report.tables if show_all or t.status != "ok"]
    for t in shown[:limit]:
        click.secho(f"  {t.status:<9} {t.object}" + (f" ({t.asset})" if t.asset else "")
                    + (f" — {t.note}" if t.note else ""), fg=colour.get(t.status))
        checks = t.checks if show_all else t.failed
        for c in checks[:20]:
            mark = "ok " if c.ok else "!! "
            click.echo(f"      {mark}{c.field}: expected {_short(c.expected)}, found {_short(c.actual)}"
                       + (f" ({c.note})" if c.note and not c.ok else ""))
        if len(checks) > 20:
            click.echo(f"      … {len(checks) - 20} more")
    if len(shown) > limit:
        click.echo(f"  … {len(shown) - limit} more tables (use --format json or csv for all)")
    for space, why in report.skipped_spaces.items():
        click.secho(f"  space {space} not checked: {why}", fg="yellow")
    if report.in_sync:
        click.secho("  in sync: Glue matches Datasphere", fg="green")
    else:
        click.secho("  not in sync: " + "; ".join(report.reasons), fg="red")


def _short(value: str | None, width: int = 80) -> str:
    if value is None:
        return "(absent)"
    text = value if len(value) <= width else value[: width - 1] + "…"
    return repr(text)


def _write(fmt: str, report: Any, output: Path | None) -> None:
    from core.validation import iter_csv, to_json

    if output is None:
        if fmt == "json":
            click.echo(to_json(report, indent=2))
        else:
            for line in iter_csv(report):
                sys.stdout.write(line)
        return
    with output.open("w", encoding="utf-8", newline="") as fh:
        if fmt == "json":
            fh.write(to_json(report, indent=2) + "\n")
        else:
            fh.writelines(iter_csv(report))


def print_metrics(rows: list[Any]) -> None:
    """One block per run (newest first)."""

    def pct(system: Any) -> str:
        if system is None or system.p50_ms is None:
            return "latency not recorded"
        return f"p50 {system.p50_ms:.1f} ms · p95 {system.p95_ms:.1f} ms"

    for m in rows:
        glue, ds = m.systems.get("glue"), m.systems.get("datasphere")
        duration = f"{m.duration_s:.2f}s" if m.duration_s is not None else "—"
        rate = f"{m.assets_per_s:.1f} assets/s" if m.assets_per_s is not None else "— assets/s"
        click.echo(f"{m.run_id}  {m.status:<10} {m.started_at:%Y-%m-%d %H:%M:%S}  {duration} · {m.assets} assets"
                   f" · {rate} · retries {m.retries} · throttles {m.throttles}")
        click.echo(f"    Glue: {glue.calls if glue else 0} calls ({m.glue_writes} writes) · {pct(glue)}")
        click.echo(f"    Datasphere: {ds.calls if ds else 0} requests · {pct(ds)}")


def register(group: click.Group) -> None:
    @group.command("validate", epilog=VALIDATE_EXIT_CODES)
    @click.option("--space", "spaces", multiple=True, help="Only these spaces (repeatable; case-sensitive ids).")
    @click.option("--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only these asset kinds (repeatable).")
    @click.option("--asset", "assets", multiple=True, metavar="SPACE.NAME",
                  help="Only these assets' tables (repeatable; their spaces are read).")
    @click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
                  show_default=True, help="csv: one row per field check.")
    @click.option("--output", "output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
                  default=None, help="Write the json/csv report to this file (one summary line goes to stderr).")
    @click.option("--all", "show_all", is_flag=True, help="table: also list tables that are in sync.")
    @click.option("--failed-only", "failed_only", is_flag=True,
                  help="json/csv: list only failed checks (and accepted differences); the others are "
                  "counted per table. Use it for large scopes (the full report has ~190 fields per table).")
    @click.option("--save/--no-save", "save", default=True, show_default=True,
                  help="Store the report in the state store (Wolf, MCP and `latest` read it there).")
    @pass_state
    @handle_errors
    def validate_cmd(state: CliState, spaces: tuple[str, ...], kinds: tuple[str, ...], assets: tuple[str, ...], fmt: str,
                     output: Path | None, show_all: bool, failed_only: bool, save: bool) -> None:
        """Prove that Glue matches Datasphere: every table, column, type, comment and parameter
        compared with what the mapping of the source says. Writes nothing to Glue."""
        from core.validation import exit_code, save_validation, validate

        if output is not None and fmt == "table":
            raise click.UsageError("--output needs --format json or --format csv")
        with build_services(state.settings()) as services:
            with stage_progress() as on_progress:
                everything = (fmt != "table" and not failed_only) or (fmt == "table" and show_all)
                report = validate(services, spaces=spaces or None, kinds=kinds or None, assets=assets or None,
                                  detail="all" if everything else "failed",
                                  progress=on_progress if fmt == "table" else None)
            if save:
                save_validation(services.store(), report)
        if fmt == "table":
            print_validation(report, show_all=show_all)
        else:
            _write(fmt, report, output)
        if output is not None and fmt != "table":
            click.echo(f"validation {report.id}: {'in sync' if report.in_sync else 'NOT in sync'} — "
                       f"{fmt} written to {output}", err=True)
        sys.exit(exit_code(report))

    @group.command("metrics")
    @click.option("--run", "run_id", default=None, help="One run's metrics (an id `dgsync runs` lists).")
    @click.option("--last", "last", type=click.IntRange(1, 1000), default=10, show_default=True,
                  help="The newest N finished sync runs.")
    @click.option("--format", "fmt", type=click.Choice(["table", "json", "prometheus"]), default="table",
                  show_default=True)
    @pass_state
    @handle_errors
    def metrics_cmd(state: CliState, run_id: str | None, last: int, fmt: str) -> None:
        """Performance of runs: duration, assets/s, API calls per operation, p50/p95 latency per
        system, retries, throttles, writes."""
        from core.errors import InputError
        from core.metrics import prometheus_text, recent_metrics, run_metrics

        with build_services(state.settings()) as services:
            store = services.store()
            if fmt == "prometheus":
                click.echo(prometheus_text(store, env=services.settings.env), nl=False)
                return
            if run_id is not None:
                one = run_metrics(store, run_id)
                if one is None:
                    raise InputError(f"no run {run_id!r} in the state store",
                                     hint="Use an id that `dgsync runs` lists.")
                rows = [one]
            else:
                rows = recent_metrics(store, limit=last, env=services.settings.env)
        if fmt == "json":
            echo_json([r.model_dump(mode="json") for r in rows] if run_id is None else rows[0].model_dump(mode="json"))
        elif rows:
            print_metrics(rows)
        else:
            click.echo("no finished sync runs yet")
