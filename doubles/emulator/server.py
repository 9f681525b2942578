"""Run the emulator: in a background thread (tests, dog) or in the foreground (CLI).

::

    with start_in_thread(EmulatorSettings(synthetic_assets=100)) as emu:
        httpx.post(emu.token_url, auth=(emu.client_id, emu.client_secret),
                   data={"grant_type": "client_credentials"})
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn

from core.errors import ConfigError
from core.settings import EmulatorSettings

from .app import EmulatorApp
from .auth import DEMO_CLIENTS, OAuthClient
from .tenant import Tenant, TenantOptions

_OPTION_NAMES = frozenset(TenantOptions.__dataclass_fields__) - {"seed", "synthetic_assets"}


@dataclass
class RunningEmulator:
    """A listening emulator. ``client_id`` / ``client_secret`` are the technical demo client."""

    base_url: str
    token_url: str
    authorize_url: str
    client_id: str
    client_secret: str
    tenant: Tenant
    app: EmulatorApp
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def admin_url(self) -> str:
        return f"{self.base_url}/_emulator"

    @property
    def clients(self) -> dict[str, OAuthClient]:
        """Every registered demo client by id (technical, interactive, restricted)."""
        return dict(self.tenant.auth.clients)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and wait for the server thread."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def build_tenant(settings: EmulatorSettings, **options: Any) -> Tenant:
    """The tenant for ``settings`` plus options (see :class:`TenantOptions`)."""
    unknown = set(options) - _OPTION_NAMES
    if unknown:
        raise TypeError(f"unknown emulator option(s): {', '.join(sorted(unknown))}")
    return Tenant(TenantOptions(seed=settings.seed, synthetic_assets=settings.synthetic_assets, **options))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are TCP;
    # without it every keep-alive response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"the emulator cannot listen on {host}:{port}: {exc.strerror}",
            hint="Choose another port (--port, DGSYNC_EMULATOR__PORT; 0 picks a free one).",
        ) from exc
    sock.set_inheritable(False)
    return sock


def start_in_thread(
    settings: EmulatorSettings | None = None, *, tenant: Tenant | None = None, log_level: str = "warning",
    **options: Any,
) -> RunningEmulator:
    """Start uvicorn in a daemon thread on ``settings.host:settings.port`` (0 = ephemeral).

    Returns once the server accepts connections. ``options`` are :class:`TenantOptions`
    fields (``token_lifetime_s``, ``catalog_page_size``, ``design_time_page_size``,
    ``include_realistic``, ``include_fixtures``, ``refresh_token_lifetime_s``); pass
    ``tenant=`` to serve an existing tenant instead.
    """
    settings = settings or EmulatorSettings()
    if tenant is None:
        tenant = build_tenant(settings, **options)
    elif options:
        raise TypeError("pass either tenant= or tenant options, not both")
    app = EmulatorApp(tenant)
    sock = _bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", ws="none", access_log=False,
                            log_config=None, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"dgsync-emulator-{port}",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise ConfigError(f"the emulator did not start on {settings.host}:{port}",
                              hint="Run `dgsync emulator -v` to see the server log.")
        time.sleep(0.01)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    base = f"http://{host}:{port}"
    technical = DEMO_CLIENTS[0]
    return RunningEmulator(
        base_url=base, token_url=f"{base}/oauth/token", authorize_url=f"{base}/oauth/authorize",
        client_id=technical.client_id, client_secret=technical.client_secret, tenant=tenant, app=app,
        _server=server, _thread=thread,
    )


@contextlib.contextmanager
def running(settings: EmulatorSettings | None = None, **options: Any) -> Iterator[RunningEmulator]:
    """``with running(settings) as emu:`` — start, yield, stop."""
    emu = start_in_thread(settings, **options)
    try:
        yield emu
    finally:
        emu.stop()


def serve(
    settings: EmulatorSettings | None = None, *, on_ready: Callable[[RunningEmulator], None] | None = None,
    **options: Any,
) -> None:
    """Serve in the foreground until Ctrl-C (``on_ready`` gets the running emulator first)."""
    emu = start_in_thread(settings, **options)
    try:
        if on_ready is not None:
            on_ready(emu)
        while emu.running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


def banner(emu: RunningEmulator) -> str:
    """What a developer needs to point a client at the emulator (no real secrets: demo clients)."""
    lines = [
        f"SAP Datasphere emulator listening on {emu.base_url}",
        f"  catalog       {emu.base_url}/api/v1/datasphere/consumption/catalog",
        f"  token URL     {emu.token_url}",
        f"  authorize URL {emu.authorize_url}",
        f"  design-time   {emu.base_url}/dwaas-core/api/v1/discovery",
        f"  admin         {emu.admin_url}/stats  (faults, mutate, reset: see docs/emulator.md)",
        "  demo clients (client_id / client_secret):",
    ]
    for client in emu.clients.values():
        lines.append(f"    {client.client_id} / {client.client_secret}  — {client.description}")
    spaces = emu.tenant.spaces()
    lines.append(f"  {len(spaces)} spaces, {len(emu.tenant.all_objects())} objects, "
                 f"{len(emu.tenant.catalog())} in the catalog")
    return "\n".join(lines)
