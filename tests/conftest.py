"""Shared database fixtures (SQLite and PostgreSQL) for every test area.

Use these in your tests:

* ``store``          a migrated, empty :class:`core.store.Store`, parametrized over
                     ``sqlite`` and ``postgres`` (the PostgreSQL case is marked ``postgres``)
* ``store_url``      the URL of that same store (for code that opens its own engine)
* ``sqlite_store`` / ``postgres_store``   one backend only, migrated and empty
* ``postgres_url``   URL of the migrated, emptied per-session PostgreSQL database
* ``sqlite_url``     URL of a new, *unmigrated* SQLite file in the test's tmp dir
* ``make_postgres_database``   factory: a brand-new empty PostgreSQL database → its URL
                     (dropped at the end of the session)

PostgreSQL comes from ``DGSYNC_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test session (each xdist worker)
creates its own database ``dgsync_test_<worker>_<unix time>_<random>`` through the
``postgres`` maintenance database and drops it at the end, so parallel workers and CI runs
never collide; databases left behind by killed sessions are dropped after three hours.
The schema is created once per session by the Alembic upgrade; every test starts from empty
tables. If the server is unreachable the PostgreSQL cases are skipped, unless
``DGSYNC_REQUIRE_POSTGRES=1`` (set by ``scripts/test.sh``): then they fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from core.store.db import Store, make_engine, normalise_url
from core.store.tables import ALL_TABLES

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_required() -> bool:
    return os.environ.get("DGSYNC_REQUIRE_POSTGRES") == "1"


def _url_string(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _empty_tables(store: Store) -> None:
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(ALL_TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in ALL_TABLES:
                conn.execute(text(f"DELETE FROM {table}"))


# --------------------------------------------------------------------- PostgreSQL


def connect_postgres_admin(configured_url: str) -> tuple[URL, Engine]:
    """(server URL, AUTOCOMMIT engine on the ``postgres`` maintenance database), or skip the
    test — or fail it when ``DGSYNC_REQUIRE_POSTGRES=1`` — if the server is unreachable."""
    server = normalise_url(configured_url)
    admin = create_engine(
        server.set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        admin.dispose()
        reason = (
            f"PostgreSQL is not reachable at {server.render_as_string(hide_password=True)} "
            f"({type(exc).__name__}: {str(exc.orig or exc).strip().splitlines()[0]})"
        )
        if _postgres_required():
            pytest.fail(
                f"{reason}. DGSYNC_REQUIRE_POSTGRES=1, so the PostgreSQL store tests must run: "
                "start the server (pg_ctlcluster --skip-systemctl-redirect <version> main start) "
                "or point DGSYNC_TEST_POSTGRES_URL at one (trust auth, a role that may CREATE "
                "DATABASE).",
                pytrace=False,
            )
        pytest.skip(f"{reason}; set DGSYNC_REQUIRE_POSTGRES=1 to make this a failure")
    return server, admin


_TEST_DATABASE = re.compile(r"^dgsync_test_[A-Za-z0-9]+_(\d+)_[0-9a-f]+$")
#: A test database older than this belongs to a session that was killed before its cleanup.
_ABANDONED_AFTER_S = 3 * 3600


def _drop_abandoned_databases(admin: Engine) -> None:
    with admin.connect() as conn:
        names = conn.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE 'dgsync\\_test\\_%'")
        ).scalars().all()
        for name in names:
            match = _TEST_DATABASE.match(name)
            if match and time.time() - int(match.group(1)) > _ABANDONED_AFTER_S:
                with contextlib.suppress(SQLAlchemyError):  # still in use: leave it
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture(scope="session")
def postgres_admin_connector() -> Callable[[str], tuple[URL, Engine]]:
    """The function behind the PostgreSQL fixtures (to test its skip/fail behaviour)."""
    return connect_postgres_admin


@pytest.fixture(scope="session")
def _postgres_admin() -> Iterator[tuple[URL, Engine]]:
    configured = os.environ.get("DGSYNC_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)
    server, admin = connect_postgres_admin(configured)
    _drop_abandoned_databases(admin)
    yield server, admin
    admin.dispose()


@pytest.fixture(scope="session")
def make_postgres_database(
    _postgres_admin: tuple[URL, Engine],
) -> Iterator[Callable[[], str]]:
    """Factory: create a fresh, empty PostgreSQL database and return its URL."""
    server, admin = _postgres_admin
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    created: list[str] = []

    def make() -> str:
        name = f"dgsync_test_{worker}_{int(time.time())}_{secrets.token_hex(4)}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return _url_string(server.set(database=name))

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def _postgres_session_store(make_postgres_database: Callable[[], str]) -> Iterator[Store]:
    store = Store(make_engine(make_postgres_database()))
    store.upgrade()  # the schema, once per session, through the migrations
    yield store
    store.dispose()


@pytest.fixture
def postgres_store(_postgres_session_store: Store) -> Store:
    """The per-session PostgreSQL store, migrated, with every table emptied."""
    _empty_tables(_postgres_session_store)
    return _postgres_session_store


@pytest.fixture
def postgres_url(postgres_store: Store) -> str:
    """URL of the migrated, emptied per-session PostgreSQL database."""
    return _url_string(postgres_store.engine.url)


# ------------------------------------------------------------------------- SQLite


@pytest.fixture(scope="session")
def _sqlite_session_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("store") / "state.db"
    store = Store(make_engine(f"sqlite:///{path}"))
    store.upgrade()
    yield store
    store.dispose()


@pytest.fixture
def sqlite_store(_sqlite_session_store: Store) -> Store:
    """The per-session SQLite store (a WAL file), migrated, with every table emptied."""
    _empty_tables(_sqlite_session_store)
    return _sqlite_session_store


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a new, unmigrated SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'state.db'}"


# ------------------------------------------------------------------------- both


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Store:
    """A migrated, empty store: once on SQLite, once on PostgreSQL."""
    name = "sqlite_store" if request.param == "sqlite" else "postgres_store"
    value: Store = request.getfixturevalue(name)
    return value


@pytest.fixture
def store_url(store: Store) -> str:
    """The URL of ``store`` (password included), for code that opens its own engine."""
    return _url_string(make_url(store.engine.url))
