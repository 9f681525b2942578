"""The embedded Glue of the ``dog`` profile: moto's server on a loopback port, persisted.

Every ``dgsync`` CLI call is a new process, so the catalog is kept in a JSON snapshot
(``.dgsync/dog-glue.json`` by default): :func:`start_embedded_glue` restores databases (with
tags), tables (with every stored version, ``VersionId`` counter and timestamps) and
partitions from it, and :meth:`EmbeddedGlue.stop` writes it back atomically.

Restoration writes straight into moto's in-process backend, not through the Glue API: no
request is made, nothing is counted as a user write, and ``VersionId``\\ s continue where they
were (a table at version 3 is still at version 3, and its next update makes version 4).

Clients for the embedded endpoint get dummy credentials through
:func:`core.glue.session.register_endpoint_credentials` (the process environment is left
alone) and the fidelity layer of :mod:`doubles.glue_faults` (pagination, ``VersionId`` locking,
``SkipArchive``), so dog behaves like AWS where moto does not. All of them share the embedded
Glue's :attr:`EmbeddedGlue.faults` (faults programmed once, consumed by whichever client sends
next; injected faults are retried without backoff sleeps) and :attr:`EmbeddedGlue.requests`
(every HTTP attempt); :func:`running_glue` finds a running one by endpoint (Dog's Debug page).

One embedded Glue per process and region: starting one resets moto's Glue backend of that
account and region. The snapshot file is the one source of truth shared by every process (a
long-running Dog and short CLI calls):

- :meth:`EmbeddedGlue.refresh` (called by ``Services.glue()`` before every plan and sync)
  reloads the file when another process rewrote it and this one has no unsaved changes;
- :meth:`EmbeddedGlue.save` writes only what changed here, never overwrites a newer file with
  an unchanged (stale) catalog, and never shrinks a non-empty file to an empty catalog;
- every write is atomic (temp file, fsync, rename) with SIGTERM/SIGINT held off while it runs,
  so a signal never leaves a truncated file. Two processes that both change the catalog at the
  same time still do not merge: the later save wins (logged as a warning).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from core.errors import ConfigError, TargetUnavailable
from core.glue.session import (
    StaticCredentials,
    register_endpoint_credentials,
    unregister_endpoint_credentials,
)
from core.log import get_logger

log = get_logger(__name__)

__all__ = ["SNAPSHOT_FORMAT", "EmbeddedGlue", "running_glue", "start_embedded_glue"]

#: How many Glue HTTP attempts :attr:`EmbeddedGlue.requests` keeps.
REQUEST_LOG_SIZE = 1000
_running: dict[str, EmbeddedGlue] = {}
_running_lock = threading.Lock()


def running_glue(endpoint_url: str | None) -> EmbeddedGlue | None:
    """The running embedded Glue serving ``endpoint_url`` in this process, if any."""
    if not endpoint_url:
        return None
    with _running_lock:
        return _running.get(endpoint_url.rstrip("/"))

SNAPSHOT_FORMAT = "dgsync-embedded-glue"
SNAPSHOT_VERSION = 1
#: moto's dummy credentials; moto maps them to its default account.
EMBEDDED_CREDENTIALS = StaticCredentials(access_key_id="testing", secret_access_key="testing")


def _quiet_server_class() -> type[Any]:
    """``ThreadedMotoServer`` without per-request log lines, closing its socket on stop."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class _QuietHandler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return None

    class QuietMotoServer(ThreadedMotoServer):
        _startup_error: OSError | None = None

        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            try:
                self._server = make_server(
                    self._ip_address, self._port, app, True, request_handler=_QuietHandler
                )
            except OSError as exc:  # moto's own entry would leave start() waiting forever
                self._startup_error = exc
                self._server_ready_event.set()
                return
            self._server_ready_event.set()
            # A short poll interval makes stop() (and so every dog CLI call) ~0.5 s faster.
            self._server.serve_forever(poll_interval=0.05)

        def start(self) -> None:
            super().start()
            if self._startup_error is not None:
                raise self._startup_error

        def stop(self) -> None:
            super().stop()
            if self._server is not None:
                self._server.server_close()

    return QuietMotoServer


