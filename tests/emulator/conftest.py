"""Fixtures: emulators on 127.0.0.1 (real HTTP through httpx) and authenticated clients.

* ``emu``    one emulator per session (realistic tenant, fixtures, 1,200 synthetic objects);
             tests that use it must leave it as they found it (``clean_faults`` helps)
* ``fresh``  a new emulator per test (no synthetic objects) for tests that change state
* ``api`` / ``fresh_api``  httpx clients with a client_credentials token of ``dgsync-demo``
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import EmulatorSettings
from doubles.emulator import RunningEmulator, start_in_thread

CATALOG = "/api/v1/datasphere/consumption/catalog"
DWC_CATALOG = "/api/v1/dwc/consumption/catalog"
SYNTHETIC = 1200

#: One TLS context for every test client: building httpx's default one costs ~0.2 s each time.
_TLS = ssl.create_default_context()


def new_client(**kwargs: Any) -> httpx.Client:
    """An httpx client that does not rebuild a TLS context (the emulator is plain HTTP anyway)."""
    kwargs.setdefault("timeout", 30)
    return httpx.Client(verify=_TLS, **kwargs)


def get_token(emu: RunningEmulator, client_id: str = "dgsync-demo", secret: str | None = None) -> str:
    secret = secret if secret is not None else emu.clients[client_id].client_secret
    with new_client(base_url=emu.base_url) as c:
        r = c.post("/oauth/token", auth=(client_id, secret), data={"grant_type": "client_credentials"})
    r.raise_for_status()
    token: str = r.json()["access_token"]
    return token


def client_for(emu: RunningEmulator, token: str) -> httpx.Client:
    return new_client(base_url=emu.base_url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="session")
def emu() -> Iterator[RunningEmulator]:
    with start_in_thread(EmulatorSettings(synthetic_assets=SYNTHETIC, seed=7)) as e:
        yield e


@pytest.fixture
def fresh() -> Iterator[RunningEmulator]:
    with start_in_thread(EmulatorSettings()) as e:
        yield e


@pytest.fixture(scope="session")
def demo_token(emu: RunningEmulator) -> str:
    return get_token(emu)


@pytest.fixture
def api(emu: RunningEmulator, demo_token: str) -> Iterator[httpx.Client]:
    with client_for(emu, demo_token) as c:
        yield c


@pytest.fixture
def restricted_api(emu: RunningEmulator) -> Iterator[httpx.Client]:
    with client_for(emu, get_token(emu, "dgsync-restricted")) as c:
        yield c


@pytest.fixture
def fresh_api(fresh: RunningEmulator) -> Iterator[httpx.Client]:
    with client_for(fresh, get_token(fresh)) as c:
        yield c


@pytest.fixture
def admin(emu: RunningEmulator) -> Iterator[httpx.Client]:
    """Admin client of the shared emulator; faults are cleared afterwards."""
    with new_client(base_url=emu.admin_url) as c:
        yield c
        c.delete("/faults")


@pytest.fixture
def fresh_admin(fresh: RunningEmulator) -> Iterator[httpx.Client]:
    with new_client(base_url=fresh.admin_url) as c:
        yield c
