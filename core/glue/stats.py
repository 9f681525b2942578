"""Thread-safe call statistics of one :class:`core.glue.client.GlueClient`.

One logical call (``GlueClient._call``) is one ``call``, however many HTTP attempts botocore
made for it: those extra attempts are ``retries``; every throttled attempt (even one botocore
then retried successfully) is a ``throttle``. ``throttled_calls`` are the calls that still
failed with :class:`core.errors.TargetThrottled` after all retries. Every logical call's
duration (retries and backoff included, the rate limiter's wait excluded) goes into a
fixed-size latency histogram (:class:`core.perf.LatencyRecorder`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from core.perf import Histogram, LatencyRecorder

__all__ = ["CallStats", "OperationStats", "StatsSnapshot", "is_write"]

_WRITE_PREFIXES = ("Create", "Update", "Delete", "Batch", "Tag", "Untag", "Put", "Import")
_READ_BATCH_PREFIXES = ("BatchGet",)


def is_write(operation: str) -> bool:
    """Create*/Update*/Delete*/Batch*/TagResource/UntagResource are writes (BatchGet* reads)."""
    if operation.startswith(_READ_BATCH_PREFIXES):
        return False
    return operation.startswith(_WRITE_PREFIXES)


class OperationStats(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    calls: int = 0
    errors: int = 0
    throttles: int = 0
    retries: int = 0


class StatsSnapshot(BaseModel):
    """A consistent copy of the counters at one moment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    calls: int = 0
    reads: int = 0
    writes: int = 0
    errors: int = 0
    throttles: int = 0
    throttled_calls: int = 0
    retries: int = 0
    #: Seconds spent waiting for the client-side token bucket.
    limiter_wait_s: float = 0.0
    by_operation: dict[str, OperationStats] = Field(default_factory=dict)
    #: Error codes of failed calls (``ThrottlingException``, ``AccessDeniedException``, …).
    errors_by_code: dict[str, int] = Field(default_factory=dict)
    #: Calls Glue rejected, per operation and error code: ``{"CreateTable": {"AlreadyExistsException": 1}}``.
    rejected: dict[str, dict[str, int]] = Field(default_factory=dict)
    #: Durations of the logical calls (see :mod:`core.perf`).
    latency: Histogram = Field(default_factory=Histogram)


@dataclass
class _Op:
    calls: int = 0
    errors: int = 0
    throttles: int = 0
    retries: int = 0


class CallStats:
    """Counters per operation; :meth:`snapshot` and :meth:`reset` are atomic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ops: dict[str, _Op] = {}
        self._errors_by_code: dict[str, int] = {}
        self._rejected: dict[str, dict[str, int]] = {}
        self._throttled_calls = 0
        self._wait_s = 0.0
        self.latency = LatencyRecorder()

    def record(
        self,
        operation: str,
        *,
        attempts: int = 1,
        throttles: int = 0,
        error_code: str | None = None,
        throttled: bool = False,
        waited_s: float = 0.0,
        latency_s: float | None = None,
    ) -> None:
        """Count one logical call of ``operation`` (that took ``latency_s``, when measured)."""
        if latency_s is not None:
            self.latency.observe(latency_s)
        with self._lock:
            op = self._ops.setdefault(operation, _Op())
            op.calls += 1
            op.retries += max(0, attempts - 1)
            op.throttles += throttles
            self._wait_s += waited_s
            if error_code is not None:
                op.errors += 1
                self._errors_by_code[error_code] = self._errors_by_code.get(error_code, 0) + 1
                codes = self._rejected.setdefault(operation, {})
                codes[error_code] = codes.get(error_code, 0) + 1
            if throttled:
                self._throttled_calls += 1

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> StatsSnapshot:
        by_op = {
            name: OperationStats(
                calls=op.calls, errors=op.errors, throttles=op.throttles, retries=op.retries
            )
            for name, op in sorted(self._ops.items())
        }
        writes = sum(op.calls for name, op in self._ops.items() if is_write(name))
        calls = sum(op.calls for op in self._ops.values())
        return StatsSnapshot(
            calls=calls,
            reads=calls - writes,
            writes=writes,
            errors=sum(op.errors for op in self._ops.values()),
            throttles=sum(op.throttles for op in self._ops.values()),
            throttled_calls=self._throttled_calls,
            retries=sum(op.retries for op in self._ops.values()),
            limiter_wait_s=round(self._wait_s, 6),
            by_operation=by_op,
            errors_by_code=dict(sorted(self._errors_by_code.items())),
            rejected={op: dict(sorted(c.items())) for op, c in sorted(self._rejected.items())},
            latency=self.latency.snapshot(),
        )

    def reset(self) -> StatsSnapshot:
        """Zero the counters; return what they held."""
        with self._lock:
            snap = self._snapshot_locked()
            self._ops.clear()
            self._errors_by_code.clear()
            self._rejected.clear()
            self._throttled_calls = 0
            self._wait_s = 0.0
            self.latency.reset()
        return snap
