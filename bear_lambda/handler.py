"""The Lambda entry points of Bear.

* ``handler``            API Gateway (HTTP API v2 or REST v1) → Wolf's FastAPI app via Mangum
* ``scheduled_handler``  EventBridge schedule → the alert tick, then one SQS message per space
                         slice of every priority class that is *due* (``core.sync.fanout``);
                         with no queue configured the slices run inline
* ``worker_handler``     SQS → run each named slice; failed records are reported in the
                         partial-batch response so only they are retried; a slice that runs
                         out of time stops cleanly and is queued again (it resumes)
* ``migration_handler``  CloudFormation custom resource → the state store upgraded to head

Every invocation logs JSON lines carrying its request id (and the run id while a run is
active) and prints one EMF document of metrics (``bear_lambda.observability``). The scheduler
and each worker batch use the environment's applied configuration version (hot reload).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from bear_lambda import queue
from bear_lambda.messages import SliceMessage
from bear_lambda.observability import RunMetrics, invocation
from bear_lambda.runtime import BearRuntime
from core.errors import DgsyncError, LeaseHeld, ScopeHeld
from core.log import get_logger
from core.models import Priority

log = get_logger(__name__)

#: Stop a slice this long before the Lambda timeout, so the run is recorded and resumable.
STOP_MARGIN_S = 30.0
#: Run statuses that make the SQS record fail (and so be retried, then dead-lettered).
FAILED_STATUSES = frozenset({"failed", "aborted"})
#: A record is not started with less time than this left (plus the stop margin): re-queued.
MIN_SLICE_S = 30.0
#: A slice re-queued this many times for lack of time fails instead (it never converges).
MAX_CONTINUATIONS = 24
#: Seconds of estimated work per slice message (well inside the 15-minute Lambda limit).
BUDGET_ENV = "DGSYNC_BEAR_SLICE_BUDGET_S"
#: ``space`` (default): one message per space slice; ``class``: one per priority class.
SLICE_BY_ENV = "DGSYNC_BEAR_SLICE_BY"
#: The work queue's maxReceiveCount (the template sets it): the last delivery of a failing
#: record counts as a poison message.
MAX_RECEIVE_ENV = "DGSYNC_BEAR_MAX_RECEIVE_COUNT"

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
    with invocation(context):
        result: dict[str, Any] = _runtime.adapter()(event, context)
    return result


def migration_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """CloudFormation custom resource (every deploy): the state store migrated to head."""
    from bear_lambda.migrate import migration_handler as migrate

    with invocation(context):
        return migrate(event, context, database_url=lambda: _runtime.settings().database_url)


# --------------------------------------------------------------------------- schedule


def _event_detail(event: dict[str, Any]) -> dict[str, Any]:
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else event
    return detail if isinstance(detail, dict) else {}


def _priorities(event: dict[str, Any]) -> list[Priority]:
    """Priorities named by the event (a rule's constant input or ``detail``), else all."""
    named = _event_detail(event).get("priorities")
    if not named:
        return list(Priority)
    try:
        return [Priority(p) for p in named]
    except ValueError as exc:
        raise DgsyncError(
            "the schedule event names an unknown priority",
            hint="Use priorities from: " + ", ".join(p.value for p in Priority) + ".",
        ) from exc


def _spaces(services: Any) -> list[str]:
    """The spaces to slice by: the configured ones, else every space the tenant shows."""
    if (os.environ.get(SLICE_BY_ENV) or "space").lower() == "class":
        return []
    configured = list(services.settings.datasphere.spaces)
    if configured:
        return configured
    return sorted({s.name for s in services.datasphere_client().iter_spaces() if s.name})


def slice_messages(services: Any, due: Sequence[Priority], *, scheduled_at: str | None) -> list[SliceMessage]:
    """One message per space slice of each due class (per class without spaces)."""
    from core.sync.fanout import DEFAULT_BUDGET_S, plan_space_slices, space_estimates

    if not due:
        return []
    spaces = _spaces(services)
    if not spaces:
        return [SliceMessage.for_priority(p, scheduled_at=scheduled_at) for p in due]
    budget = float(os.environ.get(BUDGET_ENV) or DEFAULT_BUDGET_S)
    estimates = space_estimates(services.store(), env=services.settings.env, spaces=spaces)
    return [
        SliceMessage(priority=p, slice_key=sl.slice_key, spaces=list(sl.spaces), scheduled_at=scheduled_at,
                     estimate_s=round(sl.estimate_s, 1))
        for p in due
        for sl in plan_space_slices(p, estimates, budget_s=budget)
    ]


def scheduled_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge schedule: the alert tick, then fan out the slices of the due classes."""
    with invocation(context):
        services, version = _runtime.run_services()
        metrics = RunMetrics(services.settings.env)
        try:
            return _schedule(event, context, services, version, metrics)
        finally:
            metrics.flush()


def _schedule(event: dict[str, Any], context: Any, services: Any, version: int | None,
              metrics: RunMetrics) -> dict[str, Any]:
    from core.governance.alerts import run_tick
    from core.store.schemas import utcnow
    from core.sync.fanout import due_classes, mark_dispatched

    priorities = _priorities(event)
    run_tick(services)  # escalation and periodic alert checks, once per schedule tick
    now = utcnow()
    force = bool(_event_detail(event).get("force"))
    due = priorities if force else [p for p in due_classes(services, now=now) if p in priorities]
    messages = slice_messages(services, due, scheduled_at=event.get("time"))
    log.info("schedule tick", extra={"due": [p.value for p in due], "slices": len(messages),
                                     "config_version": version})
    url = queue.queue_url()
    if not url:
        for p in due:
            mark_dispatched(services, p, now=now)
        return _run_inline(messages, context)
    client = queue.make_sqs_client(services.settings.glue.region)
    ids = queue.send_slices(client, url, messages) if messages else []
    for p in due:
        mark_dispatched(services, p, now=now)
    metrics.count("SlicesQueued", len(messages))
    dlq = queue.dlq_url()
    depth = queue.queue_depth(client, dlq) if dlq else None
    if depth is not None:
        metrics.count("DeadLetterDepth", depth)
    return {"due": [p.value for p in due], "queued": [m.slice_key for m in messages], "message_ids": ids,
            "config_version": version, "dead_letter_depth": depth}


def _run_inline(messages: list[SliceMessage], context: Any) -> dict[str, Any]:
    """No queue: a single-function deployment runs the slices here, most important first."""
    runs: list[dict[str, Any]] = []
    errors: list[DgsyncError] = []
    for message in messages:
        try:
            report, _ = run_slice(message, context)
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


def run_slice(message: SliceMessage, context: Any) -> tuple[Any, bool]:
    """Sync one slice under its lease, stopping cleanly before the Lambda runs out of time.

    Returns the engine's report and whether the run was stopped for lack of time. The lease
    lasts as long as this invocation can (its remaining time), so it needs no renewal; a
    duplicate delivery of the same slice meanwhile gets :class:`LeaseHeld`. The class's
    schedule state is written after the run (status shows worker runs like scheduler runs).
    """
    from core.store.db import default_holder
    from core.sync.slices import run_slice_under_lease

    services, version = _runtime.run_services()
    engine = _runtime.engine_factory(services)
    remaining_s = _remaining_s(context)
    ttl_s = remaining_s + 5.0 if remaining_s is not None else services.settings.schedule.lease_ttl_s
    holder = f"{default_holder()}:{getattr(context, 'aws_request_id', 'local')}"
    out_of_time = threading.Event()

    def stop_for_time() -> None:
        out_of_time.set()
        engine.request_stop()

    timer = None
    if remaining_s is not None:
        timer = threading.Timer(max(remaining_s - _stop_margin_s(), 0.0), stop_for_time)
        timer.daemon = True
        timer.start()
    options: dict[str, Any] = {} if version is None else {"config_version": version}
    try:
        report = run_slice_under_lease(
            engine, store=services.store(), slice_key=message.slice_key, priority=message.priority,
            holder=holder, ttl_s=ttl_s, trigger="lambda", spaces=message.spaces or None,
            schedule=services.settings.schedule, **options,
        )
    finally:
        if timer is not None:
            timer.cancel()
    from core.governance.alerts import evaluate_after_run

    # The alert rules over the finished run, as the scheduler does (never raises).
    evaluate_after_run(services, run_id=getattr(report, "run_id", None), report=report,
                       slice_key=message.slice_key)
    return report, out_of_time.is_set() and getattr(report, "status", "") == "aborted"


def _stop_margin_s() -> float:
    """``DGSYNC_BEAR_STOP_MARGIN_S`` (local runs with short timeouts) or :data:`STOP_MARGIN_S`."""
    return float(os.environ.get("DGSYNC_BEAR_STOP_MARGIN_S") or STOP_MARGIN_S)


def _min_slice_s() -> float:
    return float(os.environ.get("DGSYNC_BEAR_MIN_SLICE_S") or MIN_SLICE_S)


def _remaining_s(context: Any) -> float | None:
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    return remaining_ms() / 1000.0 if callable(remaining_ms) else None


def _receive_count(record: dict[str, Any]) -> int:
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
    except ValueError:
        return 1


def worker_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch: run each record's slice; report the failed ones (partial batch response)."""
    with invocation(context):
        metrics = RunMetrics(_runtime.settings().env)
        try:
            return _work(event, context, metrics)
        finally:
            metrics.flush()


def _work(event: dict[str, Any], context: Any, metrics: RunMetrics) -> dict[str, Any]:
    failures: list[str] = []
    requeue: list[tuple[str, SliceMessage]] = []
    max_receive = int(os.environ.get(MAX_RECEIVE_ENV) or 5)
    for record in event.get("Records", []):
        message_id = str(record.get("messageId", ""))
        outcome, message = _one_record(record, context, metrics, message_id)
        if outcome == "requeue" and message is not None:
            requeue.append((message_id, message))
        elif outcome == "failed":
            failures.append(message_id)
            if _receive_count(record) >= max_receive:
                metrics.count("PoisonMessages", 1)
                log.error("message fails on its last delivery: it goes to the dead-letter queue",
                          extra={"message_id": message_id, "receive_count": _receive_count(record)})
    failures.extend(_requeue(requeue, metrics))
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failures]}


