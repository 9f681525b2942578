"""core/governance/hooks.py: the one after-run hook of every frontend (audit with the
caller's actor + alert rules), and the reference-counted security sink of app startup."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.errors import SourceUnavailable
from core.governance import events, hooks
from core.governance.alerts import AlertService
from core.services import Services, build_services
from core.store import repo
from core.store.db import Store
from core.store.schemas import AuditFilter, RunError

from .conftest import Receiver, add_run, webhook_channels


@pytest.fixture
def services(sqlite_store: Store, make_settings: Any, receiver: Receiver) -> Iterator[Services]:
    settings = make_settings(channels=webhook_channels(receiver, "ops"),
                             rules=[{"name": "failed", "kind": "run_failed", "channels": ["ops"]}])
    with build_services(settings) as built:
        yield built


class _Report:
    def __init__(self, run_id: str, status: str) -> None:
        self.run_id, self.status, self.counts = run_id, status, {"failed": 1}


def _audit(services: Services, action: str) -> list[Any]:
    with services.store().session(readonly=True) as s:
        return repo.query_audit(session=s, filters=AuditFilter(action=action))


def _security(services: Services, kind: str) -> list[Any]:
    with services.store().session(readonly=True) as s:
        return repo.list_security_events(session=s, kind=kind)


def test_run_with_governance_audits_the_actor_and_alerts_on_a_failed_run(
    services: Services, receiver: Receiver
) -> None:
    run_id = add_run(services.store(), status="failed",
                     errors=[RunError(object=None, code="source_unavailable", message="down", hint="Retry.")])
    report = hooks.run_with_governance(services, lambda: _Report(run_id, "failed"), actor="key:ci/operator")
    assert report.run_id == run_id
    audited = _audit(services, "sync")
    assert [(a.actor, a.run_id, a.details["status"]) for a in audited] == [("key:ci/operator", run_id, "failed")]
    alerts = AlertService(services.store(), services.settings).list_alerts()
    assert [a.run_id for a in alerts] == [run_id]
    assert receiver.paths() == ["/ops"]


def test_a_run_that_raises_is_audited_as_failed_and_still_evaluated(services: Services, receiver: Receiver) -> None:
    def crash() -> Any:
        add_run(services.store(), status="failed", started_at=datetime.now(UTC) + timedelta(seconds=1),
                errors=[RunError(object=None, code="source_unavailable", message="down", hint="Retry.")])
        raise SourceUnavailable("tenant down")

    with pytest.raises(SourceUnavailable):
        hooks.run_with_governance(services, crash, actor="oidc:alice/operator")
    audited = _audit(services, "sync")
    assert audited[0].actor == "oidc:alice/operator" and audited[0].details["error"] == "source_unavailable"
    assert len(AlertService(services.store(), services.settings).list_alerts()) == 1


def test_after_run_of_a_plan_audits_without_alert_rules(services: Services) -> None:
    assert hooks.after_run(services, None, actor="key:v/viewer", action="plan", details={"spaces": ["SALES"]}) == []
    assert [(a.actor, a.details["spaces"]) for a in _audit(services, "plan")] == [("key:v/viewer", ["SALES"])]


def test_startup_is_one_sink_per_store_and_runs_share_it(services: Services) -> None:
    stop_a = hooks.startup(services)
    stop_b = hooks.startup(services)
    barrier = threading.Barrier(3)

    def run() -> Any:
        barrier.wait()
        events.emit_security_signal(events.GLUE_ACCESS_DENIED, source="glue", operation="UpdateTable")
        barrier.wait()
        return None

    threads = [threading.Thread(target=hooks.run_with_governance, args=(services, run), kwargs={"actor": "dog"})
               for _ in range(2)]
    for t in threads:
        t.start()
    barrier.wait()  # both runs (and their sink references) are live
    barrier.wait()
    for t in threads:
        t.join(timeout=30)
    assert len(_security(services, events.GLUE_ACCESS_DENIED)) == 2  # one row per signal, not per sink
    stop_a()
    stop_a()  # idempotent
    events.emit_security_signal(events.GLUE_ACCESS_DENIED, source="glue")
    assert len(_security(services, events.GLUE_ACCESS_DENIED)) == 3  # b still holds the sink
    stop_b()
    events.emit_security_signal(events.GLUE_ACCESS_DENIED, source="glue")
    assert len(_security(services, events.GLUE_ACCESS_DENIED)) == 3  # no sink any more
