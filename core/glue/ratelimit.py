"""Client-side token bucket: a sustained rate of calls per second plus a burst, adapted to
Glue's throttling (AIMD).

Glue throttles per account and Region without a published TPS, so dgsync paces itself
(``DGSYNC_GLUE__CALLS_PER_SECOND`` / ``DGSYNC_GLUE__BURST``). The bucket is thread-safe and
fair: a caller *reserves* its token under the lock and sleeps outside it, so concurrent callers
queue up one interval apart instead of racing.

**Adaptation** (one bucket per :class:`~core.glue.client.GlueClient`, i.e. per process): the
client reports every throttled attempt (:meth:`TokenBucket.on_throttle`) and every successful
one (:meth:`TokenBucket.on_success`). A throttle halves the rate (multiplicative decrease, at
most once per ``cooldown_s`` so one burst of concurrent throttles counts once, never below
``min_rate``) and empties the burst; each success adds ``max_rate / recover_calls``
(additive increase) until the configured rate is back. Throttled attempts are retried at the
bucket's pace (:meth:`TokenBucket.reserve`) instead of botocore's exponential backoff, so a
throttle burst costs a few slow seconds, not minutes.

Inject ``clock`` and ``sleep`` to test it without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["AdaptiveRateLimiter", "RateLimiter", "TokenBucket"]


class RateLimiter(Protocol):
    """What :class:`core.glue.client.GlueClient` needs from a limiter."""

    def acquire(self, tokens: float = 1.0) -> float:
        """Block until ``tokens`` are available; return the seconds waited."""
        ...


@runtime_checkable
class AdaptiveRateLimiter(RateLimiter, Protocol):
    """A limiter that learns from Glue's answers (see the module doc)."""

    def reserve(self, tokens: float = 1.0) -> float:
        """Take ``tokens`` now (the balance may go negative); return the seconds until due,
        without sleeping (botocore sleeps them before a retry)."""
        ...

    def on_throttle(self) -> bool:
        """Glue throttled an attempt; return True if the rate was lowered."""
        ...

    def on_success(self) -> None:
        """An attempt went through."""
        ...


class TokenBucket:
    """Token bucket with ``rate`` tokens per second and room for ``burst`` tokens.

    ``adaptive`` (default) lowers the rate on throttles and raises it back on successes, between
    ``min_rate`` (default: a quarter of ``rate``, at least 0.5/s, at most ``rate``) and ``rate``.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        adaptive: bool = True,
        min_rate: float | None = None,
        decrease: float = 0.5,
        recover_calls: int = 20,
        cooldown_s: float = 1.0,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, not {rate}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, not {burst}")
        if not 0 < decrease < 1:
            raise ValueError(f"decrease must be between 0 and 1, not {decrease}")
        if recover_calls < 1:
            raise ValueError(f"recover_calls must be >= 1, not {recover_calls}")
        self.max_rate = float(rate)
        self.rate = float(rate)
        self.min_rate = min(self.max_rate, min_rate if min_rate is not None else max(0.5, rate / 4))
        if self.min_rate <= 0:
            raise ValueError(f"min_rate must be > 0, not {min_rate}")
        self.burst = float(burst)
        self.adaptive = adaptive
        self.decrease = decrease
        self.recover_calls = recover_calls
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._last = clock()
        self._last_decrease: float | None = None
        self.total_wait_s = 0.0
        #: How often the rate was lowered / throttles were reported.
        self.decreases = 0
        self.throttles = 0

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

    def reserve(self, tokens: float = 1.0) -> float:
        """Take ``tokens`` now and return the seconds until they are due (no sleep)."""
        if tokens > self.burst:
            raise ValueError(f"cannot acquire {tokens} tokens from a bucket of {self.burst}")
        with self._lock:
            self._refill(self._clock())
            self._tokens -= tokens
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            self.total_wait_s += wait
        return wait

    def acquire(self, tokens: float = 1.0) -> float:
        """Reserve ``tokens`` and sleep until they are due; return the seconds waited."""
        wait = self.reserve(tokens)
        if wait > 0:
            self._sleep(wait)
        return wait

    def on_throttle(self) -> bool:
        """Multiplicative decrease (once per ``cooldown_s``); the burst is emptied."""
        if not self.adaptive:
            return False
        with self._lock:
            self.throttles += 1
            now = self._clock()
            if self._last_decrease is not None and now - self._last_decrease < self.cooldown_s:
                return False
            self._refill(now)
            self.rate = max(self.min_rate, self.rate * self.decrease)
            self._tokens = min(self._tokens, 0.0)
            self._last_decrease = now
            self.decreases += 1
            return True

    def on_success(self) -> None:
        """Additive increase towards the configured rate."""
        if not self.adaptive:
            return
        with self._lock:
            if self.rate < self.max_rate:
                self._refill(self._clock())
                self.rate = min(self.max_rate, self.rate + self.max_rate / self.recover_calls)
