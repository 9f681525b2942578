"""Engines, sessions and migrations of the state store.

SQLite (a file; the default ``sqlite:///.dgsync/state.db``, relative to the working directory)
or PostgreSQL (``postgresql+psycopg://``; ``postgresql://`` and ``postgres://`` URLs are
normalised to psycopg 3).

SQLite runs in WAL mode with a busy timeout and foreign keys on. SQLAlchemy, not the
``sqlite3`` driver, emits ``BEGIN``: write sessions start with ``BEGIN IMMEDIATE`` so that
SQLite's single writer is taken up front (a deferred transaction that reads and then writes
can fail at once with "database is locked" when another writer got in between). Keep sessions
short: never hold one across a network call.

Migrations are Alembic scripts shipped inside the package (``core/store/migrations``); no
``alembic.ini`` is needed. :meth:`Store.upgrade` runs them to head; :meth:`Store.ensure_current`
refuses a database that is not at head.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from core.errors import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: SQLite waits this long for the write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Execution option: how SQLAlchemy begins a transaction on SQLite.
SQLITE_BEGIN_OPTION = "dgsync_sqlite_begin"
#: Any constant: serialises concurrent ``upgrade()`` calls on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x64677379  # "dgsy"

UPGRADE_HINT = "Run `dgsync db upgrade` (it creates or migrates the state store)."


def normalise_url(url: str | URL) -> URL:
    """Parse a database URL; ``postgres://`` / ``postgresql://`` become psycopg 3."""
    raw = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    try:
        parsed = make_url(raw)
    except ArgumentError as exc:
        raise StoreError(
            "the database URL is not valid",
            hint="Set DGSYNC_DATABASE_URL to e.g. sqlite:///.dgsync/state.db or "
            "postgresql+psycopg://user@host:5432/dgsync.",
        ) from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"unsupported database {parsed.get_backend_name()!r}",
            hint="Use SQLite (sqlite:///path) or PostgreSQL (postgresql+psycopg://...).",
        )
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        parsed = url if isinstance(url, URL) else make_url(str(url))
    except ArgumentError:
        return "<invalid database URL>"
    return parsed.render_as_string(hide_password=True)


def _sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory databases."""
    database = url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        return None
    if database.startswith("file:"):
        database = database[len("file:") :].split("?", 1)[0]
        if not database or database == ":memory:":
            return None
    return Path(database)


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` with the settings dgsync relies on (see module doc)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _make_sqlite_engine(parsed, echo=echo)
    return create_engine(
        parsed,
        echo=echo,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10, "application_name": "dgsync"},
    )


def _make_sqlite_engine(url: URL, *, echo: bool) -> Engine:
    path = _sqlite_path(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if path is None:
        # One shared connection, so every session sees the same in-memory database.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        try:
            path.expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the directory of the SQLite database {path}: {exc.strerror}",
                hint="Point DGSYNC_DATABASE_URL to a writable location.",
            ) from exc
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    engine = create_engine(url, **kwargs)
    wal = path is not None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the driver, controls transactions (see the module doc).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        conn.exec_driver_sql("BEGIN DEFERRED" if mode == "DEFERRED" else "BEGIN IMMEDIATE")

    return engine


def _quiet_alembic() -> None:
    # Alembic logs "Context impl ..." at INFO on every connection; our callers report
    # what matters (the revision before and after) themselves.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


def _alembic_config(connection: Connection | None = None) -> Config:
    _quiet_alembic()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade_sql(url: str | URL, revision: str = "head") -> str:
    """The SQL an upgrade to ``revision`` would run on a database of ``url``'s kind, from
    an empty schema (for DBAs who apply migrations themselves). Connects to nothing."""
    import io

    buffer = io.StringIO()
    cfg = Config(output_buffer=buffer)
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option(
        "sqlalchemy.url", normalise_url(url).render_as_string(hide_password=False).replace("%", "%%")
    )
    command.upgrade(cfg, revision, sql=True)
    return buffer.getvalue()


def head_revision() -> str:
    """The newest migration revision this dgsync ships."""
    heads = ScriptDirectory.from_config(_alembic_config()).get_heads()
    return ",".join(sorted(heads))


class Store:
    """The state store: an engine, a session factory and the migrations.

    Build it once per process (``Store.from_url``) and pass it in; it is thread-safe.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        read_engine = engine
        if self.dialect == "sqlite":
            read_engine = engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
        self._read_sessions = sessionmaker(bind=read_engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str | URL, *, auto_upgrade: bool, echo: bool = False) -> Store:
        """Open the store at ``url``; migrate it (``auto_upgrade``) or insist it is current."""
        store = cls(make_engine(url, echo=echo))
        try:
            if auto_upgrade:
                store.upgrade()
            else:
                store.ensure_current()
        except BaseException:
            store.dispose()
            raise
        return store

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with the password masked."""
        return safe_url(self.engine.url)

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        Database errors come out as :class:`StoreError`. ``readonly`` sessions do not take
        SQLite's write lock up front (use them for dashboards and reports).
        """
        factory = self._read_sessions if readonly else self._sessions
        session = factory()
        try:
            yield session
            if readonly:
                session.rollback()
            else:
                session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StoreError(
                f"state store error ({type(exc).__name__}) on {self.url}",
                hint="Check DGSYNC_DATABASE_URL and that the database is up; "
                "`dgsync db current` shows the schema version.",
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self, revision: str = "head") -> None:
        """Create or migrate the schema to ``revision`` (Alembic, programmatically)."""
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                command.upgrade(_alembic_config(conn), revision)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot migrate the state store at {self.url} ({type(exc).__name__})",
                hint="Check DGSYNC_DATABASE_URL, that the database is up and the user may "
                "create tables.",
            ) from exc

    def current_revision(self) -> str | None:
        """The schema revision of the database (None: never migrated)."""
        _quiet_alembic()
        try:
            with self.engine.connect() as conn:
                heads = MigrationContext.configure(conn).get_current_heads()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot open the state store at {self.url} ({type(exc).__name__})",
                hint="Check DGSYNC_DATABASE_URL and that the database is up.",
            ) from exc
        return ",".join(sorted(heads)) if heads else None

    def ensure_current(self) -> None:
        """Raise :class:`StoreError` unless the schema is at the head revision."""
        current = self.current_revision()
        head = head_revision()
        if current == head:
            return
        if current is None:
            raise StoreError(f"the state store at {self.url} has no schema yet", hint=UPGRADE_HINT)
        known = {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}
        if any(rev not in known for rev in current.split(",")):
            raise StoreError(
                f"the state store at {self.url} is at revision {current}, newer than this "
                f"dgsync knows (head {head})",
                hint="Upgrade dgsync to the version that migrated this database.",
            )
        raise StoreError(
            f"the state store at {self.url} is at revision {current}, not at head {head}",
            hint=UPGRADE_HINT,
        )

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def store_from_settings(database_url: str, *, env: str) -> Store:
    """Open the store for an environment: dog migrates on its own, wolf and bear never do."""
    return Store.from_url(database_url, auto_upgrade=(env == "dog"))


def default_holder() -> str:
    """An identity for leases and runs: ``host:pid``."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"
