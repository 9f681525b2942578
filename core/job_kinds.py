"""The job kinds of :mod:`core.jobs`: a plan (dry run), a sync, a validation; and the
configuration checks of :mod:`core.config_jobs` (``config_validate``, ``config_apply``).

Each is a :data:`core.jobs.Runner`: ``(services, scope, actor, progress) → (status, result,
run id)``; a core error it raises fails the job with its code, message and hint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import NotFound
from core.governance.hooks import run_with_governance
from core.jobs import JobKind, JobProgress, JobScope, JobStatus, Outcome, Runner
from core.log import get_logger
from core.sync import liveness

if TYPE_CHECKING:
    from core.services import Services

log = get_logger(__name__)

_REPORT_STATUS = {"succeeded": JobStatus.SUCCEEDED, "partial": JobStatus.PARTIAL, "planned": JobStatus.SUCCEEDED}


def run_plan(services: Services, scope: JobScope, actor: str, tracker: JobProgress) -> Outcome:
    """A dry run: the plan with field-level diffs (writes nothing)."""
    liveness.validate_scope(services, spaces=scope.spaces, kinds=[k.value for k in scope.kinds])
    engine = services.engine(progress=tracker)
    tracker.engine = engine
    report = engine.dry_run(spaces=scope.spaces or None, kinds=[k.value for k in scope.kinds] or None,
                            priority=scope.priority)
    failed = report.counts.get("failed", 0) or len(report.extraction.errors)
    status = JobStatus.PARTIAL if failed else JobStatus.SUCCEEDED
    return status, {**report.model_dump(mode="json"), "config_version": getattr(tracker, "config_version", None)}, None


def run_sync(services: Services, scope: JobScope, actor: str, tracker: JobProgress) -> Outcome:
    """A sync of the scope under its scope lease (``scope_held`` when another run has it);
    with ``validate_after``, then a validation stored with the run."""
    engine = services.engine(progress=tracker)
    tracker.engine = engine
    kinds = [k.value for k in scope.kinds] or None
    version = getattr(tracker, "config_version", None)
    options: dict[str, Any] = {} if version is None else {"config_version": version}
    try:
        # Audited with the caller's actor, alert rules evaluated after the run (also when it raised).
        report = run_with_governance(services, lambda: engine.sync(
            spaces=scope.spaces or None, kinds=kinds, priority=scope.priority, trigger="api", actor=actor,
            **options), actor=actor, details={"job_scope": scope.model_dump(mode="json"),
                                               "config_version": version})
    finally:
        try:
            services.save_glue()
        except Exception:  # the embedded Glue is saved again when the app stops
            log.warning("could not save the embedded Glue after a job", exc_info=True)
    status = _REPORT_STATUS.get(report.status, JobStatus.FAILED)
    result = {**report.model_dump(mode="json"), "config_version": version}
    if scope.validate_after and report.run_id:
        from core.validation import validate_after_sync

        validation = validate_after_sync(services, report, spaces=scope.spaces or None, kinds=kinds)
        result["validation"] = validation_summary(validation)
        if status is JobStatus.SUCCEEDED and not validation.in_sync:
            status = JobStatus.PARTIAL
    return status, result, report.run_id


def validation_summary(report: Any) -> dict[str, Any]:
    """What a job's result says of a validation (the full report: GET /api/v1/validations/{id})."""
    return {
        "validation_id": report.id, "in_sync": report.in_sync, "reasons": list(report.reasons),
        "summary": report.summary.model_dump(mode="json"), "scope": report.scope.model_dump(mode="json"),
        "run_id": report.run_id, "generated_at": report.generated_at.isoformat(),
        "failing": [{"object": t.object, "asset": t.asset, "status": t.status, "note": t.note,
                     "failed_checks": len(t.failed)} for t in report.failing()[:100]],
    }


def run_validate(services: Services, scope: JobScope, actor: str, tracker: JobProgress) -> Outcome:
    """Compare Glue with Datasphere for the scope, field by field (:mod:`core.validation`); the
    report is stored. ``succeeded``: in sync; ``partial``: it is not (the result says why)."""
    from core.store import repo as store_repo
    from core.validation import save_validation, validate

    spaces = list(scope.spaces)
    if scope.run_id is not None:
        with services.store().session(readonly=True) as session:
            run = store_repo.get_run(session=session, run_id=scope.run_id, failed_limit=0)
        if run is None:
            raise NotFound(f"no run {scope.run_id!r} to attach the validation to",
                           hint="Use an id that GET /api/v1/runs lists, or leave run_id out.")
        spaces = spaces or list(run.scope.spaces)
    report = validate(services, spaces=spaces or None, kinds=[k.value for k in scope.kinds] or None,
                      run_id=scope.run_id, progress=tracker)
    save_validation(services.store(), report)
    status = JobStatus.SUCCEEDED if report.in_sync else JobStatus.PARTIAL
    return status, validation_summary(report), scope.run_id


def default_runners() -> dict[JobKind, Runner]:
    from core.config_jobs import run_config_apply, run_config_validate

    return {JobKind.PLAN: run_plan, JobKind.SYNC: run_sync, JobKind.VALIDATE: run_validate,
            JobKind.CONFIG_VALIDATE: run_config_validate, JobKind.CONFIG_APPLY: run_config_apply}
