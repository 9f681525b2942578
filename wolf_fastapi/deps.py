"""``Annotated`` dependency aliases of the Wolf/Bear routes.

Routes declare what they need (``services: ServicesDep``); tests swap any of it with
``app.dependency_overrides[get_services] = ...``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from core.catalog import AssetCatalog
from core.connectivity import ConnectivityMonitor
from core.errors import ConfigError
from core.jobs import JobService
from core.services import Services
from core.settings import Settings

_NOT_STARTED_HINT = "Serve the app with its lifespan (uvicorn, Mangum, or `with TestClient(app)`)."


def get_settings(request: Request) -> Settings:
    settings: Settings | None = getattr(request.app.state, "settings", None)
    if settings is None:
        raise ConfigError("the app has not been started: no settings", hint=_NOT_STARTED_HINT)
    return settings


def get_services(request: Request) -> Services:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise ConfigError("the app has not been started: no services", hint=_NOT_STARTED_HINT)
    return services


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """A read-only state-store session for the request (dashboards and reports only)."""
    with services.store().session(readonly=True) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


# -- the /api/v1 services (built in the lifespan: wolf_fastapi/routers/api_v1/__init__.py) -----


def _state(request: Request, name: str) -> Any:
    found = getattr(request.app.state, name, None)
    if found is None:
        raise ConfigError(f"the app has not been started: no {name}", hint=_NOT_STARTED_HINT)
    return found


def get_jobs(request: Request) -> JobService:
    jobs: JobService = _state(request, "jobs")
    return jobs


def get_connectivity(request: Request) -> ConnectivityMonitor:
    monitor: ConnectivityMonitor = _state(request, "connectivity")
    return monitor


def get_catalog(services: ServicesDep) -> AssetCatalog:
    return services.catalog()


JobsDep = Annotated[JobService, Depends(get_jobs)]
ConnectivityDep = Annotated[ConnectivityMonitor, Depends(get_connectivity)]
CatalogDep = Annotated[AssetCatalog, Depends(get_catalog)]


def actor_of(request: Request) -> str:
    """Who the caller is, for audit records: the actor of the principal the role dependency
    set (``key:<name>/<role>``, ``oidc:<subject>/<role>``, ``local:loopback/admin``)."""
    principal = getattr(request.state, "principal", None)
    actor = getattr(principal, "actor", None)
    if not isinstance(actor, str) or not actor:
        raise ConfigError("no principal on this request", hint="Add a require_role(...) dependency to the route.")
    return actor


ActorDep = Annotated[str, Depends(actor_of)]
