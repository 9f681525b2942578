"""Configuration tools: read the effective configuration and the mapping rules, validate and
test a proposed change, propose it as a diff; and — only when writes are enabled — apply,
promote and roll back (each a new configuration version attributed to the caller, audited).

A *change* is new mapping-rules text (the whole file), a partial settings document merged
into the environment's configuration (``{"sync": {"deletion_policy": "deprecate"}}``), or both.
Secrets and the process fields (``env``, ``database_url``, ``state_dir``) cannot be changed
here: versions never hold a secret.

With ``plan`` (a dry-run plan of the change: it reads the whole tenant, a minute on a large
one), validate_config_change, apply_config, promote_config and rollback_config run the check
as a configuration job (:mod:`core.config_jobs`: ``config_validate`` / ``config_apply``, the
same jobs Wolf's ``/api/v1/config`` starts; they show in ``GET /api/v1/jobs``). The tool waits
for the job and sends MCP progress notifications (phase, done/total) every
:data:`JOB_POLL_S` while it runs, so the call never sits silent; the answer names the job
(``job_id``).
"""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from core import config_jobs
from core import config_versions as cv
from core.errors import DgsyncError, InputError
from core.jobs import Job, JobService, ThreadExecutor
from core.log import redact
from mcp_server.context import McpContext, call, caller, cut, require_write, state, tool, tool_error

if TYPE_CHECKING:
    from core.config_versions import EffectiveConfig

Env = Literal["dog", "wolf", "bear"]
MAX_RULES_CHARS = 40_000
MAX_DIFF_CHARS = 30_000
#: How often a tool looks at its configuration job and reports progress (seconds).
JOB_POLL_S = 0.5


class ConfigView(BaseModel):
    """The effective configuration of one environment (secrets redacted)."""

    model_config = ConfigDict(extra="forbid")

    env: str
    version: int | None = Field(description="The applied version (None: nothing applied; this is what the process loaded).")
    hash: str
    author: str | None
    created_at: str | None
    settings: dict[str, Any]
    rules: str = Field(description="The mapping-rules YAML (empty: the built-in defaults).")
    note: str | None = None


class RulesView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    env: str
    source: str = Field(description="Where the rules come from: a version, a file, or the built-in defaults.")
    text: str = Field(description="The rules YAML (the defaults rendered when none is set).")
    overrides: int
    database_template: str
    note: str | None = None


class ChangeValidation(BaseModel):
    """Whether a proposed configuration is valid; errors name their line (rules) or setting."""

    model_config = ConfigDict(extra="forbid")

    env: str
    ok: bool
    hash: str = Field(description="Hash of the candidate configuration (what apply_config would store).")
    errors: list[str]
    planned: bool = Field(description="Whether a dry-run plan under the candidate was made.")
    plan_counts: dict[str, int]
    plan_changes: list[dict[str, Any]]
    notes: list[str]
    job_id: str | None = Field(default=None, description="The configuration job that made the dry-run plan "
                                                         "(GET /api/v1/jobs/{id} in Wolf).")


