"""Bear in operation: the migration custom resource (a real CloudFormation event answered over
HTTP), secrets from Secrets Manager, EMF metrics and request ids, status of worker runs,
the alert tick and hot reload in the scheduled handler."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import bear_lambda.handler as bear
from bear_lambda.migrate import migration_handler
from bear_lambda.runtime import BearRuntime
from core.errors import ConfigError
from core.services import Services
from core.settings import Settings, load_settings
from core.store import repo
from core.store.db import Store, head_revision
from core.store.schemas import RunIn, RunResult, RunStatus, Trigger
from core.sync.status import status_overview

from .conftest import FakeEngine, migrated_store, real_env
from .test_bear_lambda import LambdaContext, scheduled_event, slice_body, sqs_event

# ---------------------------------------------------------------- CloudFormation custom resource


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.received.append({  # type: ignore[attr-defined]
            "path": self.path, "content_type": self.headers.get("Content-Type"),
            "body": json.loads(self.rfile.read(length)),
        })
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback server standing in for CloudFormation's pre-signed S3 response URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    path = ("/cloudformation-custom-resource-response-eucentral1/arn%3Aaws%3Acloudformation%3Aeu-central-1"
            "%3A123456789012%3Astack/dgsync-bear/5b6f5c70-8a4f-11ef-b864-0242ac120002%7CStateStoreMigration"
            "%7Cc2b4f0e1-6f0e-4a8f-9d57-0a7b3f9e7d11?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260312T190500Z"
            "&X-Amz-SignedHeaders=host&X-Amz-Expires=7200&X-Amz-Credential=AKIA6EXAMPLE%2F20260312%2Feu-central-1"
            "%2Fs3%2Faws4_request&X-Amz-Signature=3f1e0c")
    yield f"http://127.0.0.1:{server.server_address[1]}{path}", server.received  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def cfn_event(request_type: str, url: str, **extra: Any) -> dict[str, Any]:
    """A CloudFormation custom-resource request, as Lambda receives it."""
    token = "arn:aws:lambda:eu-central-1:123456789012:function:dgsync-bear-migration:live"
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": token,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-central-1:123456789012:stack/dgsync-bear/5b6f5c70-8a4f-11ef-b864-0242ac120002",
        "RequestId": "c2b4f0e1-6f0e-4a8f-9d57-0a7b3f9e7d11",
        "LogicalResourceId": "StateStoreMigration",
        "ResourceType": "Custom::StateStoreMigration",
        "ResourceProperties": {"ServiceToken": token, "CodeVersion": "7", "DeployId": "manual"},
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = "dgsync-state-store-migration"
    if request_type == "Update":
        event["OldResourceProperties"] = {"ServiceToken": token, "CodeVersion": "6", "DeployId": "manual"}
    event.update(extra)
    return event


class CfnContext(LambdaContext):
    function_name = "dgsync-bear-migration"
    log_stream_name = "2026/03/12/[7]0f6d2e1c"


def test_create_migrates_an_empty_store_to_head_and_answers_success(
    tmp_path: Path, response_url: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = response_url
    db = f"sqlite:///{tmp_path / 'state.db'}"
    result = migration_handler(cfn_event("Create", url), CfnContext(), database_url=lambda: db)
    assert result["Status"] == "SUCCESS"
    [answer] = received
    assert answer["content_type"] == ""  # what the pre-signed URL was signed for
    assert answer["path"].endswith("X-Amz-Signature=3f1e0c")
    body = answer["body"]
    assert body["Status"] == "SUCCESS"
    assert body["Data"] == {"Revision": head_revision(), "Previous": "empty"}
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (
        cfn_event("Create", url)["StackId"], "c2b4f0e1-6f0e-4a8f-9d57-0a7b3f9e7d11", "StateStoreMigration")
    assert body["PhysicalResourceId"] == "dgsync-state-store-migration"
    store = Store.open(db)
    try:
        assert store.current_revision() == head_revision()
    finally:
        store.dispose()
    # The next deploy (Update): nothing to do, still answered, same physical id.
    migration_handler(cfn_event("Update", url), CfnContext(), database_url=lambda: db)
    assert received[1]["body"]["Status"] == "SUCCESS"
    assert received[1]["body"]["Data"] == {"Revision": head_revision(), "Previous": head_revision()}
    assert received[1]["body"]["PhysicalResourceId"] == "dgsync-state-store-migration"


def test_a_store_that_cannot_be_migrated_fails_the_deploy_without_leaking_the_password(
    response_url: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = response_url
    db = "postgresql+psycopg://dgsync:pw-never-shown-4711@127.0.0.1:1/dgsync?connect_timeout=2"
    result = migration_handler(cfn_event("Update", url), CfnContext(), database_url=lambda: db)
    assert result["Status"] == "FAILED"
    body = received[0]["body"]
    assert body["Status"] == "FAILED"
    assert "pw-never-shown-4711" not in json.dumps(body)
    assert "127.0.0.1:1" in body["Reason"] and len(body["Reason"]) <= 1000


def test_delete_leaves_the_store_alone_and_a_broken_config_is_answered_too(
    tmp_path: Path, response_url: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = response_url

    def never() -> str:
        raise AssertionError("Delete must not open the store")

    migration_handler(cfn_event("Delete", url), CfnContext(), database_url=never)
    assert received[0]["body"]["Status"] == "SUCCESS"

    def broken() -> str:
        raise ConfigError("environment 'bear' needs a real tenant", hint="Set DGSYNC_DATASPHERE__BASE_URL.")

    migration_handler(cfn_event("Create", url), CfnContext(), database_url=broken)
    assert received[1]["body"]["Status"] == "FAILED"
    assert "DGSYNC_DATASPHERE__BASE_URL" in received[1]["body"]["Reason"]


# ------------------------------------------------------------------------------- secrets


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-central-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setattr("core.settings._secret_cache", {})
    with mock_aws():
        yield


def test_secrets_come_from_one_secret_read_once_and_never_logged(
    state_env: Path, aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    response_url: tuple[str, list[dict[str, Any]]], caplog: pytest.LogCaptureFixture,
) -> None:
    import boto3

    db = f"sqlite:///{tmp_path / 'from-secret.db'}"
    secret = {"DGSYNC_DATABASE_URL": db, "DGSYNC_DATASPHERE__CLIENT_SECRET": "s3cr3t-from-secrets-manager",
              "DGSYNC_API_TOKEN": "8dXb9fQ4m_auTV605WIS9tjJcnWQ-Q1BGUpElXuXLf4"}
    client = boto3.client("secretsmanager", region_name="eu-central-1")
    arn = client.create_secret(Name="dgsync/bear", SecretString=json.dumps(secret))["ARN"]
    real_env(monkeypatch, "bear", token=None)
    monkeypatch.delenv("DGSYNC_DATASPHERE__CLIENT_SECRET")
    monkeypatch.delenv("DGSYNC_DATABASE_URL")
    monkeypatch.setenv("DGSYNC_SECRETS_SOURCE", f"secretsmanager:{arn}")
    settings = load_settings()
    assert settings.database_url == db
    assert settings.datasphere.client_secret is not None
    assert settings.datasphere.client_secret.get_secret_value() == "s3cr3t-from-secrets-manager"
    assert settings.api_token is not None
    # Cached for the container: the secret is not read again (it is gone now).
    client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert load_settings().database_url == db
    # The migration function finds the store through the secret.
    url, received = response_url
    bear.reset()
    try:
        bear.migration_handler(cfn_event("Create", url), CfnContext())
    finally:
        bear.reset()
    assert received[0]["body"]["Status"] == "SUCCESS"
    import logging

    logging.getLogger("test").warning("client secret is %s", "s3cr3t-from-secrets-manager")
    from core.log import redact

    assert "s3cr3t-from-secrets-manager" not in redact(caplog.records[-1].getMessage())


def test_a_secret_that_is_not_a_json_object_of_settings_is_refused_with_a_hint(
    state_env: Path, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    arn = boto3.client("secretsmanager", region_name="eu-central-1").create_secret(
        Name="dgsync/plain", SecretString="just-a-password")["ARN"]
    monkeypatch.setenv("DGSYNC_SECRETS_SOURCE", f"secretsmanager:{arn}")
    with pytest.raises(ConfigError) as info:
        load_settings(env="dog")
    assert "DGSYNC_DATABASE_URL" in info.value.hint
    assert "just-a-password" not in info.value.message


# ------------------------------------------------------------------- metrics and log context


@pytest.fixture
def bear_env(state_env: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Iterator[Settings]:
    real_env(monkeypatch, "bear")
    monkeypatch.setenv("DGSYNC_LOG_FORMAT", "json")
    settings = load_settings()
    migrated_store(settings, migrated_template)
    bear.reset()
    yield settings
    bear.reset()


def emf_documents(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_worker_prints_emf_metrics_and_flags_a_poison_message_on_its_last_delivery(
    bear_env: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DGSYNC_BEAR_MAX_RECEIVE_COUNT", "3")
    bear.reset(BearRuntime(engine_factory=FakeEngine({"high": "failed"})))
    event = sqs_event(slice_body("critical"), slice_body("high"), "not json")
    event["Records"][2]["attributes"]["ApproximateReceiveCount"] = "3"
    bear.worker_handler(event, LambdaContext())
    [doc] = emf_documents(capsys.readouterr().out)
    definition = doc["_aws"]["CloudWatchMetrics"][0]
    assert definition["Namespace"] == "dgsync"
    assert definition["Dimensions"] == [["Environment", "service"]]
    assert doc["Environment"] == "bear"
    assert doc["FailedRuns"] == [0.0, 1.0]  # one value per run: critical ok, high failed
    assert doc["PoisonMessages"] == [1.0]  # only the last delivery (3 of 3) of "not json"
    names = {m["Name"] for m in definition["Metrics"]}
    assert {"AssetsSynced", "GlueWrites", "FailedAssets", "Throttles", "RunDuration"} <= names


def test_every_log_line_of_an_invocation_carries_its_request_id(
    bear_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    bear.reset(BearRuntime(engine_factory=FakeEngine()))
    bear.worker_handler(sqs_event(slice_body("critical")), LambdaContext())
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finished = [line for line in lines if line["msg"] == "slice finished"]
    assert finished and finished[0]["request_id"] == LambdaContext.aws_request_id
    assert finished[0]["slice_key"] == "critical" and finished[0]["function"] == "dgsync-worker"


# ------------------------------------------------------------------ status of worker runs


def test_status_shows_worker_runs_like_scheduler_runs(embedded_services: Services, tmp_path: Path) -> None:
    """Four worker runs (one per class): every class has a last run and a next due time,
    in core's overview, `dgsync status` and MCP (before: "never run, due now" for all)."""
    bear.reset(BearRuntime(services=embedded_services))
    try:
        for priority in ("critical", "high", "medium", "low"):
            result = bear.worker_handler(sqs_event(slice_body(priority)), LambdaContext())
            assert result == {"batchItemFailures": []}
    finally:
        bear.reset()
    now = datetime.now(UTC)
    overview = status_overview(embedded_services, now=now)
    with embedded_services.store().session(readonly=True) as session:
        runs = repo.list_runs(session=session, limit=20)
    for s in overview.slices:
        latest = next(r for r in runs if r.slice_key == s.slice_key)
        assert latest.trigger is Trigger.LAMBDA
        assert not s.never_run, s.slice_key
        assert s.last_run_id == latest.id and s.last_status == latest.status
        assert s.next_due_at is not None and s.next_due_at > now - timedelta(seconds=5), s.slice_key
    by_key = {s.slice_key: s for s in overview.slices}
    assert not by_key["low"].due_now and not by_key["high"].due_now  # daily and hourly
    from dgsync_cli.main import cli

    env = {"DGSYNC_DATABASE_URL": embedded_services.settings.database_url, "DGSYNC_ENV": "dog",
           "DGSYNC_STATE_DIR": str(tmp_path)}
    out = CliRunner().invoke(cli, ["status", "--format", "json"], env=env, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    cli_slices = {s["slice_key"]: s for s in json.loads(out.stdout)["slices"]}
    assert all(not cli_slices[k]["never_run"] and cli_slices[k]["last_run_id"] == by_key[k].last_run_id
               for k in by_key)
    # ... and through an MCP client session.
    import anyio
    from mcp import Client

    from core.catalog import AssetCatalog
    from mcp_server.server import create_server

    async def mcp_status() -> Any:
        server = create_server(services=embedded_services, catalog=AssetCatalog(embedded_services))
        async with Client(server) as client:
            return await client.call_tool("sync_status", {})

    result = anyio.run(mcp_status)
    assert not result.is_error
    mcp_slices = {s["slice_key"]: s for s in result.structured_content["slices"]}
    assert all(not mcp_slices[k]["never_run"] and mcp_slices[k]["last_run_id"] == by_key[k].last_run_id
               for k in by_key)


def test_a_space_slice_run_counts_for_its_class_even_without_schedule_state(bear_env: Settings) -> None:
    services = bear.runtime().services()
    started = datetime.now(UTC) - timedelta(minutes=20)
    with services.store().session() as session:
        run = repo.start_run(session=session, run=RunIn(env="bear", trigger=Trigger.LAMBDA,
                                                        slice_key="high:HR+SALES", started_at=started))
        repo.finish_run(session=session, run_id=run.id, result=RunResult(
            status=RunStatus.SUCCEEDED, finished_at=started + timedelta(minutes=2)))
    high = next(s for s in status_overview(services).slices if s.slice_key == "high")
    assert (high.never_run, high.last_run_id, high.last_status) == (False, run.id, RunStatus.SUCCEEDED)
    assert high.next_due_at == started + timedelta(hours=1)  # hourly: an hour after it started
    assert not high.due_now


# ----------------------------------------------------- alert tick and hot reload in the schedule


def test_the_schedule_runs_the_alert_tick_and_uses_the_applied_config_version(
    bear_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.config_versions as cv

    ticks: list[str] = []
    import core.governance.alerts as alerts

    real_tick = alerts.run_tick
    monkeypatch.setattr(alerts, "run_tick", lambda services: ticks.append(services.settings.env) or real_tick(services))
    monkeypatch.setenv("DGSYNC_BEAR_SLICE_BY", "class")
    engine = FakeEngine()
    runtime = bear.reset(BearRuntime(engine_factory=engine))
    first = bear.scheduled_handler(scheduled_event(), LambdaContext())
    assert first["ran"] and ticks == ["bear"]
    assert [c.get("config_version") for c in engine.calls] == [None] * 4
    # A version that turns the low class off, applied while the functions are warm.
    services = runtime.services()
    changed = services.settings.model_copy(update={"schedule": services.settings.schedule.model_copy(
        update={"low": "off", "critical": "realtime"})})
    config = cv.capture(changed, rules_text="")
    version = cv.apply(services.store(), config, cv.validate(config, base=services.settings, dry_run=False),
                       author="test")
    engine.calls.clear()
    forced = bear.scheduled_handler({"priorities": ["critical", "low"], "force": True}, LambdaContext())
    assert ticks == ["bear", "bear"]
    assert [c["config_version"] for c in engine.calls] == [version.id, version.id]
    assert {r["status"] for r in forced["ran"]} == {"succeeded"}
    # What is due follows the new version too: low is off, so no tick ever queues it.
    from core.sync.fanout import due_classes

    reloaded, _ = runtime.run_services()
    assert [p.value for p in due_classes(reloaded, now=datetime.now(UTC) + timedelta(days=2))] == [
        "critical", "high", "medium"]


def test_a_failed_worker_run_raises_the_run_failed_alert(bear_env: Settings) -> None:
    from core.governance.alerts import AlertService
    from core.store.schemas import RunError

    services = bear.runtime().services()
    started = datetime.now(UTC) - timedelta(seconds=30)
    with services.store().session() as session:
        run = repo.start_run(session=session, run=RunIn(env="bear", trigger=Trigger.LAMBDA, slice_key="high",
                                                        started_at=started))
        repo.finish_run(session=session, run_id=run.id, result=RunResult(
            status=RunStatus.FAILED, finished_at=started + timedelta(seconds=5),
            errors=[RunError(code="auth_error", message="token refused", hint="Check the client secret.")]))
    from .conftest import FakeReport

    class Engine(FakeEngine):
        def sync(self, **kwargs: Any) -> FakeReport:
            self.calls.append(kwargs)
            return FakeReport("failed", run_id=run.id)

    bear.reset(BearRuntime(engine_factory=Engine()))
    event = sqs_event(slice_body("high"))
    assert bear.worker_handler(event, LambdaContext())["batchItemFailures"]
    alerts = AlertService(bear.runtime().services().store(), bear.runtime().settings()).list_alerts()
    failed = [a for a in alerts if a.rule == "run_failed"]
    assert failed and run.id in failed[0].message and failed[0].hint == "Check the client secret."
