"""API jobs on Bear: ``POST /api/v1/jobs`` through API Gateway queues the job on SQS; the worker
Lambda runs it (real SQS event); the client polls it — the API function never runs long work."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

import bear_lambda.handler as bear
from bear_lambda.local import sqs_event
from core.settings import load_settings

from .conftest import API_TOKEN, migrated_store, own_systems
from .test_bear_lambda import LambdaContext, http_api_v2_event

REGION = "sa-east-1"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module")
def systems(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """This module's emulator and moto server (Glue, and SQS for the work queue)."""
    with own_systems(tmp_path_factory.mktemp("bear-jobs"), REGION) as env:
        yield env


@pytest.fixture
def work_queue(state_env: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path,
               systems: dict[str, str]) -> Iterator[tuple[Any, str]]:
    for name, value in {**systems, "DGSYNC_ENV": "bear", "DGSYNC_API_TOKEN": API_TOKEN,
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    endpoint = systems["DGSYNC_GLUE__ENDPOINT_URL"]
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
    url = sqs.create_queue(QueueName=f"bear-jobs-{state_env.name[-20:]}")["QueueUrl"]
    monkeypatch.setenv("DGSYNC_BEAR_SQS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("DGSYNC_BEAR_QUEUE_URL", url)
    migrated_store(load_settings(), migrated_template)
    bear.reset()
    yield sqs, url
    bear.reset()


def api(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any, dict[str, str]]:
    headers = {**AUTH, "content-type": "application/json"} if body is not None else AUTH
    event = http_api_v2_event(method, path, headers=headers, body=json.dumps(body) if body is not None else None)
    response = bear.handler(event, LambdaContext())
    text = response["body"]
    if response.get("isBase64Encoded"):
        text = base64.b64decode(text).decode()
    return response["statusCode"], json.loads(text) if text else None, response.get("headers", {})


def test_an_api_job_is_queued_by_the_api_and_run_by_a_worker(work_queue: tuple[Any, str]) -> None:
    sqs, url = work_queue
    status, job, headers = api("POST", "/api/v1/jobs", {"kind": "plan", "scope": {"spaces": ["SALES"]}})
    assert status == 202, job
    assert headers["location"] == f"/api/v1/jobs/{job['id']}"
    # The API function only queued it: nothing runs it there.
    status, polled, _ = api("GET", f"/api/v1/jobs/{job['id']}")
    assert (status, polled["status"]) == (200, "queued")
    answer = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"])
    [message] = answer["Messages"]
    assert json.loads(message["Body"]) == {"job_id": job["id"]}
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    event = sqs_event([message], queue_arn=arn, region=REGION)
    assert bear.worker_handler(event, LambdaContext()) == {"batchItemFailures": []}
    status, done, _ = api("GET", f"/api/v1/jobs/{job['id']}")
    assert status == 200 and done["status"] in ("succeeded", "partial"), done
    # A redelivery finds the job over: nothing runs twice, the record is not retried.
    assert bear.worker_handler(event, LambdaContext()) == {"batchItemFailures": []}
    status, again, _ = api("GET", f"/api/v1/jobs/{job['id']}")
    assert again["status"] == done["status"] and again.get("finished_at") == done.get("finished_at")


RULES = "version: 1\ndatabases:\n  template: '{prefix}{space}'\n  env_prefix: {bear: bj_}\n"


def run_queued(sqs: Any, url: str, job_id: str) -> None:
    """Deliver the queued job message to the worker Lambda as a real SQS event."""
    [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"]) == {"job_id": job_id}
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert bear.worker_handler(sqs_event([message], queue_arn=arn, region=REGION), LambdaContext()) == {
        "batchItemFailures": []}


def test_a_config_check_with_a_plan_is_a_job_the_worker_runs(work_queue: tuple[Any, str]) -> None:
    """POST /api/v1/config/validate (and apply) with the dry-run plan answer 202 through API
    Gateway; the plan runs in the worker Lambda (it would pass API Gateway's 29 s in the API)."""
    sqs, url = work_queue
    status, job, headers = api("POST", "/api/v1/config/validate", {"rules": RULES})
    assert status == 202 and job["kind"] == "config_validate", job
    assert headers["location"] == f"/api/v1/jobs/{job['id']}"
    assert api("GET", f"/api/v1/jobs/{job['id']}")[1]["status"] == "queued"  # the API did not run it
    run_queued(sqs, url, job["id"])
    status, done, _ = api("GET", f"/api/v1/jobs/{job['id']}")
    assert done["status"] == "succeeded", done
    validation = done["result"]["validation"]
    assert validation["ok"] and validation["planned"] and any(c["object"].startswith("bj_") for c in validation["plan_changes"])

    status, job, _ = api("POST", "/api/v1/config/apply", {"rules": RULES, "comment": "from bear"})
    assert status == 202 and job["kind"] == "config_apply", job
    run_queued(sqs, url, job["id"])
    status, done, _ = api("GET", f"/api/v1/jobs/{job['id']}")
    assert done["status"] == "succeeded" and done["result"]["version"]["comment"] == "from bear", done
    assert api("GET", "/api/v1/config")[1]["version"]["id"] == done["result"]["version"]["id"]
