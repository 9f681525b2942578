"""Wolf's (and so Bear's) adapter of the web baseline (``core/websec.py``): one ASGI middleware.

Every HTTP request: the ``Host`` allow-list (400) and a CSRF session cookie; every route:
:func:`require_csrf` after the auth dependency, so a state-changing request that is not
authenticated by an ``Authorization`` header needs the CSRF token (403; in the
``X-CSRF-Token`` header htmx sends, or the ``csrf_token`` form field); every response: the
security headers (HSTS when the client came over HTTPS, also behind API Gateway / a proxy
that sets ``X-Forwarded-Proto``). Authentication itself is :mod:`wolf_fastapi.auth`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import websec
from core.http import body_for
from core.websec import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, WebPolicy

#: Form bodies larger than this are refused before a route sees them (the UI posts a few bytes).
MAX_FORM_BYTES = 64 * 1024
_FORM = "application/x-www-form-urlencoded"


def request_policy(request: Request) -> WebPolicy | None:
    found: WebPolicy | None = getattr(request.app.state, "web_policy", None)
    return found


def csrf_session(request: Request) -> str:
    """The browser's CSRF session id (set by the middleware on every HTTP request)."""
    sid: str = request.scope.get("state", {}).get("csrf_session", "")
    return sid


def template_context(request: Request) -> dict[str, Any]:
    """Jinja2 context processor: ``csrf_token`` and ``csrf_field`` for forms and htmx."""
    policy = request_policy(request)
    sid = csrf_session(request)
    token = policy.csrf.token_for(sid) if policy is not None and sid else ""
    frontend = getattr(request.app.state, "frontend", "wolf")
    # Bear (API Gateway + Lambda) buffers responses: its pages poll, they never stream (SSE).
    return {"csrf_token": token, "csrf_field": CSRF_FIELD, "app_title": frontend.title(),
            "live_updates": "poll" if frontend == "bear" else "sse"}


def bearer_matches(policy: WebPolicy, headers: Headers, token: str | None) -> bool:
    from wolf_fastapi.auth import token_value_matches

    scheme, _, given = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and token_value_matches(token, given.strip() or None)


class WebBaselineMiddleware:
    """Host allow-list, the CSRF session cookie and the security headers around the whole app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app_state = scope["app"].state if "app" in scope else None
        policy: WebPolicy | None = getattr(app_state, "web_policy", None)
        headers = Headers(scope=scope)
        https = websec.is_https(scope.get("scheme"), headers)
        given_sid = _cookie(headers, CSRF_COOKIE)
        sid = given_sid if websec.CsrfSigner.valid_session_id(given_sid) else websec.CsrfSigner.new_session_id()
        scope.setdefault("state", {})["csrf_session"] = sid
        set_cookie = sid != given_sid

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in websec.security_headers(https=https).items():
                    if name not in out:
                        out[name] = value
                if set_cookie:
                    secure = "; Secure" if https else ""
                    root = scope.get("root_path", "") or ""
                    out.append("set-cookie", f"{CSRF_COOKIE}={sid}; HttpOnly; Path={root}/; SameSite=Strict{secure}")
            await send(message)

        if policy is not None and not policy.host_ok(headers.get("host")):
            exc = websec.BadHost("the Host header names a host this deployment does not serve")
            await JSONResponse(body_for(exc), status_code=exc.status)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


async def require_csrf(request: Request) -> None:
    """Dependency (after auth): a state-changing request needs the CSRF token of its browser
    session, unless it is authenticated by an ``Authorization: Bearer`` header."""
    method = request.method.upper()
    if method in websec.SAFE_METHODS:
        return
    policy = request_policy(request)
    if policy is None:
        raise websec.CsrfFailed("the app has not been started: no web policy")
    settings = getattr(request.app.state, "settings", None)
    token = settings.api_token.get_secret_value() if settings is not None and settings.api_token else None
    # A request the auth dependency authenticated by its Authorization header (any key).
    by_header = getattr(request.state, "auth_via", None) == "bearer"
    authenticated = by_header or bearer_matches(policy, request.headers, token)
    given = request.headers.get(CSRF_HEADER)
    if given is None and not authenticated and request.headers.get("content-type", "").split(";")[0].strip().lower() == _FORM:
        body = await request.body()  # cached: the route can read it again
        if len(body) > MAX_FORM_BYTES:
            raise websec.CsrfFailed("the form is too large to carry a CSRF token")
        given = parse_qs(body.decode("utf-8", "replace")).get(CSRF_FIELD, [None])[0]
    websec.check_request(
        policy, method=method, host=request.headers.get("host"), csrf_session=_cookie(request.headers, CSRF_COOKIE),
        csrf_token=given, authenticated=authenticated,
    )


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None
