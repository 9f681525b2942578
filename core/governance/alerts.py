"""Alerts: rules from the settings, channels, escalation, deduplication, ack and mute.

A *condition* (a failed run, N partial runs in a row, throttling above a rate, drift, held
deletions, a tripped deletion fail-safe, expiring credentials, a non-empty dead-letter queue,
suspicious activity) is handed to :meth:`AlertService.fire`. Every enabled rule of that kind
turns it into an alert with the dedup key ``<rule>:<subject>``:

* no open or acknowledged alert with that key → a new alert, sent to the first channel of
  the rule's escalation chain (unless muted);
* one exists → it is the same alert: its count and last-seen time go up, nothing is sent.
  A flapping check therefore sends one alert, until the alert is resolved (no new
  occurrence for ``alerts.resolve_after_s``).

:meth:`AlertService.tick` (``dgsync alerts tick``; the scheduler's loop; ``dgsync run``)
escalates: an open alert not acknowledged within the rule's ``escalate_after_s`` since its
last notification goes to the next channel. Acknowledged and muted alerts never escalate.

Kinds without a configured rule still get a built-in rule without channels: their alerts are
recorded (``dgsync alerts list``) but sent nowhere.

Callers: :func:`evaluate_after_run` after every run (scheduler slice, ``dgsync sync``),
:func:`run_tick` periodically. Both never raise: alerting must not break a sync.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from core.errors import AlertDeliveryError, ConfigError, DgsyncError
from core.governance.channels import Channel, Notification, build_channel
from core.log import get_logger, redact
from core.settings import ALERT_KINDS, AlertRuleSettings, Settings
from core.store.governance import AlertOut

if TYPE_CHECKING:
    from core.services import Services
    from core.store.db import Store
    from core.store.schemas import RunOut

log = get_logger(__name__)

#: Defaults of ``AlertRuleSettings.threshold`` per kind.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "run_partial": 3,  # runs in a row
    "throttling": 30.0,  # throttled calls per minute of run time
    "token_expiring": 7 * 86400.0,  # seconds before the credentials expire
}
DEFAULT_SEVERITY: dict[str, str] = {
    "run_failed": "critical",
    "security": "critical",
    "dlq_not_empty": "critical",
    "token_expiring": "warning",
}

HINTS: dict[str, str] = {
    "run_partial": "Open `dgsync runs --format json` for the errors of the last runs; each "
    "carries its own hint.",
    "throttling": "Lower DGSYNC_GLUE__CALLS_PER_SECOND / __CONCURRENCY, or ask AWS for a "
    "higher Glue quota.",
    "drift": "Someone edited dgsync-managed tables in Glue; the source won and the business "
    "fields were merged. Review with `dgsync audit --action update` and edit Datasphere instead.",
    "deletions_held": "Review with `dgsync deletions pending`; confirm with `dgsync deletions "
    "approve`.",
    "failsafe": "More objects disappeared than DGSYNC_SYNC__MAX_DELETE_SHARE allows: check the "
    "Datasphere space permissions before confirming the deletions.",
    "token_expiring": "Rotate the OAuth client secret in Datasphere (System > App Integration), "
    "set DGSYNC_DATASPHERE__CLIENT_SECRET and alerts.credentials_expire_at.",
    "dlq_not_empty": "Inspect the failed worker messages (aws sqs receive-message), fix the "
    "cause shown in `dgsync runs`, then redrive them.",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Condition:
    """Something that should alert. ``subject`` tells instances apart (a slice, a source)."""

    kind: str
    subject: str
    title: str
    message: str
    hint: str | None = None
    severity: str | None = None
    run_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class TickResult:
    """What one :meth:`AlertService.tick` did."""

    notified: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    fired: list[int] = field(default_factory=list)
    pruned_audit: int = 0
    pruned_events: int = 0
    errors: list[str] = field(default_factory=list)


def effective_rules(settings: Settings) -> list[AlertRuleSettings]:
    """The configured rules plus a built-in rule (no channels) for every unconfigured kind."""
    rules = list(settings.alerts.rules)
    configured = {r.kind for r in rules}
    names = [r.name for r in rules]
    if len(names) != len(set(names)):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(
            f"alert rule names must be unique: {', '.join(dup)}",
            hint="Give every entry of alerts.rules its own name.",
        )
    channels = {c.name for c in settings.alerts.channels}
    for rule in rules:
        missing = [c for c in rule.channels if c not in channels]
        if missing:
            raise ConfigError(
                f"alert rule {rule.name!r} names unknown channel(s): {', '.join(missing)}",
                hint="Define them under alerts.channels or fix the names in alerts.rules[].channels.",
            )
    for kind in ALERT_KINDS:
        if kind not in configured:
            rules.append(AlertRuleSettings.model_validate({"name": kind, "kind": kind}))
    return rules


def threshold(rule: AlertRuleSettings) -> float:
    return rule.threshold if rule.threshold is not None else DEFAULT_THRESHOLDS.get(rule.kind, 0.0)


class AlertService:
    """Alert rules of one environment over a state store."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        channels: Mapping[str, Channel] | None = None,
        clock: Callable[[], datetime] = utcnow,
        sns_client: Any | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.env = settings.env
        self.clock = clock
        self.rules = effective_rules(settings)
        self._rules_by_name = {r.name: r for r in self.rules}
        if channels is None:
            channels = {c.name: build_channel(c, sns_client=sns_client) for c in settings.alerts.channels}
        self.channels: dict[str, Channel] = dict(channels)

    # -- firing -------------------------------------------------------------------------
    def fire(self, condition: Condition) -> list[AlertOut]:
        """Raise (or count again) the alert of every enabled rule of the condition's kind."""
        if not self.settings.alerts.enabled:
            return []
        out = []
        for rule in self.rules:
            if rule.kind == condition.kind and rule.enabled:
                out.append(self._fire_rule(rule, condition))
        return out

    def _fire_rule(self, rule: AlertRuleSettings, cond: Condition) -> AlertOut:
        from core.store import governance as g

        now = self.clock()
        key = f"{rule.name}:{cond.subject}"
        message, hint = redact(cond.message), redact(cond.hint) if cond.hint else None
        with self.store.session() as s:
            existing = g.active_alert(session=s, env=self.env, dedup_key=key)
            if existing is not None:
                return g.touch_alert(session=s, alert_id=existing.id, message=message, hint=hint,
                                     run_id=cond.run_id, now=now)
            try:
                with s.begin_nested():  # the unique index of active alerts decides a race
                    alert = g.create_alert(
                        session=s, env=self.env, rule=rule.name, kind=cond.kind, dedup_key=key,
                        severity=self._severity(rule, cond),
                        title=redact(cond.title), message=message, hint=hint, run_id=cond.run_id,
                        details={str(k): v for k, v in cond.details.items()}, now=now,
                    )
            except IntegrityError:
                # Another evaluator opened it between our check and our insert: count it there.
                existing = g.active_alert(session=s, env=self.env, dedup_key=key)
                if existing is None:
                    raise
                log.info("alert opened concurrently: counted", extra={"alert": existing.id, "rule": rule.name})
                return g.touch_alert(session=s, alert_id=existing.id, message=message, hint=hint,
                                     run_id=cond.run_id, now=now)
            muted = self._muted(s, alert, now)
        log.warning("alert raised", extra={"alert": alert.id, "rule": rule.name, "title": alert.title})
        if muted or not rule.channels:
            return alert
        return self._notify(alert, rule, level=0, escalated=False)

    @staticmethod
    def _severity(rule: AlertRuleSettings, cond: Condition) -> str:
        if cond.severity:
            return cond.severity
        if "severity" in rule.model_fields_set:
            return rule.severity
        return DEFAULT_SEVERITY.get(cond.kind, rule.severity)

    # -- notifying ----------------------------------------------------------------------
    def _muted(self, session: Any, alert: AlertOut, now: datetime) -> bool:
        from core.store.governance import active_mutes

        targets = {alert.rule, alert.kind, alert.dedup_key, str(alert.id)}
        return any(m.target in targets for m in active_mutes(session=session, env=self.env, now=now))

    def _notification(self, alert: AlertOut, level: int, *, escalated: bool, test: bool = False) -> Notification:
        return Notification.build(
            alert_id=alert.id, env=alert.env, rule=alert.rule, kind=alert.kind,
            severity=alert.severity, title=alert.title, message=alert.message, hint=alert.hint,
            status=alert.status, level=level, occurrences=alert.occurrences,
            first_seen_at=alert.first_seen_at, run_id=alert.run_id, escalated=escalated,
            test=test, details=alert.details,
        )

    def _notify(self, alert: AlertOut, rule: AlertRuleSettings, *, level: int, escalated: bool) -> AlertOut:
        """Send to ``rule.channels[level]`` (network I/O outside any store session)."""
        from core.store import governance as g

        name = rule.channels[level]
        channel = self.channels.get(name)
        error: str | None = None
        if channel is None:
            error = f"channel {name!r} is not configured"
        else:
            try:
                channel.send(self._notification(alert, level, escalated=escalated))
            except DgsyncError as exc:
                error = exc.message
                log.error("alert delivery failed", extra={"alert": alert.id, "channel": name,
                                                          "error": exc.message, "hint": exc.hint})
        now = self.clock()
        with self.store.session() as s:
            g.record_notification(session=s, alert_id=alert.id, channel=name, level=level,
                                  ok=error is None, error=error, now=now)
            return g.mark_notified(session=s, alert_id=alert.id, level=level, now=now)

    def send_test(self, channel_name: str) -> None:
        """Send a test notification to a channel; raises :class:`AlertDeliveryError`."""
        channel = self.channels.get(channel_name)
        if channel is None:
            known = ", ".join(sorted(self.channels)) or "none"
            raise ConfigError(
                f"no alert channel {channel_name!r} (configured: {known})",
                hint="Define it under alerts.channels in the config file.",
            )
        now = self.clock()
        alert = AlertOut(
            id=0, env=self.env, rule="test", kind="test", dedup_key="test", severity="info",
            title="test alert", message=f"A test alert from dgsync ({self.env}) to {channel_name}.",
            hint="Nothing to do: this checks the channel.", status="open", level=0, occurrences=1,
            first_seen_at=now, last_seen_at=now, notified_at=None, run_id=None, acked_by=None,
            acked_at=None, resolved_at=None, details={},
        )
        channel.send(self._notification(alert, 0, escalated=False, test=True))

    # -- operator actions ---------------------------------------------------------------
    def ack(self, alert_id: int, *, actor: str) -> AlertOut:
        from core.governance import audit
        from core.store import governance as g

        with self.store.session() as s:
            alert = g.ack_alert(session=s, alert_id=alert_id, actor=actor, now=self.clock())
        audit.record_action(self.store, actor=actor, action="alert_ack", object=f"alert:{alert_id}",
                            env=self.env, details={"rule": alert.rule, "title": alert.title})
        return alert

    def mute(self, target: str, *, duration: timedelta, actor: str, reason: str | None = None) -> Any:
        """Silence a rule name, an alert kind, a dedup key or an alert id for ``duration``."""
        from core.governance import audit
        from core.store import governance as g

        now = self.clock()
        with self.store.session() as s:
            mute = g.add_mute(session=s, env=self.env, target=target, until=now + duration,
                              actor=actor, reason=reason, now=now)
        audit.record_action(self.store, actor=actor, action="alert_mute", object=f"alert:{target}",
                            env=self.env, details={"until": mute.until.isoformat(), "reason": reason})
        return mute

    def unmute(self, target: str, *, actor: str) -> int:
        from core.governance import audit
        from core.store import governance as g

        with self.store.session() as s:
            n = g.remove_mutes(session=s, env=self.env, target=target)
        audit.record_action(self.store, actor=actor, action="alert_unmute", object=f"alert:{target}",
                            env=self.env, details={"removed": n})
        return n

    def list_alerts(self, *, status: Sequence[str] | None = None, limit: int = 100) -> list[AlertOut]:
        from core.store import governance as g

        with self.store.session(readonly=True) as s:
            return g.list_alerts(session=s, env=self.env, status=status, limit=limit)

    def mutes(self) -> list[Any]:
        from core.store import governance as g

        with self.store.session(readonly=True) as s:
            return g.active_mutes(session=s, env=self.env, now=self.clock())

    # -- after a run ----------------------------------------------------------------------
    def evaluate_run(
        self,
        run_id: str | None = None,
        *,
        report: Any | None = None,
        slice_key: str | None = None,
        since: datetime | None = None,
    ) -> list[AlertOut]:
        """Check the alert rules (and the run-based detection rules) against a finished run
        (``run_id``; by default the newest finished run of the environment, of ``slice_key``
        when given, started at or after ``since`` when given — none: nothing to check)."""
        from core.governance.security import SecurityMonitor
        from core.store import governance as g
        from core.store import repo

        with self.store.session(readonly=True) as s:
            if run_id is None:
                run_id = g.latest_finished_run_id(session=s, env=self.env, slice_key=slice_key,
                                                  any_slice=slice_key is None, since=since)
            run = repo.get_run(session=s, run_id=run_id) if run_id else None
            if run is None:
                return []
            partial_n = max((int(threshold(r)) for r in self.rules
                              if r.kind == "run_partial" and r.enabled), default=0)
            statuses = g.recent_statuses(session=s, env=self.env, slice_key=run.slice_key,
                                         limit=max(partial_n, 1))
        fired: list[AlertOut] = []
        for cond in self._run_conditions(run, report, statuses):
            fired += self.fire(cond)
        fired += SecurityMonitor(self.store, self.settings, alerts=self).detect_run(run)
        return fired

    def _run_conditions(self, run: RunOut, report: Any | None, statuses: list[str]) -> list[Condition]:
        subject = f"{run.env}/{run.slice_key or 'all'}"
        where = f"run {run.id} ({run.slice_key or 'all spaces'}, {run.trigger})"
        conds: list[Condition] = []
        errors = list(run.errors)
        first = next((e for e in errors if e.hint), errors[0] if errors else None)
        if run.status == "failed":
            msg = f"{where} failed" + (f": {first.code}: {first.message}" if first else "")
            if len(errors) > 1:
                msg += f" (and {len(errors) - 1} more error(s))"
            conds.append(Condition(
                "run_failed", subject, f"sync failed in {run.env} ({run.slice_key or 'all'})", msg,
                hint=first.hint if first else "See `dgsync runs --format json` for the errors.",
                run_id=run.id, details={"codes": sorted({e.code for e in errors})[:20]},
            ))
        for rule in self.rules:
            if rule.kind == "run_partial" and rule.enabled:
                n = max(int(threshold(rule)), 1)
                recent = statuses[:n]
                if len(recent) == n and all(st == "partial" for st in recent):
                    conds.append(Condition(
                        "run_partial", subject, f"{n} partial runs in a row in {run.env}",
                        f"the last {n} runs of {run.slice_key or 'all spaces'} ended partial; latest "
                        f"{run.id}" + (f": {first.code}: {first.message}" if first else ""),
                        hint=first.hint if first and first.hint else HINTS["run_partial"], run_id=run.id,
                    ))
                    break
        minutes = max(run.duration_s or 0.0, 60.0) / 60.0
        rate = run.throttles / minutes
        for rule in self.rules:
            if rule.kind == "throttling" and rule.enabled and run.throttles and rate > threshold(rule):
                conds.append(Condition(
                    "throttling", subject, f"Glue throttling in {run.env}",
                    f"{where}: {run.throttles} throttled calls ({rate:.1f}/min, above "
                    f"{threshold(rule):g}/min)", hint=HINTS["throttling"], run_id=run.id,
                    details={"throttles": run.throttles, "per_minute": round(rate, 2)},
                ))
                break
        drift = [e for e in errors if e.code == "conflict_out_of_band_edit"]
        if drift:
            conds.append(Condition(
                "drift", subject, f"drift: {len(drift)} table(s) edited out of band in {run.env}",
                f"{where}: " + ", ".join(str(e.object) for e in drift[:10])
                + (" …" if len(drift) > 10 else ""), hint=drift[0].hint or HINTS["drift"],
                run_id=run.id, details={"objects": [e.object for e in drift[:50]]},
            ))
        held = [e for e in errors if e.code == "deletion_held"]
        if held:
            conds.append(Condition(
                "deletions_held", subject, f"{len(held)} deletion(s) held in {run.env}",
                f"{where}: " + ", ".join(str(e.object) for e in held[:10])
                + (" …" if len(held) > 10 else ""), hint=held[0].hint or HINTS["deletions_held"],
                run_id=run.id, details={"objects": [e.object for e in held[:50]]},
            ))
        failsafe = getattr(report, "failsafe", None)
        if failsafe:
            conds.append(Condition(
                "failsafe", subject, f"deletion fail-safe tripped in {run.env}",
                f"{where}: deletions skipped: {failsafe}", hint=HINTS["failsafe"], run_id=run.id,
            ))
        return conds

    # -- periodic -------------------------------------------------------------------------
    def tick(self, *, token_expires_at: datetime | None = None, prune: bool = True) -> TickResult:
        """Escalate, resolve quiet alerts, check expiring credentials, the DLQ and bursts of
        denials, and prune the audit trail by retention."""
        from core.governance.security import SecurityMonitor
        from core.store import governance as g

        result = TickResult()
        now = self.clock()
        with self.store.session() as s:
            quiet = now - timedelta(seconds=self.settings.alerts.resolve_after_s)
            result.resolved = g.resolve_quiet_alerts(session=s, env=self.env, quiet_since=quiet, now=now)
            pending = g.list_alerts(session=s, env=self.env, status=("open",), limit=1000)
            muted = {a.id for a in pending if self._muted(s, a, now)}
        for alert in pending:
            rule = self._rules_by_name.get(alert.rule)
            if rule is None or not rule.channels or alert.id in muted:
                continue
            if alert.notified_at is None:
                self._notify(alert, rule, level=0, escalated=False)
                result.notified.append(alert.id)
            elif alert.level + 1 < len(rule.channels) and (
                now - alert.notified_at >= timedelta(seconds=rule.escalate_after_s)
            ):
                self._notify(alert, rule, level=alert.level + 1, escalated=True)
                result.escalated.append(alert.id)
                log.warning("alert escalated", extra={"alert": alert.id, "channel": rule.channels[alert.level + 1]})
        for cond in self._periodic_conditions(now, token_expires_at, result):
            result.fired += [a.id for a in self.fire(cond)]
        result.fired += [a.id for a in SecurityMonitor(self.store, self.settings, alerts=self).detect_bursts()]
        if prune and self.settings.audit.retention_days:
            from core.governance import audit

            pruned = audit.prune(self.store, retention_days=self.settings.audit.retention_days, now=now)
            result.pruned_audit, result.pruned_events = pruned.audit, pruned.security_events
        return result

    def _periodic_conditions(
        self, now: datetime, token_expires_at: datetime | None, result: TickResult
    ) -> list[Condition]:
        conds: list[Condition] = []
        expiries = [t for t in (token_expires_at, self.settings.alerts.credentials_expire_at) if t]
        for rule in self.rules:
            if rule.kind != "token_expiring" or not rule.enabled or not expiries:
                continue
            soonest = min(t if t.tzinfo else t.replace(tzinfo=UTC) for t in expiries)
            left = (soonest - now).total_seconds()
            if left <= threshold(rule):
                state = "expired" if left <= 0 else f"expires in {left / 86400:.1f} days"
                conds.append(Condition(
                    "token_expiring", f"{self.env}/credentials",
                    f"Datasphere credentials {state} ({self.env})",
                    f"the OAuth credentials of {self.env} {state} (at {soonest.isoformat(timespec='minutes')})",
                    hint=HINTS["token_expiring"],
                ))
                break
        if self.settings.alerts.dlq_url and any(r.kind == "dlq_not_empty" and r.enabled for r in self.rules):
            try:
                depth = self._dlq_depth()
            except DgsyncError as exc:
                result.errors.append(exc.message)
                log.warning("could not read the dead-letter queue", extra={"error": exc.message})
                depth = 0
            if depth > 0:
                conds.append(Condition(
                    "dlq_not_empty", f"{self.env}/dlq", f"{depth} message(s) in the dead-letter queue ({self.env})",
                    f"{depth} worker message(s) failed for good and wait in {self.settings.alerts.dlq_url}",
                    hint=HINTS["dlq_not_empty"], details={"messages": depth},
                ))
        return conds

    def _dlq_depth(self) -> int:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        cfg = self.settings.alerts
        url = cfg.dlq_url or ""
        region = cfg.dlq_region or self.settings.glue.region
        try:
            sqs = boto3.client("sqs", region_name=region, endpoint_url=cfg.dlq_endpoint_url)
            attrs = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
            )["Attributes"]
        except (ClientError, BotoCoreError) as exc:
            raise AlertDeliveryError(
                f"cannot read the dead-letter queue {url} ({type(exc).__name__})",
                hint="Check alerts.dlq_url and that the role may sqs:GetQueueAttributes on it.",
            ) from exc
        return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
            attrs.get("ApproximateNumberOfMessagesDelayed", 0)
        )


