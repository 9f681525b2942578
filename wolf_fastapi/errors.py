"""Exception handlers: every error leaves as ``{"error": {"code", "message", "hint"}}``.

Core errors get the status of :mod:`core.http`; anything unexpected becomes a
generic 500 whose body says nothing about internals (the traceback goes to the log).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import DgsyncError
from core.http import RETRYABLE, body_for, error_body, status_for
from core.log import get_logger
from wolf_fastapi.auth import Unauthorized

log = get_logger(__name__)

_HTTP_CODES = {
    400: ("bad_request", "Check the request."),
    404: ("not_found", "See GET /docs for the routes this API serves."),
    405: ("method_not_allowed", "See GET /docs for the methods of this route."),
}


async def _dgsync_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DgsyncError)
    status = status_for(exc)
    log.warning(
        "request failed",
        extra={"path": request.url.path, "code": exc.code, "status": status, "error": exc.message},
    )
    headers = {"Retry-After": "30"} if isinstance(exc, RETRYABLE) else None
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


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, hint = _HTTP_CODES.get(exc.status_code, ("http_error", "Check the request."))
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
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


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", extra={"path": request.url.path}, exc_info=exc)
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
