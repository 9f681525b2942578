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

import errno
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Alembic announces its plugins ("setup plugin ...") at INFO when it is imported, and the
# migration context ("Context impl", "Will assume") on every connection: quiet by default
# (a level set explicitly, e.g. for debugging, is kept).
for _name in ("alembic", "alembic.runtime.plugins", "alembic.runtime.migration"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import Connection, Engine, create_engine, event, text  # noqa: E402
from sqlalchemy.engine import URL, make_url  # noqa: E402
from sqlalchemy.exc import ArgumentError, SQLAlchemyError  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402
from sqlalchemy.pool import StaticPool  # noqa: E402

from core.errors import StoreError  # noqa: E402

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: SQLite waits this long for the write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Execution option: how SQLAlchemy begins a transaction on SQLite.
SQLITE_BEGIN_OPTION = "dgsync_sqlite_begin"
#: Any constant: serialises concurrent ``upgrade()`` calls on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x64677379  # "dgsy"

UPGRADE_HINT = "Run `dgsync db upgrade` (it creates or migrates the state store)."


class _StoreCause(StoreError):
    """Base of the specific store errors. Their ``code`` stays ``store_error`` (frontends and
    scripts match on it); the class, message and hint name the cause."""

    @property
    def code(self) -> str:
        return "store_error"


class StoreUnreachable(_StoreCause):
    """Nothing answers at the database's host and port."""

    default_hint = "Start the database server, or fix the host/port in DGSYNC_DATABASE_URL."


class StoreAuthFailed(_StoreCause):
    """The server refused the user's credentials."""

    default_hint = (
        "Fix the user/password in DGSYNC_DATABASE_URL (or the server's pg_hba.conf / "
        "~/.pgpass); the password is never shown."
    )


class StoreRoleMissing(_StoreCause):
    """The database user (role) does not exist on the server."""

    default_hint = "Create the role (CREATE ROLE ... LOGIN) or fix the user in DGSYNC_DATABASE_URL."


class StoreDatabaseMissing(_StoreCause):
    """The server has no database of that name."""

    default_hint = "Create it (createdb / CREATE DATABASE ...) or fix the name in DGSYNC_DATABASE_URL."


class StorePermissionDenied(_StoreCause):
    """The user may connect but not create or change the store's tables."""

    default_hint = (
        "Grant the user CREATE on the schema and rights on dgsync's tables (or run "
        "`dgsync db upgrade` once as the owner), then retry."
    )


class StoreReadOnly(_StoreCause):
    """The store can be read but not written (read-only file, database or file system)."""

    default_hint = (
        "Point DGSYNC_DATABASE_URL to a writable location (or make the file and its directory "
        "writable); read-only commands (status, runs, audit) work on a read-only store at head."
    )


class StoreDirectoryMissing(_StoreCause):
    """The SQLite file or its directory cannot be opened or created."""

    default_hint = (
        "Create the directory of the SQLite file (or point DGSYNC_DATABASE_URL to an existing, "
        "writable directory)."
    )


_PG_SQLSTATE = {
    "28P01": StoreAuthFailed,
    "3D000": StoreDatabaseMissing,
    "42501": StorePermissionDenied,
    "25006": StoreReadOnly,  # read_only_sql_transaction (hot standby, default_transaction_read_only)
}

_UNREACHABLE_MARKERS = (
    "connection refused",
    "could not connect",
    "timeout expired",
    "could not translate host name",
    "name or service not known",
    "no route to host",
)


def classify_error(exc: BaseException, url: str, doing: str) -> StoreError:
    """Turn a SQLAlchemy/psycopg/sqlite3/OS error met while ``doing`` something with the store
    at ``url`` (already password-masked) into the :class:`StoreError` that says what is wrong.
    The driver's text is not repeated verbatim (it may echo connection details)."""
    orig: BaseException = getattr(exc, "orig", None) or exc
    text = str(orig).lower()
    sqlstate = getattr(orig, "sqlstate", None) or getattr(
        getattr(orig, "diag", None), "sqlstate", None
    )
    where = f"the state store at {url}"
    if isinstance(orig, OSError) and not isinstance(orig, ConnectionError):
        if orig.errno == errno.EROFS:
            return StoreReadOnly(f"cannot {doing} {where}: read-only file system")
        if orig.errno in (errno.EACCES, errno.EPERM):
            return StoreReadOnly(f"cannot {doing} {where}: permission denied ({orig.strerror})")
        return StoreDirectoryMissing(f"cannot {doing} {where}: {orig.strerror or type(orig).__name__}")
    cls = _PG_SQLSTATE.get(str(sqlstate)) if sqlstate else None
    if cls is None:
        if "password authentication failed" in text or "authentication failed" in text:
            cls = StoreAuthFailed
        elif "role" in text and "does not exist" in text:
            cls = StoreRoleMissing
        elif "database" in text and "does not exist" in text:
            cls = StoreDatabaseMissing
        elif any(marker in text for marker in _UNREACHABLE_MARKERS):
            cls = StoreUnreachable
        elif "readonly database" in text or "read-only" in text or "read only" in text:
            cls = StoreReadOnly
        elif "permission denied" in text or "insufficient privilege" in text:
            cls = StorePermissionDenied
        elif "unable to open database file" in text:
            cls = StoreDirectoryMissing
    reason = {
        StoreAuthFailed: "authentication failed",
        StoreRoleMissing: "the database user (role) does not exist",
        StoreDatabaseMissing: "the database does not exist",
        StoreUnreachable: "cannot connect to the server (connection refused or host unreachable)",
        StoreReadOnly: "the store is read-only",
        StorePermissionDenied: "permission denied",
        StoreDirectoryMissing: "the SQLite file cannot be opened (missing directory or file)",
    }
    if cls is not None:
        return cls(f"cannot {doing} {where}: {reason[cls]}")
    return StoreError(
        f"cannot {doing} {where} ({type(exc).__name__})",
        hint="Check DGSYNC_DATABASE_URL and that the database is up; "
        "`dgsync db current` shows the schema version.",
    )


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


def _readonly_sqlite_url(url: URL) -> str | None:
    """A read-only, immutable URI for an existing SQLite file this process cannot write
    (``None`` otherwise). ``immutable`` lets SQLite read a WAL database without creating its
    ``-shm`` file (impossible in a read-only directory)."""
    if url.get_backend_name() != "sqlite" or url.query.get("mode") == "ro":
        return None
    path = _sqlite_path(url)
    if path is None:
        return None
    path = path.expanduser().resolve()
    if not path.is_file():
        return None
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        return None
    if not os.access(path, os.R_OK):
        return None
    return f"sqlite:///file:{path}?mode=ro&immutable=1&uri=true"


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
        if url.query.get("mode") != "ro":
            try:
                path.expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise classify_error(
                    exc, safe_url(url), "create the directory of the SQLite database for"
                ) from exc
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    engine = create_engine(url, **kwargs)
    wal = path is not None and url.query.get("mode") != "ro"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the driver, controls transactions (see the module doc).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                try:
                    cursor.execute("PRAGMA journal_mode = WAL")
                    cursor.execute("PRAGMA synchronous = NORMAL")
                except sqlite3.OperationalError:
                    # a read-only file or file system: keep the journal mode it has
                    # (reads work; a write then fails as StoreReadOnly)
                    pass
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

    def __init__(self, engine: Engine, *, display_url: str | None = None) -> None:
        self.engine = engine
        self._display_url = display_url
        #: True when opened read-only (a SQLite file dgsync may not write).
        self.read_only = engine.url.query.get("mode") == "ro"
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        read_engine = engine
        if self.dialect == "sqlite":
            read_engine = engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
        self._read_engine = read_engine
        self._read_sessions = sessionmaker(bind=read_engine, expire_on_commit=False)

    @classmethod
    @classmethod
    def open(cls, url: str | URL, *, echo: bool = False) -> Store:
        """Open the store at ``url`` without checking or migrating its schema.

        A SQLite file that cannot be written (read-only file, directory or file system) is
        opened read-only instead (:attr:`read_only`), so read-only commands work on it; any
        write then fails with :class:`StoreReadOnly`.
        """
        store = cls(make_engine(url, echo=echo))
        if store.dialect != "sqlite" or store.read_only:
            return store
        fallback = _readonly_sqlite_url(store.engine.url)
        if fallback is None:
            return store
        shown = store.url
        store.dispose()
        ro = cls(make_engine(fallback, echo=echo), display_url=shown)
        ro.read_only = True
        return ro

    @classmethod
    def from_url(cls, url: str | URL, *, auto_upgrade: bool, echo: bool = False) -> Store:
        """Open the store at ``url`` (see :meth:`open`); migrate it (``auto_upgrade``) or
        insist it is current. A store already at head is never written to on open."""
        store = cls.open(url, echo=echo)
        try:
            current = store.current_revision()
            head = head_revision()
            if current == head:
                return store
            if auto_upgrade and store.read_only:
                raise StoreReadOnly(
                    f"the state store at {store.url} is read-only and at revision "
                    f"{current or 'empty'}, not at head {head}: it cannot be migrated"
                )
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
        return self._display_url or safe_url(self.engine.url)

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
            raise classify_error(exc, self.url, "read" if readonly else "write to") from exc
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
            raise classify_error(exc, self.url, "migrate") from exc

    def current_revision(self) -> str | None:
        """The schema revision of the database (None: never migrated)."""
        _quiet_alembic()
        try:
            with self._read_engine.connect() as conn:
                heads = MigrationContext.configure(conn).get_current_heads()
        except SQLAlchemyError as exc:
            raise classify_error(exc, self.url, "open") from exc
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
