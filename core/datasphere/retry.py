"""The one Datasphere retry policy and loop, used by the API client and the token manager.

* 429 / 500 / 502 / 503 / 504 and transport errors are retried up to ``max_retries`` times;
* a ``Retry-After`` header (seconds or an HTTP date) is honoured, never longer than
  ``max_backoff_s``; otherwise the wait is full jitter over ``0.5 s × 2^(attempt-1)``, capped
  by ``max_backoff_s``.

:func:`send_with_retries` returns the first answer that is not retried (or the last one once
the retries are spent) and re-raises the last transport error; the caller turns either into a
:mod:`core.errors` exception (it knows the context: API route or token endpoint).
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import httpx

from core.settings import DatasphereSettings

RETRYABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: First backoff step (seconds) before jitter; doubles per attempt up to ``max_backoff_s``.
BACKOFF_BASE_S: Final = 0.5


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; ``None`` when absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one Datasphere request."""

    max_retries: int
    max_backoff_s: float
    rand: Callable[[], float] = field(default=random.random, compare=False)
    #: ``False``: a refused connection fails at once (a wrong token URL is not transient).
    retry_connect_errors: bool = True

    @classmethod
    def from_settings(
        cls,
        settings: DatasphereSettings,
        *,
        rand: Callable[[], float] = random.random,
        max_retries: int | None = None,
        retry_connect_errors: bool = True,
    ) -> RetryPolicy:
        retries = settings.max_retries if max_retries is None else max_retries
        return cls(
            max_retries=max(0, retries),
            max_backoff_s=settings.max_backoff_s,
            rand=rand,
            retry_connect_errors=retry_connect_errors,
        )

    def backoff(self, attempt: int) -> float:
        """Full jitter over ``BACKOFF_BASE_S × 2^(attempt-1)``, capped by ``max_backoff_s``."""
        cap = min(self.max_backoff_s, BACKOFF_BASE_S * 2.0 ** (attempt - 1))
        return float(self.rand() * cap)

    def delay(self, resp: httpx.Response, attempt: int) -> float:
        """``Retry-After`` (capped by ``max_backoff_s``) when given, else :meth:`backoff`."""
        retry_after = parse_retry_after(resp.headers.get("retry-after"))
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        return self.backoff(attempt)

    def retries_transport(self, exc: httpx.HTTPError, retries: int) -> bool:
        if retries >= self.max_retries or not isinstance(exc, httpx.TransportError):
            return False
        return self.retry_connect_errors or not isinstance(exc, httpx.ConnectError)

    def retries_status(self, status: int, retries: int) -> bool:
        return status in RETRYABLE_STATUSES and retries < self.max_retries


@dataclass
class RetryCount:
    """Retries spent on one logical request (shared across a re-authentication)."""

    count: int = 0


def send_with_retries(
    send: Callable[[], httpx.Response],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    retries: RetryCount | None = None,
    on_response: Callable[[httpx.Response], None] | None = None,
    on_transport_error: Callable[[httpx.HTTPError], None] | None = None,
    on_retry: Callable[[int, float, httpx.Response | httpx.HTTPError], None] | None = None,
) -> httpx.Response:
    """Call ``send`` until an answer is not retried under ``policy``; return that answer.

    A transport error that is not retried is re-raised (``retries.count`` says how many
    retries were spent). ``on_response`` / ``on_transport_error`` see every attempt,
    ``on_retry(attempt, delay_s, cause)`` every retry before its wait.
    """
    spent = retries if retries is not None else RetryCount()
    while True:
        try:
            resp = send()
        except httpx.HTTPError as exc:
            if on_transport_error is not None:
                on_transport_error(exc)
            if not policy.retries_transport(exc, spent.count):
                raise
            spent.count += 1
            delay = policy.backoff(spent.count)
            if on_retry is not None:
                on_retry(spent.count, delay, exc)
            sleep(delay)
            continue
        if on_response is not None:
            on_response(resp)
        if not policy.retries_status(resp.status_code, spent.count):
            return resp
        spent.count += 1
        delay = policy.delay(resp, spent.count)
        if on_retry is not None:
            on_retry(spent.count, delay, resp)
        sleep(delay)
