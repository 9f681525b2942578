"""Governance pages: **Audit** (``/audit``: filters, pages, export links), **Alerts**
(``/alerts``: open/acked/resolved, escalation level, notifications sent; ack and mute for
operators), **Security** (``/security``: security events) and **Configuration**
(``/configuration``: the applied version, history, a diff of two versions; validate for
operators, apply and rollback for admins). With the dry-run plan checked, validate, apply and
roll back start a configuration job (:mod:`core.config_jobs`: the plan reads the whole tenant,
too long for a request) and go to ``/configuration?job=ID``, whose job fragment polls itself
(htmx, every second) until the validation — and the stored version — is there.

Thin: the same core services as ``/api/v1`` (wolf_fastapi/routers/api_v1/governance.py and
config.py) and the CLI. Forms post with the CSRF token; each write route requires its role
itself (viewers get the pages, their buttons disabled) and is audited with the caller's actor.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core import config_jobs, config_ops
from core import config_versions as cv
from core.errors import ConfigError, DgsyncError, InputError
from core.jobs import Job
from core.store import repo
from core.store.governance import count_audit
from core.store.schemas import AuditFilter, AuditSystem, utcnow
from wolf_fastapi.auth import require_admin, require_operator
from wolf_fastapi.deps import ServicesDep
from wolf_fastapi.jobs_ui import jobs_of
from wolf_fastapi.routers.api_v1.config import version_or_404
from wolf_fastapi.routers.api_v1.governance import (
    ack_alert,
    alert_service,
    alerts_with_notifications,
)
from wolf_fastapi.ui import actor_of, page_window, render, root_of

router = APIRouter(tags=["dashboard"], include_in_schema=False)
operator = [Depends(require_operator)]
admin = [Depends(require_admin)]

AUDIT_PAGE_SIZE = 50
MAX_FORM_BYTES = 1_100_000  # a rules file fits
_WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
            "30d": timedelta(days=30), "": None}


def _since(window: str) -> datetime | None:
    span = _WINDOWS.get(window)
    return utcnow() - span if span is not None else None


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InputError("the form is too large", hint="Post the form of the page.")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


FormDep = Annotated[dict[str, str], Depends(_form)]


def _back(request: Request, path: str, **params: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{root_of(request)}{path}{'?' + query if query else ''}", status_code=303)


# ------------------------------------------------------------------ audit


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, services: ServicesDep,
    actor: str = "", action: str = "", object: str = "", run: str = "", q: str = "",
    system: str = "", window: Annotated[str, Query(pattern="^(1h|24h|7d|30d|)$")] = "",
    env: str = "", page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    filters = AuditFilter(
        actor=actor or None, action=action or None, object_contains=object or None, run_id=run or None,
        search=q or None, system=AuditSystem(system) if system in {s.value for s in AuditSystem} else None,
        since=_since(window), env=env or None,
    )
    with services.store().session(readonly=True) as session:
        total = count_audit(session=session, filters=filters)
        page, pages, offset = page_window(total, page, AUDIT_PAGE_SIZE)
        records = repo.query_audit(session=session, filters=filters, limit=AUDIT_PAGE_SIZE, offset=offset)
    form = {"actor": actor, "action": action, "object": object, "run": run, "q": q, "system": system,
            "window": window, "env": env}
    api = {k: v for k, v in form.items() if v and k not in ("window",)}
    if filters.since is not None:
        api["since"] = filters.since.isoformat(timespec="seconds")
    return render(request, "wolf/governance/audit.html", {
        "records": records, "total": total, "page": page, "pages": pages, "form": form,
        "query": urlencode({k: v for k, v in form.items() if v}), "export_query": urlencode(api),
        "systems": [s.value for s in AuditSystem], "windows": [w for w in _WINDOWS if w],
    }, active="audit")


# ------------------------------------------------------------------ alerts


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, services: ServicesDep,
                status: Annotated[str, Query(pattern="^(active|open|acked|resolved|all)$")] = "active") -> HTMLResponse:
    wanted = {"active": ["open", "acked"], "all": None}.get(status, [status])
    alerts = alerts_with_notifications(services, wanted, 200)
    mutes = alert_service(services).mutes()
    return render(request, "wolf/governance/alerts.html",
                  {"alerts": alerts, "mutes": mutes, "status": status,
                   "tabs": ["active", "open", "acked", "resolved", "all"],
                   "rules": [r.name for r in alert_service(services).rules]}, active="alerts")


@router.post("/alerts/{alert_id}/ack", dependencies=operator)
def alerts_ack(request: Request, alert_id: int, services: ServicesDep, posted: FormDep) -> Response:
    ack_alert(services, alert_id, actor_of(request))
    return _back(request, "/alerts", status=posted.get("status", ""))


@router.post("/alerts/mute", dependencies=operator)
def alerts_mute(request: Request, services: ServicesDep, posted: FormDep) -> Response:
    target = posted.get("target", "").strip()
    try:
        minutes = int(posted.get("minutes", "60") or 60)
    except ValueError:
        minutes = -1
    if not target or not 1 <= minutes <= 60 * 24 * 90:
        raise InputError("a mute needs a target and 1 to 129600 minutes",
                         hint="Name a rule, an alert kind, a dedup key or an alert id, and how long.")
    alert_service(services).mute(target, duration=timedelta(minutes=minutes), actor=actor_of(request),
                                 reason=posted.get("reason") or None)
    return _back(request, "/alerts")


@router.post("/alerts/unmute", dependencies=operator)
def alerts_unmute(request: Request, services: ServicesDep, posted: FormDep) -> Response:
    target = posted.get("target", "").strip()
    if not target:
        raise InputError("no target to unmute", hint="Use the Unmute button of a mute.")
    alert_service(services).unmute(target, actor=actor_of(request))
    return _back(request, "/alerts")


# ------------------------------------------------------------------ security events


@router.get("/security", response_class=HTMLResponse)
def security_page(
    request: Request, services: ServicesDep, kind: str = "", source: str = "", actor: str = "",
    window: Annotated[str, Query(pattern="^(1h|24h|7d|30d|)$")] = "7d",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> HTMLResponse:
    since = _since(window)
    with services.store().session(readonly=True) as s:
        events = repo.list_security_events(session=s, since=since, kind=kind or None, source=source or None,
                                           actor=actor or None, limit=limit)
    counts: dict[str, int] = {}
    for e in events:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    return render(request, "wolf/governance/security.html", {
        "events": events, "counts": counts, "limit": limit, "windows": [w for w in _WINDOWS if w],
        "form": {"kind": kind, "source": source, "actor": actor, "window": window},
    }, active="security")


# ------------------------------------------------------------------ configuration


def _config_context(services: Any, *, old: int | None = None, new: int | None = None) -> dict[str, Any]:
    current, version = config_ops.applied_or_current(services)
    history = cv.history(services.store(), services.settings.env, limit=100)
    context: dict[str, Any] = {"current": current, "version": version, "history": history,
                               "rendered": cv.render(current), "old": old, "new": new, "diff": None}
    if old is not None:
        a = version_or_404(services, old)
        b = version_or_404(services, new) if new is not None else version
        if b is not None:
            context["new"] = b.id
            context["diff"] = cv.diff(cv.from_version(a), cv.from_version(b), old_name=f"version {a.id}",
                                      new_name=f"version {b.id}") or ""
    return context


def _config_job(request: Request, job_id: str) -> Job:
    job = jobs_of(request).get(job_id)
    if job.kind not in config_jobs.CONFIG_KINDS:
        raise InputError(f"job {job_id} is a {job.kind.value} job, not a configuration job",
                         hint="Open the configuration page without `job`.")
    return job


@router.get("/configuration", response_class=HTMLResponse)
def config_page(request: Request, services: ServicesDep,
                old: Annotated[int | None, Query(alias="from", ge=1)] = None,
                new: Annotated[int | None, Query(alias="to", ge=1)] = None,
                job: Annotated[str | None, Query(max_length=32, pattern=r"^[0-9A-Za-z]+$")] = None) -> HTMLResponse:
    context = _config_context(services, old=old, new=new)
    if job:  # a configuration job: its progress, then its result; the form keeps its candidate
        context["job"] = _config_job(request, job)
        payload = config_jobs.stored_payload(services.store(), job) or {}
        if payload.get("action") in ("validate", "apply"):
            context["draft"] = (payload.get("config") or {}).get("rules", "")
    return render(request, "wolf/governance/config.html", context, active="configuration")


@router.get("/configuration/jobs/{job_id}", response_class=HTMLResponse)
def config_job_fragment(request: Request, job_id: str) -> HTMLResponse:
    """A configuration job: its progress (the fragment polls itself), then its result."""
    return render(request, "wolf/governance/_config_job.html", {"job": _config_job(request, job_id)})


def _start(request: Request, config: cv.EffectiveConfig, action: str, **options: Any) -> Response:
    """Start the configuration job of ``config`` and show it on the page (303)."""
    job = config_jobs.submit(jobs_of(request), config, actor=actor_of(request), action=action, **options)
    return _back(request, "/configuration", job=job.id)


def _validation_page(request: Request, services: ServicesDep, result: cv.Validation | None, *,
                     rules: str, error: DgsyncError | None = None, status_code: int = 200) -> HTMLResponse:
    context = {**_config_context(services), "validation": result, "draft": rules,
               "error": {"code": error.code, "message": error.message, "hint": error.hint} if error else None}
    return render(request, "wolf/governance/config.html", context, active="configuration",
                  status_code=status_code)


@router.post("/configuration/validate", dependencies=operator, response_class=HTMLResponse)
def config_validate(request: Request, services: ServicesDep, posted: FormDep) -> Response:
    rules = posted.get("rules", "")
    try:
        candidate = config_ops.edited(config_ops.applied_or_current(services)[0], rules=rules)
        if posted.get("plan") == "on":  # the dry-run plan reads the tenant: a job
            return _start(request, candidate, "validate")
        result = config_ops.check(services, candidate, plan=False)
    except ConfigError as exc:
        return _validation_page(request, services, None, rules=rules, error=exc, status_code=422)
    return _validation_page(request, services, result, rules=rules, status_code=200 if result.ok else 422)


@router.post("/configuration/apply", dependencies=admin, response_class=HTMLResponse)
def config_apply(request: Request, services: ServicesDep, posted: FormDep) -> Response:
    rules = posted.get("rules", "")
    try:
        candidate = config_ops.edited(config_ops.applied_or_current(services)[0], rules=rules)
        if posted.get("plan") == "on":
            return _start(request, candidate, "apply", comment=posted.get("comment") or None)
        result, version = config_ops.validate_and_apply(
            services, candidate, action="apply", author=actor_of(request), comment=posted.get("comment") or None,
            plan=False)
    except ConfigError as exc:
        return _validation_page(request, services, None, rules=rules, error=exc, status_code=422)
    if version is None:
        return _validation_page(request, services, result, rules=rules, status_code=422)
    return _back(request, "/configuration", applied=str(version.id))


@router.post("/configuration/rollback", dependencies=admin)
def config_rollback(request: Request, services: ServicesDep, posted: FormDep) -> Response:
    try:
        target = int(posted.get("to", ""))
    except ValueError:
        raise InputError("pick the version to roll back to", hint="Choose one in the history.") from None
    version_or_404(services, target)
    comment = posted.get("comment") or f"rollback to version {target}"
    try:
        if posted.get("plan") == "on":
            return _start(request, config_ops.rollback_candidate(services, target), "rollback", comment=comment,
                          source_id=target, rules_source=f"version {target} rules")
        result, version = config_ops.validate_and_apply(
            services, config_ops.rollback_candidate(services, target), action="rollback",
            author=actor_of(request), comment=comment, plan=False, source_id=target,
            rules_source=f"version {target} rules")
    except ConfigError as exc:
        return _validation_page(request, services, None, rules="", error=exc, status_code=422)
    if version is None:
        return _validation_page(request, services, result, rules="", status_code=422)
    return _back(request, "/configuration", applied=str(version.id))
