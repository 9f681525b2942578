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
    ("alerts", "Alerts", "/alerts"),
    ("audit", "Audit", "/audit"),
    ("security", "Security", "/security"),
    ("configuration", "Config", "/configuration"),
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
    """Who the page is for: the principal the role dependency set on the request (an API key,
    the bootstrap token, an OIDC subject, or the local user of a loopback dog Wolf)."""
    found = getattr(request.state, "principal", None)
    if found is None:
        return Caller(name="not signed in", role="none")
    kind = getattr(found, "kind", "")
    name = {"local": "local user (no sign-in on loopback)", "bootstrap": "bootstrap token"}.get(kind) or str(found.name)
    return Caller(name=name, role=str(found.role))


def actor_of(request: Request) -> str:
    """The audit actor of the caller (``key:<name>/<role>``...)."""
    found = getattr(request.state, "principal", None)
    return str(getattr(found, "actor", None) or "web:local")


def page_context(request: Request) -> dict[str, Any]:
    """Jinja2 context processor of every Wolf page."""
    settings = getattr(request.app.state, "settings", None)
    return {
        "root": root_of(request),
        "env": getattr(settings, "env", "?"),
        "tenant": getattr(settings, "tenant_name", None),
        "nav": NAV,
        "caller": caller_of(request) if getattr(request.state, "principal", None) is not None else None,
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
