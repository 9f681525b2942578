"""Bearer-token authentication of the Wolf/Bear API (every route but ``/health``).

In the ``dog`` profile (local, embedded systems) nothing is checked. Elsewhere the app refuses
to start without a real ``DGSYNC_API_TOKEN`` and every request must carry
``Authorization: Bearer <token>``, compared in constant time.

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
from core.settings import PLACEHOLDER_SECRETS, Settings
from wolf_fastapi.deps import SettingsDep

#: Shorter shared secrets are refused: they can be guessed over the network.
MIN_TOKEN_LENGTH = 16

TOKEN_HINT = "Set DGSYNC_API_TOKEN to a long random value, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`."


class Unauthorized(Exception):
    """The request carries no valid bearer token (answered with 401)."""


def auth_required(settings: Settings) -> bool:
    """Whether requests must authenticate (everywhere but the local dog profile)."""
    return settings.env != "dog"


def check_api_token(settings: Settings) -> None:
    """Refuse to serve outside dog without a real API token; register it for redaction."""
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if token:
        register_secret(token)
    if not auth_required(settings):
        return
    if token.strip().lower() in PLACEHOLDER_SECRETS:
        raise ConfigError(
            f"environment {settings.env!r} refuses to serve the API without DGSYNC_API_TOKEN",
            hint=TOKEN_HINT,
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"DGSYNC_API_TOKEN is shorter than {MIN_TOKEN_LENGTH} characters",
            hint=TOKEN_HINT,
        )


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


def token_matches(settings: Settings, given: str | None) -> bool:
    """Constant-time check of ``given`` against the configured API token."""
    expected = settings.api_token.get_secret_value() if settings.api_token else ""
    return bool(expected) and given is not None and secrets.compare_digest(given.encode(), expected.encode())


def require_token(request: Request, settings: SettingsDep) -> None:
    """Dependency: let the request through only with the right bearer token (outside dog)."""
    if not auth_required(settings):
        return
    if token_matches(settings, bearer_token(request)):
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if request.method in ("GET", "HEAD") and cookie is not None and secrets.compare_digest(
        cookie.encode(), session_value(settings).encode()
    ):
        return
    raise Unauthorized()
