"""Request counters by route template (admin API ``/_emulator/stats``)."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    """Counts every non-admin request by ``METHOD template`` and by status; 304s separately."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._by_route: Counter[str] = Counter()
            self._not_modified: Counter[str] = Counter()
            self._by_status: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._total = 0

    def record(self, route: str, status: int, *, fault: str | None = None) -> None:
        with self._lock:
            self._total += 1
            self._by_route[route] += 1
            self._by_status[str(status)] += 1
            if status == 304:
                self._not_modified[route] += 1
            if fault:
                self._faults[fault] += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "total": self._total,
                "not_modified_total": sum(self._not_modified.values()),
                "by_route": dict(sorted(self._by_route.items())),
                "not_modified": dict(sorted(self._not_modified.items())),
                "by_status": dict(sorted(self._by_status.items())),
                "faults": dict(sorted(self._faults.items())),
            }
