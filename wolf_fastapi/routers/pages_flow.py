"""The guided flow **Plan → Sync → Validate** on one page (``/flow``).

1. The scope form (spaces checked against the tenant: an unknown space is an error listing the
   known ones, and the form keeps what was typed) starts a **plan job**.
2. The page polls the job (htmx, every second: Bear has no SSE) and shows its progress, then
   the field-level diffs and the impact of every change, and **Apply**.
3. Apply starts a **sync job** of the same scope: progress, then the run summary.
4. **Validate** starts a validate job: progress, then the verdict and the report.

Every step is a job of :mod:`core.jobs` (never work inside a request); the job ids live in the
URL (``/flow?plan=…&sync=…&validate=…``), so a reload or a shared link shows the same flow.
Forms need the operator role and the CSRF token.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core.errors import DgsyncError, InputError
from core.jobs import Job, JobKind, JobScope
from core.models import AssetKind, Priority
from core.scope import check_spaces, split_spaces
from core.services import Services
from wolf_fastapi.auth import require_operator
from wolf_fastapi.deps import ServicesDep
from wolf_fastapi.jobs_ui import job_context, jobs_of
from wolf_fastapi.ui import actor_of, is_htmx, render, root_of

router = APIRouter(tags=["dashboard"], include_in_schema=False)
operator = [Depends(require_operator)]

STEPS = ("plan", "sync", "validate")
_SPACES_TTL_S = 60.0
_spaces_cache: dict[int, tuple[float, list[str]]] = {}


def known_spaces(services: Services) -> list[str]:
    """The tenant's space ids (one catalog call, cached for a minute)."""
    cached = _spaces_cache.get(id(services))
    if cached is not None and time.monotonic() - cached[0] < _SPACES_TTL_S:
        return cached[1]
    names = sorted(s.name for s in services.datasphere_client().iter_spaces())
    _spaces_cache[id(services)] = (time.monotonic(), names)
    return names


