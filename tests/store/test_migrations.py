"""Alembic migrations: from empty to head, in sync with the models, and the current check."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from core.errors import StoreError
from core.store.db import Store, head_revision, make_engine, store_from_settings
from core.store.tables import ALL_TABLES, Base


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """A brand-new database without any table."""
    if request.param == "sqlite":
        return sqlite_url
    make: Callable[[], str] = request.getfixturevalue("make_postgres_database")
    return make()


def test_upgrade_from_empty_creates_every_table_at_head(empty_url: str) -> None:
    store = Store(make_engine(empty_url))
    assert store.current_revision() is None
    store.upgrade()
    assert store.current_revision() == head_revision() == "0011"
    tables = set(inspect(store.engine).get_table_names())
    assert set(ALL_TABLES) | {"alembic_version"} == tables
    store.dispose()


def test_migrations_match_the_models_exactly(empty_url: str) -> None:
    store = Store(make_engine(empty_url))
    store.upgrade()
    with store.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    store.dispose()
    assert diff == []


def test_upgrade_is_idempotent_and_downgrade_to_base_empties(empty_url: str) -> None:
    store = Store(make_engine(empty_url))
    store.upgrade()
    store.upgrade()
    from alembic import command

    from core.store.db import _alembic_config

    with store.engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "base")
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    store.upgrade()
    assert store.current_revision() == head_revision()
    store.dispose()


def test_ensure_current_refuses_an_unmigrated_database(empty_url: str) -> None:
    store = Store(make_engine(empty_url))
    with pytest.raises(StoreError) as info:
        store.ensure_current()
    assert "dgsync db upgrade" in info.value.hint
    assert "no schema" in info.value.message
    store.dispose()


def test_from_url_without_auto_upgrade_refuses_and_with_it_migrates(empty_url: str) -> None:
    with pytest.raises(StoreError, match="no schema"):
        Store.from_url(empty_url, auto_upgrade=False)
    store = Store.from_url(empty_url, auto_upgrade=True)
    store.ensure_current()
    Store.from_url(empty_url, auto_upgrade=False).dispose()
    store.dispose()


def test_a_database_migrated_by_a_newer_dgsync_is_refused(empty_url: str) -> None:
    store = Store(make_engine(empty_url))
    store.upgrade()
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError) as info:
        store.ensure_current()
    assert "newer" in info.value.message
    assert "Upgrade dgsync" in info.value.hint
    store.dispose()


def test_unreachable_database_is_a_store_error() -> None:
    store = Store(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    with pytest.raises(StoreError) as info:
        store.ensure_current()
    assert "DGSYNC_DATABASE_URL" in info.value.hint


def test_dog_upgrades_on_its_own_wolf_and_bear_do_not(sqlite_url: str) -> None:
    with pytest.raises(StoreError):
        store_from_settings(sqlite_url, env="wolf")
    store_from_settings(sqlite_url, env="dog").dispose()
    store_from_settings(sqlite_url, env="bear").dispose()


def test_0009_resolves_duplicate_active_alerts_before_adding_the_unique_index(empty_url: str) -> None:
    """A race before 0009 may have left two open alerts of one condition: the newest stays."""
    store = Store(make_engine(empty_url))
    store.upgrade("0008")
    insert = text(
        "INSERT INTO alerts (env, rule, kind, dedup_key, severity, title, message, status, level, "
        "occurrences, first_seen_at, last_seen_at, details) VALUES "
        "(:env, 'r', 'run_failed', :key, 'warning', 't', 'm', :status, 0, 1, :ts, :ts, '{}')"
    )
    ts = "2026-11-27 10:00:00"
    with store.engine.begin() as conn:
        for env, key, status in [("dog", "r:x", "open"), ("dog", "r:x", "acked"), ("dog", "r:x", "resolved"),
                                 ("wolf", "r:x", "open"), ("dog", "r:y", "open")]:
            conn.execute(insert, {"env": env, "key": key, "status": status, "ts": ts})
    store.upgrade()
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, env, dedup_key, status FROM alerts ORDER BY id")).all()
    assert [(r.env, r.dedup_key, r.status) for r in rows] == [
        ("dog", "r:x", "resolved"), ("dog", "r:x", "acked"), ("dog", "r:x", "resolved"),
        ("wolf", "r:x", "open"), ("dog", "r:y", "open"),
    ]
    store.dispose()
