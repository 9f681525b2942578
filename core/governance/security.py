"""Security events and the detection rules of suspicious activity.

Events are written for: Datasphere 401/403 and token refresh failures (signals of
:mod:`core.governance.events`, stored by :func:`store_sink`), Glue AccessDenied (same), failed
API-key logins (:meth:`SecurityMonitor.record_failed_auth`, called by the web apps), key
creation/revocation (:meth:`SecurityMonitor.record_key_change`) and configuration changes
(:meth:`SecurityMonitor.record_config_change`). The last three are audited too.

Detection rules (each raises a ``security`` alert, deduplicated per subject):

* a burst of failed logins from one source (``alerts.failed_auth_burst`` within
  ``alerts.failed_auth_window_s``) — checked as each failure is recorded;
* a key used from a source it was never seen from (:meth:`SecurityMonitor.record_key_use`);
* a burst of Datasphere 401/403 (``alerts.denied_burst`` within ``alerts.denied_window_s``)
  and any token refresh failure or Glue AccessDenied — checked on every alert tick;
* deletions far above the usual volume (a run deleting/deprecating more than
  ``alerts.deletion_spike_factor`` × the median of the last runs, and at least
  ``alerts.deletion_spike_min``) and Glue writes outside ``alerts.write_window_utc`` —
  checked after every run.

Nothing here stores a secret: a presented API key is kept only as a short SHA-256
fingerprint, and every detail is redacted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

from core.governance import audit, events
from core.governance.alerts import AlertService, Condition, median
from core.governance.events import SecuritySignal, SecuritySink
from core.log import get_logger
from core.store.governance import AlertOut
from core.store.schemas import AuditSystem, SecurityEventIn, SecurityEventOut

if TYPE_CHECKING:
    from core.settings import Settings
    from core.store.db import Store
    from core.store.schemas import RunOut

log = get_logger(__name__)

SECURITY_HINTS: dict[str, str] = {
    "failed_auth": "If these are not your own clients, block the source (WAF / security group) and "
    "rotate the API keys; `dgsync security events --kind auth_failure` lists the attempts.",
    "new_source": "Confirm with the key's owner that this client is theirs; otherwise revoke the key.",
    "datasphere_denied": "The OAuth client lost roles or space memberships: check it in Datasphere "
    "(System > App Integration, Space Management) and run `dgsync check`.",
    "token_refresh": "Check DGSYNC_DATASPHERE__CLIENT_ID / __CLIENT_SECRET (or run `dgsync login`) "
    "and `dgsync check`.",
    "glue_denied": "The dgsync role lost Glue/Lake Formation permissions: compare it with "
    "deploy/iam-policy.json; nobody should have changed it without a change request.",
    "deletion_spike": "Check the Datasphere space permissions and the run's plan before "
    "confirming; `dgsync audit --run RUN --action delete` lists what went.",
    "off_schedule": "Find who ran it with `dgsync audit --run RUN`; writes are expected only "
    "inside alerts.write_window_utc.",
}


def fingerprint(secret: str) -> str:
    """A short, non-reversible fingerprint of a presented key (to correlate attempts)."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def _in_window(ts: datetime, window: str) -> bool:
    start_s, end_s = window.split("-")
    start = time.fromisoformat(start_s)
    end = time.fromisoformat(end_s)
    t = ts.astimezone(UTC).time()
    if start <= end:
        return start <= t < end
    return t >= start or t < end  # wraps midnight


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SecurityMonitor:
    """Records security events of one environment and runs the detection rules."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        alerts: AlertService | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.env = settings.env
        self.alerts = alerts or AlertService(store, settings, clock=clock or _utcnow)
        self.clock = clock or self.alerts.clock

    # -- recording ------------------------------------------------------------------------
    def record(
        self,
        kind: str,
        *,
        actor: str | None = None,
        source: str | None = None,
        detail: Mapping[str, Any] | None = None,
        ts: datetime | None = None,
    ) -> SecurityEventOut:
        from core.store import repo

        event = SecurityEventIn(ts=ts or self.clock(), kind=kind, actor=actor, source=source,
                                env=self.env, detail=dict(detail or {}))
        with self.store.session() as s:
            return repo.record_security_event(session=s, event=event)

    def sink(self) -> SecuritySink:
        """A sink for :func:`core.governance.events.add_security_sink` writing to the store."""

        def store_signal(signal: SecuritySignal) -> None:
            self.record(signal.kind, actor=signal.actor, source=signal.source,
                        detail=signal.detail, ts=signal.ts)

        return store_signal

    def record_failed_auth(
        self,
        *,
        source: str,
        presented_key: str | None = None,
        reason: str = "invalid API key",
        frontend: str | None = None,
    ) -> SecurityEventOut:
        """A web app refused an API key (or token): record it; a burst from one source
        raises a security alert. The key itself is never stored, only its fingerprint."""
        from core.store import governance as g

        detail: dict[str, Any] = {"reason": reason}
        if presented_key:
            detail["key_fingerprint"] = fingerprint(presented_key)
        if frontend:
            detail["frontend"] = frontend
        event = self.record(events.AUTH_FAILURE, source=source, detail=detail)
        cfg = self.settings.alerts
        since = self.clock() - timedelta(seconds=cfg.failed_auth_window_s)
        with self.store.session(readonly=True) as s:
            n = g.count_security_events(session=s, kinds=(events.AUTH_FAILURE,), since=since,
                                        source=source, env=self.env)
        if n >= cfg.failed_auth_burst:
            self.alerts.fire(Condition(
                "security", f"failed_auth:{source}",
                f"{n} failed API-key logins from {source}",
                f"{n} failed API-key logins from {source} within {cfg.failed_auth_window_s:g}s "
                f"(threshold {cfg.failed_auth_burst}); last reason: {reason}",
                hint=SECURITY_HINTS["failed_auth"], details={"source": source, "count": n},
            ))
        return event

    def record_key_use(
        self, *, key_name: str, role: str, source: str, frontend: str | None = None
    ) -> bool:
        """A key authenticated from ``source``. The first time a (key, source) pair is seen
        it is recorded (event ``auth_success`` + audit ``login``); a known key seen from a
        new source raises a security alert. Returns whether the source was new."""
        from core.store import governance as g

        actor = f"key:{key_name}/{role}"
        with self.store.session(readonly=True) as s:
            known = g.sources_of_actor(session=s, actor=actor, kinds=(events.AUTH_SUCCESS,))
        if source in known:
            return False
        self.record(events.AUTH_SUCCESS, actor=actor, source=source,
                    detail={"key": key_name, "role": role, "frontend": frontend, "new_source": True})
        audit.record_action(self.store, actor=actor, action="login", object=f"key:{key_name}",
                            env=self.env, details={"source": source, "frontend": frontend})
        if known:
            self.alerts.fire(Condition(
                "security", f"new_source:{key_name}:{source}",
                f"key {key_name} used from a new source {source}",
                f"API key {key_name} ({role}) authenticated from {source}; known sources: "
                + ", ".join(sorted(known)[:10]),
                hint=SECURITY_HINTS["new_source"], details={"key": key_name, "source": source},
            ))
        return True

    def record_denied(
        self,
        *,
        actor: str,
        role: str,
        need: str,
        source: str,
        object: str,
        frontend: str | None = None,
    ) -> SecurityEventOut:
        """An authenticated caller was refused for its role (HTTP 403): a security event
        and an audit record (action ``denied``)."""
        detail = {"role": role, "needed": need, "object": object, "frontend": frontend}
        event = self.record(events.PERMISSION_DENIED, actor=actor, source=source, detail=detail)
        audit.record_action(self.store, actor=actor, action="denied", object=object, env=self.env,
                            details={"source": source, "role": role, "needed": need, "frontend": frontend})
        return event

    def record_key_change(
        self,
        *,
        key_name: str,
        action: Literal["created", "revoked", "rotated"],
        actor: str,
        role: str | None = None,
    ) -> SecurityEventOut:
        """An API key was created, revoked or rotated (security event + audit)."""
        kind = events.KEY_REVOKED if action == "revoked" else events.KEY_CREATED
        event = self.record(kind, actor=actor, detail={"key": key_name, "role": role, "action": action})
        audit.record_action(self.store, actor=actor, action=f"key_{action}", object=f"key:{key_name}",
                            env=self.env, details={"role": role})
        return event

    def record_config_change(
        self,
        *,
        actor: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        object: str = "settings",
        version: str | None = None,
        comment: str | None = None,
    ) -> SecurityEventOut:
        """The effective configuration changed (apply, promote, rollback, hot reload):
        a security event and an audit record with the redacted field diff."""
        return record_config_change(self.store, env=self.env, actor=actor, before=before, after=after,
                                    object=object, version=version, comment=comment, ts=self.clock())

    # -- detection -----------------------------------------------------------------------
    def detect_bursts(self) -> list[AlertOut]:
        """Datasphere 401/403 bursts, token refresh failures and Glue AccessDenied in the
        last ``alerts.denied_window_s`` (the alert tick calls this)."""
        from core.store import governance as g

        cfg = self.settings.alerts
        since = self.clock() - timedelta(seconds=cfg.denied_window_s)
        with self.store.session(readonly=True) as s:
            denied = g.count_security_events(session=s, kinds=events.DATASPHERE_DENIALS,
                                             since=since, env=self.env)
            refresh = g.count_security_events(session=s, kinds=(events.TOKEN_REFRESH_FAILED,),
                                              since=since, env=self.env)
            glue = g.count_security_events(session=s, kinds=(events.GLUE_ACCESS_DENIED,),
                                           since=since, env=self.env)
        conds = []
        window = f"within {cfg.denied_window_s:g}s"
        if denied >= cfg.denied_burst:
            conds.append(Condition("security", "datasphere_denied", f"{denied} Datasphere 401/403 {window}",
                                   f"Datasphere refused {denied} requests (401/403) {window} in {self.env}",
                                   hint=SECURITY_HINTS["datasphere_denied"], details={"count": denied}))
        if refresh:
            conds.append(Condition("security", "token_refresh", f"{refresh} token refresh failure(s)",
                                   f"the OAuth token request failed {refresh} time(s) {window} in {self.env}",
                                   hint=SECURITY_HINTS["token_refresh"], details={"count": refresh}))
        if glue:
            conds.append(Condition("security", "glue_denied", f"{glue} Glue AccessDenied {window}",
                                   f"Glue denied {glue} call(s) {window} in {self.env}",
                                   hint=SECURITY_HINTS["glue_denied"], details={"count": glue}))
        fired: list[AlertOut] = []
        for cond in conds:
            fired += self.alerts.fire(cond)
        return fired

    def detect_run(self, run: RunOut) -> list[AlertOut]:
        """Deletions far above the usual volume, Glue writes outside the write window."""
        from core.store import governance as g

        cfg = self.settings.alerts
        removed = run.counts.deleted + run.counts.deprecated
        with self.store.session(readonly=True) as s:
            history = g.recent_deletions(session=s, env=self.env, exclude_run=run.id) if removed else []
            writes = g.glue_writes_of_run(session=s, run_id=run.id) if cfg.write_window_utc else []
        conds: list[Condition] = []
        usual = median(history)
        if removed >= cfg.deletion_spike_min and removed > cfg.deletion_spike_factor * max(usual, 1.0):
            conds.append(Condition(
                "security", f"deletion_spike:{self.env}",
                f"{removed} deletions in one run ({self.env})",
                f"run {run.id} deleted/deprecated {removed} objects; the usual volume is "
                f"{usual:g} (median of {len(history)} runs)",
                hint=SECURITY_HINTS["deletion_spike"], run_id=run.id,
                details={"removed": removed, "median": usual},
            ))
        if cfg.write_window_utc:
            outside = [w for w in writes if not _in_window(w.ts, cfg.write_window_utc)]
            if outside:
                conds.append(Condition(
                    "security", f"off_schedule:{self.env}",
                    f"{len(outside)} Glue write(s) outside {cfg.write_window_utc} UTC",
                    f"run {run.id} by {outside[0].actor} wrote {len(outside)} object(s) outside the "
                    f"write window {cfg.write_window_utc} UTC: "
                    + ", ".join(w.object for w in outside[:5]) + (" …" if len(outside) > 5 else ""),
                    hint=SECURITY_HINTS["off_schedule"], run_id=run.id,
                    details={"actor": outside[0].actor, "writes": len(outside)},
                ))
        fired: list[AlertOut] = []
        for cond in conds:
            fired += self.alerts.fire(cond)
        return fired


def record_config_change(
    store: Store,
    *,
    env: str,
    actor: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    object: str = "settings",
    version: str | None = None,
    comment: str | None = None,
    ts: datetime | None = None,
) -> SecurityEventOut:
    """A configuration change of ``env`` (also without settings at hand: ``config apply``):
    an audit record (``config_change``, with the redacted field diff) and a security event."""
    from core.store import repo

    record = audit.record_action(
        store, actor=actor, action="config_change", object=object, env=env,
        system=AuditSystem.CONFIG, before=before, after=after,
        details={"version": version, "comment": comment},
    )
    changed = [d["field"] for d in record.details.get("diff", [])]
    event = SecurityEventIn(ts=ts or _utcnow(), kind=events.CONFIG_CHANGED, actor=actor, source="config",
                            env=env, detail={"object": object, "version": version, "fields": changed[:100],
                                             "audit_id": record.id})
    with store.session() as s:
        return repo.record_security_event(session=s, event=event)


def install_store_sink(store: Store, settings: Settings) -> Callable[[], None]:
    """Store every security signal of this process (until the returned function is called)."""
    return events.add_security_sink(SecurityMonitor(store, settings).sink())


__all__ = ["SECURITY_HINTS", "SecurityMonitor", "fingerprint", "install_store_sink", "record_config_change"]
