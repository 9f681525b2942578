"""A process that hammers one lease (used by test_leases through multiprocessing spawn)."""

from __future__ import annotations

import time
from typing import Any

from core.store.db import Store, make_engine
from core.store.leases import acquire_lease, release_lease


def hammer(url: str, slice_key: str, holder: str, seconds: float, shared: dict[str, Any]) -> None:
    """Take, hold briefly and give back the lease for ``seconds``; count what happens.

    ``shared`` holds multiprocessing Values: ``active`` (holders right now), ``max_active``,
    ``wins``, ``losses``, ``bad_release``, and a ``barrier`` so every process starts at once.
    """
    store = Store(make_engine(url))
    active, max_active = shared["active"], shared["max_active"]
    try:
        shared["barrier"].wait(timeout=60)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not acquire_lease(store=store, slice_key=slice_key, holder=holder, ttl_s=60):
                with shared["losses"].get_lock():
                    shared["losses"].value += 1
                continue
            with active.get_lock():
                active.value += 1
                max_active.value = max(max_active.value, active.value)
            time.sleep(0.002)  # "work" while holding the lease
            with active.get_lock():
                active.value -= 1
            with shared["wins"].get_lock():
                shared["wins"].value += 1
            if not release_lease(store=store, slice_key=slice_key, holder=holder):
                with shared["bad_release"].get_lock():
                    shared["bad_release"].value += 1
    finally:
        store.dispose()
