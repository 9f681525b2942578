"""Send slice messages to the SQS work queue (the only boto3 use outside ``core/glue``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from bear_lambda.messages import SliceMessage
from core.errors import DgsyncError
from core.log import get_logger

log = get_logger(__name__)

#: The SQS queue the scheduler fans slices out to (empty: run them inline).
QUEUE_URL_ENV = "DGSYNC_BEAR_QUEUE_URL"
#: An SQS endpoint override (moto or localstack in tests and local runs).
SQS_ENDPOINT_ENV = "DGSYNC_BEAR_SQS_ENDPOINT_URL"
#: SendMessageBatch takes at most 10 entries.
BATCH_LIMIT = 10

QUEUE_HINT = "Check DGSYNC_BEAR_QUEUE_URL and that the function may sqs:SendMessage to it."


class QueueError(DgsyncError):
    """The work queue refused or could not be reached."""

    default_hint = QUEUE_HINT


def queue_url() -> str | None:
    return os.environ.get(QUEUE_URL_ENV) or None


def make_sqs_client(region: str) -> Any:
    import boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or region
    return boto3.client("sqs", region_name=region, endpoint_url=os.environ.get(SQS_ENDPOINT_ENV) or None)


def send_slices(client: Any, url: str, messages: Sequence[SliceMessage]) -> list[str]:
    """Send ``messages`` in batches of ten; return the SQS message ids."""
    return send_bodies(client, url, [m.model_dump_json() for m in messages], what="slice")


def send_bodies(client: Any, url: str, bodies: Sequence[str], *, what: str = "job") -> list[str]:
    """Send message bodies in batches of ten; return the SQS message ids."""
    from botocore.exceptions import BotoCoreError, ClientError

    ids: list[str] = []
    for start in range(0, len(bodies), BATCH_LIMIT):
        chunk = bodies[start : start + BATCH_LIMIT]
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
        try:
            answer = client.send_message_batch(QueueUrl=url, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            raise QueueError(f"could not queue {len(chunk)} {what} message(s): {code}") from exc
        failed = answer.get("Failed") or []
        if failed:
            codes = sorted({f.get("Code", "?") for f in failed})
            raise QueueError(f"SQS refused {len(failed)} of {len(chunk)} {what} message(s): {', '.join(codes)}")
        ids.extend(s["MessageId"] for s in answer.get("Successful", []))
    log.info("messages queued", extra={"count": len(ids), "what": what})
    return ids


#: The dead-letter queue of the work queue (the scheduler reports its depth as a metric).
DLQ_URL_ENV = "DGSYNC_BEAR_DLQ_URL"


def dlq_url() -> str | None:
    return os.environ.get(DLQ_URL_ENV) or None


def queue_depth(client: Any, url: str) -> int:
    """Messages waiting in a queue (visible + delayed; in flight not counted)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        attrs = client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"]
        )["Attributes"]
    except (BotoCoreError, ClientError) as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        raise QueueError(f"could not read the depth of {url}: {code}",
                         hint="Check DGSYNC_BEAR_DLQ_URL and that the function may sqs:GetQueueAttributes.") from exc
    return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(attrs.get("ApproximateNumberOfMessagesDelayed", 0))
