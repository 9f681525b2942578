"""Cheap per-call latency recording, and what a run stores about its own performance.

:class:`LatencyRecorder` is a fixed-size, thread-safe histogram: one counter per bucket of a
log scale from 0.5 ms to ~2 min (each bucket ~19 % wider than the one before), so recording a
call is a ``log`` and an increment, memory stays constant, and two snapshots subtract (the
calls of one run = after − before). Quantiles come from the buckets (the geometric middle of
the bucket holding the rank, clamped to the smallest and largest values seen): within ~±9 %.

The Glue client (:class:`core.glue.stats.CallStats`) and the Datasphere client
(:class:`core.datasphere.responses.RequestStats`) each own one; a run stores the difference
as :class:`RunPerf` in ``runs.metrics`` (see :mod:`core.metrics` for reading it back).
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from core.datasphere.responses import RequestStats
    from core.glue.stats import CallStats

#: Upper bound of bucket 0 (seconds) and the ratio between consecutive bucket bounds.
BASE_S = 0.0005
RATIO = 2 ** 0.25
#: Buckets 0..BUCKETS-1 have finite upper bounds; bucket BUCKETS holds everything above.
BUCKETS = 72
_LOG_RATIO = math.log(RATIO)


def bucket_of(seconds: float) -> int:
    """The bucket of a duration: the first whose upper bound is >= it."""
    if seconds <= BASE_S:
        return 0
    return min(BUCKETS, math.ceil(math.log(seconds / BASE_S) / _LOG_RATIO - 1e-9))


def upper_bound(bucket: int) -> float:
    """Upper bound (seconds) of a bucket; ``inf`` for the overflow bucket."""
    return math.inf if bucket >= BUCKETS else BASE_S * RATIO ** bucket


def lower_bound(bucket: int) -> float:
    return 0.0 if bucket <= 0 else BASE_S * RATIO ** (bucket - 1)


class Histogram(BaseModel):
    """A latency histogram: sparse bucket counts plus count, sum, min and max (seconds)."""

    model_config = ConfigDict(extra="forbid")

    #: bucket index → observations (JSON object keys are strings; pydantic converts them back).
    buckets: dict[int, int] = Field(default_factory=dict)
    count: int = 0
    sum_s: float = 0.0
    min_s: float | None = None
    max_s: float | None = None

    def minus(self, before: Histogram) -> Histogram:
        """The observations made since ``before`` (min/max: those of the later snapshot)."""
        buckets = {b: n - before.buckets.get(b, 0) for b, n in self.buckets.items()}
        buckets = {b: n for b, n in buckets.items() if n > 0}
        count = self.count - before.count
        return Histogram(buckets=dict(sorted(buckets.items())), count=count,
                         sum_s=round(max(self.sum_s - before.sum_s, 0.0), 6),
                         min_s=self.min_s if count else None, max_s=self.max_s if count else None)

    def plus(self, other: Histogram) -> Histogram:
        buckets = dict(self.buckets)
        for b, n in other.buckets.items():
            buckets[b] = buckets.get(b, 0) + n
        mins = [v for v in (self.min_s, other.min_s) if v is not None]
        maxs = [v for v in (self.max_s, other.max_s) if v is not None]
        return Histogram(buckets=dict(sorted(buckets.items())), count=self.count + other.count,
                         sum_s=round(self.sum_s + other.sum_s, 6), min_s=min(mins) if mins else None,
                         max_s=max(maxs) if maxs else None)

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0 < q <= 1) in seconds; ``None`` without observations."""
        if self.count <= 0:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= rank:
                lo, hi = lower_bound(bucket), upper_bound(bucket)
                mid = math.sqrt(max(lo, BASE_S / RATIO) * hi) if math.isfinite(hi) else (self.max_s or lo)
                if self.min_s is not None:
                    mid = max(mid, self.min_s)
                if self.max_s is not None:
                    mid = min(mid, self.max_s)
                return mid
        return self.max_s

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, observations <= it)`` for every bucket up to the last one used, then
        ``(inf, count)``: the shape of a Prometheus histogram."""
        out: list[tuple[float, int]] = []
        total = 0
        last = max((b for b in self.buckets if b < BUCKETS), default=-1)
        for bucket in range(last + 1):
            total += self.buckets.get(bucket, 0)
            out.append((upper_bound(bucket), total))
        out.append((math.inf, self.count))
        return out


class LatencyRecorder:
    """Thread-safe fixed-size latency histogram (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = [0] * (BUCKETS + 1)
        self._count = 0
        self._sum = 0.0
        self._min: float | None = None
        self._max: float | None = None

    def observe(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        bucket = bucket_of(seconds)
        with self._lock:
            self._counts[bucket] += 1
            self._count += 1
            self._sum += seconds
            self._min = seconds if self._min is None else min(self._min, seconds)
            self._max = seconds if self._max is None else max(self._max, seconds)

    def snapshot(self) -> Histogram:
        with self._lock:
            return Histogram(buckets={i: n for i, n in enumerate(self._counts) if n},
                             count=self._count, sum_s=round(self._sum, 6), min_s=self._min, max_s=self._max)

    def reset(self) -> None:
        with self._lock:
            self._counts = [0] * (BUCKETS + 1)
            self._count, self._sum, self._min, self._max = 0, 0.0, None, None


class RunPerf(BaseModel):
    """What a run records about its performance (``runs.metrics``), per system
    (``glue``, ``datasphere``): call latencies, retries, throttles, errors."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    latency: dict[str, Histogram] = Field(default_factory=dict)
    retries: dict[str, int] = Field(default_factory=dict)
    throttles: dict[str, int] = Field(default_factory=dict)
    errors: dict[str, int] = Field(default_factory=dict)
    #: Seconds spent waiting for the client-side Glue rate limiter.
    limiter_wait_s: float = 0.0


class PerfProbe:
    """Snapshots of both clients' statistics at the start of a run; :meth:`finish` gives the
    difference as a :class:`RunPerf` (the Datasphere side only when a client is given)."""

    def __init__(self, glue_stats: CallStats, datasphere_stats: RequestStats | None = None) -> None:
        self._glue = glue_stats
        self._ds = datasphere_stats
        self._glue_before = glue_stats.snapshot()
        self._ds_before = datasphere_stats.totals() if datasphere_stats is not None else {}
        self._ds_latency = datasphere_stats.latency.snapshot() if datasphere_stats is not None else Histogram()

    def finish(self) -> RunPerf:
        g1, g0 = self._glue.snapshot(), self._glue_before
        perf = RunPerf(
            latency={"glue": g1.latency.minus(g0.latency)},
            retries={"glue": g1.retries - g0.retries},
            throttles={"glue": g1.throttles - g0.throttles},
            errors={"glue": g1.errors - g0.errors},
            limiter_wait_s=round(max(g1.limiter_wait_s - g0.limiter_wait_s, 0.0), 6),
        )
        if self._ds is not None:
            d1, d0 = self._ds.totals(), self._ds_before
            perf.latency["datasphere"] = self._ds.latency.snapshot().minus(self._ds_latency)
            for name in ("retries", "throttles", "errors"):
                getattr(perf, name)["datasphere"] = d1.get(name, 0) - d0.get(name, 0)
        return perf
