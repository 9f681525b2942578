"""``/login`` for the dashboard: trade an API key for a session cookie naming its principal
(kind, name, role; signed, never the key), so a viewer logged in by cookie stays a viewer."""

from __future__ import annotations

from urllib.parse import parse_qs

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core.apikeys import Principal
from core.governance import audit
from wolf_fastapi.auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    api_keys,
    client_source,
    frontend_of,
    needs_auth,
    session_cookie_value,
)
from wolf_fastapi.deps import SettingsDep
from wolf_fastapi.web import templates

router = APIRouter(tags=["dashboard"], include_in_schema=False)

#: Form posts larger than this are refused unread.
MAX_FORM_BYTES = 4096


def _page(request: Request, settings: SettingsDep, *, failed: bool = False) -> HTMLResponse:
    return templates().TemplateResponse(
        request,
        "wolf/login.html",
        {"env": settings.env, "tenant": settings.tenant_name, "failed": failed,
         "root": request.scope.get("root_path", "")},
        status_code=401 if failed else 200,
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, settings: SettingsDep) -> HTMLResponse:
    return _page(request, settings)


def _login(request: Request, token: str | None) -> Principal | None:
    """Authenticate the posted key (a failure is recorded) and audit the login."""
    source = client_source(request)
    keys = api_keys(request)
    if token is None:
        keys.monitor.record_failed_auth(source=source, reason="dashboard login without a key or too large",
                                        frontend=frontend_of(request))
        return None
    principal = keys.authenticate(token, source, frontend=frontend_of(request))
    if principal is not None:
        audit.record_action(keys.store, actor=principal.actor, action="login", object="dashboard",
                            env=keys.settings.env, details={"source": source, "frontend": frontend_of(request)})
    return principal


@router.post("/login")
async def login(request: Request, settings: SettingsDep) -> Response:
    root = request.scope.get("root_path", "")
    if not needs_auth(request):
        return RedirectResponse(root + "/", status_code=303)
    body = await request.body()  # the CSRF dependency has checked the form's csrf_token
    token = None
    if len(body) <= MAX_FORM_BYTES:
        token = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0].strip() or None
    principal = await anyio.to_thread.run_sync(_login, request, token)
    if principal is None:
        return _page(request, settings, failed=True)
    response = RedirectResponse(root + "/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, session_cookie_value(request, principal), httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path=root + "/", max_age=SESSION_MAX_AGE_S,
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    root = request.scope.get("root_path", "")
    response = RedirectResponse(root + "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=root + "/")
    return response
