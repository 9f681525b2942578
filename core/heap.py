"""Keeping a long-lived heap out of the cyclic garbage collector's way, and timing its pauses.

A web process (Wolf, Dog, the MCP server) holds the extracted catalog in memory: at 10,000
assets about three million container objects (assets, columns, their dicts and lists), plus
the per-snapshot indexes. CPython's cyclic collector stops every thread of the process while it
walks its oldest generation, and that walk grows with the heap: **3.4 s** for 3.1 M objects was
measured in Wolf during ``benchmarks/wolf_read_bench.py`` — every request in flight waited for it.

:func:`settle` moves everything alive now into the permanent generation (``gc.freeze()``): a
catalog snapshot and its indexes are kept until the next snapshot replaces them, so the
collector has nothing to find in them. They are still freed by reference counting when dropped
(a snapshot and its indexes hold no reference cycles: ``tests/frontends/test_catalog_refresh.py``
checks it). The same goes for other long-lived structures built lazily: a boto3 client's
service model (botocore keeps ~45,000 ``OrderedDict`` of the Glue and STS models; measured:
Wolf's gen-2 passes averaged 94 ms, about one every 2.5 s under load), settled when the Glue and STS
clients are built (:mod:`core.services`, :mod:`core.connectivity`). What frozen garbage there is — a cycle already unreachable and old when
:func:`settle` ran — is never collected: the cost of a freeze is that leak, small and bounded
by the number of new snapshots (an unchanged tenant keeps its snapshot: nothing to settle). Called by :class:`core.catalog.AssetCatalog` once a snapshot is made.

:func:`watch` times every collection (``gc.callbacks``) into one :class:`core.perf.LatencyRecorder`
per generation; ``/metrics`` exposes them as ``dgsync_process_gc_pause_seconds``.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

from core.perf import LatencyRecorder

_lock = threading.Lock()
_pauses: dict[int, LatencyRecorder] = {}
_started: dict[int, float] = {}
_watching = False


def settle() -> int:
    """Freeze what is alive now (see the module docstring); the number of frozen objects.
    The young generations are collected first (cheap: they are small), so short-lived cyclic
    garbage is not frozen with the long-lived heap."""
    gc.collect(1)
    gc.freeze()
    return gc.get_freeze_count()


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    ident = threading.get_ident()  # the collecting thread (a collection never overlaps another)
    if phase == "start":
        _started[ident] = time.perf_counter()
        return
    began = _started.pop(ident, None)
    if began is not None:
        _pauses[int(info.get("generation", 0))].observe(time.perf_counter() - began)


def watch() -> None:
    """Start timing collections in this process (idempotent)."""
    global _watching
    with _lock:
        if _watching:
            return
        for generation in range(3):
            _pauses.setdefault(generation, LatencyRecorder())
        gc.callbacks.append(_on_gc)
        _watching = True


def pauses() -> dict[int, LatencyRecorder]:
    """Per generation, the pauses timed since :func:`watch` (empty when not watching)."""
    return dict(_pauses) if _watching else {}
