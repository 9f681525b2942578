"""`dgsync run` (the scheduler), `dgsync status`, `dgsync runs`."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click

from core.services import build_services
from core.store.schemas import RunStatus
from core.sync import exit_codes
from dgsync_cli.context import CliState, echo_json, handle_errors, pass_state

RUN_COUNT_COLUMNS = ("created", "updated", "unchanged", "deprecated", "deleted", "conflicts", "failed")


# ------------------------------------------------------------------------ formatting


def _ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _relative(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    delta = (when - now).total_seconds()
    if abs(delta) < 1:
        return "now"
    return f"in {_duration(delta)}" if delta > 0 else f"{_duration(-delta)} ago"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table (stable in pipes and logs, unlike a terminal renderer)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def _run_row(run: Any) -> list[str]:
    counts = run.counts
    return [
        run.id,
        run.kind.value,
        run.status.value + (" (stale)" if run.stale else ""),
        _ts(run.started_at),
        _duration(run.duration_s),
        *[str(getattr(counts, c)) for c in RUN_COUNT_COLUMNS],
        f"{run.throughput:.1f}/s" if run.throughput else "-",
        str(run.glue_calls),
        f"{run.retries}/{run.throttles}",
    ]


RUN_HEADERS = ["id", "kind", "status", "started", "duration", *RUN_COUNT_COLUMNS,
               "throughput", "glue_calls", "retries/throttles"]


def _print_runs(runs: list[Any]) -> None:
    if not runs:
        click.echo("no runs recorded yet")
        return
    click.echo(_table(RUN_HEADERS, [_run_row(r) for r in runs]))
    for run in runs:
        for err in run.errors[:3]:
            where = f" {err.object}" if err.object else ""
            click.echo(f"  {run.id} {err.code}{where}: {err.message}")
            if err.hint:
                click.echo(f"    hint: {err.hint}")
        if len(run.errors) > 3:
            click.echo(f"  {run.id}: … {len(run.errors) - 3} more errors (--format json lists them)")


def _print_status(overview: Any) -> None:
    now = overview.generated_at
    click.echo(f"env {overview.env} · store {overview.database}")
    rows = []
    for s in overview.slices:
        if not s.enabled:
            state = "off"
        elif s.running:
            state = f"running ({s.lease_holder})"
        elif s.due_now:
            state = "due"
        else:
            state = "idle"
        next_due = "now" if s.enabled and s.never_run and not s.running else _relative(s.next_due_at, now)
        last = "-"
        if s.last_status is not None:
            c = s.last_counts
            last = s.last_status.value
            if c is not None:
                last += f" (+{c.created} ~{c.updated} ={c.unchanged} !{c.failed})"
        rows.append([s.slice_key, s.frequency, state, next_due, last, _ts(s.last_finished_at)])
    click.echo(_table(["class", "frequency", "state", "next due", "last result", "last finished"], rows))
    click.echo("")
    if overview.running:
        click.echo("running:")
        click.echo(_table(RUN_HEADERS, [_run_row(r) for r in overview.running]))
        click.echo("")
    click.echo("recent runs:")
    _print_runs(overview.recent)
    click.echo("")
    assets = " · ".join(f"{k} {v}" for k, v in overview.assets.items())
    click.echo(f"assets: {overview.assets_total} ({assets})")
    click.echo(f"open conflicts: {overview.open_conflicts}")


def _outcome_code(outcome: Any, *, stopping: bool) -> int:
    """The exit code of one slice of ``dgsync run --once``."""
    if outcome.status == "skipped" or (outcome.status == "aborted" and stopping):
        return exit_codes.IN_SYNC
    if outcome.status == "error":
        cls = exit_codes.error_class(outcome.code or "")
        return exit_codes.for_exception(cls) if cls is not None else exit_codes.CANNOT_RUN
    code = exit_codes.for_status(outcome.status)
    return exit_codes.CANNOT_RUN if code is None else code


# ------------------------------------------------------------------------ commands


def register(group: click.Group) -> None:
    @group.command("run")
    @click.option("--once", is_flag=True, help="Run what is due now, then exit.")
    @click.option("--max-concurrency", "max_concurrency", type=click.IntRange(1, 32), default=None,
                  help="Slices run at once (default: DGSYNC_SCHEDULE__MAX_CONCURRENCY).")
    @pass_state
    @handle_errors
    def run_cmd(state: CliState, once: bool, max_concurrency: int | None) -> None:
        """Run the scheduler: due priority classes in order, under leases.

        Long-running; SIGTERM or Ctrl-C stops it cleanly (running slices stop after the
        objects in flight, leases are released, exit code 0). With --once the exit code is
        the worst of the slices': 0 all in sync (or run by another scheduler), 1 a slice
        partial/failed, 2 bad configuration, 3 a slice could not run.
        """
        from core.governance.alerts import run_tick
        from core.governance.security import install_store_sink
        settings = state.settings()
        with build_services(settings) as services:
            remove_sink = install_store_sink(services.store(), settings)
            scheduler = services.scheduler(max_concurrency=max_concurrency)
            scheduler.install_signal_handlers()
            if once:
                outcomes = scheduler.run_once()
                run_tick(services)
                remove_sink()
                if not outcomes:
                    click.echo("nothing due")
                for o in outcomes:
                    line = f"{o.slice_key}: {o.status}"
                    if o.run_id:
                        line += f" run {o.run_id}"
                    if o.next_due_at:
                        line += f" · next due {_ts(o.next_due_at)}"
                    if o.error:
                        line += f" · {o.error}"
                    click.echo(line)
                    if o.hint:
                        click.echo(f"  hint: {o.hint}")
                sys.exit(max([_outcome_code(o, stopping=scheduler.stopping) for o in outcomes], default=0))
            scheduler.run_forever()

    @group.command("status")
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    @pass_state
    @handle_errors
    def status_cmd(state: CliState, fmt: str) -> None:
        """Current and recent runs, next due work per priority class, asset and conflict counts."""
        from core.sync.status import status_overview

        with build_services(state.settings()) as services:
            overview = status_overview(services)
        if fmt == "json":
            echo_json(overview.model_dump(mode="json"))
        else:
            _print_status(overview)

    @group.command("runs")
    @click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
    @click.option("--status", "status", type=click.Choice([s.value for s in RunStatus]), default=None,
                  help="Only runs in this state.")
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    @pass_state
    @handle_errors
    def runs_cmd(state: CliState, limit: int, status: str | None, fmt: str) -> None:
        """Recent runs, newest first: counts, duration, throughput, API calls, errors with hints."""
        from core.sync.status import runs_listing

        with build_services(state.settings()) as services:
            runs = runs_listing(services, limit=limit, status=status)
        if fmt == "json":
            echo_json([r.model_dump(mode="json") for r in runs])
        else:
            _print_runs(runs)
