"""Configuration versions: ``/api/v1/config`` (effective configuration, versions, diff,
validate; admin: apply, promote, rollback).

The same core operations as ``dgsync config`` (:mod:`core.config_ops`,
:mod:`core.config_versions`). A candidate is the applied version (else the configuration Wolf
loaded) with the request's rules text and settings sections; every write is validated first,
refused when invalid, stored as a new version attributed to the caller's actor and recorded
(audit with a field diff, a ``config_changed`` security event). Running jobs keep their
version; the next job takes the new one (no restart). Secrets are never in any answer.

With ``plan`` (the default) the check includes a dry-run plan, which reads the whole tenant —
longer than a request may take (API Gateway: 29 s) — so validate/apply/promote/rollback answer
**202** with a ``config_validate`` or ``config_apply`` job (:mod:`core.config_jobs`; poll
``GET /api/v1/jobs/{id}``: its result is the validation and the stored version). The candidate
is built in the request, so a malformed one is still refused at once (422). With ``plan``
false (no tenant read) they answer synchronously: 200/201, or 422 with every error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from core import config_jobs, config_ops
from core import config_versions as cv
from core.errors import ConfigError, NotFound
from core.http import error_body
from core.jobs import Job, JobService
from core.services import Services
from core.store.configs import ConfigVersionOut
from wolf_fastapi.auth import bearer_scheme, require_admin
from wolf_fastapi.deps import ActorDep, JobsDep, ServicesDep
from wolf_fastapi.errors import error_responses
from wolf_fastapi.routers.api_v1 import OPERATOR, VIEWER
from wolf_fastapi.security import require_csrf

router = APIRouter(tags=["configuration"])

#: Ids are 32-bit in every store.
MAX_ID = 2_147_483_647

#: Configuration writes need the admin role (auth and role first, then CSRF).
ADMIN: list[Any] = [Security(bearer_scheme), Depends(require_admin), Depends(require_csrf)]

_VERSION = Path(ge=1, le=MAX_ID, description="A version id (GET /api/v1/config/versions lists them).")


class VersionSummary(BaseModel):
    id: int
    env: str
    hash: str
    action: str = Field(description="apply, promote or rollback.")
    source_id: int | None = Field(description="The version promoted or rolled back to.")
    author: str
    comment: str | None
    created_at: str


class EffectiveConfigV1(BaseModel):
    """Settings (secrets `<redacted>`) and mapping rules text of one environment."""

    env: str
    version: VersionSummary | None = Field(description="The applied version; null: none applied yet "
                                                       "(this is what the process loaded).")
    hash: str
    settings: dict[str, Any]
    rules: str


class VersionDetail(VersionSummary):
    settings: dict[str, Any]
    rules: str


class ConfigDiff(BaseModel):
    old: str
    new: str
    diff: str = Field(description="A unified diff of the two YAML views; empty when equal.")
    equal: bool


class ValidationV1(BaseModel):
    """What validation found: errors (rules with their line), notes, and the dry-run plan."""

    env: str
    hash: str
    ok: bool
    errors: list[str]
    planned: bool
    plan_counts: dict[str, int]
    plan_changes: list[dict[str, Any]]
    notes: list[str]


class Candidate(BaseModel):
    """A configuration to validate or apply: the applied one with these changes."""

    model_config = ConfigDict(extra="forbid")

    rules: str | None = Field(default=None, max_length=1_000_000,
                              description="New mapping rules text (YAML); null keeps the applied rules.")
    settings: dict[str, dict[str, Any]] | None = Field(
        default=None, description=f"Settings sections to change ({', '.join(config_ops.EDITABLE_SECTIONS)}).")
    plan: bool = Field(default=True, description="Make the dry-run plan of the change (reads Datasphere).")


class ApplyRequest(Candidate):
    comment: str | None = Field(default=None, max_length=500, description="Why (kept with the version).")


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_env: Literal["dog", "wolf", "bear"] = Field(alias="from", description="The environment to promote from.")
    comment: str | None = Field(default=None, max_length=500)
    plan: bool = True


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: int = Field(ge=1, le=MAX_ID, description="The version of this environment to return to.")
    comment: str | None = Field(default=None, max_length=500)
    plan: bool = True


class Applied(BaseModel):
    version: VersionSummary
    validation: ValidationV1


def summary(version: ConfigVersionOut) -> VersionSummary:
    return VersionSummary(**cv.version_summary(version))


def version_or_404(services: Services, version_id: int) -> ConfigVersionOut:
    try:
        return cv.get(services.store(), version_id)
    except ConfigError:
        raise NotFound(f"configuration version {version_id} does not exist",
                       hint="Use an id that GET /api/v1/config/versions lists.") from None


#: The 202 answer of a write or validation with ``plan``: the job, as POST /api/v1/jobs answers.
ACCEPTED: dict[int | str, dict[str, Any]] = {202: {
    "model": Job, "description": "Accepted (`plan` true): a configuration job is queued; poll the `Location` "
    "(GET /api/v1/jobs/{id}): its result is the validation (and the stored version).",
    "headers": {"Location": {"description": "The job's URL.", "schema": {"type": "string"}}}}}


def accepted(request: Request, job: Job) -> JSONResponse:
    """202 with the job and its URL (``Location``), like POST /api/v1/jobs."""
    location = f"{request.scope.get('root_path', '')}/api/v1/jobs/{job.id}"
    return JSONResponse(job.model_dump(mode="json"), status_code=202, headers={"Location": location})


async def _submit(jobs: JobService, make: Any, *, actor: str, action: str, **options: Any) -> Job | JSONResponse:
    """Build the candidate (fast; 422 when malformed) and submit its configuration job."""
    def run() -> Job:
        return config_jobs.submit(jobs, make(), actor=actor, action=action, **options)

    try:
        return await anyio.to_thread.run_sync(run)
    except ConfigError as exc:
        return invalid(exc.message, exc.hint)


def invalid(message: str, hint: str, validation: cv.Validation | None = None) -> JSONResponse:
    body = error_body("invalid_config", message, hint)
    if validation is not None:
        body["validation"] = validation.to_dict()
    return JSONResponse(body, status_code=422)


@router.get("/config", response_model=EffectiveConfigV1, dependencies=VIEWER)
async def effective(services: ServicesDep) -> EffectiveConfigV1:
    """The effective configuration of this environment: its applied version (else what the
    process loaded), secrets redacted."""

    def read() -> EffectiveConfigV1:
        config, version = config_ops.applied_or_current(services)
        return EffectiveConfigV1(env=config.env, version=summary(version) if version else None, hash=config.hash,
                                 settings=config.settings, rules=config.rules)

    return await anyio.to_thread.run_sync(read)


@router.get("/config/versions", response_model=list[VersionSummary], dependencies=VIEWER)
async def versions(
    services: ServicesDep,
    env: Annotated[str | None, Query(max_length=16, description="Another environment's; `all`: every one.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[VersionSummary]:
    """Stored versions, newest first (the first of an environment is the applied one)."""
    wanted = None if env == "all" else (env or services.settings.env)
    found = await anyio.to_thread.run_sync(lambda: cv.history(services.store(), wanted, limit=limit))
    return [summary(v) for v in found]


@router.get("/config/versions/{version_id}", response_model=VersionDetail, dependencies=VIEWER,
            responses=error_responses(404))
async def version(services: ServicesDep, version_id: Annotated[int, _VERSION]) -> VersionDetail:
    """One version: settings (secrets redacted) and rules."""
    found = await anyio.to_thread.run_sync(version_or_404, services, version_id)
    return VersionDetail(**cv.version_summary(found), settings=found.settings, rules=found.rules)


@router.get("/config/diff", response_model=ConfigDiff, dependencies=VIEWER, responses=error_responses(404))
async def diff(
    services: ServicesDep,
    from_: Annotated[int, Query(alias="from", ge=1, le=MAX_ID, description="The older version.")],
    to: Annotated[int | None, Query(ge=1, le=MAX_ID, description="The newer version (default: the applied one).")] = None,
) -> ConfigDiff:
    """A unified diff between two versions (`dgsync config diff OLD NEW`)."""

    def read() -> ConfigDiff:
        old = version_or_404(services, from_)
        new = version_or_404(services, to) if to is not None else cv.active(services.store(), services.settings.env)
        if new is None:
            raise NotFound(f"{services.settings.env} has no applied version", hint="Pass `to`.")
        text = cv.diff(cv.from_version(old), cv.from_version(new), old_name=f"version {old.id}",
                       new_name=f"version {new.id}")
        return ConfigDiff(old=f"version {old.id}", new=f"version {new.id}", diff=text, equal=not text)

    return await anyio.to_thread.run_sync(read)


def _candidate(services: Services, body: Candidate) -> cv.EffectiveConfig:
    base, _ = config_ops.applied_or_current(services)
    return config_ops.edited(base, rules=body.rules, settings=body.settings)


@router.post("/config/validate", response_model=ValidationV1, dependencies=OPERATOR,
             responses={**ACCEPTED, **error_responses(422)})
async def validate(body: Candidate, request: Request, services: ServicesDep, jobs: JobsDep,
                   actor: ActorDep) -> ValidationV1 | JSONResponse:
    """Validate the applied configuration with these changes: rules (each error with its
    line), settings, and the dry-run plan of what a sync would change (`ok` false: the
    errors say what to fix). Nothing is stored. With `plan` (the default): 202 and a
    `config_validate` job (it fails with `invalid_config` when the candidate is invalid; its
    result holds the validation either way); `plan` false: the validation at once."""
    if body.plan:
        job = await _submit(jobs, lambda: _candidate(services, body), actor=actor, action="validate")
        return job if isinstance(job, JSONResponse) else accepted(request, job)
    try:
        result = await anyio.to_thread.run_sync(
            lambda: config_ops.check(services, _candidate(services, body), plan=body.plan))
    except ConfigError as exc:
        return invalid(exc.message, exc.hint)
    return ValidationV1(**result.to_dict())


async def _apply(services: Services, make: Any, *, action: str, actor: str, comment: str | None, plan: bool,
                 source: str, source_id: int | None = None, jobs: JobService | None = None,
                 request: Request | None = None) -> Applied | JSONResponse:
    if plan and jobs is not None and request is not None:  # the dry-run plan: a job
        job = await _submit(jobs, make, actor=actor, action=action, comment=comment, rules_source=source,
                            source_id=source_id)
        return job if isinstance(job, JSONResponse) else accepted(request, job)

    def run() -> tuple[cv.Validation, ConfigVersionOut | None]:
        return config_ops.validate_and_apply(services, make(), action=action, author=actor, comment=comment,
                                             plan=plan, rules_source=source, source_id=source_id)

    try:
        result, stored = await anyio.to_thread.run_sync(run)
    except ConfigError as exc:
        return invalid(exc.message, exc.hint)
    if stored is None:
        return invalid("the configuration is invalid: " + "; ".join(result.errors),
                       "Fix what the errors name, then validate again (POST /api/v1/config/validate).", result)
    return Applied(version=summary(stored), validation=ValidationV1(**result.to_dict()))


@router.post("/config/apply", response_model=Applied, status_code=201, dependencies=ADMIN,
             responses={**ACCEPTED, **error_responses(422)})
async def apply(body: ApplyRequest, request: Request, services: ServicesDep, jobs: JobsDep,
                actor: ActorDep) -> Applied | JSONResponse:
    """Validate and store the applied configuration with these changes as a new version
    (the next job uses it, no restart). With `plan` (the default): 202 and a `config_apply`
    job (poll it; an invalid candidate fails it with `invalid_config`, nothing stored)."""
    return await _apply(services, lambda: _candidate(services, body), action="apply", actor=actor,
                        comment=body.comment, plan=body.plan, source="rules.yaml", jobs=jobs, request=request)


@router.post("/config/promote", response_model=Applied, status_code=201, dependencies=ADMIN,
             responses={**ACCEPTED, **error_responses(404, 422)})
async def promote(body: PromoteRequest, request: Request, services: ServicesDep, jobs: JobsDep,
                  actor: ActorDep) -> Applied | JSONResponse:
    """Carry the rules and the sync/schedule settings of another environment's applied
    version to this one (a new version; with `plan`: 202 and a `config_apply` job)."""
    holder: dict[str, int] = {}

    def make() -> cv.EffectiveConfig:
        if body.source_env != services.settings.env and cv.active(services.store(), body.source_env) is None:
            raise NotFound(f"{body.source_env} has no applied configuration version",
                           hint=f"Apply one first: dgsync --env {body.source_env} config apply.")
        candidate, source = config_ops.promote_candidate(services, body.source_env)
        holder["source"] = source.id
        return candidate

    try:
        candidate = await anyio.to_thread.run_sync(make)
    except ConfigError as exc:
        return invalid(exc.message, exc.hint)
    return await _apply(services, lambda: candidate, action="promote", actor=actor,
                        comment=body.comment or f"promoted from {body.source_env} version {holder['source']}",
                        plan=body.plan, source=f"{body.source_env} rules", source_id=holder["source"],
                        jobs=jobs, request=request)


@router.post("/config/rollback", response_model=Applied, status_code=201, dependencies=ADMIN,
             responses={**ACCEPTED, **error_responses(404, 422)})
async def rollback(body: RollbackRequest, request: Request, services: ServicesDep, jobs: JobsDep,
                   actor: ActorDep) -> Applied | JSONResponse:
    """Apply exactly the configuration of an earlier version of this environment (as a new
    version; with `plan`: 202 and a `config_apply` job)."""
    await anyio.to_thread.run_sync(version_or_404, services, body.to)
    return await _apply(services, lambda: config_ops.rollback_candidate(services, body.to), action="rollback",
                        actor=actor, comment=body.comment or f"rollback to version {body.to}", plan=body.plan,
                        source=f"version {body.to} rules", source_id=body.to, jobs=jobs, request=request)
