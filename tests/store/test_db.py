"""Engines, URLs and sessions of the state store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text

from core.errors import StoreError
from core.store.db import Store, make_engine, normalise_url, safe_url
from core.store.tables import RunRow


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///.dgsync/state.db", "sqlite:///.dgsync/state.db"),
    ],
)
def test_postgres_urls_are_normalised_to_psycopg3(given: str, expected: str) -> None:
    assert normalise_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize("url", ["mysql://root@localhost/x", "not a url"])
def test_unsupported_or_invalid_url_is_a_store_error(url: str) -> None:
    with pytest.raises(StoreError) as info:
        make_engine(url)
    assert "DGSYNC_DATABASE_URL" in info.value.hint or "SQLite" in info.value.hint


def test_safe_url_masks_the_password() -> None:
    assert "s3cret" not in safe_url("postgresql+psycopg://u:s3cret@h/db")
    assert "***" in safe_url("postgresql+psycopg://u:s3cret@h/db")


def test_sqlite_engine_creates_the_parent_directory_and_sets_pragmas(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "er" / "state.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    engine.dispose()
    assert db.exists()


def test_relative_sqlite_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store.from_url("sqlite:///.dgsync/state.db", auto_upgrade=True)
    store.dispose()
    assert (tmp_path / ".dgsync" / "state.db").exists()


def test_in_memory_sqlite_store_works_across_sessions() -> None:
    store = Store.from_url("sqlite://", auto_upgrade=True)
    now = datetime.now(UTC)
    with store.session() as s:
        s.add(RunRow(id="r1", kind="sync", env="dog", status="running", trigger="cli",
                     started_at=now))
    with store.session(readonly=True) as s:
        assert s.scalar(select(RunRow.id)) == "r1"


def _run(run_id: str, started_at: datetime) -> RunRow:
    return RunRow(id=run_id, kind="sync", env="dog", status="running", trigger="cli",
                  started_at=started_at)


def test_session_commits_on_success_and_rolls_back_on_error(store: Store) -> None:
    now = datetime.now(UTC)
    with store.session() as s:
        s.add(_run("kept", now))
    with pytest.raises(RuntimeError), store.session() as s:
        s.add(_run("dropped", now))
        s.flush()
        raise RuntimeError("boom")
    with store.session(readonly=True) as s:
        assert set(s.scalars(select(RunRow.id))) == {"kept"}


def test_database_errors_come_out_as_store_errors(store: Store) -> None:
    now = datetime.now(UTC)
    with store.session() as s:
        s.add(_run("dup", now))
    with pytest.raises(StoreError) as info, store.session() as s:
        s.add(_run("dup", now))  # primary key violation
    assert info.value.__cause__ is not None
    assert "dgsync db current" in info.value.hint


def test_readonly_session_writes_nothing(store: Store) -> None:
    with store.session(readonly=True) as s:
        s.add(_run("ro", datetime.now(UTC)))
        s.flush()
    with store.session(readonly=True) as s:
        assert s.scalar(select(RunRow.id)) is None


def test_timestamps_come_back_timezone_aware_utc(store: Store) -> None:
    cest = timezone(timedelta(hours=2))
    local = datetime(2026, 6, 1, 14, 30, 15, 123456, tzinfo=cest)
    with store.session() as s:
        s.add(_run("tz", local))
    with store.session(readonly=True) as s:
        got = s.scalar(select(RunRow.started_at))
    assert got == local
    assert got is not None and got.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(store: Store) -> None:
    with pytest.raises(StoreError), store.session() as s:
        s.add(_run("naive", datetime(2026, 1, 1)))
        s.flush()
