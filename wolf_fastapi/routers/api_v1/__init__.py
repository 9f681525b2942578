"""The versioned API, ``/api/v1``: one module per resource.

=================================  ========  ============================================
route                              role      what
=================================  ========  ============================================
GET  /api/v1/connectivity          viewer    Datasphere, Glue and store checks + history
GET  /api/v1/assets                viewer    extracted assets (paginated, searchable)
GET  /api/v1/assets/{space}/{name} viewer    one asset
GET  /api/v1/lineage/{space}/{name} viewer   its lineage graph (``depth``, ``direction``)
POST /api/v1/jobs                  operator  start a plan, sync or validate job (202)
GET  /api/v1/jobs[/{id}[/events]]  viewer    jobs, one job, its progress as SSE
GET  /api/v1/runs[/{id}]           viewer    runs, one run with its items and diffs
GET  /api/v1/runs/{id}/validation  viewer    the validation report of a sync run
GET  /api/v1/validations[/{id}[/csv]] viewer validation reports (JSON, CSV)
GET  /api/v1/metrics/runs          viewer    per-run performance (JSON)
GET  /metrics                      viewer    Prometheus text
GET  /api/v1/status                viewer    per priority class: last run, next due; jobs
GET  /api/v1/audit[/export]        viewer    the audit trail (filters, pages; jsonl/csv/json stream)
GET  /api/v1/security-events       viewer    security events (filters)
GET  /api/v1/alerts                viewer    alerts with notifications sent, mutes in force
POST /api/v1/alerts/{id}/ack       operator  acknowledge an alert
POST|DELETE /api/v1/alerts/mutes   operator  mute / unmute a rule, kind, key or alert
GET  /api/v1/config[/versions[/{v}]|/diff] viewer effective configuration, versions, diff
POST /api/v1/config/validate       operator  validate a candidate (dry-run plan)
POST /api/v1/config/apply|promote|rollback admin a new configuration version
=================================  ========  ============================================

Every route requires the bearer key (``Authorization: Bearer …``) where the web baseline
requires authentication; the OpenAPI document declares the scheme (Swagger's *Authorize*) and
every error status with the :class:`~wolf_fastapi.errors.ErrorBody` envelope.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from core.connectivity import ConnectivityMonitor
from core.jobs import JobExecutor, JobService, ThreadExecutor
from core.services import Services
from wolf_fastapi.auth import bearer_scheme, require_operator, require_viewer
from wolf_fastapi.errors import error_responses
from wolf_fastapi.security import require_csrf

#: Errors any authenticated route can answer.
COMMON_ERRORS = error_responses(400, 401, 403, 422, 503)

#: Role checks of the routes (viewer reads; operator starts jobs).
VIEWER: list[Any] = [Security(bearer_scheme), Depends(require_viewer), Depends(require_csrf)]
OPERATOR: list[Any] = [Security(bearer_scheme), Depends(require_operator), Depends(require_csrf)]


def known_query_only(request: Request) -> None:
    """Refuse query parameters the route does not declare (422, each named): a misspelt
    filter (``?spce=SALES``) must not silently return everything."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    declared: set[str] = set()
    pending = [dependant]
    while pending:  # the route's own query parameters and those of its dependencies
        current = pending.pop()
        for param in current.query_params:
            annotation = param.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                return  # a query model (e.g. the audit filters) checks its own fields
            declared.add(param.alias)
        pending.extend(current.dependencies)
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        raise RequestValidationError([
            {"type": "extra_forbidden", "loc": ("query", name), "msg": "unknown query parameter",
             "input": request.query_params.get(name)} for name in unknown
        ])


def include(app: FastAPI) -> None:
    """Add every ``/api/v1`` route, and ``/metrics``, to ``app``."""
    from wolf_fastapi.routers.api_v1 import (
        assets,
        connectivity,
        governance,
        jobs,
        lineage,
        metrics,
        runs,
        status,
        validations,
    )
    from wolf_fastapi.routers.api_v1 import config as config_routes

    router = APIRouter(prefix="/api/v1", responses=COMMON_ERRORS, dependencies=[Depends(known_query_only)])
    for module in (connectivity, assets, lineage, jobs, runs, validations, metrics, status):
        router.include_router(module.router)
    router.include_router(governance.router)  # gov-web
    router.include_router(config_routes.router)
    app.include_router(router)
    app.include_router(metrics.prometheus, responses=COMMON_ERRORS, dependencies=[Depends(known_query_only)])


def start(app: FastAPI, services: Services, executor: JobExecutor | None = None) -> None:
    """Build the job service and the connectivity monitor of the app (in its lifespan)."""
    app.state.jobs = JobService(services, executor or ThreadExecutor())
    app.state.connectivity = ConnectivityMonitor(services)


def stop(app: FastAPI, timeout: float = 30.0) -> None:
    """Ask running jobs of this process to stop after the objects in flight; wait for them."""
    jobs: JobService | None = getattr(app.state, "jobs", None)
    if jobs is not None:
        jobs.executor.shutdown(timeout)
