"""`dgsync alerts list|ack|mute|unmute|test|tick` and `dgsync security events`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from core.errors import ConfigError
from dgsync_cli.context import CliState, echo_json, handle_errors, pass_state

if TYPE_CHECKING:
    from core.governance.alerts import AlertService

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str, *, option: str) -> timedelta:
    match = _DURATION.match(value.strip())
    if not match:
        raise ConfigError(f"{option} {value!r} is not a duration",
                          hint=f"Use e.g. {option} 30m, {option} 2h or {option} 1d.")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@contextmanager
def _service(state: CliState) -> Iterator[AlertService]:
    from core.governance.alerts import AlertService
    from core.store.db import store_from_settings

    settings = state.settings()
    store = store_from_settings(settings.database_url, env=settings.env)
    try:
        yield AlertService(store, settings)
    finally:
        store.dispose()


def _actor() -> str:
    from core.sync.engine import default_actor

    return default_actor("cli")


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def register(group: click.Group) -> None:
    @group.group("alerts")
    def alerts() -> None:
        """Alerts raised by the rules in the `alerts` settings: list, ack, mute, test, tick."""

    @alerts.command("list")
    @click.option("--status", "statuses", multiple=True,
                  type=click.Choice(["open", "acked", "resolved"]),
                  help="Only these statuses (repeatable; default: open and acked).")
    @click.option("--all", "show_all", is_flag=True, help="Every status, resolved included.")
    @click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    @pass_state
    @handle_errors
    def alerts_list(state: CliState, statuses: tuple[str, ...], show_all: bool, limit: int,
                    fmt: str) -> None:
        """Alerts, newest first, with their remediation hint."""
        wanted = None if show_all else (list(statuses) or ["open", "acked"])
        with _service(state) as service:
            rows = service.list_alerts(status=wanted, limit=limit)
            mutes = service.mutes()
        if fmt == "json":
            echo_json({"alerts": [a.model_dump(mode="json") for a in rows],
                       "mutes": [m.model_dump(mode="json") for m in mutes]})
            return
        if not rows:
            click.echo("no alerts")
        else:
            _table(
                ["id", "status", "severity", "rule", "seen", "last seen (UTC)", "title"],
                [[str(a.id), a.status, a.severity, a.rule, f"{a.occurrences}×",
                  a.last_seen_at.strftime("%Y-%m-%d %H:%M:%S"), a.title] for a in rows],
            )
            for a in rows:
                if a.status == "open" and a.hint:
                    click.echo(f"  {a.id}: {a.hint}")
        for m in mutes:
            click.echo(f"muted: {m.target} until {m.until.isoformat(timespec='minutes')} "
                       f"(by {m.created_by})")

    @alerts.command("ack")
    @click.argument("alert_ids", nargs=-1, type=int, required=True)
    @pass_state
    @handle_errors
    def alerts_ack(state: CliState, alert_ids: tuple[int, ...]) -> None:
        """Acknowledge alerts: they stop escalating (audited with your user)."""
        actor = _actor()
        with _service(state) as service:
            for alert_id in alert_ids:
                alert = service.ack(alert_id, actor=actor)
                click.echo(f"alert {alert.id} acknowledged by {alert.acked_by}: {alert.title}")

    @alerts.command("mute")
    @click.argument("target")
    @click.option("--for", "duration", default="1h", show_default=True,
                  help="How long: 30m, 2h, 1d...")
    @click.option("--reason", help="Why (kept in the audit trail).")
    @pass_state
    @handle_errors
    def alerts_mute(state: CliState, target: str, duration: str, reason: str | None) -> None:
        """Silence TARGET (a rule name, an alert kind, a dedup key or an alert id): alerts
        are still recorded but not sent nor escalated."""
        with _service(state) as service:
            mute = service.mute(target, duration=parse_duration(duration, option="--for"),
                                actor=_actor(), reason=reason)
        click.echo(f"muted {mute.target} until {mute.until.isoformat(timespec='seconds')}")

    @alerts.command("unmute")
    @click.argument("target")
    @pass_state
    @handle_errors
    def alerts_unmute(state: CliState, target: str) -> None:
        """Lift the mutes of TARGET."""
        with _service(state) as service:
            n = service.unmute(target, actor=_actor())
        click.echo(f"removed {n} mute(s) of {target}")

    @alerts.command("test")
    @click.argument("channel")
    @pass_state
    @handle_errors
    def alerts_test(state: CliState, channel: str) -> None:
        """Send a test alert to CHANNEL (a name under alerts.channels)."""
        with _service(state) as service:
            service.send_test(channel)
        click.echo(f"test alert sent to {channel}")

    @alerts.command("tick")
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    @pass_state
    @handle_errors
    def alerts_tick(state: CliState, fmt: str) -> None:
        """Escalate unacknowledged alerts, resolve quiet ones, check expiring credentials,
        the dead-letter queue and bursts of denials, prune the audit (cron this, or let
        `dgsync run` do it)."""
        with _service(state) as service:
            result = service.tick()
        body: dict[str, Any] = {
            "notified": result.notified, "escalated": result.escalated,
            "resolved": result.resolved, "fired": result.fired,
            "pruned_audit": result.pruned_audit, "pruned_events": result.pruned_events,
            "errors": result.errors,
        }
        if fmt == "json":
            echo_json(body)
            return
        click.echo(", ".join(f"{k} {len(v) if isinstance(v, list) else v}" for k, v in body.items()))
        for err in result.errors:
            click.secho(f"  {err}", fg="yellow")

    @group.group("security")
    def security() -> None:
        """Security events: auth failures, denials, key and configuration changes."""

    @security.command("events")
    @click.option("--since", help="From this time on: ISO date/time or 24h, 7d.")
    @click.option("--kind", help="Only this kind (auth_failure, datasphere_forbidden...).")
    @click.option("--source", help="Only from this source (client address, datasphere, glue).")
    @click.option("--actor", help="Only by this actor.")
    @click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    @pass_state
    @handle_errors
    def security_events(state: CliState, since: str | None, kind: str | None, source: str | None,
                        actor: str | None, limit: int, fmt: str) -> None:
        """Security events, newest first (details never hold secrets)."""
        from core.store import repo
        from core.store.db import store_from_settings
        from dgsync_cli.cmd_store import parse_time

        settings = state.settings()
        store = store_from_settings(settings.database_url, env=settings.env)
        try:
            with store.session(readonly=True) as s:
                rows = repo.list_security_events(
                    session=s, since=parse_time(since, option="--since") if since else None,
                    kind=kind, source=source, actor=actor, limit=limit,
                )
        finally:
            store.dispose()
        if fmt == "json":
            echo_json([r.model_dump(mode="json") for r in rows])
            return
        if not rows:
            click.echo("no security events match")
            return
        _table(["time (UTC)", "kind", "source", "actor", "detail"],
               [[r.ts.strftime("%Y-%m-%d %H:%M:%S"), r.kind, r.source or "-", r.actor or "-",
                 ", ".join(f"{k}={v}" for k, v in sorted(r.detail.items()))[:120]] for r in rows])
