"""Bearer-token authentication of the Wolf/Bear API (every route but ``/health``, ``/login``
and ``/static``).

When it is required is the web baseline's decision (``core.websec.web_policy``): always in
Bear and outside the ``dog`` profile, and whenever Wolf listens on (or a request arrives on) a
non-loopback address, whatever the profile. The token must be strong (>= 128 bits, see
``dgsync keys create``); requests carry ``Authorization: Bearer <token>``, compared in
constant time.

A browser cannot send that header, so the dashboard has ``/login``: posting the token there
sets an ``HttpOnly``, ``SameSite=Strict`` cookie holding an HMAC of the token (never the token
itself). The cookie is accepted for reads (GET/HEAD) only; writes need the bearer header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from core.errors import ConfigError
from core.log import register_secret
from core.settings import Settings
from core.websec import AppName, WebPolicy, web_policy
from wolf_fastapi.deps import SettingsDep

TOKEN_HINT = "Generate one with `dgsync keys create` and set it as DGSYNC_API_TOKEN."


class Unauthorized(Exception):
    """The request carries no valid bearer token (answered with 401)."""


def check_api_token(settings: Settings, *, app: AppName = "wolf", bind_host: str | None = None) -> WebPolicy:
    """Check the settings for serving (token strength, bind, hosts) and register the token
    for redaction; return the web policy. Raises :class:`ConfigError` with the fix."""
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if token:
        register_secret(token)
    return web_policy(settings, app=app, bind_host=bind_host)


def policy_of(request: Request) -> WebPolicy:
    found: WebPolicy | None = getattr(request.app.state, "web_policy", None)
    if found is None:
        raise ConfigError("the app has not been started: no web policy",
                          hint="Serve the app with its lifespan (uvicorn, Mangum, or `with TestClient(app)`).")
    return found


def needs_auth(request: Request) -> bool:
    """Whether this request must authenticate (the policy, or it arrived on a non-loopback address)."""
    server = request.scope.get("server")
    return policy_of(request).needs_auth(str(server[0]) if server else None)


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if any."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


#: The dashboard session cookie.
SESSION_COOKIE = "dgsync_session"
_SESSION_PURPOSE = b"dgsync-dashboard-session-v1"


def session_value(settings: Settings) -> str:
    """The cookie value that proves the browser knew the token (rotates with the token)."""
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    return hmac.new(token.encode(), _SESSION_PURPOSE, hashlib.sha256).hexdigest()


def token_value_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; an unset token matches nothing."""
    return bool(expected) and given is not None and secrets.compare_digest(given.encode(), (expected or "").encode())


def token_matches(settings: Settings, given: str | None) -> bool:
    """Constant-time check of ``given`` against the configured API token."""
    expected = settings.api_token.get_secret_value() if settings.api_token else ""
    return token_value_matches(expected, given)


def require_token(request: Request, settings: SettingsDep) -> None:
    """Dependency: let the request through only with the right bearer token (when required)."""
    if not needs_auth(request):
        return
    if token_matches(settings, bearer_token(request)):
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if (
        request.method in ("GET", "HEAD")
        and cookie is not None
        and settings.api_token is not None
        and secrets.compare_digest(cookie.encode(), session_value(settings).encode())
    ):
        return
    raise Unauthorized()
