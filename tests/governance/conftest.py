"""Governance fixtures: a local webhook receiver (a real HTTP server on 127.0.0.1), a
controllable clock, settings with alert rules, finished runs in the store."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fixtures_glue import *  # noqa: F403

from core.lineage import LineageGraph
from core.settings import AlertSettings, Settings
from core.store import repo
from core.store.db import Store
from core.store.schemas import RunCounts, RunError, RunIn, RunResult, RunStatus


class Receiver:
    """Records every POST: ``(path, json body)``; answers ``status`` (200 by default)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.status = 200
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with outer._lock:
                    outer.calls.append((self.path, body))
                self.send_response(outer.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def paths(self) -> list[str]:
        with self._lock:
            return [p for p, _ in self.calls]

    def bodies(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [b for p, b in self.calls if p == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()
    r.thread.join(timeout=5)


class Clock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_settings(sqlite_store: Store) -> Callable[..., Settings]:
    url = sqlite_store.engine.url.render_as_string(hide_password=False)

    def make(**alerts: Any) -> Settings:
        return Settings(env="dog", database_url=url, alerts=AlertSettings.model_validate(alerts))

    return make


def webhook_channels(receiver: Receiver, *names: str, type_: str = "webhook") -> list[dict[str, Any]]:
    return [{"name": n, "type": type_, "url": f"{receiver.url}/{n}"} for n in names]


def add_run(
    store: Store,
    *,
    status: str,
    env: str = "dog",
    slice_key: str | None = None,
    errors: list[RunError] | None = None,
    throttles: int = 0,
    duration_s: float = 10.0,
    deleted: int = 0,
    started_at: datetime | None = None,
) -> str:
    started = started_at or datetime.now(UTC)
    with store.session() as s:
        run = repo.start_run(session=s, run=RunIn(env=env, slice_key=slice_key, started_at=started))
        repo.finish_run(session=s, run_id=run.id, result=RunResult(
            status=RunStatus(status), errors=errors or [], throttles=throttles,
            counts=RunCounts(deleted=deleted), finished_at=started + timedelta(seconds=duration_s),
        ))
    return run.id


def dog_settings(tmp: Path, **update: Any) -> Settings:
    return Settings(env="dog", state_dir=tmp / "state", database_url=f"sqlite:///{tmp / 'state.db'}",
                    **update)


@pytest.fixture(scope="module")
def tenant_graph(tmp_path_factory: pytest.TempPathFactory) -> LineageGraph:
    """The end-to-end graph of the embedded tenant (one extraction per module)."""
    from core.lineage_export import graph_from_services
    from core.services import build_services

    with build_services(dog_settings(tmp_path_factory.mktemp("lineage"))) as services:
        return graph_from_services(services)


class LineageReceiver:
    """A local HTTP receiver on 127.0.0.1 that records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.paths: list[str] = []
        self.status = 201
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(json.loads(self.rfile.read(length)))
                outer.paths.append(self.path)
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/lineage"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def lineage_receiver() -> Iterator[LineageReceiver]:
    r = LineageReceiver()
    yield r
    r.close()


from fixtures_glue import moto_endpoint  # noqa: E402,F401  (session moto server over HTTP)