class TableInputDiff(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asset: str
    glue_table: str | None = Field(description="`database.table` under the proposed rules (None: skipped).")
    skipped: str | None
    vs_current_rules: list[dict[str, Any]] = Field(description="Field diff of the TableInput: current rules → proposed rules.")
    vs_live_glue: list[dict[str, Any]] | None = Field(description="Field diff: live Glue table → proposed (None: no live table).")
    proposed_table_input: dict[str, Any] | None = None
    issues: list[str]


class RulesTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    results: list[TableInputDiff]
    note: str | None = None


class Proposal(BaseModel):
    """A proposed change as a unified diff against the applied configuration, validated."""

    model_config = ConfigDict(extra="forbid")

    env: str
    base_version: int | None
    diff: str
    validation: ChangeValidation
    next_step: str


class AppliedVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    env: str
    hash: str
    action: str
    author: str
    comment: str | None
    source_id: int | None
    created_at: str
    validation: ChangeValidation
    audit_id: int | None = None  # the config_change audit record governance wrote
    job_id: str | None = None  # the config_apply job (with plan)


# ------------------------------------------------------------------------ candidate


def current(st: McpContext, env: str | None = None) -> tuple[EffectiveConfig, Any]:
    """The applied configuration of ``env`` (this process's env: what it loaded when nothing
    is applied) and its version (or ``None``)."""
    env = env or st.settings.env
    version = cv.active(st.services.store(), env)
    if version is not None:
        return cv.from_version(version), version
    if env != st.settings.env:
        raise InputError(f"{env} has no applied configuration version",
                         hint=f"Apply one in {env} first (dgsync --env {env} config apply), or read this environment's.")
    return cv.capture(st.settings), None


def _field_at(path: list[str]) -> Any:
    from core.settings import Settings

    model: Any = Settings
    info: Any = None
    for part in path:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return None
        info = fields[part]
        model = info.annotation
    return info


def _merge(base: dict[str, Any], patch: dict[str, Any], path: list[str]) -> None:
    for key, value in patch.items():
        where = [*path, key]
        dotted = ".".join(where)
        if not path and key in cv.PROCESS_FIELDS:
            raise InputError(f"settings.{dotted} cannot be changed through a configuration version",
                             hint="It belongs to the process (environment variables or the YAML file).")
        info = _field_at(where)
        if info is None:
            raise InputError(f"settings.{dotted} is not a setting",
                             hint="get_config shows every setting and section; nest the change the same way.")
        if info.annotation is SecretStr or "SecretStr" in str(info.annotation):
            raise InputError(f"settings.{dotted} is a secret: configuration versions never hold secrets",
                             hint="Set secrets in the environment (DGSYNC_...) or a secret manager, not here.")
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, where)
        else:
            base[key] = value


def candidate(st: McpContext, rules: str | None, settings: dict[str, Any] | None) -> tuple[EffectiveConfig, EffectiveConfig, Any]:
    """``(base, candidate, base version)``: the applied configuration with the change."""
    base, version = current(st)
    if rules is None and not settings:
        raise InputError("the change is empty", hint="Give new rules text, a settings patch, or both.")
    merged = json.loads(json.dumps(base.settings))
    if settings:
        _merge(merged, settings, [])
    text = base.rules if rules is None else rules
    if len(text) > 512_000:
        raise InputError("the rules text is larger than 512 kB", hint="Split overrides or use the defaults.")
    new = cv.EffectiveConfig(env=base.env, settings=merged, rules=text, hash=cv.config_hash(merged, text))
    return base, new, version


def check(st: McpContext, config: EffectiveConfig, *, plan: bool, source: str = "rules.yaml") -> ChangeValidation:
    return _check(st, config, plan=plan, source=source)[0]


def _check(st: McpContext, config: EffectiveConfig, *, plan: bool, source: str) -> tuple[ChangeValidation, Any]:
    result = cv.validate(config, base=st.settings, services=st.services if plan else None,
                         dry_run=plan, rules_source=source)
    changes, _ = cut(result.plan_changes, 100, "changes")
    return ChangeValidation(env=result.env, ok=result.ok, hash=result.hash, errors=[redact(e) for e in result.errors],
                            planned=result.planned, plan_counts=result.plan_counts, plan_changes=changes,
                            notes=result.notes), result


def _validation_of(raw: dict[str, Any], job_id: str | None = None) -> ChangeValidation:
    changes, _ = cut(list(raw.get("plan_changes") or []), 100, "changes")
    return ChangeValidation(env=raw["env"], ok=bool(raw["ok"]), hash=raw["hash"],
                            errors=[redact(e) for e in raw.get("errors") or []], planned=bool(raw.get("planned")),
                            plan_counts=dict(raw.get("plan_counts") or {}), plan_changes=changes,
                            notes=list(raw.get("notes") or []), job_id=job_id)


# ------------------------------------------------------------------------ configuration jobs


