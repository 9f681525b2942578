"""Validation reports (Glue == Datasphere, field by field): ``/api/v1/runs/{id}/validation``
(the report of a sync run), ``/api/v1/validations[/{id}[/csv]]``. Reports are made by
``validate`` jobs (or a ``sync`` job with ``validate_after``) and stored."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from core.errors import NotFound
from core.store.validations import ValidationOut
from core.validation import (
    ValidationReport,
    get_validation,
    iter_csv,
    list_validations,
    load_validation,
)
from wolf_fastapi.deps import ServicesDep
from wolf_fastapi.errors import error_responses
from wolf_fastapi.routers.api_v1 import VIEWER
from wolf_fastapi.routers.api_v1.runs import RUN_ID

router = APIRouter(tags=["validation"], dependencies=VIEWER)

VALIDATION_ID = Path(max_length=32, pattern=r"^[0-9A-Za-z]+$", description="A validation id.")
_HINT = ('Start one: POST /api/v1/jobs {"kind": "validate", "scope": {"run_id": …}}, or a sync job with '
         '"validate_after": true.')


@router.get("/runs/{run_id}/validation", response_model=ValidationReport, responses=error_responses(404))
async def run_validation(services: ServicesDep, run_id: Annotated[str, RUN_ID]) -> ValidationReport:
    """The (newest) validation of a sync run: per table every column name/type/comment/
    parameter and the business context compared with the source; drift, missing, extra and
    unmanaged tables."""
    report = await anyio.to_thread.run_sync(get_validation, services.store(), run_id)
    if report is None or report.scope.env != services.settings.env:
        raise NotFound(f"no validation of run {run_id!r}", hint=_HINT)
    return report


@router.get("/validations", response_model=list[ValidationOut])
async def validations(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    run_id: Annotated[str | None, Query(max_length=32)] = None,
) -> list[ValidationOut]:
    """Stored validations of this environment, newest first (summaries, not the reports)."""
    return await anyio.to_thread.run_sync(
        lambda: list_validations(services.store(), env=services.settings.env, run_id=run_id, limit=limit))


async def _load(services: ServicesDep, validation_id: str) -> ValidationReport:
    report = await anyio.to_thread.run_sync(load_validation, services.store(), validation_id)
    if report is None or report.scope.env != services.settings.env:
        raise NotFound(f"no validation {validation_id!r}", hint="GET /api/v1/validations lists them.")
    return report


@router.get("/validations/{validation_id}", response_model=ValidationReport, responses=error_responses(404))
async def validation(services: ServicesDep, validation_id: Annotated[str, VALIDATION_ID]) -> ValidationReport:
    """One validation report (JSON)."""
    return await _load(services, validation_id)


@router.get(
    "/validations/{validation_id}/csv", response_class=Response, responses={
        200: {"description": "One row per field check.", "content": {"text/csv": {"schema": {"type": "string"}}}},
        **error_responses(404)},
)
async def validation_csv(
    services: ServicesDep,
    validation_id: Annotated[str, VALIDATION_ID],
    failed_only: Annotated[bool, Query(description="Only the checks that failed.")] = False,
) -> Response:
    """One validation report as CSV (a download)."""
    report = await _load(services, validation_id)
    return Response(
        "".join(iter_csv(report, failed_only=failed_only)), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="validation-{report.id}.csv"'},
    )
