"""Client-side token bucket: a sustained rate of calls per second plus a burst.

Glue throttles per account and Region without a published TPS, so dgsync paces itself
(``DGSYNC_GLUE__CALLS_PER_SECOND`` / ``DGSYNC_GLUE__BURST``) on top of botocore's adaptive
retries. The bucket is thread-safe and fair: a caller *reserves* its token under the lock and
sleeps outside it, so concurrent callers queue up one interval apart instead of racing.
Inject ``clock`` and ``sleep`` to test it without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["FakeClock", "RateLimiter", "TokenBucket"]


class RateLimiter(Protocol):
    """What :class:`core.glue.client.GlueClient` needs from a limiter."""

    def acquire(self, tokens: float = 1.0) -> float:
        """Block until ``tokens`` are available; return the seconds waited."""
        ...


class TokenBucket:
    """Token bucket with ``rate`` tokens per second and room for ``burst`` tokens."""

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, not {rate}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, not {burst}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._last = clock()
        self.total_wait_s = 0.0

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._last)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._last = now

    @property
    def available(self) -> float:
        """Tokens available now (negative while callers are queued)."""
        with self._lock:
            self._refill(self._clock())
            return self._tokens

    def try_acquire(self, tokens: float = 1.0) -> bool:
        """Take ``tokens`` if they are available now; never wait."""
        with self._lock:
            self._refill(self._clock())
            if self._tokens >= tokens:
                self._tokens -= tokens
                return True
            return False

    def acquire(self, tokens: float = 1.0) -> float:
        """Reserve ``tokens`` and sleep until they are due; return the seconds waited."""
        if tokens > self.burst:
            raise ValueError(f"cannot acquire {tokens} tokens from a bucket of {self.burst}")
        with self._lock:
            self._refill(self._clock())
            self._tokens -= tokens
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            self.total_wait_s += wait
        if wait > 0:
            self._sleep(wait)
        return wait


class FakeClock:
    """A manual clock for tests: ``sleep`` advances time instead of waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
