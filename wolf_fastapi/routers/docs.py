"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from the vendored assets in
``static/vendor/`` (no CDN): both load ``/openapi.json`` with the browser's session and start
from ``static/wolf-docs.js`` (an external script: the CSP allows no inline code). Swagger UI's
**Authorize** button takes the bearer scheme the OpenAPI document declares.

ReDoc renders with styled-components, which inserts ``<style>`` elements: that page alone
allows inline *styles* (never inline scripts) and a ``blob:`` worker for its search.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from core.websec import DEFAULT_CSP
from wolf_fastapi.ui import render

router = APIRouter(include_in_schema=False)

#: ReDoc's CSP: the default plus inline styles and its search worker.
REDOC_CSP = DEFAULT_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
    "default-src 'self';", "default-src 'self'; worker-src 'self' blob:;"
)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return render(request, "wolf/docs/swagger.html", active="docs")


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    page = render(request, "wolf/docs/redoc.html", active="docs")
    page.headers["Content-Security-Policy"] = REDOC_CSP
    return page
