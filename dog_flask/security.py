"""Dog's adapter of the web baseline (``core/websec.py``).

Every request: the ``Host`` allow-list (DNS rebinding), loopback only unless Dog was started
with a token (then the sign-in of ``dog_flask/auth.py``), CSRF on every state-changing request (form field ``csrf_token`` or the ``X-CSRF-Token`` header htmx sends);
every response: the security headers. Templates call ``csrf_token()``.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request
from werkzeug.wrappers import Response as BaseResponse

from core import websec
from core.websec import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, WebPolicy
from dog_flask import auth

POLICY_KEY = "dgsync.websec"


def policy() -> WebPolicy:
    found: WebPolicy = current_app.extensions[POLICY_KEY]
    return found


def _session_id() -> str:
    """The browser's CSRF session id (a new one when it has none or a malformed one)."""
    if "csrf_session" not in g:
        given = request.cookies.get(CSRF_COOKIE)
        g.csrf_session = given if websec.CsrfSigner.valid_session_id(given) else websec.CsrfSigner.new_session_id()
    sid: str = g.csrf_session
    return sid


def csrf_token() -> str:
    """The CSRF token of this browser session (for forms and the htmx header)."""
    return policy().csrf.token_for(_session_id())


def _before() -> BaseResponse | None:
    current = policy()
    # The werkzeug server puts its bind address in SERVER_NAME. A request that arrives on a
    # non-loopback address needs the sign-in (dog_flask/auth.py); without a configured token
    # (Dog started some other way on such an address) it is refused: fail closed.
    server = request.environ.get("SERVER_NAME")
    remote = bool(server) and not websec.is_loopback(server)
    if (remote or current.auth_required) and not current.has_token:
        raise websec.NotLoopback(f"Dog does not serve requests that arrive on {server!r}")
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.method not in websec.SAFE_METHODS:
        token = request.form.get(CSRF_FIELD)
    websec.check_request(
        current,
        method=request.method,
        host=request.host,
        csrf_session=request.cookies.get(CSRF_COOKIE),
        csrf_token=token,
        authenticated=(remote or current.auth_required) and auth.bearer_ok(),
    )
    if remote or current.auth_required:
        return auth.require(current)
    return None


def _after(response: Response) -> Response:
    https = websec.is_https(request.scheme, {k.lower(): v for k, v in request.headers.items()})
    for name, value in websec.security_headers(https=https).items():
        response.headers.setdefault(name, value)
    sid = g.get("csrf_session")
    if sid is not None and sid != request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, sid, httponly=True, samesite="Strict", secure=https, path="/")
    return response


def init_security(app: Flask, web_policy: WebPolicy) -> None:
    """Install the baseline on ``app``."""
    app.extensions[POLICY_KEY] = web_policy
    app.before_request(_before)
    app.after_request(_after)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csrf_field"] = CSRF_FIELD
