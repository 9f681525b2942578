"""What every dashboard page shares: the layout's context (environment, who is signed in, the
nav), ``render()`` and the role guard of the forms.

Pages are server-rendered Jinja2 (``templates/wolf/``) with htmx fragments (``_*.html``); the
routes live in ``wolf_fastapi/routers/pages_*.py`` and stay thin: they call core services and
hand typed results to templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from wolf_fastapi.web import templates

#: The nav of the layout: (key, label, path).
NAV: tuple[tuple[str, str, str], ...] = (
    ("overview", "Overview", "/"),
    ("connectivity", "Connectivity", "/connectivity"),
    ("assets", "Assets", "/assets"),
    ("flow", "Plan → Sync → Validate", "/flow"),
    ("runs", "Runs", "/runs"),
    ("validation", "Validation", "/validation"),
    ("performance", "Performance", "/performance"),
    ("docs", "API docs", "/docs"),
)

#: Roles in increasing power (``viewer`` reads, ``operator`` plans/syncs/validates, ``admin``).
ROLES = ("viewer", "operator", "admin")


@dataclass(frozen=True)
class Caller:
    """Who the page is rendered for (never a key value)."""

    name: str
    role: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role) if self.role in ROLES else False


def root_of(request: Request) -> str:
    return str(request.scope.get("root_path", "") or "")


def caller_of(request: Request) -> Caller:
    """The caller the auth dependency recorded on the request, else a local (no-auth) one.

    ``request.state.caller`` is set by the role-aware authentication when present; a loopback
    Wolf in the dog profile needs no sign-in, and its user may do everything.
    """
    found = getattr(request.state, "caller", None)
    if found is not None:
        name = str(getattr(found, "name", None) or getattr(found, "key_id", None) or "signed in")
        role = getattr(found, "role", "viewer")
        return Caller(name=name, role=str(getattr(role, "value", role)))
    from wolf_fastapi.auth import bearer_token, needs_auth

    if not needs_auth(request):
        return Caller(name="local user (no sign-in on loopback)", role="admin")
    if bearer_token(request):
        return Caller(name="API token", role="admin")
    return Caller(name="dashboard session", role="viewer")


def page_context(request: Request) -> dict[str, Any]:
    """Jinja2 context processor of every Wolf page."""
    settings = getattr(request.app.state, "settings", None)
    return {
        "root": root_of(request),
        "env": getattr(settings, "env", "?"),
        "tenant": getattr(settings, "tenant_name", None),
        "nav": NAV,
        "caller": caller_of(request) if getattr(request.app.state, "web_policy", None) else None,
    }


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
    active: str = "",
) -> HTMLResponse:
    """Render ``templates/<template>`` with the layout context and the active nav entry."""
    return templates().TemplateResponse(
        request, template, {"active": active, **(context or {})}, status_code=status_code
    )


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def page_window(total: int, page: int, size: int) -> tuple[int, int, int]:
    """``(page, pages, offset)`` for 1-based ``page`` clamped into range."""
    pages = max(1, (total + size - 1) // size)
    page = min(max(page, 1), pages)
    return page, pages, (page - 1) * size