def _one_record(record: dict[str, Any], context: Any, metrics: RunMetrics,
                message_id: str) -> tuple[str, SliceMessage | None]:
    """``ok``, ``failed`` or ``requeue`` (with the message to queue again)."""
    if '"job_id"' in (record.get("body") or ""):
        return _job_record(record, message_id), None
    try:
        message = SliceMessage.model_validate_json(record.get("body") or "")
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        log.error("malformed slice message", extra={"message_id": message_id, "fields": fields})
        return "failed", None
    remaining = _remaining_s(context)
    if remaining is not None and remaining < _stop_margin_s() + _min_slice_s():
        log.info("no time left for the slice: queued again", extra={"slice_key": message.slice_key})
        return "requeue", message
    try:
        report, out_of_time = run_slice(message, context)
    except ScopeHeld as exc:
        # Another run (a manual sync, say) holds an overlapping scope: nobody does this
        # slice's work, so the record fails and SQS delivers it again after the visibility
        # timeout.
        log.warning("scope held by another run; retried later",
                    extra={"message_id": message_id, "error": exc.message})
        return "failed", message
    except LeaseHeld as exc:
        # The slice's lease is held: another worker runs it now, or one that died held it (its
        # lease outlives it by up to its timeout). Retried after the visibility timeout (longer
        # than any worker's lease): then it finds the slice done (no writes) or resumes it.
        log.info("slice leased by another worker; retried later",
                 extra={"message_id": message_id, "error": exc.message})
        return "failed", message
    except DgsyncError as exc:
        log.error("slice failed", extra={"message_id": message_id, "code": exc.code,
                                         "error": exc.message, "hint": exc.hint})
        metrics.count("FailedRuns", 1)
        return "failed", message
    except Exception:  # one broken record must not hide the outcome of the others
        log.exception("slice crashed", extra={"message_id": message_id})
        metrics.count("FailedRuns", 1)
        return "failed", message
    metrics.run(report)
    log.info("slice finished", extra={"message_id": message_id, "slice_key": message.slice_key,
                                      "run_id": report.run_id, "status": report.status,
                                      "out_of_time": out_of_time})
    if out_of_time and queue.queue_url() and message.continuation < MAX_CONTINUATIONS:
        return "requeue", message.continued()
    return ("failed" if report.status in FAILED_STATUSES else "ok"), message


