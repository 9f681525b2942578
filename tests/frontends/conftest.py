"""Fixtures of the frontend tests: hermetic settings, stores, a shared embedded Services.

Every test gets its own state dir and SQLite store through ``DGSYNC_STATE_DIR`` and
``DGSYNC_DATABASE_URL`` (never the repo's ``.dgsync/``). Tests that need the embedded
emulator and moto Glue share one session-wide :class:`Services` (``embedded_services``):
starting them and extracting the tenant takes seconds. Those tests assert nothing that another
test's writes could change.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.catalog import AssetCatalog
from core.services import Services, build_services
from core.settings import Settings, load_settings
from core.store import repo
from core.store.db import Store
from core.store.schemas import RunCounts, RunIn, RunResult, RunStatus, Trigger

#: A strong token (made with `dgsync keys create`): weak ones are refused at start.
API_TOKEN = "8dXb9fQ4m_auTV605WIS9tjJcnWQ-Q1BGUpElXuXLf4"
DB_PASSWORD = "pw-never-shown-4711"


#: Loopback: the Host (and server address) a local Wolf accepts without further configuration.
LOCAL = "http://127.0.0.1"


def local_client(app: FastAPI, **kwargs: Any) -> TestClient:
    """A TestClient that talks to ``app`` as a browser on this machine would (127.0.0.1)."""
    return TestClient(app, base_url=LOCAL, **kwargs)


def form_csrf_token(html: str) -> str:
    """The CSRF token of a page's form (``<input type="hidden" name="csrf_token" value=...>``)."""
    found = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def _clear_dgsync_env(mp: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DGSYNC_"):
            mp.delenv(name)


@pytest.fixture
def state_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean DGSYNC_* environment with a temp state dir and SQLite store."""
    _clear_dgsync_env(monkeypatch)
    monkeypatch.setenv("DGSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DGSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'state' / 'state.db'}")
    return tmp_path


def real_env(monkeypatch: pytest.MonkeyPatch, env: str, *, token: str | None = API_TOKEN) -> None:
    """Environment variables of a wolf/bear deployment (the tenant is never called)."""
    monkeypatch.setenv("DGSYNC_ENV", env)
    monkeypatch.setenv("DGSYNC_DATASPHERE__BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_ID", "qa-client")
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_SECRET", "qa-client-secret-value")
    monkeypatch.setenv("DGSYNC_GLUE__ENDPOINT_URL", "http://127.0.0.1:9")
    if token is not None:
        monkeypatch.setenv("DGSYNC_API_TOKEN", token)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file, made once: copying it is much faster than migrating."""
    path = tmp_path_factory.mktemp("template") / "state.db"
    # Closing the last connection checkpoints the WAL into the file.
    Store.from_url(f"sqlite:///{path}", auto_upgrade=True).dispose()
    assert not path.with_name("state.db-wal").exists()
    return path


def migrated_store(settings: Settings, template: Path) -> None:
    """Give ``settings`` a migrated store (wolf and bear never migrate on their own)."""
    target = Path(settings.database_url.removeprefix("sqlite:///"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)


@pytest.fixture
def dog_settings(state_env: Path) -> Settings:
    return load_settings(env="dog")


@pytest.fixture
def wolf_settings(state_env: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Settings:
    real_env(monkeypatch, "wolf")
    settings = load_settings()
    migrated_store(settings, migrated_template)
    return settings


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_TOKEN}"}


def seed_runs(services: Services, n: int = 2) -> list[str]:
    """Record ``n`` finished runs, one minute apart (oldest first); return their ids."""
    ids = []
    base = datetime.now(UTC) - timedelta(hours=1)
    with services.store().session() as session:
        for i in range(n):
            started = base + timedelta(minutes=i)
            run = repo.start_run(
                session=session,
                run=RunIn(env=services.settings.env, trigger=Trigger.CLI, started_at=started),
            )
            repo.finish_run(
                session=session,
                run_id=run.id,
                result=RunResult(
                    status=RunStatus.SUCCEEDED if i % 2 == 0 else RunStatus.PARTIAL,
                    counts=RunCounts(created=3 + i, unchanged=10, failed=i % 2),
                    summary=f"seeded run {i}",
                    finished_at=started + timedelta(seconds=5),
                ),
            )
            ids.append(run.id)
    return ids


@contextmanager
def own_embedded_services(root: Path, region: str) -> Iterator[Services]:
    """Embedded dog services of one test module (its own state and Glue region: an embedded
    Glue resets moto's backend of its region in this process), closed after."""
    with pytest.MonkeyPatch.context() as mp:
        _clear_dgsync_env(mp)
        mp.setenv("DGSYNC_STATE_DIR", str(root / "state"))
        mp.setenv("DGSYNC_DATABASE_URL", f"sqlite:///{root / 'state' / 'state.db'}")
        mp.setenv("DGSYNC_GLUE__REGION", region)
        settings = load_settings(env="dog")
    services = build_services(settings)
    try:
        yield services
    finally:
        services.close()
        gc.collect()  # a socket the module leaked warns here, not in another module's test


def systems_env(dog: Services) -> dict[str, str]:
    """The environment a deployment would point at ``dog``'s Datasphere emulator and moto Glue
    with (Wolf, Bear and schemathesis tests run against them as real systems)."""
    ds = dog.datasphere_settings()
    assert ds.client_secret is not None
    return {
        "DGSYNC_DATASPHERE__BASE_URL": str(ds.base_url),
        "DGSYNC_DATASPHERE__TOKEN_URL": str(ds.token_url),
        "DGSYNC_DATASPHERE__CLIENT_ID": str(ds.client_id),
        "DGSYNC_DATASPHERE__CLIENT_SECRET": ds.client_secret.get_secret_value(),
        "DGSYNC_GLUE__ENDPOINT_URL": str(dog.glue_endpoint_url()),
        "DGSYNC_GLUE__REGION": str(dog.settings.glue.region),
    }


@contextmanager
def own_systems(root: Path, region: str) -> Iterator[dict[str, str]]:
    """A module's own emulator and moto Glue (:func:`own_embedded_services`), as :func:`systems_env`."""
    with own_embedded_services(root, region) as dog:
        yield systems_env(dog)


def wolf_settings_for(monkeypatch: pytest.MonkeyPatch, template: Path, systems: dict[str, str], *,
                      pepper: str) -> Settings:
    """Settings of a ``wolf`` deployment against ``systems`` (bootstrap token, key pepper), its
    store migrated from the session template."""
    for name, value in {"DGSYNC_ENV": "wolf", "DGSYNC_API_TOKEN": API_TOKEN, "DGSYNC_WEB__API_KEY_PEPPER": pepper,
                        **systems}.items():
        monkeypatch.setenv(name, value)
    loaded = load_settings()
    migrated_store(loaded, template)
    return loaded


@pytest.fixture(scope="session")
def embedded_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """One dog Services (emulator + moto Glue + SQLite) for every test that needs them."""
    root = tmp_path_factory.mktemp("embedded")
    with pytest.MonkeyPatch.context() as mp:
        _clear_dgsync_env(mp)
        mp.setenv("DGSYNC_STATE_DIR", str(root / "state"))
        mp.setenv("DGSYNC_DATABASE_URL", f"sqlite:///{root / 'state' / 'state.db'}")
        settings = load_settings(env="dog")
    services = build_services(settings)
    yield services
    services.close()


@pytest.fixture(scope="session")
def embedded_catalog(embedded_services: Services) -> AssetCatalog:
    """One cached extraction of the embedded tenant, shared by Dog and MCP tests."""
    return AssetCatalog(embedded_services)


class FakeReport:
    def __init__(self, status: str, run_id: str = "RUN-FAKE") -> None:
        self.status = status
        self.run_id = run_id


class FakeEngine:
    """Stands in for SyncEngine where the test is about the frontend, not the sync."""

    def __init__(self, statuses: dict[str, Any] | None = None, *, wait_for_stop_s: float = 0.0) -> None:
        self.statuses = statuses or {}
        self.calls: list[dict[str, Any]] = []
        self.wait_for_stop_s = wait_for_stop_s
        import threading

        self.stopped = threading.Event()

    def __call__(self, services: Services) -> FakeEngine:  # the engine factory
        return self

    def request_stop(self) -> None:
        self.stopped.set()

    def sync(self, **kwargs: Any) -> FakeReport:
        self.calls.append(kwargs)
        if self.wait_for_stop_s:
            return FakeReport("aborted" if self.stopped.wait(self.wait_for_stop_s) else "succeeded")
        outcome = self.statuses.get(kwargs["slice_key"], "succeeded")
        if isinstance(outcome, BaseException):
            raise outcome
        return FakeReport(outcome)


#: Collects Content-Security-Policy violations in the page (init scripts are exempt from CSP).
CSP_WATCH = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)
