"""Authentication and roles of the Wolf/Bear API and dashboard (every route but ``/health``,
``/login`` and ``/static``).

When authentication is required is the web baseline's decision (``core.websec.web_policy``):
always in Bear and outside the ``dog`` profile, and whenever Wolf listens on (or a request
arrives on) a non-loopback address. Otherwise a request is the local admin
(``local:loopback/admin``), unless it presents a valid key.

Credentials: ``Authorization: Bearer <key>`` — a stored API key (``dgsync keys create``), the
bootstrap ``DGSYNC_API_TOKEN`` (admin), or an OIDC JWT when ``web.oidc`` is configured — all
checked by the framework-free :meth:`core.apikeys.ApiKeys.authenticate`. A browser cannot
send that header, so the dashboard has ``/login``: posting a key there sets an ``HttpOnly``,
``SameSite=Strict`` cookie carrying the *principal* (kind, name, role, expiry; signed, never
the key). A viewer's cookie stays a viewer; a revoked key's cookie stops working at once;
writes by cookie also need the CSRF token (:func:`wolf_fastapi.security.require_csrf`).

Routes declare the role they need with ``dependencies=[Depends(require_role("operator"))]``
(viewer: reads; operator: plan, sync, validate; admin: keys, configuration); the dependency
sets ``request.state.principal`` (use :func:`principal_of` / ``PrincipalDep`` for the audit
actor). Failed logins (401) and role denials (403) are recorded as security events with the
client address, never the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.apikeys import ApiKeys, Principal, local_principal, parse_role
from core.errors import ConfigError
from core.log import get_logger, register_secret
from core.settings import Settings
from core.websec import AppName, WebPolicy, csrf_key, web_policy

log = get_logger(__name__)

TOKEN_HINT = "Create a key with `dgsync keys create --name NAME --role viewer|operator|admin`."


class Unauthorized(Exception):
    """The request carries no valid credentials (answered with 401)."""


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


def client_source(request: Request) -> str:
    """The client address recorded with security events (API Gateway's source IP in Bear)."""
    return request.client.host if request.client else "unknown"


def frontend_of(request: Request) -> str:
    policy: WebPolicy | None = getattr(request.app.state, "web_policy", None)
    return policy.app if policy is not None else "wolf"


def token_value_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; an unset token matches nothing."""
    return bool(expected) and given is not None and secrets.compare_digest(given.encode(), (expected or "").encode())


def token_matches(settings: Settings, given: str | None) -> bool:
    """Constant-time check of ``given`` against the bootstrap API token."""
    expected = settings.api_token.get_secret_value() if settings.api_token else ""
    return token_value_matches(expected, given)


def api_keys(request: Request) -> ApiKeys:
    """The app's :class:`ApiKeys` (built once, on the app's services)."""
    found: ApiKeys | None = getattr(request.app.state, "api_keys", None)
    if found is None:
        services = getattr(request.app.state, "services", None)
        if services is None:
            raise ConfigError("the app has not been started: no services",
                              hint="Serve the app with its lifespan (uvicorn, Mangum, or `with TestClient(app)`).")
        found = ApiKeys(services.store(), services.settings)
        request.app.state.api_keys = found
    return found


# ----------------------------------------------------------------------- session cookie

#: The dashboard session cookie.
SESSION_COOKIE = "dgsync_session"
SESSION_MAX_AGE_S = 12 * 3600
_SESSION_PURPOSE = b"dgsync-dashboard-session-v2"


def _session_key(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, "session_key", None)
    if key is None:
        settings: Settings = request.app.state.settings
        key = hmac.new(csrf_key(settings), _SESSION_PURPOSE, hashlib.sha256).digest()
        request.app.state.session_key = key
    return key


def _bootstrap_binding(settings: Settings) -> str:
    """Ties a bootstrap session to the current token: rotating it signs those sessions out."""
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    return hmac.new(token.encode(), _SESSION_PURPOSE, hashlib.sha256).hexdigest()[:24]


def session_cookie_value(request: Request, principal: Principal, *, now: float | None = None) -> str:
    """The signed cookie value naming ``principal`` (no key, no token in it)."""
    expires = (now or time.time()) + SESSION_MAX_AGE_S
    if principal.expires_at is not None:
        expires = min(expires, principal.expires_at)  # an OIDC session ends with its token
    payload: dict[str, Any] = {"k": principal.kind, "n": principal.name, "r": principal.role, "e": int(expires)}
    if principal.key_id is not None:
        payload["i"] = principal.key_id
    if principal.kind == "bootstrap":
        payload["b"] = _bootstrap_binding(request.app.state.settings)
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    sig = hmac.new(_session_key(request), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{sig}"


def principal_from_cookie(request: Request, value: str) -> Principal | None:
    """The principal of a session cookie, if its signature, expiry and binding hold."""
    body, _, sig = value.partition(".")
    expected = hmac.new(_session_key(request), body.encode(), hashlib.sha256).hexdigest()
    if not sig or not hmac.compare_digest(sig.encode(), expected.encode()):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if int(payload["e"]) < time.time():
            return None
        kind = payload["k"]
        if kind not in ("key", "bootstrap", "oidc"):
            return None
        principal = Principal(kind=kind, name=str(payload["n"]), role=parse_role(str(payload["r"])),
                              key_id=payload.get("i"))
    except (ValueError, KeyError, TypeError, Exception):  # a malformed cookie is just invalid
        return None
    if kind == "bootstrap":
        settings: Settings = request.app.state.settings
        if not settings.api_token or not hmac.compare_digest(
            str(payload.get("b", "")).encode(), _bootstrap_binding(settings).encode()
        ):
            return None
    return principal


# --------------------------------------------------------------------- authentication


def authenticate_request(request: Request) -> Principal | None:
    """Who sent ``request`` (bearer first, then the session cookie), or ``None`` when it
    must authenticate and cannot. Sets ``request.state.principal`` and ``auth_via``
    (``bearer``, ``cookie`` or ``local``). Failed attempts are recorded."""
    required = needs_auth(request)
    source = client_source(request)
    token = bearer_token(request)
    principal: Principal | None = None
    via = "bearer"
    if token is not None:
        principal = api_keys(request).authenticate(token, source, frontend=frontend_of(request))
    elif (cookie := request.cookies.get(SESSION_COOKIE)) is not None:
        via = "cookie"
        restored = principal_from_cookie(request, cookie)
        principal = api_keys(request).still_valid(restored) if restored is not None else None
        if principal is None and required:
            reason = "invalid or expired session cookie" if restored is None else \
                f"session of a revoked or expired key {restored.name}"
            api_keys(request).monitor.record_failed_auth(source=source, reason=reason,
                                                         frontend=frontend_of(request))
    if principal is None and not required:
        principal, via = local_principal(), "local"
    if principal is not None:
        request.state.principal = principal
        request.state.auth_via = via
    return principal


#: Declares the bearer scheme in OpenAPI (Swagger UI's Authorize button); the header itself is
#: read by :func:`authenticate_request`.
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="dgsync API key",
                           description="An API key (`dgsync keys create --name N --role viewer|operator|admin`), "
                                       "the bootstrap DGSYNC_API_TOKEN, or an OIDC JWT when web.oidc is "
                                       "configured, sent as `Authorization: Bearer <key>`.")
BearerSchemeDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def require_role(role: str) -> Callable[..., Principal]:
    """A dependency letting through only callers whose role is at least ``role``
    (401 without valid credentials, 403 — recorded — with a role too low)."""
    need = parse_role(role)

    def dependency(request: Request, _: BearerSchemeDep = None) -> Principal:
        principal = authenticate_request(request)
        if principal is None:
            raise Unauthorized()
        return api_keys(request).authorize(principal, need, source=client_source(request),
                                           object=f"{request.method} {request.url.path}",
                                           frontend=frontend_of(request))

    dependency.__name__ = f"require_{need}"
    return dependency


#: The dependencies of the three route classes.
require_viewer = require_role("viewer")
require_operator = require_role("operator")
require_admin = require_role("admin")
#: Old name (any authenticated caller): kept for routes not yet given a role.
require_token = require_viewer


def principal_of(request: Request) -> Principal:
    """The principal the role dependency set (the audit actor is ``.actor``)."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:
        raise ConfigError("no principal on this request", hint="Add a require_role(...) dependency to the route.")
    return found


PrincipalDep = Annotated[Principal, Depends(principal_of)]
