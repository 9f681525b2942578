"""Bear through real Lambda event payloads: API Gateway (HTTP API v2, REST v1), EventBridge, SQS."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import bear_lambda.handler as bear
from bear_lambda.messages import SliceMessage
from bear_lambda.runtime import BearRuntime
from core.errors import StoreError
from core.services import Services
from core.settings import Settings, load_settings
from core.store.leases import acquire_lease

from .conftest import API_TOKEN, FakeEngine, migrated_store, real_env, seed_runs

# --------------------------------------------------------------------------- payloads


def http_api_v2_event(method: str, path: str, *, headers: dict[str, str] | None = None,
                      query: str = "", body: str | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, as Lambda receives it."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "accept": "application/json",
            "content-length": str(len(body or "")),
            "host": "a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com",
            "user-agent": "curl/8.5.0",
            "x-amzn-trace-id": "Root=1-65f0a1b2-0123456789abcdef01234567",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            **{k.lower(): v for k, v in (headers or {}).items()},
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "requestId": "Kz3bKjWSliAEM5g=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2026:19:03:58 +0000",
            "timeEpoch": 1773342238390,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&"))
    if body is not None:
        event["body"] = base64.b64encode(body.encode()).decode()
        event["isBase64Encoded"] = True
    return event


def rest_v1_event(method: str, path: str, *, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway REST API (payload format 1.0, proxy integration) event."""
    all_headers = {
        "Accept": "application/json",
        "Host": "x9y8z7w6v5.execute-api.eu-central-1.amazonaws.com",
        "User-Agent": "curl/8.5.0",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "extendedRequestId": "Kz3bKjWSliAFb1Q=",
            "requestTime": "12/Mar/2026:19:03:58 +0000",
            "path": f"/prod{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "x9y8z7w6v5",
            "requestTimeEpoch": 1773342238390,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "domainName": "x9y8z7w6v5.execute-api.eu-central-1.amazonaws.com",
            "apiId": "x9y8z7w6v5",
        },
        "body": None,
        "isBase64Encoded": False,
    }


def scheduled_event() -> dict[str, Any]:
    """An EventBridge scheduled event (no constant input on the rule)."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-03-12T19:05:00Z",
        "region": "eu-central-1",
        "resources": ["arn:aws:events:eu-central-1:123456789012:rule/dgsync-every-minute"],
        "detail": {},
    }


def sqs_event(*bodies: str) -> dict[str, Any]:
    """An SQS batch as the event source mapping delivers it."""
    return {
        "Records": [
            {
                "messageId": f"059f36b4-87a3-44ab-83d2-66197575c{i:03d}",
                "receiptHandle": f"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{i}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1773342300000",
                    "SenderId": "AROAEXAMPLE:dgsync-scheduler",
                    "ApproximateFirstReceiveTimestamp": "1773342300010",
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:dgsync-slices",
                "awsRegion": "eu-central-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


class LambdaContext:
    function_name = "dgsync-worker"
    aws_request_id = "0e2b1a4c-0000-4000-8000-000000000001"

    def __init__(self, remaining_ms: int = 900_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def slice_body(priority: str, **extra: Any) -> str:
    return json.dumps({"priority": priority, "slice_key": priority, **extra})


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def bear_settings(state_env: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Iterator[Settings]:
    """Bear's environment variables (as the deployment sets them) and a fresh runtime."""
    real_env(monkeypatch, "bear")
    settings = load_settings()
    migrated_store(settings, migrated_template)
    bear.reset()
    yield settings
    bear.reset()


def use_engine(engine: FakeEngine) -> BearRuntime:
    return bear.reset(BearRuntime(engine_factory=engine))


def call(event: dict[str, Any]) -> tuple[int, Any]:
    response = bear.handler(event, LambdaContext())
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return response["statusCode"], json.loads(body) if body else None


# --------------------------------------------------------------------------- HTTP


