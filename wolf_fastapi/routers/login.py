"""``/login`` for the dashboard: trade the API token for a read-only session cookie."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wolf_fastapi.auth import SESSION_COOKIE, needs_auth, session_value, token_matches
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


@router.post("/login")
async def login(request: Request, settings: SettingsDep) -> Response:
    root = request.scope.get("root_path", "")
    if not needs_auth(request):
        return RedirectResponse(root + "/", status_code=303)
    body = await request.body()  # the CSRF middleware has checked the form's csrf_token
    token = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace")).get("token", [""])[0]
    if len(body) > MAX_FORM_BYTES or not token_matches(settings, token.strip()):
        return _page(request, settings, failed=True)
    response = RedirectResponse(root + "/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, session_value(settings), httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path=root + "/", max_age=12 * 3600,
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    root = request.scope.get("root_path", "")
    response = RedirectResponse(root + "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=root + "/")
    return response
