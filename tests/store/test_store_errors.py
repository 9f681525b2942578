"""State-store failures at connect and migrate say what is wrong, with the fix.

Real failures wherever the test machine can produce them: the PostgreSQL server at
127.0.0.1:5432 (missing role, missing database, permission denied, read-only database), a
closed port on 127.0.0.1, SQLite files opened read-only, and — since the tests run as root,
whom ``chmod`` does not stop — a read-only SQLite file and directory enforced by running
``dgsync`` without ``CAP_DAC_OVERRIDE`` (``setpriv``). Not reproducible here and checked on
the classifier with the driver's real message/errno instead: a wrong password (the server
trusts every local connection) and a read-only file system (no read-only mount available).
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from core.errors import StoreError
from core.store.db import (
    Store,
    StoreAuthFailed,
    StoreDatabaseMissing,
    StoreDirectoryMissing,
    StorePermissionDenied,
    StoreReadOnly,
    StoreRoleMissing,
    StoreUnreachable,
    classify_error,
    head_revision,
)
from core.store.tables import RunRow

PASSWORD = "s3cret-Pw-9"
DGSYNC = Path(sys.executable).parent / "dgsync"


def _assert_no_secret(error: StoreError) -> None:
    for text_ in (error.message, error.hint, str(error)):
        assert PASSWORD not in text_


def _open_fails(url: str) -> StoreError:
    with pytest.raises(StoreError) as info:
        Store.from_url(url, auto_upgrade=True)
    _assert_no_secret(info.value)
    assert info.value.hint
    return info.value


@pytest.fixture
def pg_server(_postgres_admin: tuple[URL, Engine]) -> tuple[URL, Engine]:
    return _postgres_admin


def _with(server: URL, **parts: object) -> str:
    return server.set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.mark.postgres
def test_missing_role_is_named_with_its_fix(pg_server: tuple[URL, Engine]) -> None:
    server, _ = pg_server
    error = _open_fails(_with(server, username="no_such_dgsync_role", password=PASSWORD))
    assert isinstance(error, StoreRoleMissing)
    assert "role" in error.message and "CREATE ROLE" in error.hint
    assert "***" in error.message  # the URL is shown, its password masked


@pytest.mark.postgres
def test_missing_database_is_named_with_its_fix(pg_server: tuple[URL, Engine]) -> None:
    server, _ = pg_server
    error = _open_fails(_with(server, database="no_such_dgsync_db", password=PASSWORD))
    assert isinstance(error, StoreDatabaseMissing)
    assert "database does not exist" in error.message and "CREATE DATABASE" in error.hint


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket is


def test_refused_port_names_host_and_port() -> None:
    port = _closed_port()
    url = f"postgresql+psycopg://dgsync:{PASSWORD}@127.0.0.1:{port}/dgsync"
    error = _open_fails(url)
    assert isinstance(error, StoreUnreachable)
    assert f"127.0.0.1:{port}" in error.message and "host/port" in error.hint


@pytest.fixture
def unprivileged_role(
    pg_server: tuple[URL, Engine], make_postgres_database: Callable[[], str]
) -> Iterator[str]:
    """A URL for a fresh database as a role that may connect but not create tables."""
    _, admin = pg_server
    role = f"dgsync_noperm_{secrets.token_hex(4)}"
    database_url = make_url(make_postgres_database())
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    url = database_url.set(username=role, password=PASSWORD)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database_url.database}" WITH (FORCE)'))
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


@pytest.mark.postgres
def test_permission_denied_when_the_role_may_not_create_tables(unprivileged_role: str) -> None:
    # PostgreSQL >= 15 grants no CREATE on schema public to ordinary roles
    error = _open_fails(unprivileged_role)
    assert isinstance(error, StorePermissionDenied)
    assert "migrate" in error.message and "GRANT" not in error.message
    assert "CREATE" in error.hint


@pytest.mark.postgres
def test_read_only_postgres_database_at_head_serves_reads_and_refuses_writes(
    pg_server: tuple[URL, Engine], make_postgres_database: Callable[[], str]
) -> None:
    _, admin = pg_server
    url = make_postgres_database()
    Store.from_url(url, auto_upgrade=True).dispose()
    name = make_url(url).database
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    store = Store.from_url(url, auto_upgrade=True)  # at head: nothing to write
    try:
        with store.session(readonly=True) as session:
            assert session.query(RunRow).count() == 0
        with pytest.raises(StoreReadOnly), store.session() as session:
            session.execute(text("CREATE TABLE dgsync_probe (x int)"))
    finally:
        store.dispose()


def test_wrong_password_is_an_authentication_error() -> None:
    # The test server trusts local connections: use the driver's real message instead.
    driver = Exception(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
        'password authentication failed for user "dgsync"'
    )
    wrapped = OperationalError("connect", {}, driver)
    error = classify_error(wrapped, "postgresql+psycopg://dgsync:***@127.0.0.1/dgsync", "open")
    assert isinstance(error, StoreAuthFailed)
    assert "authentication failed" in error.message and "password" in error.hint


# -- SQLite ------------------------------------------------------------------------------------


def _migrated_sqlite(path: Path) -> Path:
    Store.from_url(f"sqlite:///{path}", auto_upgrade=True).dispose()
    return path


def test_read_only_uri_store_at_head_reads_and_refuses_writes(tmp_path: Path) -> None:
    db = _migrated_sqlite(tmp_path / "state.db")
    store = Store.from_url(f"sqlite:///file:{db}?mode=ro&uri=true", auto_upgrade=True)
    try:
        assert store.read_only
        assert store.current_revision() == head_revision()
        with store.session(readonly=True) as session:
            assert session.query(RunRow).count() == 0
        with pytest.raises(StoreReadOnly) as info, store.session() as session:
            session.execute(text("CREATE TABLE probe (x int)"))
        assert "read-only" in info.value.message
    finally:
        store.dispose()


def test_read_only_store_behind_head_is_not_migrated(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()
    error = _open_fails(f"sqlite:///file:{db}?mode=ro&uri=true")
    assert isinstance(error, StoreReadOnly) and "cannot be migrated" in error.message


def test_missing_sqlite_directory(tmp_path: Path) -> None:
    error = _open_fails(f"sqlite:///file:{tmp_path}/nowhere/state.db?mode=ro&uri=true")
    assert isinstance(error, StoreDirectoryMissing)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    error = _open_fails(f"sqlite:///{blocker}/sub/state.db")
    assert isinstance(error, StoreDirectoryMissing) and "directory" in error.hint


@pytest.mark.parametrize(
    ("code", "expected"),
    [(errno.EROFS, "read-only file system"), (errno.EACCES, "permission denied")],
)
def test_os_errors_of_the_sqlite_directory(code: int, expected: str) -> None:
    error = classify_error(OSError(code, os.strerror(code)), "sqlite:///x/state.db", "open")
    assert isinstance(error, StoreReadOnly) and expected in error.message


def test_unknown_driver_errors_stay_generic_with_a_hint() -> None:
    wrapped = OperationalError("SELECT 1", {}, Exception("something odd"))
    error = classify_error(wrapped, "sqlite:///x.db", "read")
    assert type(error) is StoreError and "OperationalError" in error.message and error.hint


# -- the CLI on a really read-only SQLite file -------------------------------------------------


def _without_dac_override() -> list[str]:
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to drop CAP_DAC_OVERRIDE")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


_SCRIPT = """
import sys
from click.testing import CliRunner
from dgsync_cli.main import cli
runner = CliRunner()
for args in [a.split() for a in sys.argv[1:]]:
    result = runner.invoke(cli, args)
    sys.stderr.write(result.stderr)
    print(" ".join(args), result.exit_code, flush=True)
