"""The client-side token bucket: rate, burst, fairness, thread safety."""

from __future__ import annotations

import threading
import time

import pytest

from core.glue.client import GlueClient
from core.glue.ratelimit import TokenBucket
from doubles.clock import FakeClock
from doubles.glue_faults import GlueFaults


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


# -- adaptation (AIMD) on throttles, with a fake clock ------------------------------------------


def _adaptive(rate: float = 20, burst: int = 20, **kwargs: float) -> tuple[TokenBucket, FakeClock]:
    clock = FakeClock()
    bucket = TokenBucket(rate=rate, burst=burst, clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]
    return bucket, clock


def test_a_throttle_halves_the_rate_and_empties_the_burst() -> None:
    bucket, _ = _adaptive(rate=20, burst=20)
    assert bucket.on_throttle()
    assert bucket.rate == pytest.approx(10.0)
    assert bucket.available <= 0.0
    # the next call waits one interval at the lowered rate
    assert bucket.acquire() == pytest.approx(0.1)


def test_concurrent_throttles_within_the_cooldown_count_once() -> None:
    bucket, clock = _adaptive(rate=20, cooldown_s=1.0)
    results = [bucket.on_throttle() for _ in range(5)]
    assert results == [True, False, False, False, False]
    assert bucket.rate == pytest.approx(10.0)
    clock.advance(1.0)
    assert bucket.on_throttle()
    assert bucket.rate == pytest.approx(5.0)
    assert (bucket.throttles, bucket.decreases) == (6, 2)


def test_rate_never_drops_below_the_floor() -> None:
    bucket, clock = _adaptive(rate=20, min_rate=2.0)
    for _ in range(20):
        bucket.on_throttle()
        clock.advance(2.0)
    assert bucket.rate == pytest.approx(2.0)


def test_successes_raise_the_rate_back_additively_up_to_the_configured_rate() -> None:
    bucket, clock = _adaptive(rate=20, recover_calls=20)
    bucket.on_throttle()
    clock.advance(2.0)
    bucket.on_throttle()
    assert bucket.rate == pytest.approx(5.0)
    rates = []
    for _ in range(20):
        bucket.on_success()
        rates.append(bucket.rate)
    assert rates[:3] == pytest.approx([6.0, 7.0, 8.0])  # + max_rate / recover_calls each
    assert rates[14:] == pytest.approx([20.0] * 6)  # capped at the configured rate


def test_recovery_after_a_throttle_burst_takes_seconds_not_minutes() -> None:
    # 60 throttles in a row (4 callers), then only successes: the simulated time to make
    # 300 calls stays close to the clean 300 / 20 = 15 s.
    bucket, clock = _adaptive(rate=20, burst=20)
    start = clock.now
    for i in range(60):
        bucket.on_throttle()
        clock.sleep(bucket.reserve())
        if i % 4 == 3:
            clock.advance(0.01)
    for _ in range(300):
        bucket.acquire()
        bucket.on_success()
    elapsed = clock.now - start
    assert bucket.rate == pytest.approx(20.0)
    assert elapsed < 2 * (300 / 20)


def test_non_adaptive_bucket_ignores_feedback() -> None:
    bucket, _ = _adaptive(rate=20, adaptive=False)  # type: ignore[arg-type]
    assert not bucket.on_throttle()
    bucket.on_success()
    assert bucket.rate == pytest.approx(20.0)


@pytest.mark.parametrize("kwargs", [{"decrease": 1.0}, {"decrease": 0.0}, {"recover_calls": 0}])
def test_invalid_adaptation_settings_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=10, burst=1, **kwargs)  # type: ignore[arg-type]


def test_client_feeds_throttles_and_successes_into_the_bucket(
    boto_glue: object, glue_database: str
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=20, burst=20, clock=clock, sleep=clock.sleep)
    client = GlueClient(boto_glue, limiter=bucket)
    faults = GlueFaults(fast_retries=False).install(client.boto_client)
    try:
        faults.throttle("GetDatabase", times=2)  # the fixture allows 3 attempts
        # the retries are paced by the bucket: botocore sleeps what reserve() says (tiny here,
        # the fake clock is not botocore's) — what matters is the feedback
        assert client.get_database(glue_database) is not None
        assert bucket.throttles == 2
        assert bucket.decreases == 1  # one burst, one decrease (fake time stands still)
        assert bucket.rate == pytest.approx(10.0 + 1.0)  # then one success: + 20 / 20
        for _ in range(9):
            client.get_database(glue_database)
        assert bucket.rate == pytest.approx(20.0)
    finally:
        faults.uninstall()


def _paced_client(boto_glue: object) -> tuple[GlueClient, TokenBucket, GlueFaults]:
    clock = FakeClock()
    # a fast bucket: the paced retries sleep (for real, in botocore) only milliseconds
    bucket = TokenBucket(rate=1000, burst=20, clock=clock, sleep=clock.sleep)
    client = GlueClient(boto_glue, limiter=bucket)
    faults = GlueFaults(fast_retries=False).install(client.boto_client)
    return client, bucket, faults


def test_paced_throttle_retries_get_twice_the_attempts_then_fail_as_throttled(
    boto_glue: object, glue_database: str
) -> None:
    from core.errors import TargetThrottled
    from core.glue.client import THROTTLE_ATTEMPTS_FACTOR

    client, bucket, faults = _paced_client(boto_glue)
    budget = THROTTLE_ATTEMPTS_FACTOR * 3  # the fixture's client allows 3 attempts
    try:
        faults.throttle("GetDatabase", times=budget - 1)
        assert client.get_database(glue_database) is not None
        assert client.stats.snapshot().by_operation["GetDatabase"].throttles == budget - 1
        faults.throttle("GetDatabase", times=budget)
        with pytest.raises(TargetThrottled):
            client.get_database(glue_database)
        assert bucket.throttles == 2 * budget - 1
    finally:
        faults.uninstall()


@pytest.mark.parametrize(("code", "status"), [("TooManyRequestsException", 429),
                                              ("ServiceUnavailable", 503),
                                              ("SlowDown", 503)])
def test_429_and_503_answers_lower_the_rate(
    boto_glue: object, glue_database: str, code: str, status: int
) -> None:
    client, bucket, faults = _paced_client(boto_glue)
    try:
        faults.fail("GetDatabase", code, status=status)
        assert client.get_database(glue_database) is not None
        assert bucket.throttles == 1 and bucket.decreases == 1
    finally:
        faults.uninstall()


def test_other_errors_do_not_touch_the_rate(boto_glue: object, glue_database: str) -> None:
    from core.errors import TargetAccessDenied

    client, bucket, faults = _paced_client(boto_glue)
    try:
        faults.fail("GetDatabase", "AccessDeniedException")
        with pytest.raises(TargetAccessDenied):
            client.get_database(glue_database)
        assert bucket.throttles == 0 and bucket.rate == pytest.approx(1000.0)
    finally:
        faults.uninstall()
