"""Alert deduplication under concurrency: the partial unique index of active alerts
(migration 0007) lets only one evaluator open an alert; the others count it. SQLite and
PostgreSQL (``store`` runs each test on both)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from core.errors import StoreError
from core.governance.alerts import AlertService, Condition
from core.settings import AlertSettings, Settings
from core.store import governance as g
from core.store.db import Store

THREADS = 8


def _settings(store: Store) -> Settings:
    url = store.engine.url.render_as_string(hide_password=False)
    rules = [{"name": "race", "kind": "run_failed", "channels": []}]
    return Settings(env="dog", database_url=url, alerts=AlertSettings.model_validate({"rules": rules}))


def _condition(n: int = 0) -> Condition:
    return Condition("run_failed", "slice:critical", "critical slice failed", f"attempt {n} failed",
                     hint="Check the tenant.")


def _active(store: Store) -> list[Any]:
    with store.session(readonly=True) as s:
        return [a for a in g.list_alerts(session=s, env="dog", status=["open", "acked"], limit=100)
                if a.dedup_key == "race:slice:critical"]


def test_concurrent_evaluators_open_one_alert_and_count_every_firing(store: Store) -> None:
    settings = _settings(store)
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def fire(n: int) -> None:
        service = AlertService(store, settings)  # one evaluator each (own sessions)
        barrier.wait()
        try:
            service.fire(_condition(n))
        except BaseException as exc:  # collected: asserted below
            errors.append(exc)

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    active = _active(store)
    assert len(active) == 1
    assert active[0].occurrences == THREADS


def test_an_insert_that_loses_the_race_counts_the_winners_alert(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic: the loser's check saw no alert (as in a race), its insert hits the
    unique index, and it counts the winner's alert instead of failing or duplicating."""
    settings = _settings(store)
    winner = AlertService(store, settings).fire(_condition(1))[0]
    real = g.active_alert
    calls = {"n": 0}

    def stale_first_check(**kwargs: Any) -> Any:
        calls["n"] += 1
        return None if calls["n"] == 1 else real(**kwargs)

    monkeypatch.setattr(g, "active_alert", stale_first_check)
    loser = AlertService(store, settings).fire(_condition(2))[0]
    assert calls["n"] == 2  # the stale check, then the re-read after the unique violation
    assert loser.id == winner.id and loser.occurrences == 2 and loser.message == "attempt 2 failed"
    assert [a.id for a in _active(store)] == [winner.id]


def test_the_index_allows_a_new_alert_once_the_old_one_is_resolved(store: Store) -> None:
    settings = _settings(store)
    first = AlertService(store, settings).fire(_condition(1))[0]
    with pytest.raises(StoreError), store.session() as s:
        g.create_alert(session=s, env="dog", rule="race", kind="run_failed", dedup_key=first.dedup_key,
                       severity="warning", title="dup", message="dup", hint=None)
    with store.session() as s:
        g.create_alert(session=s, env="wolf", rule="race", kind="run_failed", dedup_key=first.dedup_key,
                       severity="warning", title="other env", message="ok", hint=None)
    from sqlalchemy import update

    from core.store.tables import AlertRow

    with store.session() as s:
        s.execute(update(AlertRow).where(AlertRow.id == first.id).values(status="resolved"))
    again = AlertService(store, settings).fire(_condition(3))[0]
    assert again.id != first.id and again.status == "open"
