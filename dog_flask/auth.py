"""Dog's sign-in, needed only when Dog is reachable from elsewhere than this machine (the
Docker image binds 0.0.0.0 inside its container).

``core.websec.web_policy`` decides: on loopback (the default) Dog has no sign-in at all; on any
other address it starts only with a strong ``DGSYNC_API_TOKEN`` and explicit
``DGSYNC_WEB__ALLOWED_HOSTS``, and then every request but ``/health``, ``/login`` and
``/static`` must carry ``Authorization: Bearer <token>`` or the session cookie ``/login`` sets.
The cookie holds an HMAC of the token (never the token), is ``HttpOnly`` and
``SameSite=Strict``; unlike Wolf's read-only dashboard cookie it also allows the forms (Dog is a
workbench), which still need their CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import Unauthorized
from werkzeug.wrappers import Response as BaseResponse

from core.websec import WebPolicy

bp = Blueprint("auth", __name__)

SESSION_COOKIE = "dgsync_dog_session"
_PURPOSE = b"dgsync-dog-session-v1"
#: Endpoints anyone may reach (the health check, the sign-in, the static files).
PUBLIC = frozenset({"auth.health", "auth.login", "auth.login_post", "static", "home.favicon"})


class SignInRequired(Unauthorized):
    """A request without the token or the session cookie (401, with the hint)."""

    hint = "Sign in at /login with the DGSYNC_API_TOKEN of this Dog (scripts: Authorization: Bearer)."


def _token() -> str:
    settings = current_app.extensions["dgsync"].settings
    return settings.api_token.get_secret_value() if settings.api_token else ""


def session_value(token: str) -> str:
    return hmac.new(token.encode(), _PURPOSE, hashlib.sha256).hexdigest()


def _matches(expected: str, given: str | None) -> bool:
    return bool(expected) and given is not None and secrets.compare_digest(given.encode(), expected.encode())


def bearer_ok() -> bool:
    """Whether the request carries ``Authorization: Bearer <the token>``."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and _matches(_token(), given.strip())


def signed_in() -> bool:
    token = _token()
    return bearer_ok() or (bool(token) and _matches(session_value(token), request.cookies.get(SESSION_COOKIE)))


def require(policy: WebPolicy) -> BaseResponse | None:
    """Before a request that must authenticate: let it through, send a browser to /login, or
    refuse (401)."""
    if request.endpoint in PUBLIC or signed_in():
        return None
    if request.method == "GET" and not request.headers.get("HX-Request"):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    raise SignInRequired("sign in first: this Dog is reachable from other machines")


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("home.index")
    return target


@bp.get("/health")
def health() -> Response:
    """Liveness for the container's HEALTHCHECK (starts nothing, reads nothing)."""
    return jsonify({"status": "ok", "app": "dog"})


@bp.get("/login")
def login() -> str:
    return render_template("dog/login.html", failed=False, next=_safe_next(request.args.get("next")))


@bp.post("/login")
def login_post() -> BaseResponse | tuple[str, int]:
    target = _safe_next(request.form.get("next"))
    token = _token()
    if not token or not _matches(token, request.form.get("token", "").strip()):
        return render_template("dog/login.html", failed=True, next=target), 401
    response = redirect(target, code=303)
    response.set_cookie(SESSION_COOKIE, session_value(token), httponly=True, samesite="Strict",
                        secure=request.scheme == "https", path="/", max_age=12 * 3600)
    return response


@bp.post("/logout")
def logout() -> BaseResponse:
    response = redirect(url_for("auth.login"), code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
