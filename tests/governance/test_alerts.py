"""Alert rules, channels, escalation, dedup, ack, mute (SQLite; real HTTP on 127.0.0.1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core.errors import ConfigError
from core.governance.alerts import AlertService, Condition
from core.governance.channels import EmailChannel, Notification, SnsChannel
from core.store import governance as g
from core.store.db import Store
from core.store.schemas import RunError

from .conftest import Clock, Receiver, add_run, webhook_channels

FAILED = [RunError(object=None, code="source_unavailable", message="tenant down",
                   hint="Check the tenant URL and retry.")]


def _service(store: Store, make_settings: Any, clock: Clock, receiver: Receiver, *,
             kind: str = "run_failed", channels: tuple[str, ...] = ("a", "b", "c"),
             **rule: Any) -> AlertService:
    settings = make_settings(
        channels=webhook_channels(receiver, *channels),
        rules=[{"name": f"r-{kind}", "kind": kind, "channels": list(channels),
                "escalate_after_s": 600, **rule}],
    )
    return AlertService(store, settings, clock=clock)


def test_a_failed_run_alerts_the_first_channel_with_the_errors_hint(
    sqlite_store: Store, make_settings: Any, clock: Clock, receiver: Receiver
) -> None:
    service = _service(sqlite_store, make_settings, clock, receiver)
    run_id = add_run(sqlite_store, status="failed", errors=FAILED)
    fired = service.evaluate_run(run_id)
    assert [a.kind for a in fired] == ["run_failed"]
    assert receiver.paths() == ["/a"]
    body = receiver.bodies("/a")[0]
    assert body["alert"]["hint"] == "Check the tenant URL and retry."
    assert "source_unavailable: tenant down" in body["alert"]["message"]
    assert "Check the tenant URL and retry." in body["text"]


def test_a_succeeded_run_raises_nothing(
    sqlite_store: Store, make_settings: Any, clock: Clock, receiver: Receiver
) -> None:
    service = _service(sqlite_store, make_settings, clock, receiver)
    assert service.evaluate_run(add_run(sqlite_store, status="succeeded")) == []
    assert receiver.calls == []


def test_a_flapping_check_sends_one_alert_until_it_is_resolved(
    sqlite_store: Store, make_settings: Any, clock: Clock, receiver: Receiver
) -> None:
    service = _service(sqlite_store, make_settings, clock, receiver, channels=("a",))
    for status in ("failed", "succeeded", "failed", "succeeded", "failed"):
        service.evaluate_run(add_run(sqlite_store, status=status, errors=FAILED))
        clock.advance(60)
    alerts = service.list_alerts()
    assert len(alerts) == 1 and alerts[0].occurrences == 3
    assert receiver.paths() == ["/a"]
    clock.advance(service.settings.alerts.resolve_after_s + 1)
    assert service.tick(prune=False).resolved == [alerts[0].id]
    service.evaluate_run(add_run(sqlite_store, status="failed", errors=FAILED))
    assert receiver.paths() == ["/a", "/a"]  # a new alert after resolution


def test_escalation_goes_to_the_next_channel_after_t_and_stops_after_ack(
    sqlite_store: Store, make_settings: Any, clock: Clock, receiver: Receiver
) -> None:
    service = _service(sqlite_store, make_settings, clock, receiver)
    (alert,) = service.evaluate_run(add_run(sqlite_store, status="failed", errors=FAILED))
    clock.advance(599)
    assert service.tick(prune=False).escalated == []
    clock.advance(2)
    assert service.tick(prune=False).escalated == [alert.id]
    assert receiver.paths() == ["/a", "/b"]
    assert receiver.bodies("/b")[0]["alert"]["escalated"] is True
    service.ack(alert.id, actor="cli:alice")
    for _ in range(4):  # 4 × T, still inside resolve_after_s
        clock.advance(601)
        assert service.tick(prune=False).escalated == []
    assert receiver.paths() == ["/a", "/b"]
    acked = service.list_alerts(status=["acked"])[0]
    assert acked.acked_by == "cli:alice"
    with sqlite_store.session() as s:
        entries = [e for e in g.stream_audit(session=s) if e.action == "alert_ack"]
    assert entries[0].actor == "cli:alice"


def test_a_muted_rule_records_but_neither_sends_nor_escalates_until_the_mute_ends(
    sqlite_store: Store, make_settings: Any, clock: Clock, receiver: Receiver
) -> None:
    service = _service(sqlite_store, make_settings, clock, receiver)
    service.mute("r-run_failed", duration=timedelta(minutes=30), actor="cli:bob")
    (alert,) = service.evaluate_run(add_run(sqlite_store, status="failed", errors=FAILED))
    clock.advance(1000)  # past T: a muted alert does not escalate either
    service.tick(prune=False)
    assert receiver.calls == []
    clock.advance(801)
    assert service.tick(prune=False).notified == [alert.id]  # the first channel, late
    assert receiver.paths() == ["/a"]


def test_partial_n_times_in_a_row(
    sqlite_store: Store, make_settings: Any, clock: Clock, receiver: Receiver
) -> None:
    service = _service(sqlite_store, make_settings, clock, receiver, kind="run_partial",
                       channels=("a",), threshold=3)
    for _ in range(2):
        assert service.evaluate_run(add_run(sqlite_store, status="partial", errors=FAILED)) == []
        clock.advance(1)
    add_run(sqlite_store, status="succeeded")
    for _ in range(2):
        assert service.evaluate_run(add_run(sqlite_store, status="partial", errors=FAILED)) == []
    fired = service.evaluate_run(add_run(sqlite_store, status="partial", errors=FAILED))
    assert [a.kind for a in fired] == ["run_partial"]
    assert "3 partial runs in a row" in fired[0].title


def test_throttling_above_the_rate_alerts_and_below_does_not(
    sqlite_store: Store, make_settings: Any, clock: Clock, receiver: Receiver
) -> None:
    service = _service(sqlite_store, make_settings, clock, receiver, kind="throttling",
                       channels=("a",), threshold=10)
    assert service.evaluate_run(add_run(sqlite_store, status="succeeded", throttles=15,
                                        duration_s=120)) == []  # 7.5/min
    fired = service.evaluate_run(add_run(sqlite_store, status="succeeded", throttles=25,
                                         duration_s=120))  # 12.5/min
    assert [a.kind for a in fired] == ["throttling"]
    assert "DGSYNC_GLUE__CALLS_PER_SECOND" in (fired[0].hint or "")


def test_drift_held_deletions_and_failsafe_alert(
    sqlite_store: Store, make_settings: Any, clock: Clock, receiver: Receiver
) -> None:
    settings = make_settings(
        channels=webhook_channels(receiver, "a"),
        rules=[{"name": k, "kind": k, "channels": ["a"]} for k in ("drift", "deletions_held", "failsafe")],
    )
    service = AlertService(sqlite_store, settings, clock=clock)
    errors = [
        RunError(object="sales.t1", code="conflict_out_of_band_edit", message="edited", hint="edit Datasphere"),
        RunError(object="sales.t2", code="deletion_held", message="held", hint="dgsync deletions approve"),
    ]

    class Report:
        failsafe = "would delete 80% of SALES"

    fired = service.evaluate_run(add_run(sqlite_store, status="partial", errors=errors), report=Report())
    assert sorted(a.kind for a in fired) == ["deletions_held", "drift", "failsafe"]
    assert sorted(receiver.paths()) == ["/a"] * 3
    by_kind = {a.kind: a for a in fired}
    assert by_kind["drift"].hint == "edit Datasphere"
    assert "80% of SALES" in by_kind["failsafe"].message


def test_token_expiring_alerts_ahead_of_the_expiry(
    sqlite_store: Store, make_settings: Any, clock: Clock, receiver: Receiver
) -> None:
    settings = make_settings(
        channels=webhook_channels(receiver, "a"),
        rules=[{"name": "cred", "kind": "token_expiring", "channels": ["a"], "threshold": 86400}],
        credentials_expire_at=(clock.now + timedelta(days=2)).isoformat(),
    )
    service = AlertService(sqlite_store, settings, clock=clock)
    assert service.tick(prune=False).fired == []
    clock.advance(86400 + 60)
    assert len(service.tick(prune=False).fired) == 1
    assert "expires in" in receiver.bodies("/a")[0]["alert"]["title"]


def test_dlq_not_empty_alerts(
    sqlite_store: Store, make_settings: Any, clock: Clock, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-central-1")
        url = sqs.create_queue(QueueName="dgsync-dlq")["QueueUrl"]
        settings = make_settings(
            channels=webhook_channels(receiver, "a"),
            rules=[{"name": "dlq", "kind": "dlq_not_empty", "channels": ["a"]}],
            dlq_url=url, dlq_region="eu-central-1",
        )
        service = AlertService(sqlite_store, settings, clock=clock)
        assert service.tick(prune=False).fired == []
        sqs.send_message(QueueUrl=url, MessageBody="{}")
        sqs.send_message(QueueUrl=url, MessageBody="{}")
        assert len(service.tick(prune=False).fired) == 1
    assert "2 message(s)" in receiver.bodies("/a")[0]["alert"]["title"]


def test_a_failing_channel_is_recorded_and_escalation_still_proceeds(
    sqlite_store: Store, make_settings: Any, clock: Clock, receiver: Receiver
) -> None:
    service = _service(sqlite_store, make_settings, clock, receiver, channels=("a", "b"))
    receiver.status = 500
    (alert,) = service.evaluate_run(add_run(sqlite_store, status="failed", errors=FAILED))
    with sqlite_store.session() as s:
        (sent,) = g.list_notifications(session=s, alert_id=alert.id)
    assert not sent.ok and "answered 500" in (sent.error or "")
    assert receiver.url.split("//")[1] in (sent.error or "")  # host only, no path
    receiver.status = 200
    clock.advance(601)
    assert service.tick(prune=False).escalated == [alert.id]


def test_slack_channel_posts_text_only(
    sqlite_store: Store, make_settings: Any, clock: Clock, receiver: Receiver
) -> None:
    settings = make_settings(
        channels=webhook_channels(receiver, "slack", type_="slack"),
        rules=[{"name": "f", "kind": "run_failed", "channels": ["slack"]}],
    )
    AlertService(sqlite_store, settings, clock=clock).evaluate_run(
        add_run(sqlite_store, status="failed", errors=FAILED))
    (body,) = receiver.bodies("/slack")
    assert set(body) == {"text"}
    assert "Check the tenant URL and retry." in body["text"]


def test_sns_and_email_channels_publish_to_the_topic(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    note = Notification.build(
        alert_id=7, env="wolf", rule="r", kind="run_failed", severity="critical",
        title="sync failed\nin wolf", message="boom", hint="do this", status="open", level=0,
        occurrences=1, first_seen_at=clock.now,
    )
    with mock_aws():
        sns = boto3.client("sns", region_name="eu-central-1")
        sqs = boto3.client("sqs", region_name="eu-central-1")
        arn = sns.create_topic(Name="alerts")["TopicArn"]
        q = sqs.create_queue(QueueName="sub")["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
        SnsChannel("sns", arn, client=sns).send(note)
        EmailChannel("mail", arn, client=sns).send(note)
        import json

        got = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10)["Messages"]]
    subjects = {m["Subject"] for m in got}
    assert subjects == {"[dgsync wolf] CRITICAL: sync failed in wolf"}
    messages = [m["Message"] for m in got]
    assert any(json.loads(m)["alert"]["hint"] == "do this" for m in messages if m.startswith("{"))
    assert any(m.startswith("[dgsync wolf]") and "What to do: do this" in m for m in messages)


def test_a_rule_naming_an_unknown_channel_is_a_config_error(make_settings: Any, sqlite_store: Store) -> None:
    settings = make_settings(rules=[{"name": "x", "kind": "run_failed", "channels": ["nope"]}])
    with pytest.raises(ConfigError) as exc:
        AlertService(sqlite_store, settings)
    assert "nope" in exc.value.message and exc.value.hint


def test_unconfigured_kinds_are_recorded_without_channels(
    sqlite_store: Store, make_settings: Any, clock: Clock
) -> None:
    service = AlertService(sqlite_store, make_settings(), clock=clock)
    fired = service.fire(Condition("dlq_not_empty", "x", "t", "m"))
    assert [a.rule for a in fired] == ["dlq_not_empty"]
    with sqlite_store.session() as s:
        assert g.list_notifications(session=s) == []