def _job_record(record: dict[str, Any], message_id: str) -> str:
    """An API job: run it here (claimed once; a redelivery finds it taken or over)."""
    from bear_lambda.jobs import run_job
    from bear_lambda.messages import JobMessage

    try:
        message = JobMessage.model_validate_json(record.get("body") or "")
    except ValidationError:
        log.error("malformed job message", extra={"message_id": message_id})
        return "failed"
    try:
        services, _ = _runtime.run_services()
        job = run_job(services, message.job_id)
    except DgsyncError as exc:
        log.error("job could not run", extra={"message_id": message_id, "job": message.job_id,
                                              "code": exc.code, "error": exc.message, "hint": exc.hint})
        return "failed"
    log.info("job finished", extra={"message_id": message_id, "job": message.job_id,
                                    "status": str(getattr(job, "status", ""))})
    return "ok"


def _requeue(items: list[tuple[str, SliceMessage]], metrics: RunMetrics) -> list[str]:
    """Queue the slices again (they resume); the ids of records that could not be (they fail)."""
    if not items:
        return []
    url = queue.queue_url()
    if not url:
        return [message_id for message_id, _ in items]
    try:
        client = queue.make_sqs_client(_runtime.settings().glue.region)
        queue.send_slices(client, url, [m for _, m in items])
    except DgsyncError as exc:
        log.error("could not queue the rest of the slices again; SQS retries them",
                  extra={"error": exc.message, "hint": exc.hint})
        return [message_id for message_id, _ in items]
    metrics.count("SlicesRequeued", len(items))
    return []
