"""Exception handlers: every error leaves as ``{"error": {"code", "message", "hint"}}``.

Core errors get the status of :mod:`core.http`; anything unexpected becomes a
generic 500 whose body says nothing about internals (the traceback goes to the log).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import DgsyncError
from core.http import RETRYABLE, body_for, error_body, status_for
from core.log import get_logger
from wolf_fastapi.auth import Unauthorized

log = get_logger(__name__)


class ErrorDetail(BaseModel):
    """What went wrong and what to do about it."""

    code: str = Field(description="Stable machine-readable name, e.g. `not_found`, `scope_held`.",
                      examples=["not_found"])
    message: str = Field(description="What went wrong (never a secret).")
    hint: str = Field(description="One sentence: what to do about it.")


class ErrorBody(BaseModel):
    """The one error envelope of the API: `{"error": {"code", "message", "hint"}}`."""

    error: ErrorDetail


#: What each documented error status means on this API.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request (e.g. a Host this deployment does not serve).",
    401: "Missing or invalid bearer token (`Authorization: Bearer <key>`).",
    403: "Authenticated, but the key's role may not do this (or a CSRF check failed); "
         "or Datasphere/Glue refused dgsync's credentials.",
    404: "No such resource (run, job, asset).",
    409: "Conflict: another sync holds an overlapping scope (`scope_held`, the holder is named), "
         "or a concurrent modification.",
    422: "The request is invalid: the named fields or parameters.",
    500: "Internal error, or the server's configuration is broken (the hint names the setting).",
    502: "Datasphere or Glue answered unexpectedly (or refused dgsync's credentials).",
    503: "A system is unavailable or throttling, or not ready yet (the catalog is being "
         "extracted); retry after `Retry-After` seconds.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``codes``, each with the :class:`ErrorBody` model."""
    return {code: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[code]} for code in codes}

_HTTP_CODES = {
    400: ("bad_request", "Check the request."),
    404: ("not_found", "See GET /docs for the routes this API serves."),
    405: ("method_not_allowed", "See GET /docs for the methods of this route."),
}


def _wants_html(request: Request) -> bool:
    """A dashboard page or one of its htmx fragments (never ``/api/``, never a JSON client)."""
    root = request.scope.get("root_path", "")
    if request.url.path.startswith(root + "/api/") or request.url.path.startswith(root + "/openapi"):
        return False
    return bool(request.headers.get("hx-request")) or "text/html" in request.headers.get("accept", "")


def _html_error(request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """The error as the styled page (a browser) or the error panel fragment (htmx)."""
    from wolf_fastapi.ui import render

    error = body.get("error", {})
    if request.headers.get("hx-request"):
        return render(request, "wolf/_error.html", {"error": error}, status_code=status)
    root = request.scope.get("root_path", "")
    section = request.url.path.removeprefix(root).strip("/").split("/")[0]
    from wolf_fastapi.ui import NAV

    back = root + "/" + section if any(p == "/" + section for _, _, p in NAV[1:]) else None
    response = render(request, "wolf/error.html", {"error": error, "status": status, "back": back}, status_code=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


async def _dgsync_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DgsyncError)
    status = status_for(exc)
    log.warning(
        "request failed",
        extra={"path": request.url.path, "code": exc.code, "status": status, "error": exc.message},
    )
    headers = {"Retry-After": "30"} if isinstance(exc, RETRYABLE) else None
    if _wants_html(request):
        return _html_error(request, status, body_for(exc), headers)
    return JSONResponse(body_for(exc), status_code=status, headers=headers)


async def _unauthorized(request: Request, exc: Exception) -> Response:
    if _wants_page(request):
        return RedirectResponse(request.scope.get("root_path", "") + "/login", status_code=303)
    return JSONResponse(
        error_body(
            "unauthorized",
            "missing or invalid bearer token",
            "Send `Authorization: Bearer <key>`: a key from `dgsync keys create --name NAME --role "
            "viewer|operator|admin` (or DGSYNC_API_TOKEN); revoked and expired keys are refused.",
        ),
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _wants_page(request: Request) -> bool:
    """A browser navigating to a page (not an API client, not an htmx fragment request)."""
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and not request.headers.get("hx-request")
        and not request.url.path.startswith(request.scope.get("root_path", "") + "/api/")
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, hint = _HTTP_CODES.get(exc.status_code, ("http_error", "Check the request."))
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    if _wants_html(request):
        if exc.status_code == 404:
            message, hint = f"there is no page {request.url.path}", "Use the navigation above, or go back to the Overview."
        return _html_error(request, exc.status_code, error_body(code, message, hint), exc.headers)
    return JSONResponse(
        error_body(code, message, hint), status_code=exc.status_code, headers=exc.headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Field locations and messages only: the rejected values are the caller's data.
    problems = [
        ".".join(str(p) for p in err.get("loc", ())) + ": " + str(err.get("msg", "invalid"))
        for err in exc.errors()
    ]
    return JSONResponse(
        error_body("invalid_request", "; ".join(problems) or "invalid request",
                   "Fix the named fields; GET /docs shows the schema."),
        status_code=422,
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error", extra={"path": request.url.path}, exc_info=exc)
    if _wants_html(request):
        body = error_body("internal_error", "internal error", "See the server log for details; try again, or go back.")
        return _html_error(request, 500, body)
    return JSONResponse(
        error_body("internal_error", "internal error", "See the server log for details."),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(DgsyncError, _dgsync_error)
    app.add_exception_handler(Unauthorized, _unauthorized)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