def test_cold_import_opens_nothing(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DGSYNC_ENV": "not-a-profile",
           "DGSYNC_DATABASE_URL": f"sqlite:///{tmp_path}/cold/state.db", "DGSYNC_STATE_DIR": str(tmp_path / "cold")}
    code = (
        "import sys, bear_lambda.handler as h;"
        "print(sorted(m for m in ('fastapi', 'mangum', 'sqlalchemy.orm', 'boto3') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"  # no web framework, no ORM session, no AWS SDK yet
    assert not (tmp_path / "cold").exists()


def test_http_api_v2_health_runs_and_auth(bear_settings: Settings) -> None:
    status, body = call(http_api_v2_event("GET", "/health"))
    assert (status, body) == (200, {"status": "ok", "env": "bear"})
    run_ids = seed_runs(bear.runtime().services(), 2)
    status, body = call(http_api_v2_event("GET", "/api/runs", query="limit=1",
                                          headers={"Authorization": f"Bearer {API_TOKEN}"}))
    assert status == 200
    assert [r["id"] for r in body] == [run_ids[-1]]
    status, body = call(http_api_v2_event("GET", "/api/runs"))
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_http_api_v2_request_body_reaches_the_app(bear_settings: Settings) -> None:
    event = http_api_v2_event("POST", "/api/plan", body='{"spaces": ["SALES"], "force": true}',
                              headers={"Authorization": f"Bearer {API_TOKEN}", "content-type": "application/json"})
    status, body = call(event)
    assert status == 422
    assert body["error"]["code"] == "invalid_request"
    assert "force" in body["error"]["message"]


def test_rest_v1_run_detail_and_not_found(bear_settings: Settings) -> None:
    run_id = seed_runs(bear.runtime().services(), 1)[0]
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    status, body = call(rest_v1_event("GET", f"/api/runs/{run_id}", headers=auth))
    assert status == 200
    assert body["id"] == run_id
    status, body = call(rest_v1_event("GET", "/api/runs/NOPE", headers=auth))
    assert status == 404
    assert body["error"]["code"] == "not_found"


def test_services_survive_across_invocations(bear_settings: Settings) -> None:
    call(http_api_v2_event("GET", "/health"))
    first = bear.runtime().services()
    call(http_api_v2_event("GET", "/ready", headers={"Authorization": f"Bearer {API_TOKEN}"}))
    assert bear.runtime().services() is first
    assert first._store is not None  # not closed by Mangum's per-invocation lifespan


# ----------------------------------------------------------------------- schedule


@pytest.fixture
def sqs_queue(bear_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-central-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        import boto3

        sqs = boto3.client("sqs", region_name="eu-central-1")
        url = sqs.create_queue(QueueName="dgsync-slices")["QueueUrl"]
        monkeypatch.setenv("DGSYNC_BEAR_QUEUE_URL", url)
        monkeypatch.setenv("DGSYNC_DATASPHERE__SPACES", '["SALES", "HR"]')
        yield sqs, url


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return out
        out.extend(json.loads(m["Body"]) for m in batch)


def test_schedule_fans_out_one_message_per_space_slice_of_each_due_class(sqs_queue: tuple[Any, str]) -> None:
    sqs, url = sqs_queue
    result = bear.scheduled_handler(scheduled_event(), LambdaContext())
    # Two spaces never synced (2 min estimated each) fit one 10-minute slice per class.
    assert result["queued"] == ["critical:HR+SALES", "high:HR+SALES", "medium:HR+SALES", "low:HR+SALES"]
    assert len(result["message_ids"]) == 4
    bodies = received(sqs, url)
    assert sorted(b["priority"] for b in bodies) == ["critical", "high", "low", "medium"]
    assert all(b["spaces"] == ["HR", "SALES"] and b["scheduled_at"] == "2026-03-12T19:05:00Z" for b in bodies)
    assert all(SliceMessage.model_validate(b) for b in bodies)


def test_schedule_queues_only_what_is_due(sqs_queue: tuple[Any, str]) -> None:
    sqs, url = sqs_queue
    bear.scheduled_handler(scheduled_event(), LambdaContext())
    received(sqs, url)
    # A minute later nothing is due: realtime is 60 s after the dispatch, the rest hourly/daily.
    again = bear.scheduled_handler(scheduled_event(), LambdaContext())
    assert (again["due"], again["queued"]) == ([], [])
    assert received(sqs, url) == []
    status = bear.runtime().services()
    from core.sync.status import status_overview

    slices = {s.slice_key: s for s in status_overview(status).slices}
    assert not slices["high"].due_now and not slices["high"].never_run
    # An operator's "run now" (constant input {"force": true}) queues regardless.
    forced = bear.scheduled_handler({"priorities": ["low"], "force": True}, LambdaContext())
    assert forced["queued"] == ["low:HR+SALES"]


def test_big_spaces_get_slices_of_their_own(sqs_queue: tuple[Any, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DGSYNC_BEAR_SLICE_BUDGET_S", "150")
    result = bear.scheduled_handler({"priorities": ["high"]}, LambdaContext())
    assert result["queued"] == ["high:HR", "high:SALES"]


def test_a_rule_with_constant_input_queues_only_its_priorities(sqs_queue: tuple[Any, str]) -> None:
    sqs, url = sqs_queue
    result = bear.scheduled_handler({"priorities": ["critical"]}, LambdaContext())
    assert result["queued"] == ["critical:HR+SALES"]
    assert [b["priority"] for b in received(sqs, url)] == ["critical"]


def test_an_unreachable_queue_fails_the_invocation_with_a_hint(
    sqs_queue: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = sqs_queue
    monkeypatch.setenv("DGSYNC_BEAR_QUEUE_URL", url.replace("dgsync-slices", "no-such-queue"))
    from bear_lambda.queue import QueueError

    with pytest.raises(QueueError) as info:
        bear.scheduled_handler(scheduled_event(), LambdaContext())
    assert "DGSYNC_BEAR_QUEUE_URL" in info.value.hint


def test_without_a_queue_the_schedule_runs_the_slices_inline(
    bear_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DGSYNC_BEAR_SLICE_BY", "class")
    engine = FakeEngine({"high": "partial"})
    use_engine(engine)
    result = bear.scheduled_handler(scheduled_event(), LambdaContext())
    assert [r["slice_key"] for r in result["ran"]] == ["critical", "high", "medium", "low"]
    assert [r["status"] for r in result["ran"]] == ["succeeded", "partial", "succeeded", "succeeded"]
    assert {c["trigger"] for c in engine.calls} == {"lambda"}


# ------------------------------------------------------------------------- worker


def test_worker_reports_only_the_failed_records(bear_settings: Settings) -> None:
    engine = FakeEngine({"high": "failed", "medium": StoreError("database is down"), "low": "partial"})
    use_engine(engine)
    event = sqs_event(slice_body("critical"), slice_body("high"), slice_body("medium"),
                      slice_body("low"), '{"priority": "urgent"}', "not json")
    ids = [r["messageId"] for r in event["Records"]]
    result = bear.worker_handler(event, LambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": i} for i in (ids[1], ids[2], ids[4], ids[5])]}
    assert [c["priority"].value for c in engine.calls] == ["critical", "high", "medium", "low"]
    assert all(c["trigger"] == "lambda" and c["resume"] is True for c in engine.calls)


def test_worker_passes_the_slice_scope_to_the_engine(bear_settings: Settings) -> None:
    engine = FakeEngine()
    use_engine(engine)
    bear.worker_handler(sqs_event(slice_body("high", spaces=["SALES"])), LambdaContext())
    assert engine.calls[0]["slice_key"] == "high"
    assert engine.calls[0]["spaces"] == ["SALES"]


def test_a_slice_another_worker_holds_is_retried_after_the_visibility_timeout(bear_settings: Settings) -> None:
    # The holder may be alive (the retry finds the slice done: no writes) or dead (its lease
    # outlives it): deleting the message would lose the slice in the second case.
    engine = FakeEngine()
    runtime = use_engine(engine)
    assert acquire_lease(store=runtime.services().store(), slice_key="critical", holder="other-worker", ttl_s=600)
    event = sqs_event(slice_body("critical"))
    result = bear.worker_handler(event, LambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert engine.calls == []


def test_a_slice_whose_scope_a_manual_sync_holds_is_retried_later(bear_settings: Settings) -> None:
    from core.errors import ScopeHeld

    engine = FakeEngine({"high": ScopeHeld("another sync works on an overlapping scope: run X")})
    use_engine(engine)
    event = sqs_event(slice_body("high"), slice_body("low"))
    result = bear.worker_handler(event, LambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_worker_stops_the_run_before_the_lambda_times_out(
    bear_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bear, "MIN_SLICE_S", 0.0)
    engine = FakeEngine(wait_for_stop_s=5.0)
    use_engine(engine)
    context = LambdaContext(remaining_ms=int((bear.STOP_MARGIN_S + 0.05) * 1000))
    event = sqs_event(slice_body("critical"))
    result = bear.worker_handler(event, context)
    assert engine.stopped.is_set()
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_worker_syncs_a_slice_of_the_embedded_default(embedded_services: Services) -> None:
    bear.reset(BearRuntime(services=embedded_services))
    try:
        result = bear.worker_handler(sqs_event(slice_body("critical")), LambdaContext())
        assert result == {"batchItemFailures": []}
        from core.store import repo

        with embedded_services.store().session(readonly=True) as session:
            runs = repo.list_runs(session=session, limit=5)
        latest = next(r for r in runs if r.slice_key == "critical")
        assert latest.trigger.value == "lambda"
        assert latest.status.value in ("succeeded", "partial")
        assert latest.scope.priority == "critical"
    finally:
        bear.reset()


def test_pages_served_by_bear_say_bear_and_poll(bear_settings: Settings) -> None:
    event = http_api_v2_event("GET", "/", headers={"Authorization": f"Bearer {API_TOKEN}", "accept": "text/html"})
    response = bear.handler(event, LambdaContext())
    assert response["statusCode"] == 200
    html = base64.b64decode(response["body"]).decode() if response.get("isBase64Encoded") else response["body"]
    assert "<title>Overview · Bear</title>" in html and "dgsync · Bear" in html and "Wolf" not in html
    assert 'hx-trigger="every 3s"' in html  # polling: API Gateway cannot stream server-sent events
    assert "EventSource" not in html
    status, spec = call(http_api_v2_event("GET", "/openapi.json", headers={"Authorization": f"Bearer {API_TOKEN}"}))
    assert status == 200 and spec["info"]["title"] == "dgsync Bear"
