"""One governance hook for every frontend that starts a sync or a plan (framework-free).

The CLI, Wolf and Bear jobs, Dog's job runner and the MCP tools call:

* :func:`startup` once when a long-running app starts (Wolf/Bear lifespan, Dog's app factory,
  the MCP server): security signals of the process (Datasphere 401/403, token refresh
  failures, Glue AccessDenied) are stored from then on, also between runs. Reference counted
  per state store (one sink however often it is called); call the returned function at
  shutdown. :func:`run_with_governance` takes the same reference for the run's duration.
* :func:`run_with_governance` around a sync they started: audits the user action with the
  caller's actor (``cli:<user>``, ``key:<name>/<role>``, ``oidc:<sub>/<role>``...), then
  evaluates the alert rules on the finished run (also when it raised) — or
* :func:`after_run` when the frontend runs the engine itself and only needs the after-run
  part (audit + alert rules + suspicious-activity rules on the run).

Nothing here raises: governance must never fail a sync that succeeded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import DgsyncError
from core.log import get_logger

if TYPE_CHECKING:
    from core.services import Services
    from core.store.governance import AlertOut

log = get_logger(__name__)

R = TypeVar("R")

_lock = threading.Lock()
_installed: dict[tuple[str, str], tuple[int, Callable[[], None]]] = {}


def _lazy_store_sink(services: Services) -> Callable[[], None]:
    """A security sink that opens the store on the first signal (so an app can register it
    at startup without touching the database)."""
    from core.governance.events import SecuritySignal, add_security_sink
    from core.governance.security import SecurityMonitor

    lock = threading.Lock()
    monitor: list[SecurityMonitor] = []

    def sink(signal: SecuritySignal) -> None:
        with lock:
            if not monitor:
                monitor.append(SecurityMonitor(services.store(), services.settings))
        monitor[0].sink()(signal)

    return add_security_sink(sink)


def startup(services: Services) -> Callable[[], None]:
    """Store this process's security signals in ``services``' state store (one sink per store
    URL and environment, reference counted; the store is opened on the first signal);
    returns the function to call at shutdown (idempotent)."""
    key = (services.settings.database_url, services.settings.env)
    with _lock:
        if key in _installed:
            count, remove = _installed[key]
        else:
            count, remove = 0, _lazy_store_sink(services)
        _installed[key] = (count + 1, remove)

    done = threading.Event()

    def shutdown() -> None:
        if done.is_set():
            return
        done.set()
        with _lock:
            count, remove = _installed.get(key, (1, lambda: None))
            if count <= 1:
                _installed.pop(key, None)
                remove()
            else:
                _installed[key] = (count - 1, remove)

    return shutdown


def after_run(
    services: Services,
    report: Any | None = None,
    *,
    actor: str,
    action: str = "sync",
    run_id: str | None = None,
    since: datetime | None = None,
    details: Mapping[str, Any] | None = None,
) -> list[AlertOut]:
    """After a sync (or plan) a frontend started for ``actor``: audit the action and
    evaluate the alert rules on the run (``report`` or ``run_id``; neither: the newest run
    started since ``since``, for a run that raised). Returns the alerts raised. Never raises."""
    from core.governance.alerts import evaluate_after_run
    from core.governance.audit import record_action

    run_id = run_id or getattr(report, "run_id", None)
    body: dict[str, Any] = dict(details or {})
    if report is not None:
        body.setdefault("status", getattr(report, "status", None))
        body.setdefault("counts", getattr(report, "counts", None))
    try:
        record_action(services.store(), actor=actor, action=action,
                      object=f"run:{run_id}" if run_id else action, env=services.settings.env,
                      run_id=run_id, details=body)
    except DgsyncError as exc:
        log.warning("could not audit the action", extra={"action": action, "error": exc.message, "hint": exc.hint})
    except Exception:
        log.exception("auditing the action crashed", extra={"action": action})
    if action != "sync":
        return []
    return evaluate_after_run(services, run_id=run_id, report=report, since=since)


def run_with_governance(
    services: Services,
    run: Callable[[], R],
    *,
    actor: str,
    action: str = "sync",
    install_sink: bool = True,
    details: Mapping[str, Any] | None = None,
) -> R:
    """``run()`` (e.g. ``lambda: engine.sync(..., actor=actor)``) with security signals
    stored during it (``install_sink``; through :func:`startup`'s per-store reference count,
    so concurrent runs and an app that called :func:`startup` store each signal once), then
    :func:`after_run`, also when it raised (the error is re-raised)."""
    started = datetime.now(UTC).replace(microsecond=0)
    remove = startup(services) if install_sink else None
    try:
        result = run()
    except DgsyncError as exc:
        after_run(services, actor=actor, action=action, since=started,
                  details={**(details or {}), "status": "failed", "error": exc.code})
        raise
    finally:
        if remove is not None:
            remove()
    after_run(services, result, actor=actor, action=action, details=details)
    return result


__all__ = ["after_run", "run_with_governance", "startup"]
