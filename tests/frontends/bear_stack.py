"""A local Bear "stack" for the fan-out tests: moto_server (SQS and Glue) and the Datasphere
emulator on loopback, a SQLite state store, and worker processes run by bear_lambda.local."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from core.settings import EmulatorSettings
from core.store.db import Store

ROOT = Path(__file__).resolve().parents[2]
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
           "AWS_DEFAULT_REGION": "eu-central-1"}


@dataclass
class Services:
    """moto_server and an emulator shared by the tests of a module."""

    moto_url: str
    emulator_url: str
    emulator: Any

    def client(self, service: str, region: str = "eu-central-1") -> Any:
        return boto3.client(service, region_name=region, endpoint_url=self.moto_url, aws_access_key_id="testing",
                            aws_secret_access_key="testing", aws_session_token="testing")

    def faults(self, **config: Any) -> None:
        import httpx

        httpx.delete(f"{self.emulator_url}/_emulator/faults", timeout=5).raise_for_status()
        if config:
            httpx.post(f"{self.emulator_url}/_emulator/faults", json=config, timeout=5).raise_for_status()


@contextmanager
def running_services(*, assets: int, spaces: int) -> Iterator[Services]:
    from moto.server import ThreadedMotoServer

    from doubles.emulator.server import start_in_thread

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    emulator = start_in_thread(EmulatorSettings(port=0, synthetic_assets=assets, seed=7),
                               include_realistic=False, include_fixtures=False, synthetic_spaces=spaces)
    try:
        yield Services(moto_url=f"http://{host}:{port}", emulator_url=emulator.base_url, emulator=emulator)
    finally:
        emulator.stop()
        moto.stop()


@dataclass
class Stack:
    """One test's deployment: its own queues, store and Glue region on the shared services."""

    services: Services
    root: Path
    name: str
    spaces: list[str]
    glue_region: str
    visibility_s: int = 4
    max_receive: int = 3
    env: dict[str, str] = field(default_factory=dict)
    queue_url: str = ""
    dlq_url: str = ""

    def __post_init__(self) -> None:
        sqs = self.sqs
        self.dlq_url = sqs.create_queue(QueueName=f"{self.name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queue_url = sqs.create_queue(QueueName=self.name, Attributes={
            "VisibilityTimeout": str(self.visibility_s),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": self.max_receive}),
        })["QueueUrl"]
        db = self.root / "state.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        Store.from_url(f"sqlite:///{db}", auto_upgrade=True).dispose()  # the migration function's job
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root), **AWS_ENV,
            "PYTHONPATH": str(ROOT),
            "DGSYNC_ENV": "bear", "DGSYNC_LOG_FORMAT": "json",
            "DGSYNC_DATABASE_URL": f"sqlite:///{db}", "DGSYNC_STATE_DIR": str(self.root),
            "DGSYNC_DATASPHERE__BASE_URL": self.services.emulator_url,
            "DGSYNC_DATASPHERE__CLIENT_ID": "dgsync-demo", "DGSYNC_DATASPHERE__CLIENT_SECRET": "dgsync-demo-secret",
            "DGSYNC_DATASPHERE__SPACES": json.dumps(self.spaces),
            "DGSYNC_GLUE__ENDPOINT_URL": self.services.moto_url, "DGSYNC_GLUE__REGION": self.glue_region,
            "DGSYNC_SCHEDULE__HEARTBEAT_INTERVAL_S": "1",
            "DGSYNC_BEAR_SQS_ENDPOINT_URL": self.services.moto_url,
            "DGSYNC_BEAR_QUEUE_URL": self.queue_url, "DGSYNC_BEAR_DLQ_URL": self.dlq_url,
            "DGSYNC_BEAR_MAX_RECEIVE_COUNT": str(self.max_receive),
            "DGSYNC_BEAR_STOP_MARGIN_S": "1", "DGSYNC_BEAR_MIN_SLICE_S": "0.5",
        }

    @property
    def sqs(self) -> Any:
        return self.services.client("sqs")

    @property
    def glue(self) -> Any:
        return self.services.client("glue", self.glue_region)

    def store(self) -> Store:
        return Store.from_url(self.env["DGSYNC_DATABASE_URL"], auto_upgrade=False)

    def local(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "bear_lambda.local", *args], env={**self.env, **env},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.root)

    def schedule(self, detail: dict[str, Any] | None = None, **env: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Invoke the scheduled handler once; its result and EMF documents."""
        proc = self.local("schedule", "--detail", json.dumps(detail or {}), **env)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return lines[-1], [line for line in lines if "_aws" in line]

    def worker(self, *, timeout_s: float = 30, idle_exit_s: float = 3, exit_after: int | None = None,
               **env: str) -> subprocess.Popen[str]:
        extra = ["--exit-after", str(exit_after)] if exit_after else []
        return self.local("worker", "--timeout-s", str(timeout_s), "--idle-exit-s", str(idle_exit_s), *extra, **env)

    def depth(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def glue_tables(self) -> dict[str, int]:
        """``database.table`` → how many versions Glue keeps of it (1: written exactly once)."""
        glue = self.glue
        out: dict[str, int] = {}
        for db in glue.get_databases()["DatabaseList"]:
            for page in glue.get_paginator("get_tables").paginate(DatabaseName=db["Name"]):
                for table in page["TableList"]:
                    versions = glue.get_table_versions(DatabaseName=db["Name"], TableName=table["Name"])
                    out[f"{db['Name']}.{table['Name']}"] = len(versions["TableVersions"])
        return out


def outputs(proc: subprocess.Popen[str], timeout: float = 180) -> tuple[list[dict[str, Any]], str]:
    """The JSON lines a worker printed (EMF documents and invocation summaries) and its stderr."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")], err


def wait_for(predicate: Any, *, timeout: float, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError("timed out waiting")
