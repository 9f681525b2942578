"""The Dog app factory: ``create_app(settings=None) -> Flask``.

Dog is the developer UI over the embedded default (Datasphere emulator + moto Glue + SQLite);
it refuses any other profile (``DGSYNC_ENV`` is honoured: anything but ``dog`` is refused) and
any non-loopback bind without an API token (with one, every request signs in: ``auth.py``).
One blueprint per area: home, catalog, plan (and sync jobs), runs, glue, compare, audit,
debug, lineage, console. The web baseline
(Host allow-list, CSRF, security headers) is ``dog_flask/security.py`` over ``core/websec.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from core.catalog import AssetCatalog
from core.services import Services
from core.settings import Settings, load_settings
from core.websec import web_policy
from dog_flask import auth, blueprints, extension
from dog_flask.errors import init_errors
from dog_flask.security import init_security

WEB_ROOT = Path(os.environ.get("DGSYNC_WEB_ROOT") or Path(__file__).resolve().parent.parent)


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    catalog: AssetCatalog | None = None,
    bind_host: str | None = None,
) -> Flask:
    """Build the Dog app (settings loaded now when not given; services built lazily).

    ``services`` given: the caller owns (and closes) them; ``catalog`` shares an extraction.
    ``bind_host``: the address it will listen on (a non-loopback one needs DGSYNC_API_TOKEN and
    DGSYNC_WEB__ALLOWED_HOSTS, and then the sign-in).
    """
    if settings is None:
        settings = services.settings if services is not None else load_settings()
    policy = web_policy(settings, app="dog", bind_host=bind_host)
    app = Flask(
        __name__,
        template_folder=str(WEB_ROOT / "templates"),
        static_folder=str(WEB_ROOT / "static"),
    )
    app.config["DGSYNC_ENV"] = settings.env
    extension.init_app(app, settings, services=services, catalog=catalog)
    init_errors(app)
    init_security(app, policy)
    app.jinja_env.filters["pretty"] = pretty
    app.register_blueprint(auth.bp)
    for area in (
        blueprints.home, blueprints.catalog, blueprints.plan, blueprints.runs,
        blueprints.glue, blueprints.compare, blueprints.audit,
        blueprints.debug, blueprints.lineage, blueprints.console,
    ):
        app.register_blueprint(area.bp)
    return app


def pretty(value: object, limit: int = 160) -> str:
    """A value for people: strings as they are, lists/dicts compact JSON, long ones cut."""
    import json

    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