async def _form(request: Request) -> dict[str, list[str]]:
    """The posted form (read after the CSRF check, which reads and caches the body first)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InputError("the form is too large", hint="Post the scope form of the page.")
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


FormDep = Annotated[dict[str, list[str]], Depends(_form)]
MAX_FORM_BYTES = 16 * 1024


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def _get_job(request: Request, job_id: str | None, kind: JobKind) -> Job | None:
    if not job_id:
        return None
    job = jobs_of(request).get(job_id)
    if job.kind is not kind:
        raise InputError(f"job {job_id} is a {job.kind.value} job, not a {kind.value} job",
                         hint="Start the flow again from the scope form.")
    return job


def _flow_context(request: Request, services: Services, plan: str | None, sync: str | None,
                  validate: str | None) -> dict[str, Any]:
    jobs = {"plan": _get_job(request, plan, JobKind.PLAN), "sync": _get_job(request, sync, JobKind.SYNC),
            "validate": _get_job(request, validate, JobKind.VALIDATE)}
    current = next((s for s in reversed(STEPS) if jobs[s] is not None), "scope")
    return {"jobs": jobs, "ids": {"plan": plan or "", "sync": sync or "", "validate": validate or ""},
            "current": current, "kinds": list(AssetKind), "priorities": list(Priority)}


@router.get("/flow", response_class=HTMLResponse)
def flow_page(request: Request, services: ServicesDep, plan: str | None = None, sync: str | None = None,
              validate: str | None = None) -> HTMLResponse:
    context = _flow_context(request, services, plan, sync, validate)
    scope = context["jobs"]["plan"].scope if context["jobs"]["plan"] else None
    form = {"spaces": " ".join(scope.spaces) if scope else "", "kinds": [k.value for k in scope.kinds] if scope else [],
            "priority": scope.priority.value if scope and scope.priority else ""}
    recent = jobs_of(request).list(limit=8)
    return render(request, "wolf/flow/index.html", {**context, "form": form, "recent": recent}, active="flow")


def _go(request: Request, **ids: str) -> Response:
    """To the flow page with these job ids (htmx: ``HX-Redirect``; a plain form: 303)."""
    target = root_of(request) + "/flow?" + urlencode({k: v for k, v in ids.items() if v})
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.post("/flow/plan", dependencies=operator)
def start_plan(request: Request, services: ServicesDep, posted: FormDep) -> Response:
    """Check the scope, then start the plan job."""
    spaces, kinds, priority = _one(posted, "spaces"), posted.get("kinds") or [], _one(posted, "priority")
    form = {"spaces": spaces, "kinds": kinds or [], "priority": priority}
    try:
        chosen = check_spaces(split_spaces(spaces), known_spaces(services))
        scope = JobScope.model_validate({"spaces": chosen, "kinds": [k for k in kinds or [] if k],
                                         "priority": priority or None})
    except DgsyncError as exc:
        return _scope_error(request, form, exc.code, exc.message, exc.hint)
    except ValueError:
        return _scope_error(request, form, "invalid_scope", "unknown asset kind or priority",
                            f"Pick kinds from: {', '.join(k.value for k in AssetKind)}; "
                            f"priority from: {', '.join(p.value for p in Priority)}.")
    job = jobs_of(request).submit(JobKind.PLAN, scope, actor=actor_of(request))
    return _go(request, plan=job.id)


def _scope_error(request: Request, form: dict[str, Any], code: str, message: str, hint: str) -> HTMLResponse:
    """The scope form again, with what was typed and the error above it (422)."""
    context = {"form": form, "error": {"code": code, "message": message, "hint": hint},
               "kinds": list(AssetKind), "priorities": list(Priority), "current": "scope"}
    template = "wolf/flow/_scope.html" if is_htmx(request) else "wolf/flow/index.html"
    if template.endswith("index.html"):
        context.update({"jobs": {"plan": None, "sync": None, "validate": None},
                        "ids": {"plan": "", "sync": "", "validate": ""}, "recent": []})
    return render(request, template, context, status_code=422, active="flow")


@router.post("/flow/sync", dependencies=operator)
def start_sync(request: Request, posted: FormDep) -> Response:
    """Apply: sync exactly the scope of the plan job ``plan``."""
    plan = _one(posted, "plan")
    if not plan:
        raise InputError("no plan to apply", hint="Plan first: Apply syncs exactly the scope of a plan.")
    planned = _get_job(request, plan, JobKind.PLAN)
    assert planned is not None
    if not planned.finished or planned.status.value == "failed":
        raise InputError(f"plan job {plan} has not produced a plan", hint="Wait for the plan to finish, or plan again.")
    job = jobs_of(request).submit(JobKind.SYNC, planned.scope, actor=actor_of(request))
    return _go(request, plan=plan, sync=job.id)


@router.post("/flow/validate", dependencies=operator)
def start_validate(request: Request, services: ServicesDep, posted: FormDep) -> Response:
    """Validate the scope of the flow (or the spaces given): Glue against Datasphere."""
    plan, sync, spaces = _one(posted, "plan"), _one(posted, "sync"), _one(posted, "spaces")
    synced = _get_job(request, sync, JobKind.SYNC)
    source = synced or _get_job(request, plan, JobKind.PLAN)
    if source is not None:  # the flow's scope; after a sync, the report is attached to its run
        scope = source.scope.model_copy(update={"run_id": synced.run_id if synced else None, "validate_after": False})
    else:
        scope = JobScope(spaces=check_spaces(split_spaces(spaces), known_spaces(services)) if spaces else [])
    job = jobs_of(request).submit(JobKind.VALIDATE, scope, actor=actor_of(request))
    return _go(request, plan=plan, sync=sync, validate=job.id)


@router.get("/flow/jobs/{job_id}", response_class=HTMLResponse)
def job_fragment(request: Request, job_id: str, plan: str = "", sync: str = "", validate: str = "") -> HTMLResponse:
    """One step's job: its progress while it runs (the fragment polls itself), then its result."""
    job = jobs_of(request).get(job_id)
    ids = {"plan": plan, "sync": sync, "validate": validate}
    return render(request, "wolf/flow/_job.html", {**job_context(job), "ids": ids})
