"""The Wolf app factory: ``create_app(settings=None) -> FastAPI`` (Bear serves the same app).

Settings are loaded in the lifespan when not given (never at import); ``Services`` are built
there too and closed at shutdown, unless the caller passes its own (Bear keeps one ``Services``
per Lambda container across invocations, so it owns them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Security
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from core import heap
from core.governance import hooks as governance_hooks
from core.jobs import JobExecutor
from core.services import Services, build_services
from core.settings import Settings, load_settings
from core.websec import AppName
from wolf_fastapi.auth import check_api_token, require_operator, require_viewer
from wolf_fastapi.errors import error_responses, install_error_handlers
from wolf_fastapi.routers import api_v1, dashboard, health, keys, login, plan, runs, status
from wolf_fastapi.routers.pages import PAGE_ROUTERS
from wolf_fastapi.security import WebBaselineMiddleware, require_csrf
from wolf_fastapi.web import STATIC_DIR


def api_docs_router(app: FastAPI) -> APIRouter:
    """``/openapi.json`` under the same auth as the API (``/docs`` and ``/redoc``: routers/docs.py)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    return router


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    bind_host: str | None = None,
    frontend: AppName = "wolf",
    job_executor: JobExecutor | None = None,
) -> FastAPI:
    """Build the Wolf app. ``services`` given: the caller owns (and closes) them.

    ``bind_host``: the address it will listen on (``python -m wolf_fastapi`` passes it; a
    non-loopback one requires a strong DGSYNC_API_TOKEN and DGSYNC_WEB__ALLOWED_HOSTS).
    ``frontend="bear"``: served by Bear (auth always required).
    ``job_executor``: who runs ``/api/v1/jobs`` (default: a thread of this process; Bear: a queue).
    """
    if services is not None and settings is None:
        settings = services.settings
    if settings is not None:
        check_api_token(settings, app=frontend, bind_host=bind_host)  # fail at build time when we can

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        current: Settings = settings if settings is not None else await anyio.to_thread.run_sync(load_settings)
        app.state.web_policy = check_api_token(current, app=frontend, bind_host=bind_host)
        owned = services is None
        current_services = services if services is not None else build_services(current)
        app.state.settings = current
        app.state.services = current_services
        # Security signals of this process (Datasphere 401/403, Glue AccessDenied...) go to
        # the state store from now on (opened on the first signal): core.governance.hooks.
        stop_governance = governance_hooks.startup(current_services)
        heap.watch()  # GC pauses on /metrics (the catalog's heap is kept out of the collector's way)
        api_v1.start(app, current_services, job_executor)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(api_v1.stop, app)
            stop_governance()
            if owned:
                await anyio.to_thread.run_sync(current_services.close)

    app = FastAPI(
        title=f"dgsync {frontend.title()}",
        summary="Monitor and drive the SAP Datasphere → AWS Glue sync.",
        version="0.1.0",
        lifespan=lifespan,
        # Served below behind the token (FastAPI's own would be public).
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.frontend = frontend  # page titles (Wolf or Bear) and live updates (SSE or polling)
    install_error_handlers(app)
    app.add_middleware(WebBaselineMiddleware)
    # Auth and role first (401/403), then CSRF (403) on state-changing requests. Roles:
    # viewer reads, operator plans/syncs/validates, admin manages keys and configuration.
    # Security(bearer_scheme) only declares the scheme in OpenAPI (Swagger's Authorize).
    bearer = Security(api_v1.bearer_scheme)
    viewer = [bearer, Depends(require_viewer), Depends(require_csrf)]
    operator = [bearer, Depends(require_operator), Depends(require_csrf)]
    errors = error_responses(400, 401, 403, 404, 422, 503)
    app.include_router(api_docs_router(app), dependencies=viewer)
    app.include_router(health.public)
    app.include_router(login.router, dependencies=[Depends(require_csrf)])
    app.include_router(health.router, dependencies=viewer, responses=errors)
    app.include_router(runs.router, dependencies=viewer, responses=errors)
    app.include_router(plan.router, dependencies=operator, responses=errors)
    app.include_router(status.router, dependencies=viewer, responses=errors)
    app.include_router(dashboard.router, dependencies=viewer)
    app.include_router(keys.router, dependencies=[bearer], responses=error_responses(400, 401, 403, 404, 409, 422, 503))
    app.include_router(keys.whoami_router, dependencies=[bearer], responses=errors)
    # The dashboard pages (wolf-ui): viewers read; each form route requires operator itself.
    for page_router in PAGE_ROUTERS:
        app.include_router(page_router, dependencies=viewer)
    api_v1.include(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The MCP server over streamable HTTP at /mcp (its own API-key check; docs/mcp.md).
    from mcp_server.http import mount_mcp

    mount_mcp(app)
    return app
