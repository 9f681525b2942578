"""`dgsync plan`, `dgsync sync`: the plan and its application."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from core.models import AssetKind
from core.services import build_services
from core.sync import exit_codes
from dgsync_cli.context import CliState, echo_json, handle_errors, pass_state, stage_progress


def _print_items(report: Any, *, show_noop: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    for col in ("action", "object", "asset", "reason / diff", "impact"):
        table.add_column(col, overflow="fold")
    plan = report.plan
    items = plan.items if plan else []
    shown = 0
    for item in items:
        if item.action.value == "noop" and not show_noop:
            continue
        detail = item.reason
        if item.diffs:
            detail += "\n" + "\n".join(
                f"  {d.field}: {d.before!r} → {d.after!r}" for d in item.diffs[:8]
            )
            if len(item.diffs) > 8:
                detail += f"\n  … {len(item.diffs) - 8} more"
        affected = item.impact_tables or item.impact
        table.add_row(item.action.value, item.object, item.asset or "", detail,
                      ", ".join(affected[:5]) + (" …" if len(affected) > 5 else ""))
        shown += 1
    console = Console()
    if shown:
        console.print(table)


def _print_summary(report: Any) -> None:
    c = report.counts
    head = "plan (dry run, nothing written)" if report.dry_run else f"run {report.run_id}: {report.status}"
    click.echo(head)
    click.echo(
        "  created {created} · updated {updated} · unchanged {unchanged} · deprecated {deprecated}"
        " · deleted {deleted} · conflicts {conflicts} · skipped {skipped} · failed {failed}".format(**c)
        + (f" · recovered {c['recovered']}" if c.get("recovered") else "")
    )
    click.echo(f"  duration {report.duration_s:.2f}s · assets {report.extraction.assets}"
               f" · Glue writes {report.glue_writes} · retries {report.retries} · throttles {report.throttles}")
    glue = report.api_calls.get("glue", {})
    if glue:
        click.echo("  Glue calls: " + ", ".join(f"{k} {v}" for k, v in sorted(glue.items())))
    ds = report.api_calls.get("datasphere", {})
    if ds:
        click.echo(f"  Datasphere requests: {sum(ds.values())} over {len(ds)} routes")
    if report.failsafe:
        click.secho(f"  fail-safe: deletions skipped ({report.failsafe})", fg="yellow")
    for space, reason in report.extraction.skipped_spaces.items():
        click.secho(f"  space {space} skipped: {reason}", fg="yellow")
    for err in report.extraction.errors[:20]:
        click.secho(f"  extraction error {err.get('asset')}: {err.get('message')}", fg="yellow")
    for item in report.items:
        if item.status == "failed":
            click.secho(f"  failed {item.object}: {item.error}", fg="red")
            if item.hint:
                click.echo(f"    hint: {item.hint}")
        elif item.status == "recovered":
            click.secho(f"  recovered {item.object}: {item.reason}", fg="cyan")
        elif item.hold:
            click.secho(f"  held {item.object}: {item.hold} (dgsync deletions approve)", fg="yellow")
    for op, codes in sorted(report.rejected.items()):
        click.secho("  Glue rejected " + op + ": " + ", ".join(f"{c} × {n}" for c, n in sorted(codes.items())),
                    fg="red")
    for key, why in sorted(report.shared.items())[:20]:
        click.echo(f"  not written here: {key}: {why}")
    if len(report.shared) > 20:
        click.echo(f"  … {len(report.shared) - 20} more shared objects")
    for kind in report.extraction.not_offered:
        click.echo(f"  kind not offered by this tenant: {kind}")
    for key, why in sorted(report.extraction.incomplete.items())[:20]:
        click.secho(f"  kept as is {key}: {why}", fg="yellow")
    if report.not_in_sync:
        click.secho("  not in sync: " + "; ".join(report.not_in_sync), fg="red")
    if report.plan is not None:
        for issue in report.plan.issues[:20]:
            if issue.severity != "info":
                click.echo(f"  mapping {issue.severity} {issue.asset or ''}: {issue.message}")


def _run_engine(state: CliState, fmt: str, action: Callable[[Any, int | None], Any], *,
                validate: dict[str, Any] | None = None) -> Any:
    """Build the services of the applied configuration version (``dgsync config apply``;
    the process's settings while none is applied) and an engine, run
    ``action(engine, config_version)`` with a live progress bar on a terminal (table format),
    and close everything. With ``validate`` (spaces, kinds) the input is checked first (exit
    code 2 before anything runs)."""
    from core.config_versions import ConfigReloader
    from core.sync.liveness import validate_scope

    settings = state.settings()
    with build_services(settings) as base:
        # The environment's applied configuration version (if any) for this whole run.
        services, version = ConfigReloader(base).for_next_run()
        if validate is not None:
            validate_scope(services, **validate)
        with stage_progress() as on_progress:
            engine = services.engine(progress=on_progress if fmt == "table" else None)
            with _stop_on_sigterm(engine):
                return action(engine, version)


@contextmanager
def _stop_on_sigterm(engine: Any) -> Iterator[None]:
    """SIGTERM asks the run to stop after the objects in flight (it ends ``aborted``, exit
    code 1, resumable) instead of killing the process mid-object."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        engine.request_stop()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


KIND_CHOICE = click.Choice([k.value for k in AssetKind])

SYNC_EXIT_CODES = """
\b
Exit codes:
  0  everything in scope is in sync
  1  some objects failed or were skipped (partial run, space skipped after
     403/429, extraction errors, unresolved conflicts, aborted)
  2  bad input or configuration; nothing was started
  3  could not run: authentication, unreachable system, state store, or an
     overlapping run holds the scope (without --wait)
"""


def _sync_with_governance(engine: Any, run: Callable[[], Any]) -> Any:
    """Run a sync with security signals stored, audit it with the CLI actor, then check the
    alert rules against it (also when it raised): :func:`core.governance.hooks.run_with_governance`."""
    from core.governance.hooks import run_with_governance
    from core.sync.engine import default_actor

    return run_with_governance(engine.services, run, actor=default_actor("cli"))


def _audit_user_action(services: Any, action: str, run_id: str | None, details: dict[str, Any]) -> None:
    """Audit who ran a sync or a plan (the writes themselves are audited by the engine)."""
    from core.errors import DgsyncError
    from core.governance.audit import record_action
    from core.sync.engine import default_actor

    try:
        record_action(services.store(), actor=default_actor("cli"), action=action,
                      object=f"run:{run_id}" if run_id else action, env=services.settings.env,
                      run_id=run_id, details=details)
    except DgsyncError as exc:  # the audit of the request itself must not fail the command
        from core.log import get_logger

        get_logger(__name__).warning("could not audit the command",
                                     extra={"action": action, "error": exc.message, "hint": exc.hint})


def register(group: click.Group) -> None:
    @group.command("plan", epilog=SYNC_EXIT_CODES.replace(
        "everything in scope is in sync", "the plan could be made (whatever it would change)"))
    @click.option("--space", "spaces", multiple=True, help="Only these spaces (repeatable; case-sensitive ids).")
    @click.option("--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only these asset kinds (repeatable).")
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    @click.option("--all", "show_all", is_flag=True, help="Also list unchanged objects.")
    @pass_state
    @handle_errors
    def plan_cmd(state: CliState, spaces: tuple[str, ...], kinds: tuple[str, ...], fmt: str, show_all: bool) -> None:
        """Show what a sync would do, with field-level diffs and impact. Writes nothing."""
        def plan_and_audit(engine: Any, config_version: int | None) -> Any:
            report = engine.dry_run(spaces=spaces or None, kinds=kinds or None)
            _audit_user_action(engine.services, "plan", None,
                               {"counts": report.counts, "spaces": list(spaces), "kinds": list(kinds),
                                "config_version": config_version})
            return report

        report = _run_engine(
            state, fmt, plan_and_audit,
            validate={"spaces": spaces or None, "kinds": kinds or None},
        )
        if fmt == "json":
            echo_json(report.model_dump(mode="json"))
        else:
            _print_items(report, show_noop=show_all)
            _print_summary(report)
        sys.exit(exit_codes.for_report(report))

    @group.command("sync", epilog=SYNC_EXIT_CODES)
    @click.option("--space", "spaces", multiple=True, help="Only these spaces (repeatable; case-sensitive ids).")
    @click.option("--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only these asset kinds (repeatable).")
    @click.option("--resume", is_flag=True, help="Resume the last interrupted (e.g. killed) run.")
    @click.option("--wait/--no-wait", "wait", default=False, show_default=True,
                  help="When another run holds an overlapping scope: wait for it, or exit at once (code 3).")
    @click.option("--wait-timeout", "wait_timeout", type=click.FloatRange(0, 86_400), default=600.0,
                  show_default=True, metavar="SECONDS", help="How long --wait waits.")
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    @click.option("--validate", "then_validate", is_flag=True,
                  help="Then validate the scope (as `dgsync validate`), store the report with the run; "
                  "exit 1 when Glue is not in sync.")
    @pass_state
    @handle_errors
    def sync_cmd(state: CliState, spaces: tuple[str, ...], kinds: tuple[str, ...], resume: bool,
                 wait: bool, wait_timeout: float, fmt: str, then_validate: bool) -> None:
        """Apply the plan to Glue, under a lease on the run's scope (its spaces)."""
        validation: dict[str, Any] = {}

        def sync_then_validate(engine: Any, version: Any) -> Any:
            report = _sync_with_governance(
                engine, lambda: engine.sync(spaces=spaces or None, kinds=kinds or None, resume=resume,
                                            wait_s=wait_timeout if wait else 0.0, config_version=version))
            if then_validate and report.run_id:  # validation: see dgsync_cli/cmd_validate.py
                from core.validation import validate_after_sync

                validation["report"] = validate_after_sync(engine.services, report, spaces=spaces or None,
                                                           kinds=kinds or None)
            return report

        report = _run_engine(state, fmt, sync_then_validate)
        code = exit_codes.for_report(report)
        checked = validation.get("report")
        if checked is not None and not checked.in_sync:
            code = max(code, exit_codes.NOT_IN_SYNC)
        if fmt == "json":
            body = report.model_dump(mode="json", exclude={"plan"})
            body["exit_code"] = code
            if checked is not None:
                body["validation"] = {"id": checked.id, "in_sync": checked.in_sync, "reasons": checked.reasons,
                                      "summary": checked.summary.model_dump()}
            echo_json(body)
        else:
            _print_summary(report)
            if checked is not None:
                from dgsync_cli.cmd_validate import print_validation

                print_validation(checked)
        sys.exit(code)
