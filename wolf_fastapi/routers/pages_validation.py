"""Validation report pages: does Glue now match Datasphere, table by table and field by field?

``/validation`` lists stored reports and validate jobs; ``/validation/{id}`` shows one (``id``:
a stored report, or a validate job whose result it is): the verdict, per table its status and
failed field checks, drift, missing/extra tables and unmanaged ones; exports as
``/validation/{id}.json`` and ``.csv``; ``/validation/{id}/print`` is a printable page.
``/validation/runs/{run_id}`` is the report of a sync run, when one was made.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from core.errors import DgsyncError, NotFound
from core.jobs import JobKind
from core.validation import (
    STATUSES,
    ValidationReport,
    get_validation,
    iter_csv,
    list_validations,
    load_validation,
    to_json,
)
from wolf_fastapi.deps import ServicesDep
from wolf_fastapi.jobs_ui import jobs_of, report_of_job, validation_of
from wolf_fastapi.ui import render

router = APIRouter(tags=["dashboard"], include_in_schema=False)


def find_report(request: Request, services: ServicesDep, report_id: str) -> ValidationReport:
    """A stored report by id, else the result of the validate job ``report_id``."""
    found = load_validation(services.store(), report_id)
    if found is not None:
        return found
    try:
        job = jobs_of(request).get(report_id)
    except DgsyncError:
        job = None
    verdict = validation_of(job) if job is not None else None
    report = load_validation(services.store(), verdict.id) if verdict is not None else None
    if report is None and job is not None:
        report = report_of_job(job)
    if report is None:
        raise NotFound(f"no validation report {report_id!r}",
                       hint="Pick one from the Validation page, or validate from Plan → Sync → Validate.")
    return report


@router.get("/validation", response_class=HTMLResponse)
def validation_index(request: Request, services: ServicesDep) -> HTMLResponse:
    stored = list_validations(services.store(), env=services.settings.env, limit=50)
    jobs = jobs_of(request).list(limit=30, kind=JobKind.VALIDATE, with_result=True)  # summaries: small
    return render(request, "wolf/validation/index.html", {"stored": stored, "jobs": jobs}, active="validation")


@router.get("/validation/runs/{run_id}", response_class=HTMLResponse)
def validation_of_run(request: Request, run_id: str, services: ServicesDep) -> HTMLResponse:
    report = get_validation(services.store(), run_id)
    if report is None:
        return render(request, "wolf/validation/none.html", {"run_id": run_id}, active="validation")
    return _report_page(request, report, report.id, "failing")


@router.get("/validation/{report_id}.json")
def validation_json(request: Request, report_id: str, services: ServicesDep) -> Response:
    report = find_report(request, services, report_id)
    return Response(to_json(report, indent=2), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="validation-{report_id}.json"'})


@router.get("/validation/{report_id}.csv")
def validation_csv(request: Request, report_id: str, services: ServicesDep, failed_only: bool = False) -> Response:
    report = find_report(request, services, report_id)
    return StreamingResponse(iter_csv(report, failed_only=failed_only), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="validation-{report_id}.csv"'})


@router.get("/validation/{report_id}/print", response_class=HTMLResponse)
def validation_print(request: Request, report_id: str, services: ServicesDep) -> HTMLResponse:
    report = find_report(request, services, report_id)
    return render(request, "wolf/validation/print.html", {"v": report, "report_id": report_id,
                                                           "tables": _order(report.tables)})


@router.get("/validation/{report_id}", response_class=HTMLResponse)
def validation_report(
    request: Request, report_id: str, services: ServicesDep,
    show: Annotated[str, Query(pattern="^(failing|all|unmanaged)$")] = "failing",
) -> HTMLResponse:
    return _report_page(request, find_report(request, services, report_id), report_id, show)


def _order(tables: list) -> list:  # type: ignore[type-arg]
    rank = {s: i for i, s in enumerate(STATUSES)}
    return sorted(tables, key=lambda t: (rank.get(t.status, 99), t.database, t.table or ""))


def _report_page(request: Request, report: ValidationReport, report_id: str, show: str) -> HTMLResponse:
    if show == "failing":
        tables = report.failing()
    elif show == "unmanaged":
        tables = [t for t in report.tables if t.status == "unmanaged"]
    else:
        tables = report.tables
    return render(request, "wolf/validation/report.html",
                  {"v": report, "report_id": report_id, "tables": _order(tables), "show": show},
                  active="validation")
