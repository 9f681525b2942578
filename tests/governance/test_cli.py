"""`dgsync alerts ...`, `dgsync security events`, `dgsync audit` filters, export and prune."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result

from core.governance.alerts import AlertService, Condition
from core.governance.security import SecurityMonitor
from core.settings import AlertSettings, Settings
from core.store import repo
from core.store.db import Store
from core.store.schemas import AuditIn, AuditSystem
from dgsync_cli.main import cli

from .conftest import Receiver


def _url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def _dgsync(store: Store, *args: str, config: Path | None = None) -> Result:
    env = {"DGSYNC_DATABASE_URL": _url(store), "DGSYNC_ENV": "dog"}
    if config is not None:
        env["DGSYNC_CONFIG_FILE"] = str(config)
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _service(store: Store) -> AlertService:
    return AlertService(store, Settings(env="dog", database_url=_url(store)))


def test_alerts_list_ack_and_mute(sqlite_store: Store) -> None:
    (alert,) = _service(sqlite_store).fire(Condition("dlq_not_empty", "q", "3 messages in the DLQ", "m",
                                                     hint="redrive them"))
    listed = _dgsync(sqlite_store, "alerts", "list")
    assert listed.exit_code == 0 and "3 messages in the DLQ" in listed.stdout
    assert f"{alert.id}: redrive them" in listed.stdout
    acked = _dgsync(sqlite_store, "alerts", "ack", str(alert.id))
    assert acked.exit_code == 0 and "acknowledged by cli:" in acked.stdout
    body = json.loads(_dgsync(sqlite_store, "alerts", "list", "--format", "json").stdout)
    assert [a["status"] for a in body["alerts"]] == ["acked"]
    assert body["alerts"][0]["acked_by"].startswith("cli:")
    muted = _dgsync(sqlite_store, "alerts", "mute", "run_failed", "--for", "2h", "--reason", "maintenance")
    assert muted.exit_code == 0 and "muted run_failed until" in muted.stdout
    assert [m["target"] for m in json.loads(
        _dgsync(sqlite_store, "alerts", "list", "--format", "json").stdout)["mutes"]] == ["run_failed"]
    assert "removed 1 mute" in _dgsync(sqlite_store, "alerts", "unmute", "run_failed").stdout
    actions = [r["action"] for r in map(json.loads, _dgsync(
        sqlite_store, "audit", "--format", "jsonl", "--search", "alert:").stdout.splitlines())]
    assert actions == ["alert_ack", "alert_mute", "alert_unmute"]


def test_alerts_ack_of_an_unknown_alert_exits_2_with_a_hint(sqlite_store: Store) -> None:
    result = _dgsync(sqlite_store, "alerts", "ack", "999")
    assert result.exit_code == 2
    assert "no alert 999" in result.stderr and "hint:" in result.stderr


def test_alerts_mute_refuses_a_bad_duration(sqlite_store: Store) -> None:
    result = _dgsync(sqlite_store, "alerts", "mute", "x", "--for", "soon")
    assert result.exit_code == 2 and "--for" in result.stderr


def test_alerts_test_sends_to_the_channel(sqlite_store: Store, receiver: Receiver, tmp_path: Path) -> None:
    config = tmp_path / "dgsync.yaml"
    config.write_text(
        "alerts:\n  channels:\n"
        f"    - {{name: ops, type: webhook, url: '{receiver.url}/ops'}}\n",
        encoding="utf-8",
    )
    result = _dgsync(sqlite_store, "alerts", "test", "ops", config=config)
    assert result.exit_code == 0, result.output
    (body,) = receiver.bodies("/ops")
    assert body["alert"]["test"] is True
    missing = _dgsync(sqlite_store, "alerts", "test", "nope", config=config)
    assert missing.exit_code == 2 and "configured: ops" in missing.stderr


def test_alerts_tick_escalates_and_prunes(sqlite_store: Store, receiver: Receiver, tmp_path: Path) -> None:
    config = tmp_path / "dgsync.yaml"
    config.write_text(
        "alerts:\n"
        "  channels:\n"
        f"    - {{name: a, type: webhook, url: '{receiver.url}/a'}}\n"
        f"    - {{name: b, type: slack, url: '{receiver.url}/b'}}\n"
        "  rules:\n"
        "    - {name: dlq, kind: dlq_not_empty, channels: [a, b], escalate_after_s: 1}\n"
        "audit:\n  retention_days: 30\n",
        encoding="utf-8",
    )
    from core.settings import load_settings

    settings = load_settings(config_file=config, overrides={"database_url": _url(sqlite_store)})
    past = datetime.now(UTC) - timedelta(seconds=5)
    AlertService(sqlite_store, settings, clock=lambda: past).fire(Condition("dlq_not_empty", "q", "t", "m"))
    with sqlite_store.session() as s:
        repo.record_audit(session=s, entry=AuditIn(
            ts=datetime.now(UTC) - timedelta(days=31), actor="cli:x", system=AuditSystem.DGSYNC,
            object="old", action="plan"))
    result = _dgsync(sqlite_store, "alerts", "tick", "--format", "json", config=config)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert len(body["escalated"]) == 1 and body["pruned_audit"] == 1
    assert receiver.paths() == ["/a", "/b"]


def test_security_events_lists_and_filters(sqlite_store: Store) -> None:
    settings = Settings(env="dog", database_url=_url(sqlite_store), alerts=AlertSettings())
    monitor = SecurityMonitor(sqlite_store, settings)
    monitor.record_failed_auth(source="10.1.1.1", presented_key="k-secret-1")
    monitor.record("datasphere_forbidden", source="datasphere", detail={"path": "/x"})
    table = _dgsync(sqlite_store, "security", "events")
    assert table.exit_code == 0 and "auth_failure" in table.stdout and "datasphere_forbidden" in table.stdout
    body = json.loads(_dgsync(sqlite_store, "security", "events", "--source", "10.1.1.1",
                              "--format", "json").stdout)
    assert [e["kind"] for e in body] == ["auth_failure"]
    assert "k-secret-1" not in table.stdout + json.dumps(body)


def test_audit_filters_and_streamed_csv(sqlite_store: Store) -> None:
    with sqlite_store.session() as s:
        for actor, env, obj in (("cli:alice", "wolf", "sales.a"), ("scheduler", "dog", "sales.b")):
            repo.record_audit(session=s, entry=AuditIn(actor=actor, system=AuditSystem.GLUE, object=obj,
                                                       action="update", env=env, details={"why": f"for {actor}"}))
    rows = list(csv.DictReader(io.StringIO(_dgsync(
        sqlite_store, "audit", "--format", "csv", "--audit-env", "wolf").stdout)))
    assert [(r["actor"], r["env"]) for r in rows] == [("cli:alice", "wolf")]
    found = _dgsync(sqlite_store, "audit", "--format", "jsonl", "--search", "for scheduler").stdout
    assert [json.loads(x)["object"] for x in found.splitlines()] == ["sales.b"]
    pruned = _dgsync(sqlite_store, "audit", "prune", "--older-than", "1", "--dry-run")
    assert pruned.exit_code == 0 and "would delete 0 audit record(s)" in pruned.stdout
