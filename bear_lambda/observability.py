"""Bear's logs and metrics on Lambda.

* **Logs**: JSON lines (``core.log``) with the run id (bound by the engine) and the Lambda
  request id (:func:`invocation` binds it for one invocation) on every line.
* **Metrics**: CloudWatch Embedded Metric Format through ``aws-lambda-powertools``: one EMF
  document per invocation printed to stdout, which CloudWatch Logs turns into metrics of the
  namespace ``dgsync`` (``DGSYNC_BEAR_METRICS_NAMESPACE``) with the dimension ``Environment``.
  The names are the contract of the template's alarms and dashboard (``deploy/bear``):

  ============================  ================================================
  ``AssetsSynced``              assets a worker's run processed
  ``GlueWrites``                Glue write calls of the run
  ``FailedAssets``              assets that failed in the run
  ``FailedRuns``                runs that ended ``failed`` (or raised)
  ``Throttles``                 throttled calls (Glue or Datasphere) in the run
  ``RunDuration``               seconds the run took
  ``SlicesQueued``              slice messages the scheduler queued
  ``SlicesRequeued``            slices re-queued because the worker ran out of time
  ``DeadLetterDepth``           messages waiting in the dead-letter queue
  ``PoisonMessages``            records that failed on their last allowed delivery
  ============================  ================================================
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from collections.abc import Iterator
from typing import Any

NAMESPACE_ENV = "DGSYNC_BEAR_METRICS_NAMESPACE"
DEFAULT_NAMESPACE = "dgsync"

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("bear_request_id", default=None)
_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("bear_function", default=None)


class _InvocationFilter(logging.Filter):
    """Adds the Lambda request id (and function name) to every record of the invocation."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id and not hasattr(record, "request_id"):
            record.request_id = request_id
            record.function = _function.get()
        return True


_FILTER = _InvocationFilter()


def install_log_context() -> None:
    """Attach the request-id filter to the root logger's handlers (idempotent)."""
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


@contextlib.contextmanager
def invocation(context: Any) -> Iterator[None]:
    """Bind the invocation's request id to every log line emitted inside."""
    install_log_context()
    t1 = _request_id.set(getattr(context, "aws_request_id", None))
    t2 = _function.set(getattr(context, "function_name", None))
    try:
        yield
    finally:
        _request_id.reset(t1)
        _function.reset(t2)


class RunMetrics:
    """The EMF metrics of one invocation (printed by :meth:`flush`)."""

    def __init__(self, env: str) -> None:
        # Ephemeral: this invocation's metrics only (Metrics shares its state process-wide).
        from aws_lambda_powertools.metrics import EphemeralMetrics

        self._metrics = EphemeralMetrics(namespace=os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE,
                                service="dgsync")
        self._metrics.add_dimension(name="Environment", value=env)
        self._any = False

    def count(self, name: str, value: float) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=float(value))
        self._any = True

    def seconds(self, name: str, value: float) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        self._metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=float(value))
        self._any = True

    def run(self, report: Any) -> None:
        """The metrics of one finished run (a :class:`core.sync.report.SyncReport`)."""
        counts = getattr(report, "counts", None) or {}
        processed = sum(int(v) for k, v in counts.items() if k not in ("failed",)) if isinstance(counts, dict) else 0
        self.count("AssetsSynced", processed)
        self.count("GlueWrites", int(getattr(report, "glue_writes", 0) or 0))
        self.count("FailedAssets", int(counts.get("failed", 0)) if isinstance(counts, dict) else 0)
        self.count("Throttles", int(getattr(report, "throttles", 0) or 0))
        self.seconds("RunDuration", float(getattr(report, "duration_s", 0.0) or 0.0))
        self.count("FailedRuns", 1 if getattr(report, "status", "") == "failed" else 0)

    def flush(self) -> None:
        """Print the EMF document (nothing when no metric was added)."""
        if self._any:
            self._metrics.flush_metrics()
            self._any = False
