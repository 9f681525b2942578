"""``init_app``-style setup: the Services (and the asset catalog) of a Dog app.

``app.extensions["dgsync"]`` is the :class:`~core.services.Services`;
``app.extensions["dgsync.catalog"]`` the cached :class:`~core.catalog.AssetCatalog`;
``app.extensions["dgsync.jobs"]`` the :class:`~dog_flask.jobs.JobRunner` of background syncs.
"""

from __future__ import annotations

from flask import Flask, current_app

from core.catalog import AssetCatalog
from core.services import Services, build_services
from core.settings import Settings
from dog_flask.jobs import JobRunner

EXTENSION_KEY = "dgsync"
CATALOG_KEY = "dgsync.catalog"
JOBS_KEY = "dgsync.jobs"


def init_app(
    app: Flask,
    settings: Settings,
    *,
    services: Services | None = None,
    catalog: AssetCatalog | None = None,
) -> Services:
    """Attach Services (built lazily: nothing starts until a page needs it) to ``app``."""
    services = services or build_services(settings)
    app.extensions[EXTENSION_KEY] = services
    app.extensions[CATALOG_KEY] = catalog or services.catalog()
    app.extensions[JOBS_KEY] = JobRunner()
    return services


def services() -> Services:
    """The Services of the current app."""
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found


def catalog() -> AssetCatalog:
    """The asset catalog of the current app."""
    found: AssetCatalog = current_app.extensions[CATALOG_KEY]
    return found


def jobs() -> JobRunner:
    """The background sync jobs of the current app."""
    found: JobRunner = current_app.extensions[JOBS_KEY]
    return found


def close_app(app: Flask) -> None:
    """Stop running sync jobs (after their objects in flight), then what the app's Services
    started (emulator, embedded Glue — which saves its snapshot —, store)."""
    runner: JobRunner | None = app.extensions.get(JOBS_KEY)
    if runner is not None:
        runner.shutdown()
    found: Services | None = app.extensions.get(EXTENSION_KEY)
    if found is not None:
        found.close()
