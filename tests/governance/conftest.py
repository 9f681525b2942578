"""Governance tests: an extracted graph of the embedded tenant, shared per module."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.lineage import LineageGraph
from core.settings import Settings


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


class Receiver:
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
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


from fixtures_glue import moto_endpoint  # noqa: E402,F401  (session moto server over HTTP)