def job_service(st: McpContext) -> JobService:
    """The job service of this server's context (jobs run in threads of this process)."""
    found = st.cache.get("jobs")
    if not isinstance(found, JobService):
        found = st.cache["jobs"] = JobService(st.services, ThreadExecutor())
    return found


async def run_config_job(ctx: Context, st: McpContext, config: EffectiveConfig, *, actor: str, action: str,
                         **options: Any) -> tuple[Job, ChangeValidation]:
    """Submit the configuration job of ``config``, report its progress until it is over,
    and return it with its validation (a tool error when it failed without one)."""
    jobs = job_service(st)
    job = await call(lambda: config_jobs.submit(jobs, config, actor=actor, action=action, **options))
    while not job.finished:
        step = f" {job.done}/{job.total}" if job.total else ""
        await ctx.report_progress(job.percent or 0, 100,
                                  f"{job.kind.value} job {job.id}: {(job.phase or 'queued').replace('_', ' ')}{step}")
        await anyio.sleep(JOB_POLL_S)
        job = await call(partial(jobs.get, job.id))
    await ctx.report_progress(100, 100, f"{job.kind.value} job {job.id}: {job.status.value}")
    raw = (job.result or {}).get("validation")
    if not isinstance(raw, dict):
        error = job.error
        raise tool_error(DgsyncError(f"{job.kind.value} job {job.id} failed: {error.message if error else job.status}",
                                     hint=error.hint if error else "See the server log."))
    return job, _validation_of(raw, job.id)


async def apply_as_job(ctx: Context, st: McpContext, who: Any, config: EffectiveConfig, *, action: str,
                       comment: str | None, source: str, source_id: int | None = None) -> AppliedVersion:
    """Validate (with the dry-run plan) and store ``config`` through a ``config_apply`` job."""
    job, validation = await run_config_job(ctx, st, config, actor=who.actor, action=action, comment=comment,
                                           rules_source=source, source_id=source_id)
    version = (job.result or {}).get("version")
    if not validation.ok or not version:
        raise tool_error(InputError("the configuration is invalid, nothing was applied: " + "; ".join(validation.errors),
                                    hint="Fix what is named (validate_config_change shows it), then apply again."))
    applied = await call(lambda: _audit_and_summarise(st, cv.get(st.services.store(), version["id"]), validation))
    return applied.model_copy(update={"job_id": job.id})


# ------------------------------------------------------------------------ rules test


def _flat_input(table_input: dict[str, Any] | None) -> dict[str, Any] | None:
    """A TableInput with its column lists keyed by column name (so a diff names columns)."""
    if table_input is None:
        return None
    out = json.loads(json.dumps(table_input, default=str))
    sd = out.get("StorageDescriptor") or {}
    if "Columns" in sd:
        sd["Columns"] = {c["Name"]: c for c in sd["Columns"]}
    if "PartitionKeys" in out:
        out["PartitionKeys"] = {c["Name"]: c for c in out["PartitionKeys"]}
    for volatile in ("dgsync.run_id", "dgsync.synced_at", "dgsync.target_hash"):
        (out.get("Parameters") or {}).pop(volatile, None)
    return dict(out)


def test_rules(st: McpContext, rules_text: str, assets: list[str], include_input: bool) -> RulesTest:
    from core.errors import RulesError
    from core.glue.results import table_to_input
    from core.governance.audit import field_diff
    from core.mapping.preview import map_asset_preview
    from core.mapping.rules import check_rules

    proposed, problems = check_rules(rules_text, source="proposed rules")
    if proposed is None:
        raise RulesError("the proposed rules are invalid: " + "; ".join(str(p) for p in problems),
                         hint="Fix the lines named, then test again (validate_config_change lists every problem).")
    snapshot = st.catalog.snapshot()
    out: list[TableInputDiff] = []
    for ref in assets:
        space, sep, name = ref.partition(".")
        if not sep or not name:
            raise InputError(f"{ref!r} is not SPACE.NAME", hint="Name assets as SPACE.NAME, e.g. SALES.V_ORDERS.")
        asset = st.catalog.get(space, name)
        now = map_asset_preview(asset, st.services.rules(), st.settings.env, others=snapshot.assets, spaces=snapshot.spaces)
        new = map_asset_preview(asset, proposed, st.settings.env, others=snapshot.assets, spaces=snapshot.spaces)
        new_input = new.table.to_table_input() if new.table else None
        now_input = now.table.to_table_input() if now.table else None
        live_input = None
        if new.table is not None:
            live = st.services.glue().get_table(new.table.database, new.table.name)
            live_input = table_to_input(live) if live else None
        out.append(TableInputDiff(
            asset=asset.key, glue_table=new.table.key if new.table else None, skipped=new.skipped,
            vs_current_rules=field_diff(_flat_input(now_input), _flat_input(new_input))[:200],
            vs_live_glue=None if live_input is None else field_diff(_flat_input(live_input), _flat_input(new_input))[:200],
            proposed_table_input=new_input if include_input else None,
            issues=[f"{i.severity}: {i.message}" if hasattr(i, "severity") else str(i) for i in new.issues],
        ))
    return RulesTest(results=out)