"""


def _dgsync(
    cwd: Path, *commands: str, prefix: list[str] | None = None
) -> tuple[dict[str, int], str]:
    """Run CLI commands in ONE fresh interpreter (what alembic logs at import shows up);
    returns the exit code per command and everything written to stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGSYNC_")}
    env.update({"DGSYNC_ENV": "dog", "DGSYNC_LOG_LEVEL": "INFO", "HOME": str(cwd)})
    result = subprocess.run(
        [*(prefix or []), sys.executable, "-c", _SCRIPT, *commands],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    codes = {}
    for line in result.stdout.splitlines():
        command, _, code = line.rpartition(" ")
        codes[command] = int(code)
    return codes, result.stderr


@pytest.fixture
def readonly_store_dir(tmp_path: Path) -> Iterator[Path]:
    _migrated_sqlite(tmp_path / ".dgsync" / "state.db")
    (tmp_path / ".dgsync" / "state.db").chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    (tmp_path / ".dgsync").chmod(0o555)
    yield tmp_path
    (tmp_path / ".dgsync").chmod(0o755)


def test_read_only_sqlite_file_serves_status_runs_audit_and_sync_says_read_only(
    readonly_store_dir: Path,
) -> None:
    codes, stderr = _dgsync(
        readonly_store_dir, "status", "runs --format json", "audit", "db current",
        prefix=_without_dac_override(),
    )
    assert codes == {"status": 0, "runs --format json": 0, "audit": 0, "db current": 0}, stderr
    assert "error" not in stderr
    codes, stderr = _dgsync(readonly_store_dir, "sync", prefix=_without_dac_override())
    assert codes["sync"] != 0
    assert "read-only" in stderr and "hint:" in stderr and "Traceback" not in stderr


def test_no_alembic_lines_at_info_on_a_fresh_store(tmp_path: Path) -> None:
    codes, stderr = _dgsync(tmp_path, "audit", "status", "runs", "db current")
    assert set(codes.values()) == {0}, stderr
    for noise in ("alembic", "setup plugin", "Context impl", "Will assume"):
        assert noise not in stderr


def test_specific_store_errors_keep_the_store_error_code() -> None:
    # frontends (Wolf /ready, MCP) and scripts match on code; the class names the cause
    error = classify_error(OSError(errno.EROFS, "ro"), "sqlite:///x.db", "open")
    assert isinstance(error, StoreReadOnly)
    assert error.to_dict()["code"] == "store_error"
