"""Bear's job executor: API jobs (``POST /api/v1/jobs``) run in the worker Lambda, not in the
API function (whose invocation ends — and freezes any thread — once the response is sent).

:class:`SqsJobExecutor` is what ``create_app(job_executor=...)`` gets on Bear: ``dispatch``
sends ``{"job_id": ...}`` to the work queue and returns at once (the client polls
``GET /api/v1/jobs/{id}``; server-sent events are not streamed through API Gateway). The worker
recognises the message and calls :meth:`core.jobs.JobService.run`, which claims the job once:
a redelivered message finds it taken and does nothing.
"""

from __future__ import annotations

from typing import Any

from bear_lambda import queue
from bear_lambda.messages import JobMessage
from core.log import get_logger

log = get_logger(__name__)


class SqsJobExecutor:
    """Queue each submitted job for the workers (``core.jobs.JobExecutor``)."""

    name = "sqs"

    def __init__(self, queue_url: str, region: str) -> None:
        self.queue_url = queue_url
        self.region = region
        self._client: Any = None

    def dispatch(self, service: Any, job: Any) -> None:
        """Send the job id to the work queue (:class:`~bear_lambda.queue.QueueError` if it
        cannot be queued; the job then stays ``queued`` and fails after the queue TTL)."""
        if self._client is None:
            self._client = queue.make_sqs_client(self.region)
        queue.send_bodies(self._client, self.queue_url, [JobMessage(job_id=job.id).model_dump_json()])
        log.info("job queued for a worker", extra={"job": job.id, "kind": str(getattr(job, "kind", ""))})

    def shutdown(self, timeout: float = 30.0) -> None:
        """Nothing runs here: the workers run the jobs."""
        return None


def run_job(services: Any, job_id: str) -> Any:
    """What the worker does with a job message: run it here (idempotent claim)."""
    from core.jobs import InlineExecutor, JobService

    return JobService(services, InlineExecutor()).run(job_id)
