"""The one composition root: ``build_services(settings) -> Services``.

Every frontend (CLI, Dog, Wolf, Bear, MCP) builds its collaborators here and nowhere else.
Everything is built lazily on first use, so ``--help`` or a health check never opens a
database or a network connection. In the ``dog`` profile the embedded systems are started on
demand: the Datasphere emulator (in-process, real HTTP on a loopback port) and a moto Glue
server (in-process, real HTTP, its catalog persisted in ``state_dir`` between runs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from core import heap
from core.log import get_logger, register_secret
from core.settings import DatasphereSettings, Settings

if TYPE_CHECKING:
    from core.catalog import AssetCatalog
    from core.datasphere.client import DatasphereClient
    from core.datasphere.extract import Extractor
    from core.glue.client import GlueClient
    from core.mapping.rules import Rules
    from core.store.db import Store
    from core.sync.engine import SyncEngine
    from core.sync.report import ProgressFn
    from core.sync.scheduler import Scheduler

log = get_logger(__name__)


class Services:
    """Lazily built collaborators for one settings object. Close it when done."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._closers: list[Callable[[], None]] = []
        self._emulator: Any = None
        self._embedded_glue: Any = None
        self._datasphere_settings: DatasphereSettings | None = None
        self._datasphere_client: DatasphereClient | None = None
        self._glue: GlueClient | None = None
        self._store: Store | None = None
        self._rules: Rules | None = None
        self._catalog: AssetCatalog | None = None

    # -- Datasphere ---------------------------------------------------------------------
    @property
    def emulator(self) -> Any:
        """The embedded emulator (dog), started on first use; ``None`` for a real tenant."""
        with self._lock:
            if self._emulator is None and self.settings.embedded_datasphere:
                from core.embedded import load_embedded

                self._emulator = load_embedded().start_datasphere(self.settings.emulator)
                self._closers.append(self._emulator.stop)
                log.info("embedded Datasphere emulator started", extra={"url": self._emulator.base_url})
            return self._emulator

    def datasphere_settings(self) -> DatasphereSettings:
        """Datasphere settings, pointed at the embedded emulator when no tenant is set."""
        with self._lock:
            if self._datasphere_settings is None:
                ds = self.settings.datasphere
                if ds.client_secret is None and ds.client_secret_source:
                    from core.credentials import aws_options, resolve_secret

                    secret = resolve_secret(ds.client_secret_source, aws=aws_options(self.settings))
                    ds = ds.model_copy(update={"client_secret": secret})
                emu = self.emulator
                if emu is not None:
                    from pydantic import SecretStr

                    ds = ds.model_copy(
                        update={
                            "base_url": emu.base_url,
                            "token_url": emu.token_url,
                            "authorize_url": emu.authorize_url,
                            "client_id": ds.client_id or emu.client_id,
                            "client_secret": ds.client_secret or SecretStr(emu.client_secret),
                        }
                    )
                if ds.client_secret is not None:
                    register_secret(ds.client_secret.get_secret_value())
                self._datasphere_settings = ds
            return self._datasphere_settings

    def datasphere_client(self) -> DatasphereClient:
        with self._lock:
            if self._datasphere_client is None:
                from core.datasphere.client import DatasphereClient

                client = DatasphereClient(self.datasphere_settings())
                self._closers.append(client.close)
                self._datasphere_client = client
            return self._datasphere_client

    def extractor(
        self, *, spaces: list[str] | None = None, kinds: list[str] | None = None
    ) -> Extractor:
        from core.datasphere.extract import Extractor
        from core.models import AssetKind

        ds = self.datasphere_settings()
        return Extractor(
            self.datasphere_client(),
            concurrency=ds.concurrency,
            spaces=spaces or ds.spaces or None,
            kinds=[AssetKind(k) for k in kinds] if kinds else None,
        )

    # -- Glue ---------------------------------------------------------------------------
    def glue_endpoint_url(self) -> str | None:
        with self._lock:
            if self.settings.embedded_glue and self._embedded_glue is None:
                from core.embedded import load_embedded

                snapshot = Path(self.settings.state_dir) / "dog-glue.json"
                self._embedded_glue = load_embedded().start_glue(snapshot, self.settings.glue.region)
                self._closers.append(self._embedded_glue.stop)
            if self._embedded_glue is not None:
                return str(self._embedded_glue.endpoint_url)
            return self.settings.glue.endpoint_url

    def save_glue(self) -> bool:
        """Persist the embedded Glue now (dog; a long-running Dog after each sync job).

        Returns whether the snapshot file was written; ``False`` outside the embedded default.
        """
        with self._lock:
            if self._embedded_glue is None:
                return False
            return bool(self._embedded_glue.save())

    def glue(self) -> GlueClient:
        """The Glue client. Embedded: first reloads the snapshot if another process (the CLI)
        changed it, so every plan and sync sees the one shared catalog."""
        with self._lock:
            if self._embedded_glue is not None:
                self._embedded_glue.refresh()
            if self._glue is None:
                from core.glue.session import build_glue_client

                gs = self.settings.glue.model_copy(update={"endpoint_url": self.glue_endpoint_url()})
                self._glue = build_glue_client(gs)
                # Close its connection pool before the embedded Glue stops (closers run newest
                # first): no socket is left for the garbage collector to warn about.
                self._closers.append(self._glue.boto_client.close)
                # botocore's service model (~45,000 dicts) lives as long as the process: out
                # of the garbage collector's way, like the catalog (core/heap.py).
                heap.settle()
            return self._glue

    def built_client_stats(self) -> dict[str, Any]:
        """The call statistics of the API clients built so far, never building one (a metrics
        scrape must not start an embedded double): ``glue`` → ``CallStats``, ``datasphere`` →
        ``RequestStats``."""
        with self._lock:
            out: dict[str, Any] = {}
            if self._glue is not None:
                out["glue"] = self._glue.stats
            if self._datasphere_client is not None:
                out["datasphere"] = self._datasphere_client.stats
            return out

    def built_catalog(self) -> AssetCatalog | None:
        """The browsing catalog if one was built (a metrics scrape never builds one)."""
        with self._lock:
            return self._catalog

    # -- Store and rules ----------------------------------------------------------------
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from core.store.db import Store

                self._store = Store.from_url(
                    self.settings.database_url, auto_upgrade=self.settings.env == "dog"
                )
                self._closers.append(self._store.dispose)
            return self._store

    def rules(self) -> Rules:
        with self._lock:
            if self._rules is None:
                from core.mapping.rules import default_rules, load_rules

                path = self.settings.sync.rules_file
                self._rules = load_rules(path) if path else default_rules()
            return self._rules

    # -- the engine and the scheduler ------------------------------------------------------
    def engine(self, *, progress: ProgressFn | None = None) -> SyncEngine:
        """A sync engine over these services (one per concurrent run; cheap to build)."""
        from core.sync.engine import SyncEngine

        return SyncEngine(self, progress=progress)

    def catalog(self) -> AssetCatalog:
        """The cached view of the extracted assets for browsing and search (one per services)."""
        with self._lock:
            if self._catalog is None:
                from core.catalog import AssetCatalog

                self._catalog = AssetCatalog(self, ttl_s=self.settings.web.catalog_ttl_s)
            return self._catalog

    def scheduler(self, **options: Any) -> Scheduler:
        """The priority-class scheduler over these services (options: see ``Scheduler``)."""
        from core.sync.scheduler import Scheduler

        return Scheduler(self, **options)

    # -- configuration versions (hot reload) ------------------------------------------------
    def with_settings(self, settings: Settings) -> Services:
        """Services for ``settings`` sharing what already runs here: the embedded emulator and
        Glue (started now if this profile embeds them), the store, and the Datasphere and Glue
        clients when their settings did not change. Used to run the next sync under a newly
        applied configuration version (core/config_versions.py) without a restart.

        Close only the original: it closes the shared parts and whatever the derived services
        started (they share one list of closers)."""
        with self._lock:
            _ = self.emulator
            self.glue_endpoint_url()
            self.store()
            derived = Services(settings)
            derived._closers = self._closers
            derived._emulator = self._emulator
            derived._embedded_glue = self._embedded_glue
            derived._store = self._store
            if settings.datasphere == self.settings.datasphere:
                derived._datasphere_settings = self._datasphere_settings
                derived._datasphere_client = self._datasphere_client
            if settings.glue == self.settings.glue:
                derived._glue = self._glue
            return derived

    # -- lifecycle ----------------------------------------------------------------------
    def close(self) -> None:
        """Stop what was started, newest first (the embedded Glue saves its snapshot)."""
        with self._lock:
            while self._closers:
                closer = self._closers.pop()
                try:
                    closer()
                except Exception:  # closing must not mask the real outcome
                    log.warning("error while closing a service", exc_info=True)
            self._datasphere_client = None
            self._glue = None
            self._store = None
            self._emulator = None
            self._embedded_glue = None
            self._datasphere_settings = None

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def build_services(settings: Settings) -> Services:
    """Build the lazily-initialised services for ``settings``."""
    return Services(settings)
