"""The client-side token bucket: rate, burst, fairness, thread safety."""

from __future__ import annotations

import threading
import time

import pytest

from core.glue.client import GlueClient
from core.glue.ratelimit import FakeClock, TokenBucket


def _bucket(rate: float = 10.0, burst: int = 5) -> tuple[TokenBucket, FakeClock]:
    clock = FakeClock()
    return TokenBucket(rate=rate, burst=burst, clock=clock, sleep=clock.sleep), clock


def test_burst_is_served_without_waiting() -> None:
    bucket, clock = _bucket(rate=10, burst=5)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits == [0.0] * 5
    assert clock.sleeps == []


def test_calls_beyond_burst_wait_one_interval_each() -> None:
    bucket, clock = _bucket(rate=10, burst=5)
    for _ in range(5):
        bucket.acquire()
    waits = [bucket.acquire() for _ in range(3)]
    assert waits == pytest.approx([0.1, 0.1, 0.1])
    assert clock.now == pytest.approx(1000.3)


def test_sustained_rate_matches_configuration() -> None:
    bucket, clock = _bucket(rate=20, burst=1)
    start = clock.now
    for _ in range(101):
        bucket.acquire()
    # the first call is free (burst 1); the other 100 need 5 s at 20/s
    assert clock.now - start == pytest.approx(5.0)


def test_tokens_refill_with_time_up_to_burst() -> None:
    bucket, clock = _bucket(rate=10, burst=5)
    for _ in range(5):
        bucket.acquire()
    assert bucket.available == pytest.approx(0.0)
    clock.advance(0.25)
    assert bucket.available == pytest.approx(2.5)
    clock.advance(100)
    assert bucket.available == pytest.approx(5.0)  # capped at burst


def test_try_acquire_never_waits() -> None:
    bucket, clock = _bucket(rate=1, burst=2)
    assert bucket.try_acquire()
    assert bucket.try_acquire()
    assert not bucket.try_acquire()
    clock.advance(1.0)
    assert bucket.try_acquire()
    assert clock.sleeps == []


def test_queued_callers_reserve_successive_slots() -> None:
    # Reservation: the n-th caller over budget waits n intervals, not all the same one.
    # The sleep does not move the clock, as if all callers arrived at the same instant.
    waits: list[float] = []
    queued = TokenBucket(rate=4, burst=1, clock=FakeClock(), sleep=lambda s: None)
    queued.acquire()
    for _ in range(3):
        waits.append(queued.acquire())
    assert waits == pytest.approx([0.25, 0.5, 0.75])


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_invalid_configuration_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=rate, burst=burst)


def test_cannot_acquire_more_than_burst() -> None:
    bucket, _ = _bucket(rate=1, burst=2)
    with pytest.raises(ValueError):
        bucket.acquire(3)


def test_thread_safe_under_contention() -> None:
    # Real clock, fast rate: 8 threads x 25 calls. No more than burst + rate * elapsed may pass.
    bucket = TokenBucket(rate=500, burst=10)
    start = time.monotonic()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(25):
            bucket.acquire()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    # 200 calls with 10 free need at least 190 / 500 = 0.38 s
    assert elapsed >= 0.38 * 0.95
    assert bucket.available <= 10


def test_client_takes_one_token_per_call_and_reports_wait(
    boto_glue: object, glue_database: str
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=1, clock=clock, sleep=clock.sleep)
    client = GlueClient(boto_glue, limiter=bucket)
    for _ in range(3):
        client.get_database(glue_database)
    assert clock.sleeps == pytest.approx([0.5, 0.5])
    assert client.stats.snapshot().limiter_wait_s == pytest.approx(1.0)
