"""``Annotated`` dependency aliases of the Wolf/Bear routes.

Routes declare what they need (``services: ServicesDep``); tests swap any of it with
``app.dependency_overrides[get_services] = ...``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from core.errors import ConfigError
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
