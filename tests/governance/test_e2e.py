"""End to end: a failed sync against the emulator (fault injected) → an alert on a local
webhook receiver → escalation after T when not acked (injected clock) → silence after ack.
And: a burst of bad API keys → a security alert."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from core.errors import DgsyncError
from core.governance.alerts import AlertService
from core.governance.security import SecurityMonitor, install_store_sink
from core.services import build_services
from core.settings import (
    AlertSettings,
    DatasphereSettings,
    EmulatorSettings,
    GlueSettings,
    Settings,
)
from core.store import repo
from core.sync.engine import SyncEngine
from doubles.emulator.server import RunningEmulator, start_in_thread

from .conftest import Clock, Receiver, webhook_channels

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with start_in_thread(EmulatorSettings(port=0)) as emu:
        yield emu


@pytest.fixture
def settings(emulator: RunningEmulator, moto_endpoint: str, tmp_path: Path, receiver: Receiver,
             monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return Settings(
        env="dog",
        state_dir=tmp_path / "state",
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        datasphere=DatasphereSettings(
            base_url=emulator.base_url, token_url=emulator.token_url,
            client_id=emulator.client_id, client_secret=emulator.client_secret,
            max_retries=1, max_backoff_s=0.01,
        ),
        glue=GlueSettings(endpoint_url=moto_endpoint, calls_per_second=1000, burst=1000, max_attempts=2),
        alerts=AlertSettings.model_validate({
            "channels": webhook_channels(receiver, "oncall", "lead", "director"),
            "rules": [
                {"name": "sync-failed", "kind": "run_failed", "channels": ["oncall", "lead", "director"],
                 "escalate_after_s": 300},
                {"name": "security", "kind": "security", "channels": ["oncall"]},
            ],
            "failed_auth_burst": 5,
        }),
    )


def test_a_failed_sync_alerts_escalates_after_t_and_stops_after_ack(
    settings: Settings, emulator: RunningEmulator, receiver: Receiver, clock: Clock
) -> None:
    httpx.post(f"{emulator.admin_url}/faults",
               json={"server_error": {"status": 503, "probability": 1.0}}, timeout=5).raise_for_status()
    started = datetime.now(UTC).replace(microsecond=0)
    with build_services(settings) as services:
        store = services.store()
        remove = install_store_sink(store, settings)
        try:
            with pytest.raises(DgsyncError) as raised:
                SyncEngine(services).sync()
        finally:
            remove()
        alerts = AlertService(store, settings, clock=clock)
        (alert,) = alerts.evaluate_run(since=started)
        assert receiver.paths() == ["/oncall"]
        sent = receiver.bodies("/oncall")[0]["alert"]
        assert sent["kind"] == "run_failed" and sent["rule"] == "sync-failed"
        assert sent["hint"] == raised.value.hint  # the error's remediation hint
        with store.session() as s:
            (run,) = repo.list_runs(session=s)
        assert run.status == "failed" and sent["run_id"] == run.id

        clock.advance(299)
        alerts.tick(prune=False)
        assert receiver.paths() == ["/oncall"]
        clock.advance(2)
        alerts.tick(prune=False)
        assert receiver.paths() == ["/oncall", "/lead"]

        alerts.ack(alert.id, actor="cli:alice")
        for _ in range(3):
            clock.advance(301)
            alerts.tick(prune=False)
        assert receiver.paths() == ["/oncall", "/lead"]  # nothing after the ack

        # the same failure again: counted on the acknowledged alert, not sent again
        with pytest.raises(DgsyncError):
            SyncEngine(services).sync()
        assert [a.id for a in alerts.evaluate_run()] == [alert.id]
        assert receiver.paths() == ["/oncall", "/lead"]


def test_a_burst_of_bad_api_keys_raises_a_security_alert(
    settings: Settings, receiver: Receiver
) -> None:
    with build_services(settings) as services:
        monitor = SecurityMonitor(services.store(), settings)
        for i in range(7):
            monitor.record_failed_auth(source="203.0.113.50", presented_key=f"dgk_{i}_s3cr3t",
                                       frontend="wolf")
    assert receiver.paths() == ["/oncall"]
    (body,) = receiver.bodies("/oncall")
    assert body["alert"]["kind"] == "security" and "203.0.113.50" in body["text"]
    assert "s3cr3t" not in str(receiver.calls)


def test_dgsync_sync_with_bad_credentials_stores_the_security_event_and_alerts(
    settings: Settings, emulator: RunningEmulator, moto_endpoint: str, receiver: Receiver, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from dgsync_cli.main import cli

    config = tmp_path / "dgsync.yaml"
    config.write_text(
        "alerts:\n  channels:\n"
        f"    - {{name: oncall, type: webhook, url: '{receiver.url}/oncall'}}\n"
        "  rules:\n    - {name: failed, kind: run_failed, channels: [oncall]}\n",
        encoding="utf-8",
    )
    env = {
        "DGSYNC_ENV": "dog",
        "DGSYNC_CONFIG_FILE": str(config),
        "DGSYNC_DATABASE_URL": settings.database_url,
        "DGSYNC_STATE_DIR": str(tmp_path / "state"),
        "DGSYNC_DATASPHERE__BASE_URL": emulator.base_url,
        "DGSYNC_DATASPHERE__TOKEN_URL": emulator.token_url,
        "DGSYNC_DATASPHERE__CLIENT_ID": emulator.client_id,
        "DGSYNC_DATASPHERE__CLIENT_SECRET": "not-the-secret-4711",
        "DGSYNC_DATASPHERE__MAX_RETRIES": "1",
        "DGSYNC_GLUE__ENDPOINT_URL": moto_endpoint,
    }
    result = CliRunner().invoke(cli, ["sync"], env=env, catch_exceptions=False)
    assert result.exit_code == 3, result.output  # could not run: authentication failed
    (body,) = receiver.bodies("/oncall")
    assert body["alert"]["kind"] == "run_failed"
    assert "DGSYNC_DATASPHERE__CLIENT_SECRET" in (body["alert"]["hint"] or "")
    with build_services(settings) as services, services.store().session() as s:
        events = repo.list_security_events(session=s)
        sync_audit = repo.query_audit(session=s, filters=None)
    assert "token_refresh_failed" in {e.kind for e in events}
    assert [(a.action, a.details.get("status")) for a in sync_audit] == [("sync", "failed")]
    assert sync_audit[0].actor.startswith("cli:")
    assert "not-the-secret-4711" not in repr(events) + repr(sync_audit) + str(receiver.calls)