def quiet_moto_server(host: str = "127.0.0.1", port: int = 0) -> Any:
    """A started, quiet moto server on ``host`` (port 0: ephemeral); ``.stop()`` it."""
    server = _quiet_server_class()(ip_address=host, port=port, verbose=False)
    server.start()
    return server


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def _parse_time(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return datetime.now(UTC).replace(tzinfo=None)


def _glue_backend(account_id: str, region: str) -> Any:
    from moto.glue.models import glue_backends

    return glue_backends[account_id][region]


def _database_arn(backend: Any, name: str) -> str:
    return f"{backend.default_catalog_arn.rsplit(':', 1)[0]}:database/{name}"


def dump_backend(backend: Any) -> dict[str, Any]:
    """The catalog of one moto Glue backend as a JSON-ready snapshot."""
    databases = []
    for db in list(backend.databases.values()):
        tables = []
        for table in list(db.tables.values()):
            tables.append(
                {
                    "name": table.name,
                    "created_time": _iso(table.created_time),
                    "updated_time": _iso(table.updated_time),
                    "current_version": table._current_version,
                    "versions": dict(table.versions),
                    "partitions": [
                        {"input": p.partition_input, "creation_time": _iso(p.creation_time)}
                        for p in list(table.partitions.values())
                    ],
                }
            )
        databases.append(
            {
                "name": db.name,
                "input": db.input,
                "created_time": _iso(db.created_time),
                "tags": backend.get_tags(_database_arn(backend, db.name)),
                "tables": tables,
            }
        )
    return {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "account_id": backend.account_id,
        "region": backend.region_name,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "databases": databases,
    }


def restore_backend(backend: Any, snapshot: dict[str, Any]) -> tuple[int, int]:
    """Load a snapshot into an empty moto Glue backend; return (databases, tables)."""
    from moto.glue.models import FakePartition

    n_db = n_tables = 0
    for db in snapshot.get("databases") or []:
        database = backend.create_database(db["name"], dict(db.get("input") or {}), db.get("tags"))
        database.created_time = _parse_time(db.get("created_time"))
        n_db += 1
        for t in db.get("tables") or []:
            versions: dict[str, dict[str, Any]] = {
                str(k): v for k, v in (t.get("versions") or {}).items()
            }
            current = str(t.get("current_version") or max(int(k) for k in versions))
            table = backend.create_table(db["name"], t["name"], versions[current])
            table.versions = versions
            table._current_version = int(current)
            table.created_time = _parse_time(t.get("created_time"))
            table.updated_time = _parse_time(t["updated_time"]) if t.get("updated_time") else None
            for p in t.get("partitions") or []:
                partition = FakePartition(db["name"], t["name"], p["input"])
                partition.creation_time = _parse_time(p.get("creation_time"))
                table.partitions[str(partition.values)] = partition
            n_tables += 1
    return n_db, n_tables


def _read_snapshot(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the embedded Glue snapshot {path}: {exc}",
            hint="Delete the file to start with an empty embedded catalog.",
        ) from exc
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise ConfigError(
            f"{path} is not an embedded Glue snapshot",
            hint="Delete the file to start with an empty embedded catalog.",
        )
    if int(data.get("version", 0)) > SNAPSHOT_VERSION:
        raise ConfigError(
            f"{path} was written by a newer dgsync (snapshot version {data.get('version')})",
            hint="Upgrade dgsync or delete the file.",
        )
    return data


def catalog_digest(data: dict[str, Any]) -> str:
    """A digest of a snapshot's catalog (``databases``), ignoring when it was saved."""
    text = json.dumps(data.get("databases") or [], default=str, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_signature(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime_ns) of ``path``; ``None`` when it does not exist."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _table_count(data: dict[str, Any]) -> int:
    return sum(len(db.get("tables") or []) for db in data.get("databases") or [])


class _SignalsHeld:
    """Hold SIGTERM/SIGINT off while a snapshot is written (main thread; no-op elsewhere)."""

    def __enter__(self) -> None:
        self._held = threading.current_thread() is threading.main_thread()
        if self._held:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})

    def __exit__(self, *exc: object) -> None:
        if self._held:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` as JSON: temp file in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _SignalsHeld():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False, default=str, indent=1, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise



class EmbeddedGlue:
    """A running embedded Glue; :meth:`stop` (or leaving the ``with`` block) saves it."""

    def __init__(
        self,
        server: Any,
        *,
        endpoint_url: str,
        region: str,
        account_id: str,
        snapshot_path: Path | None,
    ) -> None:
        self._server = server
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self.snapshot_path = snapshot_path
        self.credentials = EMBEDDED_CREDENTIALS
        from doubles.glue_faults import FaultQueue
        from doubles.request_log import RequestLog

        #: Faults for the next HTTP attempts of any client of this endpoint.
        self.faults = FaultQueue()
        #: Every HTTP attempt of those clients (operation, status, latency, injected fault).
        self.requests = RequestLog(REQUEST_LOG_SIZE)
        self._lock = threading.RLock()
        self._stopped = False
        #: what this process last loaded from or wrote to the file (its digest and signature)
        self._base_digest: str | None = None
        self._base_signature: tuple[int, int, int] | None = None

    def _mark_base(self, data: dict[str, Any] | None) -> None:
        self._base_digest = catalog_digest(data) if data is not None else None
        self._base_signature = (
            _file_signature(self.snapshot_path) if self.snapshot_path is not None else None
        )

    def changed_here(self) -> bool:
        """Whether the in-memory catalog differs from what was last loaded or saved."""
        data = self.snapshot()
        if self._base_digest is None:
            return bool(data["databases"])
        return catalog_digest(data) != self._base_digest

    def changed_on_disk(self) -> bool:
        """Whether another process rewrote the snapshot file since this one loaded/saved it."""
        if self.snapshot_path is None:
            return False
        return _file_signature(self.snapshot_path) != self._base_signature

    def refresh(self) -> bool:
        """Reload the file when another process changed it and nothing changed here.

        Returns whether the catalog was reloaded. With changes on both sides nothing is
        reloaded (the next :meth:`save` keeps this process's catalog and logs a warning).
        """
        with self._lock:
            if self._stopped or self.snapshot_path is None or not self.changed_on_disk():
                return False
            if self.changed_here():
                log.warning(
                    "embedded Glue changed here and on disk: keeping this process's catalog",
                    extra={"path": str(self.snapshot_path)},
                )
                return False
            data = _read_snapshot(self.snapshot_path)
            backend = _glue_backend(self.account_id, self.region)
            backend.reset()
            n_db = n_tables = 0
            if data is not None:
                n_db, n_tables = restore_backend(backend, data)
            self._mark_base(data)
            log.info(
                "embedded Glue reloaded (changed by another process)",
                extra={"path": str(self.snapshot_path), "databases": n_db, "tables": n_tables},
            )
            return True

    @property
    def running(self) -> bool:
        return not self._stopped

    def install_fidelity(self, client: Any) -> None:
        """The fidelity layer on a client built for this endpoint, sharing this Glue's fault
        queue and request log (no faults until some are programmed)."""
        from doubles.glue_faults import GlueFaults

        GlueFaults(history_size=0, queue=self.faults, log=self.requests).install(client)

    def snapshot(self) -> dict[str, Any]:
        """The current catalog as snapshot data (best effort while requests are running)."""
        backend = _glue_backend(self.account_id, self.region)
        for _ in range(5):
            try:
                return dump_backend(backend)
            except RuntimeError:  # a dict changed size under a concurrent request: retry
                continue
        return dump_backend(backend)

    def save(self) -> bool:
        """Write the snapshot file now if the catalog changed here (also done by :meth:`stop`).

        Returns whether the file was written. Nothing changed here (e.g. after a plan, or
        when another process wrote the file meanwhile): the file is left alone. An empty
        catalog never replaces a file that holds tables.
        """
        if self.snapshot_path is None:
            return False
        with self._lock:
            data = self.snapshot()
            if self._base_digest is not None and catalog_digest(data) == self._base_digest:
                return False  # unchanged here: the file is as new or newer
            on_disk = self.changed_on_disk()
            if not data["databases"] and self.snapshot_path.exists():
                existing = _read_snapshot(self.snapshot_path)
                if existing is not None and existing.get("databases"):
                    log.warning(
                        "embedded Glue is empty: the snapshot file is kept",
                        extra={"path": str(self.snapshot_path), "tables": _table_count(existing)},
                    )
                    return False
            if on_disk:
                log.warning(
                    "embedded Glue snapshot was changed by another process: this one's wins",
                    extra={"path": str(self.snapshot_path)},
                )
            write_atomically(self.snapshot_path, data)
            self._mark_base(data)
            log.debug(
                "embedded Glue saved",
                extra={"path": str(self.snapshot_path), "tables": _table_count(data)},
            )
            return True

    def stop(self) -> None:
        """Stop the server and save the snapshot (idempotent)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            with _running_lock:
                if _running.get(self.endpoint_url) is self:
                    del _running[self.endpoint_url]
            try:
                self._server.stop()
            finally:
                unregister_endpoint_credentials(self.endpoint_url)
                self.save()

    def __enter__(self) -> EmbeddedGlue:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_embedded_glue(
    snapshot_path: Path | None,
    region: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> EmbeddedGlue:
    """Start moto's Glue on ``host`` (ephemeral port), restored from ``snapshot_path``."""
    from moto.core.models import DEFAULT_ACCOUNT_ID

    account_id = str(DEFAULT_ACCOUNT_ID)
    snapshot = _read_snapshot(snapshot_path) if snapshot_path is not None else None
    backend = _glue_backend(account_id, region)
    backend.reset()
    if snapshot is not None:
        n_db, n_tables = restore_backend(backend, snapshot)
        log.info(
            "embedded Glue restored",
            extra={"path": str(snapshot_path), "databases": n_db, "tables": n_tables},
        )
    try:
        server = quiet_moto_server(host, port)
    except OSError as exc:
        raise TargetUnavailable(
            f"cannot start the embedded Glue on {host}:{port}: {exc.strerror}",
            hint="Free the port or let dgsync pick one (port 0).",
        ) from exc
    bound_host, bound_port = server.get_host_and_port()
    endpoint_url = f"http://{bound_host}:{bound_port}"
    glue = EmbeddedGlue(
        server,
        endpoint_url=endpoint_url,
        region=region,
        account_id=account_id,
        snapshot_path=snapshot_path,
    )
    register_endpoint_credentials(endpoint_url, EMBEDDED_CREDENTIALS, install=glue.install_fidelity)
    with _running_lock:
        _running[endpoint_url] = glue
    log.info("embedded Glue started", extra={"url": endpoint_url, "region": region})
    glue._mark_base(snapshot)
    return glue
