"""Run Bear's fan-out on one machine: what EventBridge and the SQS event source mapping do.

``python -m bear_lambda.local schedule`` invokes the real ``scheduled_handler`` with an
EventBridge scheduled event; ``python -m bear_lambda.local worker`` plays one worker's event
source mapping: it long-polls the queue, hands each batch to the real ``worker_handler`` as the
SQS event Lambda would deliver (``Records`` with ``messageId``, ``receiptHandle``, ``body``,
``attributes.ApproximateReceiveCount``...), deletes the records the handler did not report in
``batchItemFailures`` and leaves the others to come back after the visibility timeout — and
to the dead-letter queue after the queue's ``maxReceiveCount``. Start several workers for
the fan-out (``fanout`` does: schedule once, then N worker processes).

The queue is any SQS endpoint: ``DGSYNC_BEAR_SQS_ENDPOINT_URL`` points at moto_server for
local runs (``moto_server -p 5000``). Everything else is Bear's own configuration
(``DGSYNC_BEAR_QUEUE_URL``, ``DGSYNC_*``). Each invocation prints one JSON line to stdout
(after the handler's EMF document): ``{"invocation": ..., "records": ..., "failed": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bear_lambda import queue


class LocalContext:
    """The parts of Lambda's context object the handlers use, with a real deadline."""

    def __init__(self, *, function_name: str, timeout_s: float) -> None:
        self.function_name = function_name
        self.aws_request_id = str(uuid.uuid4())
        self.log_stream_name = f"local/{os.getpid()}"
        self.memory_limit_in_mb = 1024
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def scheduled_event(*, detail: dict[str, Any] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """An EventBridge scheduled event (``detail`` as a rule's constant input would give)."""
    now = now or datetime.now(UTC)
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": os.environ.get("AWS_DEFAULT_REGION", "eu-central-1"),
        "resources": ["arn:aws:events:eu-central-1:123456789012:rule/dgsync-bear-tick"],
        "detail": detail or {},
    }


def sqs_event(messages: list[dict[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The event the SQS event source mapping delivers for ``messages`` (ReceiveMessage output)."""
    records = []
    for m in messages:
        attributes = m.get("Attributes", {})
        records.append({
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {k: attributes[k] for k in ("ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                                       "ApproximateFirstReceiveTimestamp") if k in attributes},
            "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        })
    return {"Records": records}


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-central-1"


def run_schedule(detail: dict[str, Any] | None = None) -> dict[str, Any]:
    from bear_lambda.handler import scheduled_handler

    context = LocalContext(function_name="dgsync-local-scheduler", timeout_s=120)
    return scheduled_handler(scheduled_event(detail=detail), context)


def run_worker(*, batch_size: int = 1, timeout_s: float = 900.0, idle_exit_s: float | None = None,
               exit_after: int | None = None, wait_s: int = 1) -> int:
    """Poll the queue and invoke the worker handler per batch; return the invocations made.

    ``idle_exit_s``: stop after the queue gave nothing for that long (tests, one-off runs);
    ``exit_after``: stop after that many invocations.
    """
    from bear_lambda.handler import worker_handler

    url = queue.queue_url()
    if not url:
        raise SystemExit(f"set {queue.QUEUE_URL_ENV} to the work queue's URL")
    client = queue.make_sqs_client(_region())
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    invocations = 0
    idle_since = time.monotonic()
    while True:
        answer = client.receive_message(QueueUrl=url, MaxNumberOfMessages=batch_size, WaitTimeSeconds=wait_s,
                                        AttributeNames=["All"], MessageAttributeNames=["All"])
        messages = answer.get("Messages", [])
        if not messages:
            if idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s:
                return invocations
            continue
        invocations += 1
        context = LocalContext(function_name="dgsync-local-worker", timeout_s=timeout_s)
        try:
            result = worker_handler(sqs_event(messages, queue_arn=arn, region=_region()), context)
        except Exception as exc:  # Lambda retries the whole batch when the function raises
            print(json.dumps({"invocation": context.aws_request_id, "error": type(exc).__name__}), flush=True)
            idle_since = time.monotonic()
            continue
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            client.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        print(json.dumps({"invocation": context.aws_request_id, "pid": os.getpid(), "records": len(messages),
                          "slices": [json.loads(m["Body"]).get("slice_key") if m["Body"].startswith("{") else None
                                     for m in messages],
                          "failed": sorted(failed)}), flush=True)
        idle_since = time.monotonic()
        if exit_after is not None and invocations >= exit_after:
            return invocations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bear_lambda.local", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    schedule = sub.add_parser("schedule", help="invoke the scheduled handler once")
    schedule.add_argument("--detail", default="{}", help='constant input, e.g. {"priorities": ["high"]}')
    for name in ("worker", "fanout"):
        p = sub.add_parser(name, help="one worker process" if name == "worker" else "schedule, then N workers")
        p.add_argument("--batch-size", type=int, default=1)
        p.add_argument("--timeout-s", type=float, default=900.0, help="the function timeout")
        p.add_argument("--idle-exit-s", type=float, default=None)
        p.add_argument("--exit-after", type=int, default=None, help="stop after this many invocations")
        if name == "fanout":
            p.add_argument("--workers", type=int, default=4)
            p.add_argument("--detail", default="{}")
    args = parser.parse_args(argv)
    if args.command == "schedule":
        print(json.dumps(run_schedule(json.loads(args.detail)), default=str), flush=True)
        return 0
    if args.command == "worker":
        run_worker(batch_size=args.batch_size, timeout_s=args.timeout_s, idle_exit_s=args.idle_exit_s,
                   exit_after=args.exit_after)
        return 0
    print(json.dumps(run_schedule(json.loads(args.detail)), default=str), flush=True)
    command = [sys.executable, "-m", "bear_lambda.local", "worker", "--batch-size", str(args.batch_size),
               "--timeout-s", str(args.timeout_s), "--idle-exit-s", str(args.idle_exit_s or 5)]
    workers = [subprocess.Popen(command) for _ in range(args.workers)]
    return max(w.wait() for w in workers)


if __name__ == "__main__":
    raise SystemExit(main())
