"""One Lambda container's settings, services and ASGI adapter, all built on first use.

Nothing here runs at import: a cold start opens no database and no connection until an
invocation needs one, and a warm container reuses them across invocations.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from core.log import configure_logging
from core.models import Priority
from core.services import Services, build_services
from core.settings import Settings, load_settings


class SliceEngine(Protocol):
    """What a worker needs of an engine (:class:`core.sync.engine.SyncEngine` fits)."""

    def sync(
        self,
        *,
        priority: Priority | None,
        slice_key: str | None,
        spaces: Sequence[str] | None,
        trigger: str,
        resume: bool,
    ) -> Any: ...

    def request_stop(self) -> None: ...


#: Builds the engine for one slice run (a seam for tests that must not reach real systems).
EngineFactory = Callable[[Services], SliceEngine]


def _default_engine(services: Services) -> SliceEngine:
    return services.engine()


class BearRuntime:
    """Lazily built settings → services → FastAPI app → Mangum adapter."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        services: Services | None = None,
        engine_factory: EngineFactory | None = None,
    ) -> None:
        """``services`` given: the caller owns (and closes) them."""
        self._settings = settings or (services.settings if services is not None else None)
        self._services: Services | None = services
        self._owns_services = services is None
        self._adapter: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._reloader: Any = None
        self.engine_factory: EngineFactory = engine_factory or _default_engine

    def settings(self) -> Settings:
        with self._lock:
            if self._settings is None:
                # Secrets (DGSYNC_SECRETS_SOURCE) are resolved here, once per container.
                self._settings = load_settings()
                if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
                    # The Lambda runtime's own root handler would print every line twice.
                    root = logging.getLogger()
                    for handler in list(root.handlers):
                        if not getattr(handler, "_dgsync", False):
                            root.removeHandler(handler)
                configure_logging(level=self._settings.log_level, json_format=self._settings.json_logs)
                logging.getLogger().setLevel(self._settings.log_level)
            return self._settings

    def services(self) -> Services:
        settings = self.settings()
        with self._lock:
            if self._services is None:
                self._services = build_services(settings)
            return self._services

    def run_services(self) -> tuple[Services, int | None]:
        """The services of the environment's applied configuration version and its id (hot
        reload: a version applied since the last invocation is used from this one on)."""
        base = self.services()
        with self._lock:
            if self._reloader is None:
                from core.config_versions import ConfigReloader

                self._reloader = ConfigReloader(base)
            reloader = self._reloader
        services, version = reloader.for_next_run()
        return services, version

    def adapter(self) -> Any:
        """The Mangum adapter around Wolf's app (no second app)."""
        services = self.services()
        with self._lock:
            if self._adapter is None:
                from mangum import Mangum

                from wolf_fastapi.app import create_app

                # Mangum runs every invocation on the thread's current event loop; own it, so
                # that close() can close it (a dropped, unclosed loop leaks its sockets).
                self._loop = asyncio.new_event_loop()
                asyncio.set_event_loop(self._loop)
                self._adapter = Mangum(
                    create_app(services.settings, services=services, frontend="bear",
                               job_executor=self._job_executor(services)),
                    lifespan="auto",
                )
            return self._adapter

    @staticmethod
    def _job_executor(services: Services) -> Any:
        """API jobs go to the workers through the queue (none configured: Wolf's threads)."""
        from bear_lambda import queue

        url = queue.queue_url()
        if not url:
            return None
        from bear_lambda.jobs import SqsJobExecutor

        return SqsJobExecutor(url, services.settings.glue.region)

    def close(self) -> None:
        with self._lock:
            if self._services is not None and self._owns_services:
                self._services.close()
                self._services = None
            self._adapter = None
            self._reloader = None
            if self._loop is not None:
                asyncio.set_event_loop(None)
                self._loop.close()
                self._loop = None
