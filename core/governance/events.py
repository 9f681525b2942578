"""Security signals from the edges (Datasphere client, token manager, Glue client, web apps).

The HTTP and AWS clients must not know the state store. They call
:func:`emit_security_signal`; whoever composes the process (the CLI, the scheduler, a web app)
registers a sink with :func:`add_security_sink` — usually
:func:`core.governance.security.store_sink`, which writes ``security_events`` rows. Without a
sink a signal is only logged at DEBUG. A sink that fails is logged and never breaks the caller.

Signals carry no secrets: callers pass names, paths, codes, never tokens or keys, and every
detail value is redacted again before it is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.log import get_logger

log = get_logger(__name__)

#: Signal kinds (the ``kind`` of the stored security event).
DATASPHERE_UNAUTHORIZED = "datasphere_unauthorized"
DATASPHERE_FORBIDDEN = "datasphere_forbidden"
TOKEN_REFRESH_FAILED = "token_refresh_failed"
GLUE_ACCESS_DENIED = "glue_access_denied"
AUTH_FAILURE = "auth_failure"
AUTH_SUCCESS = "auth_success"
KEY_CREATED = "key_created"
KEY_REVOKED = "key_revoked"
CONFIG_CHANGED = "config_changed"
PERMISSION_DENIED = "permission_denied"
SUSPICIOUS_ACTIVITY = "suspicious_activity"

#: Kinds that count towards a "Datasphere 401/403 burst".
DATASPHERE_DENIALS: tuple[str, ...] = (DATASPHERE_UNAUTHORIZED, DATASPHERE_FORBIDDEN)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SecuritySignal:
    """A security-relevant observation, before it is stored."""

    kind: str
    source: str | None = None
    actor: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    ts: datetime = field(default_factory=_now)


SecuritySink = Callable[[SecuritySignal], None]

_sinks: list[SecuritySink] = []
_lock = threading.Lock()


def add_security_sink(sink: SecuritySink) -> Callable[[], None]:
    """Register ``sink`` for every signal of this process; returns the function removing it."""
    with _lock:
        _sinks.append(sink)

    def remove() -> None:
        with _lock:
            if sink in _sinks:
                _sinks.remove(sink)

    return remove


@contextmanager
def security_sink(sink: SecuritySink) -> Iterator[SecuritySink]:
    """``with security_sink(s): ...`` — ``s`` receives signals inside the block only."""
    remove = add_security_sink(sink)
    try:
        yield sink
    finally:
        remove()


def emit_security_signal(
    kind: str, *, source: str | None = None, actor: str | None = None, **detail: Any
) -> None:
    """Hand a signal to every registered sink. Never raises."""
    signal = SecuritySignal(kind=kind, source=source, actor=actor, detail=dict(detail))
    with _lock:
        sinks = list(_sinks)
    if not sinks:
        log.debug("security signal (no sink)", extra={"kind": kind, "source": source})
        return
    for sink in sinks:
        try:
            sink(signal)
        except Exception as exc:  # a broken sink must never break a sync or a request
            log.warning(
                "could not record a security signal",
                extra={"kind": kind, "error": f"{type(exc).__name__}: {exc}"},
            )


__all__ = [
    "AUTH_FAILURE",
    "AUTH_SUCCESS",
    "CONFIG_CHANGED",
    "DATASPHERE_DENIALS",
    "DATASPHERE_FORBIDDEN",
    "DATASPHERE_UNAUTHORIZED",
    "GLUE_ACCESS_DENIED",
    "KEY_CREATED",
    "KEY_REVOKED",
    "PERMISSION_DENIED",
    "SUSPICIOUS_ACTIVITY",
    "TOKEN_REFRESH_FAILED",
    "SecuritySignal",
    "SecuritySink",
    "add_security_sink",
    "emit_security_signal",
    "security_sink",
]
