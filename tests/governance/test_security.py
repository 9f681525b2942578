"""Security events from the edges and the detection rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from core.datasphere.client import DatasphereClient
from core.errors import AccessDenied, AuthError, TargetAccessDenied
from core.governance import events
from core.governance.alerts import AlertService
from core.governance.events import SecuritySignal, emit_security_signal, security_sink
from core.governance.security import SecurityMonitor, fingerprint
from core.settings import DatasphereSettings, EmulatorSettings
from core.store import governance as g
from core.store import repo
from core.store.db import Store
from core.store.schemas import AuditIn, AuditSystem, RunCounts, RunIn, RunResult, RunStatus
from doubles.emulator.server import RunningEmulator, start_in_thread

from .conftest import Clock, Receiver, add_run, webhook_channels


@pytest.fixture(scope="module")
def emu() -> Iterator[RunningEmulator]:
    with start_in_thread(EmulatorSettings()) as running:
        yield running


def _client(emu: RunningEmulator, client_id: str, secret: str | None = None) -> DatasphereClient:
    return DatasphereClient(DatasphereSettings(
        base_url=emu.base_url, token_url=emu.token_url, client_id=client_id,
        client_secret=SecretStr(secret or emu.clients[client_id].client_secret),
        max_retries=1, max_backoff_s=0.05, timeout_s=10.0,
    ))


def _collect() -> tuple[list[SecuritySignal], Any]:
    got: list[SecuritySignal] = []
    return got, security_sink(got.append)


def test_datasphere_403_and_401_are_signalled_with_the_path_only(emu: RunningEmulator) -> None:
    got, sink = _collect()
    with sink:
        client = _client(emu, "dgsync-restricted")
        try:
            with pytest.raises(AccessDenied):
                client.get_json(f"{emu.base_url}/dwaas-core/api/v1/spaces/HR/views")
            httpx.post(f"{emu.admin_url}/faults", json={"expire_tokens": True}, timeout=5).raise_for_status()
            client.get_json(f"{emu.base_url}/dwaas-core/api/v1/spaces/SALES/views")
        finally:
            client.close()
    kinds = [s.kind for s in got]
    assert kinds == [events.DATASPHERE_FORBIDDEN, events.DATASPHERE_UNAUTHORIZED]
    assert got[0].detail["path"] == "/dwaas-core/api/v1/spaces/HR/views"
    assert got[1].detail["retried"] is False


def test_a_refused_token_request_is_signalled_without_the_secret(emu: RunningEmulator) -> None:
    got, sink = _collect()
    with sink:
        client = _client(emu, "dgsync-demo", secret="wrong-secret-value-123")
        try:
            with pytest.raises(AuthError):
                client.get_json(f"{emu.base_url}/dwaas-core/api/v1/spaces/SALES/views")
        finally:
            client.close()
    assert [s.kind for s in got] == [events.TOKEN_REFRESH_FAILED]
    assert got[0].detail["client_id"] == "dgsync-demo"
    assert "wrong-secret-value-123" not in repr(got[0])


def test_glue_access_denied_is_signalled(glue: Any, glue_faults: Any) -> None:
    got, sink = _collect()
    glue_faults.fail("GetDatabases", "AccessDeniedException", "not authorized")
    with sink, pytest.raises(TargetAccessDenied):
        list(glue.iter_databases())
    assert [(s.kind, s.detail["operation"]) for s in got] == [(events.GLUE_ACCESS_DENIED, "GetDatabases")]


def test_a_broken_sink_never_breaks_the_caller() -> None:
    def broken(_: SecuritySignal) -> None:
        raise RuntimeError("store down")

    with security_sink(broken):
        emit_security_signal("x", source="glue")  # no exception


def test_the_store_sink_writes_signals_as_events(sqlite_store: Store, make_settings: Any) -> None:
    monitor = SecurityMonitor(sqlite_store, make_settings())
    with security_sink(monitor.sink()):
        emit_security_signal(events.DATASPHERE_FORBIDDEN, source="datasphere", path="/x",
                             client_secret="s3cr3t-value")
    with sqlite_store.session() as s:
        (event,) = repo.list_security_events(session=s, kind=events.DATASPHERE_FORBIDDEN)
    assert event.source == "datasphere" and event.env == "dog"
    assert event.detail["path"] == "/x" and event.detail["client_secret"] == "***"


def test_a_burst_of_bad_api_keys_from_one_source_raises_one_security_alert(
    sqlite_store: Store, make_settings: Any, receiver: Receiver, clock: Clock
) -> None:
    settings = make_settings(
        channels=webhook_channels(receiver, "sec"),
        rules=[{"name": "sec", "kind": "security", "channels": ["sec"]}],
        failed_auth_burst=5, failed_auth_window_s=60,
    )
    monitor = SecurityMonitor(sqlite_store, settings, alerts=AlertService(sqlite_store, settings, clock=clock))
    for i in range(4):
        monitor.record_failed_auth(source="203.0.113.9", presented_key=f"dgk_live_{i}_topsecret")
        monitor.record_failed_auth(source="198.51.100.1", presented_key="other")
    assert receiver.calls == []
    for i in range(4):
        monitor.record_failed_auth(source="203.0.113.9", presented_key=f"dgk_live_x{i}_topsecret")
    assert receiver.paths() == ["/sec"]
    alert = receiver.bodies("/sec")[0]["alert"]
    assert alert["kind"] == "security" and "203.0.113.9" in alert["title"] and alert["hint"]
    with sqlite_store.session() as s:
        stored = repo.list_security_events(session=s, kind=events.AUTH_FAILURE, source="203.0.113.9")
    assert len(stored) == 8
    assert stored[0].detail["key_fingerprint"] == fingerprint("dgk_live_x3_topsecret")
    assert "topsecret" not in repr(stored) + repr(receiver.calls)


def test_failures_outside_the_window_do_not_make_a_burst(
    sqlite_store: Store, make_settings: Any, clock: Clock
) -> None:
    settings = make_settings(failed_auth_burst=3, failed_auth_window_s=60)
    monitor = SecurityMonitor(sqlite_store, settings, clock=clock)
    for _ in range(5):
        monitor.record_failed_auth(source="10.0.0.1")
        clock.advance(61)
    with sqlite_store.session() as s:
        assert g.list_alerts(session=s) == []


def test_a_key_used_from_a_new_source_alerts_but_its_first_source_does_not(
    sqlite_store: Store, make_settings: Any, clock: Clock
) -> None:
    monitor = SecurityMonitor(sqlite_store, make_settings(), clock=clock)
    assert monitor.record_key_use(key_name="ops", role="admin", source="10.0.0.1") is True
    assert monitor.record_key_use(key_name="ops", role="admin", source="10.0.0.1") is False
    with sqlite_store.session() as s:
        assert g.list_alerts(session=s) == []
    assert monitor.record_key_use(key_name="ops", role="admin", source="192.0.2.7") is True
    with sqlite_store.session() as s:
        (alert,) = g.list_alerts(session=s)
        logins = [e for e in g.stream_audit(session=s) if e.action == "login"]
    assert "192.0.2.7" in alert.title and alert.kind == "security"
    assert [e.actor for e in logins] == ["key:ops/admin", "key:ops/admin"]


def test_key_and_config_changes_are_events_and_audited_without_secrets(
    sqlite_store: Store, make_settings: Any
) -> None:
    monitor = SecurityMonitor(sqlite_store, make_settings())
    monitor.record_key_change(key_name="ci", action="created", actor="cli:alice", role="operator")
    monitor.record_key_change(key_name="ci", action="revoked", actor="cli:alice")
    monitor.record_config_change(
        actor="key:ops/admin",
        before={"glue": {"region": "eu-central-1"}, "datasphere": {"client_secret": "old-s3cret"}},
        after={"glue": {"region": "eu-west-1"}, "datasphere": {"client_secret": "new-s3cret"}},
        version="v7",
    )
    with sqlite_store.session() as s:
        kinds = [e.kind for e in repo.list_security_events(session=s)]
        audit = list(g.stream_audit(session=s))
    assert sorted(kinds) == ["config_changed", "key_created", "key_revoked"]
    assert [a.action for a in audit] == ["key_created", "key_revoked", "config_change"]
    change = audit[-1]
    assert change.system == "config" and change.actor == "key:ops/admin" and change.env == "dog"
    assert {"field": "glue.region", "before": "eu-central-1", "after": "eu-west-1"} in change.details["diff"]
    assert change.before_hash and change.after_hash and change.before_hash != change.after_hash
    assert "s3cret" not in repr(audit)


def test_denied_bursts_token_failures_and_glue_denials_raise_alerts_on_tick(
    sqlite_store: Store, make_settings: Any, clock: Clock
) -> None:
    settings = make_settings(denied_burst=3, denied_window_s=300)
    monitor = SecurityMonitor(sqlite_store, settings, clock=clock)
    monitor.record(events.DATASPHERE_FORBIDDEN, source="datasphere")
    monitor.record(events.DATASPHERE_UNAUTHORIZED, source="datasphere")
    assert monitor.detect_bursts() == []
    monitor.record(events.DATASPHERE_FORBIDDEN, source="datasphere")
    monitor.record(events.GLUE_ACCESS_DENIED, source="glue")
    result = AlertService(sqlite_store, settings, clock=clock).tick(prune=False)
    titles = sorted(a.title for a in monitor.alerts.list_alerts())
    assert len(result.fired) == 2
    assert titles == ["1 Glue AccessDenied within 300s", "3 Datasphere 401/403 within 300s"]
    clock.advance(301)  # the window moved on: nothing new
    assert AlertService(sqlite_store, settings, clock=clock).tick(prune=False).fired == []


def test_deletions_far_above_the_usual_volume_raise_a_security_alert(
    sqlite_store: Store, make_settings: Any
) -> None:
    settings = make_settings(deletion_spike_factor=5, deletion_spike_min=10)
    monitor = SecurityMonitor(sqlite_store, settings)
    for n in (1, 2, 0, 3):
        add_run(sqlite_store, status="succeeded", deleted=n)
    normal_id = add_run(sqlite_store, status="succeeded", deleted=9)
    spike_id = add_run(sqlite_store, status="succeeded", deleted=40)
    with sqlite_store.session() as s:
        normal = repo.get_run(session=s, run_id=normal_id)
        spike = repo.get_run(session=s, run_id=spike_id)
    assert normal is not None and spike is not None
    assert monitor.detect_run(normal) == []
    (alert,) = monitor.detect_run(spike)
    assert "40 deletions" in alert.title


def test_writes_outside_the_write_window_raise_a_security_alert(
    sqlite_store: Store, make_settings: Any
) -> None:
    monitor = SecurityMonitor(sqlite_store, make_settings(write_window_utc="06:00-20:00"))
    day = datetime(2026, 11, 27, tzinfo=UTC)
    runs = {}
    for label, hour in (("inside", 10), ("outside", 23)):
        ts = day + timedelta(hours=hour)
        with sqlite_store.session() as s:
            run = repo.start_run(session=s, run=RunIn(env="dog", started_at=ts))
            repo.record_audit(session=s, entry=AuditIn(
                ts=ts, actor="cli:mallory", run_id=run.id, system=AuditSystem.GLUE,
                object="sales.t", action="update"))
            runs[label] = repo.finish_run(session=s, run_id=run.id, result=RunResult(
                status=RunStatus.SUCCEEDED, counts=RunCounts(updated=1), finished_at=ts))
    assert monitor.detect_run(runs["inside"]) == []
    (alert,) = monitor.detect_run(runs["outside"])
    assert "outside 06:00-20:00" in alert.title and "cli:mallory" in alert.message
