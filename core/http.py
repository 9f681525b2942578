"""HTTP status of each core error, and the error body every web frontend sends.

Framework-free on purpose: Wolf (FastAPI), Bear (the same app) and Dog (Flask) share it.
The most specific class in the error's MRO wins, so a new subclass inherits its parent's status.
"""

from __future__ import annotations

from typing import Any

from core import errors as e
from core import websec

STATUS_BY_ERROR: dict[type[e.DgsyncError], int] = {
    e.ConfigError: 500,
    e.InputError: 404,  # the request named something that does not exist  # the server's settings or rules are broken: not the caller's fault
    e.SourceError: 502,
    e.AuthError: 502,  # the tenant refused *our* credentials: a bad gateway, not a 401
    e.SourceUnavailable: 503,
    e.SourceThrottled: 503,
    e.AccessDenied: 403,
    e.NotFound: 404,
    e.UnexpectedResponse: 502,
    e.ExtractionError: 502,
    e.TargetError: 502,
    e.LimitExceeded: 422,
    e.TargetThrottled: 503,
    e.ConcurrentModification: 409,
    e.TargetAccessDenied: 403,
    e.TargetUnavailable: 503,
    e.AlreadyExists: 409,
    e.TargetNotFound: 409,
    e.MappingError: 422,
    e.OwnershipError: 409,
    e.StoreError: 503,
    e.LeaseHeld: 409,
    e.SyncAborted: 409,
    e.PermissionDenied: 403,
    websec.BadHost: websec.BadHost.status,
    websec.CsrfFailed: websec.CsrfFailed.status,
    websec.NotLoopback: websec.NotLoopback.status,
    e.DgsyncError: 500,
}

#: Errors whose answer may be retried later (``Retry-After`` is sent with them).
RETRYABLE = (e.SourceUnavailable, e.SourceThrottled, e.TargetThrottled, e.TargetUnavailable, e.StoreError)


def status_for(exc: e.DgsyncError) -> int:
    """The HTTP status for ``exc``: its most specific mapped class."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def error_body(code: str, message: str, hint: str) -> dict[str, Any]:
    """``{"error": {"code", "message", "hint"}}``: the one error envelope of the web APIs."""
    return {"error": {"code": code, "message": message, "hint": hint}}


def body_for(exc: e.DgsyncError) -> dict[str, Any]:
    """The envelope of a core error (its message and hint never carry secrets)."""
    return error_body(exc.code, exc.message, exc.hint)
