"""Validation: prove that the Glue catalog holds exactly what Datasphere says, field by field.

::

    from core.validation import validate, save_validation, iter_csv

    report = validate(services, spaces=["SALES"])      # a ValidationReport (writes nothing)
    report.in_sync, report.reasons, report.summary
    save_validation(services.store(), report)          # then get_validation / latest_validation
    "".join(iter_csv(report))                          # one CSV row per field check

:func:`validate_after_sync` validates a sync run's scope and stores the report with its run id.
See ``docs/sync.md`` (Validation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .collect import judge_space, validate
from .compare import compare_table
from .export import CSV_COLUMNS, checks_from_csv, from_json, iter_csv, to_json
from .models import (
    STATUSES,
    CheckGroup,
    Detail,
    FieldCheck,
    TableCheck,
    TableStatus,
    ValidationReport,
    ValidationScope,
    ValidationSummary,
)
from .store import (
    get_validation,
    latest_validation,
    list_validations,
    load_validation,
    save_validation,
)

if TYPE_CHECKING:
    from core.services import Services
    from core.sync.report import SyncReport

__all__ = [
    "CSV_COLUMNS",
    "STATUSES",
    "CheckGroup",
    "Detail",
    "FieldCheck",
    "TableCheck",
    "TableStatus",
    "ValidationReport",
    "ValidationScope",
    "ValidationSummary",
    "checks_from_csv",
    "compare_table",
    "exit_code",
    "from_json",
    "get_validation",
    "iter_csv",
    "judge_space",
    "latest_validation",
    "list_validations",
    "load_validation",
    "save_validation",
    "to_json",
    "validate",
    "validate_after_sync",
]


def validate_after_sync(services: Services, report: SyncReport, *, spaces: Sequence[str] | None = None,
                        kinds: Sequence[str] | None = None, detail: Detail = "failed",
                        save: bool = True) -> ValidationReport:
    """Validate what a sync covered (its spaces, or ``spaces``) and store the report with its
    run id (``get_validation(store, report.run_id)`` finds it). ``detail`` defaults to
    ``failed``: a sync's scope may be the whole tenant."""
    scope = spaces if spaces is not None else _run_spaces(services, report)
    result = validate(services, spaces=scope or None, kinds=kinds, run_id=report.run_id, detail=detail)
    if save:
        save_validation(services.store(), result)
    return result


def _run_spaces(services: Services, report: SyncReport) -> list[str]:
    """The spaces a run was asked to cover (as recorded with it), else those it extracted."""
    if report.run_id:
        from core.store import repo

        with services.store().session(readonly=True) as session:
            run = repo.get_run(session=session, run_id=report.run_id)
        if run is not None:
            return list(run.scope.spaces)
    return list(report.extraction.spaces)


def exit_code(report: ValidationReport) -> int:
    """0 when the scope is in sync, 1 otherwise (:mod:`core.sync.exit_codes`)."""
    from core.sync.exit_codes import IN_SYNC, NOT_IN_SYNC

    return IN_SYNC if report.in_sync else NOT_IN_SYNC
