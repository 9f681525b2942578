"""Core errors and HTTP errors as styled pages (or, for htmx requests, as a swappable error
fragment) with the hint and a way back; unexpected exceptions become a styled 500."""

from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from core.errors import DgsyncError
from core.http import status_for
from core.log import get_logger

log = get_logger(__name__)

HINTS = {
    400: "The request was malformed: go back and check the form.",
    403: "The form was stale or came from another site: reload the page and try again.",
    404: "Check the address, or start from the home page.",
    405: "This address does not accept that method: use the page's own buttons.",
}


class BadInput(BadRequest):
    """A form or query value the page cannot use (400), with what to type instead."""

    def __init__(self, message: str, *, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


class PageError:
    """What the error templates show for a non-core error (same fields as a DgsyncError)."""

    def __init__(self, code: str, message: str, hint: str) -> None:
        self.code, self.message, self.hint = code, message, hint


def _page(error: object, status: int) -> tuple[str, int]:
    template = "dog/_error.html" if request.headers.get("HX-Request") else "dog/error.html"
    return render_template(template, error=error, status=status), status


def _render(exc: DgsyncError) -> tuple[str, int]:
    status = status_for(exc)
    log.warning("page failed", extra={"path": request.path, "code": exc.code, "error": exc.message})
    return _page(exc, status)


def _http(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 500
    message = exc.description if status != 404 else f"no page at {request.path}"
    hint = getattr(exc, "hint", None) or HINTS.get(status, "Go back and try again.")
    return _page(PageError(str(status), message or exc.name, hint), status)


def _crash(exc: Exception) -> tuple[str, int]:
    if isinstance(exc, HTTPException):
        return _http(exc)
    log.exception("unexpected error", extra={"path": request.path})
    wrapped = InternalServerError()
    return _page(PageError("500", f"unexpected error ({type(exc).__name__}): {wrapped.name}",
                           "This is a dgsync bug: the Dog log has the traceback."), 500)


def init_errors(app: Flask) -> None:
    app.register_error_handler(DgsyncError, _render)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _crash)
