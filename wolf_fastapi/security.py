"""Wolf's (and so Bear's) adapter of the web baseline (``core/websec.py``): one ASGI middleware.

Every HTTP request: the ``Host`` allow-list (400), CSRF on every state-changing request that
is not authenticated by an ``Authorization`` header (403; the token comes in the
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
from core.websec import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, WebPolicy
from wolf_fastapi.statuses import body_for

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
    return {"csrf_token": token, "csrf_field": CSRF_FIELD}


def bearer_matches(policy: WebPolicy, headers: Headers, token: str | None) -> bool:
    from wolf_fastapi.auth import token_value_matches

    scheme, _, given = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and token_value_matches(token, given.strip() or None)


class WebBaselineMiddleware:
    """Host allow-list, CSRF and security headers around the whole app (static files too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app_state = scope["app"].state if "app" in scope else None
        policy: WebPolicy | None = getattr(app_state, "web_policy", None)
        settings = getattr(app_state, "settings", None)
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

        if policy is None:  # not started (no lifespan): the routes answer with their own error
            await self.app(scope, receive, send_with_headers)
            return
        try:
            token = settings.api_token.get_secret_value() if settings is not None and settings.api_token else None
            authenticated = bearer_matches(policy, headers, token)
            csrf_token = headers.get(CSRF_HEADER)
            method = scope["method"].upper()
            if csrf_token is None and method not in websec.SAFE_METHODS and not authenticated:
                receive, csrf_token = await _form_field(scope, receive, headers, CSRF_FIELD)
            websec.check_request(
                policy, method=method, host=headers.get("host"), csrf_session=given_sid,
                csrf_token=csrf_token, authenticated=authenticated,
            )
        except websec.RequestRejected as exc:
            await JSONResponse(body_for(exc), status_code=exc.status)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


async def _form_field(scope: Scope, receive: Receive, headers: Headers, field: str) -> tuple[Receive, str | None]:
    """Read a urlencoded body to find ``field``; return a ``receive`` that replays the body."""
    if headers.get("content-type", "").split(";")[0].strip().lower() != _FORM:
        return receive, None
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise FormTooLarge()
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    value = parse_qs(body.decode("utf-8", "replace")).get(field, [None])[0]
    return replay, value


class FormTooLarge(websec.RequestRejected):
    status = 413
    default_hint = "Post a smaller form."

    def __init__(self) -> None:
        super().__init__("the form is too large")
