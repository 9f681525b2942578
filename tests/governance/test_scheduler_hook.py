"""The scheduler checks the alert rules after every slice and ticks escalation in its loop."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from core.settings import AlertSettings, ScheduleSettings, Settings
from core.store.db import Store
from core.store.schemas import RunError
from core.sync.scheduler import Scheduler

from .conftest import Receiver, add_run, webhook_channels


class _Services:
    def __init__(self, store: Store, receiver: Receiver) -> None:
        self.settings = Settings(
            env="dog",
            schedule=ScheduleSettings(high="off", medium="off", low="off"),
            alerts=AlertSettings.model_validate({
                "channels": webhook_channels(receiver, "ops"),
                "rules": [{"name": "failed", "kind": "run_failed", "channels": ["ops"]}],
            }),
        )
        self._store = store

    def store(self) -> Store:
        return self._store


class _FailingEngine:
    def __init__(self, services: _Services) -> None:
        self.services = services

    def request_stop(self) -> None:
        pass

    def sync(self, *, slice_key: str | None, **_: Any) -> Any:
        run_id = add_run(self.services.store(), status="failed", slice_key=slice_key, errors=[
            RunError(code="target_access_denied", message="Glue said no", hint="Fix the IAM policy.")])
        return SimpleNamespace(run_id=run_id, status="failed", failsafe=None)


def test_a_failed_slice_alerts_through_the_scheduler(sqlite_store: Store, receiver: Receiver) -> None:
    services = _Services(sqlite_store, receiver)
    scheduler = Scheduler(services, engine_factory=_FailingEngine)  # type: ignore[arg-type]
    (outcome,) = scheduler.run_once()
    assert outcome.status == "failed"
    (body,) = receiver.bodies("/ops")
    assert body["alert"]["run_id"] == outcome.run_id
    assert body["alert"]["hint"] == "Fix the IAM policy."
    assert "critical" in body["alert"]["title"]
