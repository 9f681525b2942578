"""Configuration checks as jobs of :mod:`core.jobs`: validating a candidate configuration with
its dry-run plan extracts the whole tenant (30 s and more on 10,000 assets, past API Gateway's
29 s), so the web API, the Wolf page and the MCP tools run it as a job and poll it.

Two kinds:

* ``config_validate`` — check the candidate (rules, settings, the dry-run plan of what a sync
  would change under it); nothing is stored.
* ``config_apply`` — the same check, then store the candidate as the environment's new applied
  version (``action``: apply, promote or rollback), attributed to the job's actor (the caller)
  and recorded like every configuration change (audit with a field diff, security event).

The candidate travels in the job's **payload** (the ``jobs.payload`` column, not shown by the
API): its settings (secrets ``<redacted>``, as in every version), its rules text, the action,
the comment and the source (``rules_source``, ``source_id``, ``source_env``). The frontend
builds the candidate in the request (fast: no tenant read) — an unknown settings section or a
missing version is refused there — and submits the job.

The job's result: ``{"action", "validation", "version"}`` (``version``: the stored version's
summary, ``null`` for ``config_validate``). An invalid candidate ends the job ``failed`` with
the error ``invalid_config`` *and* that result (``validation.ok`` false, every error listed);
nothing is stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core import config_ops
from core import config_versions as cv
from core.errors import ConfigError, InputError
from core.jobs import Job, JobKind, JobProgress, JobScope, JobService, JobStatus, Outcome

if TYPE_CHECKING:
    from core.services import Services

#: The actions a ``config_apply`` job may store.
ACTIONS: tuple[str, ...] = ("apply", "promote", "rollback")
#: Every job kind of this module.
CONFIG_KINDS: frozenset[JobKind] = frozenset({JobKind.CONFIG_VALIDATE, JobKind.CONFIG_APPLY})


class InvalidConfig(ConfigError):
    """The candidate is invalid: the job fails with this error and keeps ``result`` (the
    validation with every error)."""

    def __init__(self, message: str, *, hint: str, result: dict[str, Any]) -> None:
        super().__init__(message, hint=hint)
        self.result = result


def payload(config: cv.EffectiveConfig, *, action: str = "validate", comment: str | None = None,
            rules_source: str = "rules.yaml", source_id: int | None = None,
            source_env: str | None = None, plan: bool = True) -> dict[str, Any]:
    """The payload of a configuration job for the candidate ``config``."""
    if action != "validate" and action not in ACTIONS:
        raise InputError(f"unknown configuration action {action!r}", hint=f"Use one of: {', '.join(ACTIONS)}.")
    return {"action": action, "config": {"env": config.env, "settings": config.settings, "rules": config.rules,
                                         "hash": config.hash},
            "comment": comment, "rules_source": rules_source, "source_id": source_id, "source_env": source_env,
            "plan": plan}


def submit(jobs: JobService, config: cv.EffectiveConfig, *, actor: str, action: str = "validate",
           **options: Any) -> Job:
    """Submit the configuration job of ``config`` to a :class:`core.jobs.JobService`
    (``config_validate`` for ``action="validate"``, else ``config_apply``); the queued job."""
    kind = JobKind.CONFIG_VALIDATE if action == "validate" else JobKind.CONFIG_APPLY
    return jobs.submit(kind, JobScope(), actor, payload=payload(config, action=action, **options))


def candidate_of(body: dict[str, Any] | None, env: str) -> cv.EffectiveConfig:
    """The candidate a job payload holds (refused when it is missing or of another environment)."""
    config = (body or {}).get("config")
    if not isinstance(config, dict):
        raise InputError("the job has no candidate configuration",
                         hint="Start configuration jobs with POST /api/v1/config/validate (or apply).")
    if config.get("env") != env:
        raise InputError(f"the candidate is for environment {config.get('env')!r}, not {env}",
                         hint="Submit the job in the candidate's environment.")
    settings, rules = dict(config.get("settings") or {}), str(config.get("rules") or "")
    return cv.EffectiveConfig(env=env, settings=settings, rules=rules, hash=cv.config_hash(settings, rules))


def stored_payload(store: Any, job_id: str) -> dict[str, Any] | None:
    """The payload of a stored job (a page shows the candidate it checks), or ``None``."""
    from core.store import jobs as repo

    with store.session(readonly=True) as session:
        record = repo.get_job(session=session, job_id=job_id)
    return record.payload if record is not None else None


def _invalid(action: str, result: dict[str, Any], validation: cv.Validation) -> InvalidConfig:
    done = "nothing was stored" if action != "validate" else "fix it before applying"
    return InvalidConfig(f"the configuration is invalid ({done}): " + "; ".join(validation.errors),
                         hint="Fix what the errors name, then validate again.", result=result)


def run_config_validate(services: Services, scope: JobScope, actor: str, tracker: JobProgress) -> Outcome:
    """Check the payload's candidate with its dry-run plan (the plan's progress is the job's)."""
    body = getattr(tracker, "payload", None) or {}
    config = candidate_of(body, services.settings.env)
    tracker("check", 0, None)
    validation = config_ops.check(services, config, plan=bool(body.get("plan", True)),
                                  rules_source=str(body.get("rules_source") or "rules.yaml"), progress=tracker)
    result = {"action": "validate", "validation": validation.to_dict(), "version": None}
    if not validation.ok:
        raise _invalid("validate", result, validation)
    return JobStatus.SUCCEEDED, result, None


def run_config_apply(services: Services, scope: JobScope, actor: str, tracker: JobProgress) -> Outcome:
    """Check the payload's candidate, then store it as the applied version (by ``actor``)."""
    body = getattr(tracker, "payload", None) or {}
    action = str(body.get("action") or "")
    if action not in ACTIONS:
        raise InputError(f"unknown configuration action {action!r}", hint=f"Use one of: {', '.join(ACTIONS)}.")
    config = candidate_of(body, services.settings.env)
    tracker("check", 0, None)
    validation, stored = config_ops.validate_and_apply(
        services, config, action=action, author=actor, comment=body.get("comment"),
        plan=bool(body.get("plan", True)), rules_source=str(body.get("rules_source") or "rules.yaml"),
        source_id=body.get("source_id"), progress=tracker)
    result = {"action": action, "validation": validation.to_dict(),
              "version": cv.version_summary(stored) if stored is not None else None}
    if stored is None:
        raise _invalid(action, result, validation)
    return JobStatus.SUCCEEDED, result, None


__all__ = ["ACTIONS", "CONFIG_KINDS", "InvalidConfig", "candidate_of", "payload", "run_config_apply",
           "run_config_validate", "stored_payload", "submit"]
