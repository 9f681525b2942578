"""The shared PostgreSQL fixtures skip without a server, but fail when CI requires it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/none"


def test_unreachable_postgres_skips_by_default(
    postgres_admin_connector: Callable[[str], object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DGSYNC_REQUIRE_POSTGRES", raising=False)
    with pytest.raises(pytest.skip.Exception) as info:
        postgres_admin_connector(UNREACHABLE)
    assert "PostgreSQL is not reachable at postgresql+psycopg://postgres@127.0.0.1:1" in str(
        info.value)


def test_unreachable_postgres_fails_when_required(
    postgres_admin_connector: Callable[[str], object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DGSYNC_REQUIRE_POSTGRES", "1")
    with pytest.raises(pytest.fail.Exception) as info:
        postgres_admin_connector(UNREACHABLE)
    message = str(info.value)
    assert "not reachable" in message and "DGSYNC_REQUIRE_POSTGRES=1" in message
    assert "DGSYNC_TEST_POSTGRES_URL" in message


def test_reachable_postgres_gives_a_maintenance_connection(postgres_url: str) -> None:
    from core.store.db import make_engine

    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT current_database()").scalar().startswith(
            "dgsync_test_")
    engine.dispose()
