"""The explicit state of one run, shared by the stages (never kept on the engine).

A :class:`RunContext` lives exactly as long as one ``plan``/``dry_run``/``sync`` call. What the
stages read once per run — the Glue database listing, the ETags of the last sync, the stored
lineage graph — is memoised here under one lock, because the prefetch and read-ahead threads
of the per-space pipeline ask for it concurrently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.sync.report import ProgressFn

T = TypeVar("T")


def _no_progress(stage: str, done: int, total: int | None) -> None:
    return None


@dataclass
class RunContext:
    """Per-run state: stop flag, progress, and values read once per run."""

    env: str
    progress: ProgressFn = _no_progress
    stop: threading.Event = field(default_factory=threading.Event)
    run_id: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _once: dict[str, Any] = field(default_factory=dict, repr=False)

    def once(self, name: str, read: Callable[[], T]) -> T:
        """``read()`` the first time ``name`` is asked for in this run, the same value after."""
        with self._lock:
            if name not in self._once:
                self._once[name] = read()
            value: T = self._once[name]
            return value

    @property
    def stopping(self) -> bool:
        return self.stop.is_set()
