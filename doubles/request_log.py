"""A bounded, thread-safe log of the requests a test double served (Dog's Debug page).

The Datasphere emulator records every request it answers (``Tenant.requests``); the embedded
Glue records every HTTP attempt its clients make, injected faults included
(:class:`doubles.glue_faults.GlueFaults` with ``log=``). Only the method, the path (query
included, never a header or a body: no token can end up here), the status, the latency and
which fault answered are kept — the newest ``size`` entries, oldest dropped first.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["LoggedRequest", "RequestLog", "status_class"]

#: What a status-class filter may ask for.
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "error")


@dataclass(frozen=True)
class LoggedRequest:
    """One request (or one HTTP attempt of a Glue call)."""

    seq: int
    at: float  # time.time()
    source: str  # "datasphere" | "glue"
    method: str
    path: str
    status: int  # 0: no answer (connection error)
    latency_ms: float
    fault: str | None = None

    @property
    def status_class(self) -> str:
        return status_class(self.status)


def status_class(status: int) -> str:
    """``"2xx"`` … ``"5xx"``; ``"error"`` when there was no HTTP answer."""
    return f"{status // 100}xx" if 100 <= status < 600 else "error"


class RequestLog:
    """The newest ``size`` requests; :meth:`entries` filters them, newest first."""

    def __init__(self, size: int = 1000) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=size)
        self._seq = 0

    @property
    def size(self) -> int:
        return self._entries.maxlen or 0

    def record(
        self,
        *,
        source: str,
        method: str,
        path: str,
        status: int,
        latency_ms: float,
        fault: str | None = None,
        at: float | None = None,
    ) -> LoggedRequest:
        with self._lock:
            self._seq += 1
            entry = LoggedRequest(
                seq=self._seq, at=time.time() if at is None else at, source=source,
                method=method.upper(), path=path, status=status,
                latency_ms=round(latency_ms, 1), fault=fault,
            )
            self._entries.append(entry)
            return entry

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def entries(
        self,
        *,
        method: str | None = None,
        status: str | None = None,
        path: str | None = None,
        source: str | None = None,
        limit: int | None = None,
    ) -> list[LoggedRequest]:
        """Newest first. ``method`` exact (any case), ``status`` a class (``4xx``, ``error``)
        or an exact code, ``path`` a case-insensitive substring; empty values match all."""
        with self._lock:
            snapshot = list(self._entries)
        wanted = _filter(snapshot, method=method, status=status, path=path, source=source)
        out = list(reversed(wanted))
        return out[:limit] if limit is not None else out


def _filter(
    entries: Iterable[LoggedRequest],
    *,
    method: str | None,
    status: str | None,
    path: str | None,
    source: str | None,
) -> list[LoggedRequest]:
    m = (method or "").strip().upper()
    s = (status or "").strip().lower()
    p = (path or "").strip().lower()
    src = (source or "").strip().lower()
    out = []
    for e in entries:
        if m and e.method != m:
            continue
        if s and not (e.status_class == s or str(e.status) == s):
            continue
        if p and p not in e.path.lower():
            continue
        if src and e.source != src:
            continue
        out.append(e)
    return out
