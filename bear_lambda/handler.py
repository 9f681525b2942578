"""The Lambda entry points of Bear.

* ``handler``            API Gateway (HTTP API v2 or REST v1) → Wolf's FastAPI app via Mangum
* ``scheduled_handler``  EventBridge schedule → one SQS message per priority class (or, with
                         no queue configured, the slices run inline)
* ``worker_handler``     SQS → run each named slice; failed records are reported in the
                         partial-batch response so only they are retried
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from bear_lambda import queue
from bear_lambda.messages import SliceMessage
from bear_lambda.runtime import BearRuntime
from core.errors import DgsyncError, LeaseHeld, ScopeHeld
from core.log import get_logger
from core.models import Priority

log = get_logger(__name__)

#: Stop a slice this long before the Lambda timeout, so the run is recorded and resumable.
STOP_MARGIN_S = 30.0
#: Run statuses that make the SQS record fail (and so be retried, then dead-lettered).
FAILED_STATUSES = frozenset({"failed", "aborted"})

_runtime = BearRuntime()


def runtime() -> BearRuntime:
    return _runtime


def reset(new: BearRuntime | None = None) -> BearRuntime:
    """Close the current runtime and use ``new`` (tests; a fresh container otherwise)."""
    global _runtime
    _runtime.close()
    _runtime = new or BearRuntime()
    return _runtime


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway entry point: the Wolf app, built on the first invocation."""
    result: dict[str, Any] = _runtime.adapter()(event, context)
    return result


# --------------------------------------------------------------------------- schedule


def _priorities(event: dict[str, Any]) -> list[Priority]:
    """Priorities named by the event (a rule's constant input or ``detail``), else all."""
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else event
    named = detail.get("priorities") if isinstance(detail, dict) else None
    if not named:
        return list(Priority)
    return [Priority(p) for p in named]


def scheduled_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge schedule: fan out one slice per priority class."""
    try:
        priorities = _priorities(event)
    except ValueError as exc:
        raise DgsyncError(
            "the schedule event names an unknown priority",
            hint="Use priorities from: " + ", ".join(p.value for p in Priority) + ".",
        ) from exc
    messages = [SliceMessage.for_priority(p, scheduled_at=event.get("time")) for p in priorities]
    url = queue.queue_url()
    if url:
        client = queue.make_sqs_client(_runtime.settings().glue.region)
        ids = queue.send_slices(client, url, messages)
        return {"queued": [m.slice_key for m in messages], "message_ids": ids}
    # No queue: a single-function deployment runs the slices here, most important first.
    runs: list[dict[str, Any]] = []
    errors: list[DgsyncError] = []
    for message in messages:
        try:
            report = run_slice(message, context)
        except LeaseHeld:
            runs.append({"slice_key": message.slice_key, "status": "skipped"})
            continue
        except DgsyncError as exc:  # try the other slices; fail the invocation at the end
            log.error("slice failed", extra={"slice_key": message.slice_key, "code": exc.code,
                                             "error": exc.message, "hint": exc.hint})
            runs.append({"slice_key": message.slice_key, "status": "error", "code": exc.code})
            errors.append(exc)
            continue
        runs.append({"slice_key": message.slice_key, "run_id": report.run_id, "status": report.status})
    if errors:
        raise errors[0]
    return {"ran": runs}


# ----------------------------------------------------------------------------- worker


def run_slice(message: SliceMessage, context: Any) -> Any:
    """Sync one slice under its lease, stopping cleanly before the Lambda runs out of time.

    The lease lasts as long as this invocation can (its remaining time), so it needs no
    renewal; a duplicate delivery of the same slice meanwhile gets :class:`LeaseHeld`.
    """
    from core.store.db import default_holder
    from core.sync.slices import run_slice_under_lease

    services = _runtime.services()
    engine = _runtime.engine_factory(services)
    remaining_s = _remaining_s(context)
    ttl_s = remaining_s + 5.0 if remaining_s is not None else services.settings.schedule.lease_ttl_s
    holder = f"{default_holder()}:{getattr(context, 'aws_request_id', 'local')}"
    return run_slice_under_lease(
        engine,
        store=services.store(),
        slice_key=message.slice_key,
        priority=message.priority,
        holder=holder,
        ttl_s=ttl_s,
        trigger="lambda",
        stop_after_s=remaining_s - STOP_MARGIN_S if remaining_s is not None else None,
        spaces=message.spaces or None,
    )


def _remaining_s(context: Any) -> float | None:
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    return remaining_ms() / 1000.0 if callable(remaining_ms) else None


def worker_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch: run each record's slice; report the failed ones (partial batch response)."""
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        message_id = str(record.get("messageId", ""))
        try:
            message = SliceMessage.model_validate_json(record.get("body") or "")
            report = run_slice(message, context)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
            log.error("malformed slice message", extra={"message_id": message_id, "fields": fields})
            failures.append({"itemIdentifier": message_id})
            continue
        except ScopeHeld as exc:
            # Another run (a manual sync, say) holds an overlapping scope: nobody does this
            # slice's work, so the record fails and SQS delivers it again after the visibility
            # timeout.
            log.warning("scope held by another run; retried later",
                        extra={"message_id": message_id, "error": exc.message})
            failures.append({"itemIdentifier": message_id})
            continue
        except LeaseHeld as exc:
            # Another worker runs this slice right now: this delivery's work is being done.
            log.info("slice already running", extra={"message_id": message_id, "error": exc.message})
            continue
        except DgsyncError as exc:
            log.error("slice failed", extra={"message_id": message_id, "code": exc.code,
                                             "error": exc.message, "hint": exc.hint})
            failures.append({"itemIdentifier": message_id})
            continue
        except Exception:  # one broken record must not hide the outcome of the others
            log.exception("slice crashed", extra={"message_id": message_id})
            failures.append({"itemIdentifier": message_id})
            continue
        log.info("slice finished", extra={"message_id": message_id, "slice_key": message.slice_key,
                                          "run_id": report.run_id, "status": report.status})
        if report.status in FAILED_STATUSES:
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