def median(values: Sequence[int]) -> float:
    return float(statistics.median(values)) if values else 0.0


# ----------------------------------------------------------------- callers' entry points


def evaluate_after_run(
    services: Services,
    *,
    run_id: str | None,
    report: Any | None = None,
    slice_key: str | None = None,
    since: datetime | None = None,
) -> list[AlertOut]:
    """What the scheduler and ``dgsync sync`` call with a finished run (or, without
    ``run_id``, after a run that raised: the newest one started since ``since``). Never raises."""
    try:
        return AlertService(services.store(), services.settings).evaluate_run(
            run_id, report=report, slice_key=slice_key, since=since
        )
    except DgsyncError as exc:
        log.error("alert evaluation failed", extra={"error": exc.message, "hint": exc.hint})
    except Exception:
        log.exception("alert evaluation crashed")
    return []


def run_tick(services: Services) -> TickResult | None:
    """The periodic alert tick (escalation...). Never raises."""
    try:
        return AlertService(services.store(), services.settings).tick()
    except DgsyncError as exc:
        log.error("alert tick failed", extra={"error": exc.message, "hint": exc.hint})
    except Exception:
        log.exception("alert tick crashed")
    return None


__all__ = [
    "AlertService",
    "Condition",
    "TickResult",
    "effective_rules",
    "evaluate_after_run",
    "run_tick",
]