# ------------------------------------------------------------------------ writes


def _audit_and_summarise(st: McpContext, version: Any, validation: ChangeValidation) -> AppliedVersion:
    """Summarise an applied version with the audit record governance wrote for it
    (:func:`core.config_versions.apply` records every change once: a ``config_change`` audit
    record with the redacted field diff and a ``config_changed`` security event)."""
    from core.governance import audit
    from core.store.schemas import AuditFilter

    records = audit.query(st.services.store(), AuditFilter(action="config_change", actor=version.author,
                                                           env=version.env), limit=20)
    record = next((r for r in records if r.details.get("version") == str(version.id)), None)
    s = cv.version_summary(version)
    return AppliedVersion(id=s["id"], env=s["env"], hash=s["hash"], action=s["action"], author=s["author"],
                          comment=s["comment"], source_id=s["source_id"], created_at=s["created_at"],
                          validation=validation, audit_id=record.id if record is not None else None)


def _apply(st: McpContext, who: Any, before: EffectiveConfig | None, config: EffectiveConfig, *, action: str,
           comment: str | None, plan: bool, source: str, source_id: int | None = None) -> AppliedVersion:
    validation, raw = _check(st, config, plan=plan, source=source)
    if not validation.ok:
        raise InputError("the configuration is invalid, nothing was applied: " + "; ".join(validation.errors),
                         hint="Fix what is named (validate_config_change shows it), then apply again.")
    version = cv.apply(st.services.store(), config, raw, author=who.actor, comment=comment, action=action,
                       source_id=source_id)
    return _audit_and_summarise(st, version, validation)


