"""Core errors as pages (or, for htmx requests, as a swappable error fragment)."""

from __future__ import annotations

from flask import Flask, render_template, request

from core.errors import DgsyncError
from core.http import status_for
from core.log import get_logger

log = get_logger(__name__)


def _render(exc: DgsyncError) -> tuple[str, int]:
    status = status_for(exc)
    log.warning("page failed", extra={"path": request.path, "code": exc.code, "error": exc.message})
    template = "dog/_error.html" if request.headers.get("HX-Request") else "dog/error.html"
    return render_template(template, error=exc, status=status), status


def init_errors(app: Flask) -> None:
    app.register_error_handler(DgsyncError, _render)
