"""Exit codes: one mapping from a run's outcome (or the exception that stopped it) to a code.

===  ==========================================================================================
 0   everything in scope is in sync (run ``succeeded``; a plan that could be made in full)
 1   some objects failed or were skipped: run ``partial``, ``failed`` with items, ``aborted``
     or ``interrupted``; a space skipped after 403/429, extraction errors, unresolved conflicts
 2   bad input or configuration: usage errors, invalid settings, invalid rules file, unknown
     space or kind — nothing was started
 3   could not run: authentication failure, unreachable system, state-store error, another
     run holds an overlapping scope (``--no-wait``)
===  ==========================================================================================

The CLI (``dgsync sync``, ``plan``, ``run --once``), ``dgsync runs --format json``
(``exit_code``) and the other frontends use these functions, so the same outcome always reads
the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from core.errors import ConfigError, DgsyncError, InputError, SyncAborted

IN_SYNC = 0
NOT_IN_SYNC = 1
BAD_INPUT = 2
CANNOT_RUN = 3

#: Run statuses and the code each implies (``failed`` depends on why: see :func:`for_run`).
_BY_STATUS = {
    "succeeded": IN_SYNC,
    "planned": IN_SYNC,
    "partial": NOT_IN_SYNC,
    "failed": NOT_IN_SYNC,
    "aborted": NOT_IN_SYNC,
    "interrupted": NOT_IN_SYNC,
}


def _subclasses(cls: type[DgsyncError]) -> Iterable[type[DgsyncError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def error_class(code: str) -> type[DgsyncError] | None:
    """The :class:`DgsyncError` subclass whose ``code`` is ``code`` (``auth_error`` → AuthError)."""
    classes: list[type[DgsyncError]] = [DgsyncError, *_subclasses(DgsyncError)]
    for cls in classes:
        # ``code`` derives from the class name only: read it without running ``__init__``
        # (subclasses may take other arguments).
        if str(DgsyncError.code.fget(cls.__new__(cls))) == code:  # type: ignore[attr-defined]
            return cls
    return None


def for_exception(exc: BaseException | type[BaseException]) -> int:
    """The code for an exception that stopped a command before or during a run."""
    cls = exc if isinstance(exc, type) else type(exc)
    if issubclass(cls, (ConfigError, InputError)):
        return BAD_INPUT
    if issubclass(cls, (SyncAborted, KeyboardInterrupt)):
        return NOT_IN_SYNC
    return CANNOT_RUN  # DgsyncError (auth, unreachable, store, lease) or an unexpected error


def for_status(status: str) -> int | None:
    """The code a run status implies (``None`` while the run is still ``running``)."""
    return _BY_STATUS.get(str(status))


def for_run(status: str, errors: Sequence[Any] = ()) -> int | None:
    """The code of a recorded run: its status, and for a ``failed`` run without any object
    written the class of the error that stopped it (``errors``: items with ``code`` and
    ``object``; the run-level error has no object)."""
    code = for_status(status)
    if str(status) != "failed":
        return code
    fatal = [e for e in errors if getattr(e, "object", None) is None and getattr(e, "code", None)]
    for err in fatal:
        cls = error_class(str(err.code))
        return for_exception(cls) if cls is not None else CANNOT_RUN
    return code


def for_report(report: Any) -> int:
    """The code of a :class:`core.sync.engine.SyncReport` (a sync, or a plan: ``dry_run``)."""
    extraction = getattr(report, "extraction", None)
    extraction_trouble = bool(
        extraction is not None
        and (extraction.errors or extraction.skipped_spaces or getattr(extraction, "incomplete", None))
    )
    if getattr(report, "dry_run", False):
        return NOT_IN_SYNC if extraction_trouble else IN_SYNC
    code = for_status(str(report.status))
    if code is None:
        return CANNOT_RUN
    failed = int(getattr(report, "failed", 0) or 0)
    if code == IN_SYNC and (failed or extraction_trouble or getattr(report, "not_in_sync", None)):
        return NOT_IN_SYNC
    return code


__all__ = [
    "BAD_INPUT",
    "CANNOT_RUN",
    "IN_SYNC",
    "NOT_IN_SYNC",
    "error_class",
    "for_exception",
    "for_report",
    "for_run",
    "for_status",
]