def register(server: MCPServer[McpContext], *, allow_write: bool) -> None:
    @tool(server)
    async def get_config(
        ctx: Context,
        env: Annotated[Env | None, Field(description="dog, wolf or bear (default: this server's).")] = None,
    ) -> ConfigView:
        """The effective configuration of an environment, secrets redacted: every settings
        section (Datasphere, Glue, sync, schedule, alerts, web...) and the mapping rules, with
        the applied version, its author and hash."""
        st = state(ctx)

        def run() -> ConfigView:
            config, version = current(st, env)
            rules, note = config.rules, None
            if len(rules) > MAX_RULES_CHARS:
                rules, note = rules[:MAX_RULES_CHARS], f"rules cut at {MAX_RULES_CHARS} of {len(config.rules)} chars; get_mapping_rules has them all"
            return ConfigView(
                env=config.env, version=version.id if version else None, hash=config.hash,
                author=version.author if version else None,
                created_at=version.created_at.isoformat() if version else None,
                settings=config.settings, rules=rules,
                note=note or (None if version else "no version applied: this is the configuration the server loaded"),
            )

        return await call(run)

    @tool(server)
    async def get_mapping_rules(ctx: Context) -> RulesView:
        """The mapping rules in effect (YAML): database naming, exclusions, type policies,
        per-asset overrides (table name, partitioning, storage, parameters). When no rules
        are configured, the built-in defaults rendered as YAML (a starting point)."""
        st = state(ctx)

        def run() -> RulesView:
            import yaml

            from core.mapping.rules import default_rules, parse_rules

            config, version = current(st)
            if config.rules.strip():
                rules = parse_rules(config.rules)
                source = f"version {version.id}" if version else str(st.settings.sync.rules_file)
                text = config.rules
            else:
                rules = default_rules()
                source = "built-in defaults"
                text = yaml.safe_dump(rules.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
            note = None
            if len(text) > MAX_RULES_CHARS * 2:
                text, note = text[:MAX_RULES_CHARS * 2], "rules text cut for size"
            return RulesView(env=config.env, source=source, text=text, overrides=len(rules.overrides),
                             database_template=rules.databases.template, note=note)

        return await call(run)

    @tool(server)
    async def validate_config_change(
        ctx: Context,
        rules: Annotated[str | None, Field(description="The complete new mapping-rules YAML (omit: keep the current rules).")] = None,
        settings: Annotated[dict[str, Any] | None, Field(description="Settings to change, nested like get_config shows them, e.g. {\"sync\": {\"deletion_policy\": \"deprecate\"}}.")] = None,
        plan: Annotated[bool, Field(description="Also make a dry-run plan of what a sync would change under it (slower).")] = False,
    ) -> ChangeValidation:
        """Check a proposed configuration change without applying it: rules problems with
        their line numbers, settings problems with the setting's name, and (with plan) what
        a sync under the candidate would write — then it runs as a config_validate job and
        the call sends progress notifications until it is done."""
        st = state(ctx)
        if plan:  # the dry-run plan reads the tenant: a config_validate job, with progress
            _base, new, _v = await call(lambda: candidate(st, rules, settings))
            return (await run_config_job(ctx, st, new, actor=caller(ctx).actor, action="validate"))[1]

        def run() -> ChangeValidation:
            _base, new, _v = candidate(st, rules, settings)
            return check(st, new, plan=False)

        return await call(run)

    @tool(server)
    async def test_mapping_rules(
        rules: Annotated[str, Field(min_length=1, description="The complete proposed mapping-rules YAML.")],
        assets: Annotated[list[str], Field(min_length=1, max_length=20, description="Assets to try, as SPACE.NAME.")],
        ctx: Context,
        include_table_input: Annotated[bool, Field(description="Also return each full proposed TableInput.")] = False,
    ) -> RulesTest:
        """Try proposed mapping rules on named assets (nothing is written): for each, the Glue
        TableInput field diff from the current rules to the proposed ones, and from the live
        Glue table to the proposed one: names, types, partition keys, parameters, storage."""
        st = state(ctx)
        return await call(lambda: test_rules(st, rules, assets, include_table_input))

    @tool(server)
    async def propose_config_change(
        ctx: Context,
        rules: Annotated[str | None, Field(description="The complete new mapping-rules YAML (omit: keep).")] = None,
        settings: Annotated[dict[str, Any] | None, Field(description="Settings to change, nested as in get_config.")] = None,
        comment: Annotated[str | None, Field(max_length=500, description="Why (shown in the proposal).")] = None,
    ) -> Proposal:
        """Turn a change into a reviewable proposal: a unified diff against the applied
        configuration plus its validation. Nothing is applied; a human (or apply_config,
        when enabled) applies it."""
        st = state(ctx)

        def run() -> Proposal:
            base, new, version = candidate(st, rules, settings)
            name = f"version {version.id}" if version else "loaded"
            text = cv.diff(base, new, old_name=f"{base.env} {name}", new_name=f"{base.env} proposed")
            if len(text) > MAX_DIFF_CHARS:
                text = text[:MAX_DIFF_CHARS] + "\n… (diff cut for size)\n"
            validation = check(st, new, plan=False)
            step = ("apply it with apply_config (same rules/settings)" if allow_write
                    else "ask an operator to apply it (`dgsync config apply`, or an MCP client with write access)")
            if not text:
                step = "nothing to apply: the proposal equals the applied configuration"
            if comment:
                text = f"# {redact(comment)}\n{text}"
            return Proposal(env=base.env, base_version=version.id if version else None, diff=text,
                            validation=validation, next_step=step if validation.ok else "fix the errors first")

        return await call(run)

    if not allow_write:
        return

    @tool(server, write=True)
    async def apply_config(
        ctx: Context,
        rules: Annotated[str | None, Field(description="The complete new mapping-rules YAML (omit: keep).")] = None,
        settings: Annotated[dict[str, Any] | None, Field(description="Settings to change, nested as in get_config.")] = None,
        comment: Annotated[str | None, Field(max_length=500, description="Why (kept with the version and in the audit).")] = None,
        plan: Annotated[bool, Field(description="Validate with a dry-run plan first (recommended).")] = True,
    ) -> AppliedVersion:
        """WRITE: validate a change and store it as this environment's new configuration
        version (the scheduler and web apps use it from their next run). Refused when
        invalid. Recorded with you as author and in the audit trail. Prefer
        propose_config_change first and show the diff to the user."""
        st = state(ctx)
        who = require_write(ctx)

        def make() -> EffectiveConfig:
            base, new, version = candidate(st, rules, settings)
            if version is not None and new.hash == base.hash:
                raise InputError("the change equals the applied configuration", hint="Nothing to apply.")
            return new

        new = await call(make)
        if plan:
            return await apply_as_job(ctx, st, who, new, action="apply", comment=comment, source="proposed rules")
        return await call(lambda: _apply(st, who, None, new, action="apply", comment=comment, plan=False,
                                         source="proposed rules"))

    @tool(server, write=True)
    async def promote_config(
        from_env: Annotated[Env, Field(description="The environment whose applied rules and sync/schedule settings to carry over.")],
        ctx: Context,
        comment: Annotated[str | None, Field(max_length=500)] = None,
        plan: Annotated[bool, Field(description="Validate with a dry-run plan first.")] = True,
    ) -> AppliedVersion:
        """WRITE: promote another environment's applied mapping rules and sync/schedule
        settings onto this environment (connections and credentials stay) as a new version."""
        st = state(ctx)
        who = require_write(ctx)

        def make() -> tuple[EffectiveConfig, int]:
            if from_env == st.settings.env:
                raise InputError("from_env is this environment", hint="Promote from another environment (dog → wolf → bear).")
            source = cv.active(st.services.store(), from_env)
            if source is None:
                raise InputError(f"{from_env} has no applied configuration version",
                                 hint=f"Apply one in {from_env} first (dgsync --env {from_env} config apply).")
            base, _version = current(st)
            return cv.promoted(cv.from_version(source), base), source.id

        new, source_id = await call(make)
        why = comment or f"promoted from {from_env} version {source_id}"
        if plan:
            return await apply_as_job(ctx, st, who, new, action="promote", comment=why, source=f"{from_env} rules",
                                      source_id=source_id)
        return await call(lambda: _apply(st, who, None, new, action="promote", comment=why, plan=False,
                                         source=f"{from_env} rules", source_id=source_id))

    @tool(server, write=True)
    async def rollback_config(
        version_id: Annotated[int, Field(ge=1, description="The earlier version of this environment to return to.")],
        ctx: Context,
        comment: Annotated[str | None, Field(max_length=500)] = None,
        plan: Annotated[bool, Field(description="Validate with a dry-run plan first.")] = True,
    ) -> AppliedVersion:
        """WRITE: return this environment to an earlier configuration version (stored as a
        new version with exactly that content)."""
        st = state(ctx)
        who = require_write(ctx)

        target = cv.from_version(await call(lambda: cv.rollback_target(st.services.store(), st.settings.env,
                                                                        version_id)))
        why, source = comment or f"rollback to version {version_id}", f"version {version_id} rules"
        if plan:
            return await apply_as_job(ctx, st, who, target, action="rollback", comment=why, source=source,
                                      source_id=version_id)
        return await call(lambda: _apply(st, who, None, target, action="rollback", comment=why, plan=False,
                                         source=source, source_id=version_id))
