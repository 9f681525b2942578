"""Run a validation: extract and map the scope (the planner's own stages), read Glue, compare.

Space by space: the planner extracts (a full read, no ETags: nothing is taken on trust), maps
with the rules, and lists the space's database in Glue; then every expected table is compared
field by field with its live table (:mod:`.compare`), and every other table of the database is
judged: managed without a source asset → ``extra``; not managed → ``unmanaged`` (listed, never
judged). A space that cannot be read (403) is ``skipped``: neither its missing nor its extra
tables are judged. Objects a space lists but another space owns are not expected in its
database (``shared``). Writes nothing to Glue or Datasphere.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.log import get_logger
from core.specs import DEPRECATED, DEPRECATED_AT, MANAGED_BY, MANAGED_BY_VALUE, SOURCE, SOURCE_KIND
from core.sync.report import PlanOutcome

from .compare import compare_table
from .models import (
    Detail,
    FieldCheck,
    TableCheck,
    ValidationReport,
    ValidationScope,
    reasons_of,
    summarise,
)

if TYPE_CHECKING:
    from core.services import Services
    from core.sync.plan import LiveCatalog
    from core.sync.planner import Planner

log = get_logger(__name__)

#: progress(stage, done, total): ``validate`` with spaces done / total.
ValidationProgress = Callable[[str, int, int | None], None]


def validate(
    services: Services,
    *,
    spaces: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    assets: Sequence[str] | None = None,
    run_id: str | None = None,
    detail: Detail = "all",
    progress: ValidationProgress | None = None,
) -> ValidationReport:
    """Prove Glue == Datasphere for ``spaces`` (all when empty) and ``kinds`` (all when empty).

    ``assets`` (``SPACE.NAME``, their spaces are read) limits the report to those assets'
    tables. ``detail``: ``all`` keeps every field check (about 190 per table: use it for exports
    and small scopes); ``failed`` keeps the failed checks and the accepted differences, and
    counts the rest per table (``TableCheck.fields``) — memory stays small for large scopes.
    ``progress(stage, done, total)`` sees the planner's stages and ``validate`` (spaces done).
    Unknown spaces or kinds raise :class:`~core.errors.ConfigError` naming the known ones
    (exit code 2) before anything is read. The report is returned, not stored: see
    :func:`core.validation.save_validation`.
    """
    from core.store.schemas import new_run_id
    from core.sync.context import RunContext
    from core.sync.liveness import validate_scope
    from core.sync.planner import Planner
    from core.sync.report import datasphere_calls, diff_calls, glue_calls

    spaces = _spaces_of(spaces, assets)
    validate_scope(services, spaces=spaces, kinds=kinds)
    started, t0 = datetime.now(UTC), time.monotonic()
    glue, client = services.glue(), services.datasphere_client()
    glue_before, ds_before = glue_calls(glue.stats.snapshot()), datasphere_calls(client)
    ctx = RunContext(env=services.settings.env)
    if progress is not None:
        ctx.progress = progress
    planner = Planner(services, ctx)
    groups = services.engine().space_groups(spaces)
    tables: list[TableCheck] = []
    shared: dict[str, str] = {}
    skipped_spaces: dict[str, str] = {}
    for done, group in enumerate(groups):
        ctx.progress("validate", done, len(groups))
        outcome, live = _plan_group(planner, group, kinds)
        shared.update(outcome.plan.shared)
        skipped_spaces.update(outcome.extraction.skipped_spaces)
        for space in group:
            tables.extend(judge_space(space, outcome, live, kinds=kinds, detail=detail,
                                      database=planner.database_names([space]).pop(),
                                      owner_database=lambda sp: planner.database_names([sp]).pop()))
    ctx.progress("validate", len(groups), len(groups))
    if assets:
        tables = _only_assets(tables, assets, skipped_spaces)
    summary = summarise(tables)
    reasons = reasons_of(summary, skipped_spaces)
    return ValidationReport(
        id=new_run_id(started), generated_at=started, run_id=run_id,
        scope=ValidationScope(env=services.settings.env, spaces=sorted(spaces or []), kinds=sorted(kinds or []),
                              assets=sorted(assets or [])),
        config_version=_config_version(services), summary=summary, detail=detail, in_sync=not reasons,
        reasons=reasons, tables=tables, shared=dict(sorted(shared.items())),
        skipped_spaces=dict(sorted(skipped_spaces.items())), duration_s=round(time.monotonic() - t0, 3),
        api_calls={"glue": diff_calls(glue_calls(glue.stats.snapshot()), glue_before),
                   "datasphere": diff_calls(datasphere_calls(client), ds_before)},
    )


def _spaces_of(spaces: Sequence[str] | None, assets: Sequence[str] | None) -> list[str] | None:
    """The spaces to read: ``spaces``, else those of ``assets`` (``SPACE.NAME``)."""
    from core.errors import ConfigError

    bad = [a for a in assets or () if "." not in a or a.startswith(".") or a.endswith(".")]
    if bad:
        raise ConfigError(f"asset(s) {', '.join(repr(a) for a in bad)} are not SPACE.NAME",
                          hint="Name an asset by its space id and technical name, e.g. SALES.V_ORDERS.")
    if spaces:
        return list(spaces)
    return sorted({a.split(".", 1)[0] for a in assets}) if assets else None


def _only_assets(tables: list[TableCheck], assets: Sequence[str], skipped_spaces: dict[str, str]) -> list[TableCheck]:
    """The checks of ``assets``; an asset with none is ``skipped`` (not found, or not readable)."""
    wanted = set(assets)
    kept = [t for t in tables if t.asset in wanted or (t.asset is None and t.space in skipped_spaces)]
    found = {t.asset for t in kept}
    for key in sorted(wanted - found):
        space = key.split(".", 1)[0]
        if space not in skipped_spaces:
            kept.append(TableCheck(space=space, asset=key, database="", status="skipped",
                                   note="not found in Datasphere (or the rules exclude it, or its kind is not in scope)"))
    return kept


def _plan_group(planner: Planner, group: list[str], kinds: Sequence[str] | None) -> tuple[PlanOutcome, LiveCatalog]:
    """The planner's extraction and mapping of one group (a full read), then the live listing
    of every database the group maps to (read after the source: the fresher side last)."""
    outcome = planner.expected(spaces=group, kinds=kinds)
    mapping = outcome.mapping
    wanted = planner.database_names(group) | {d.name for d in mapping.databases} | {t.database for t in mapping.tables}
    return outcome, planner.read_live(wanted)


def _config_version(services: Services) -> int | None:
    from core.errors import DgsyncError
    from core.store import configs

    try:
        with services.store().session(readonly=True) as session:
            return configs.active_version_id(session=session, env=services.settings.env)
    except DgsyncError as exc:  # a store that cannot say does not stop a validation
        log.warning("configuration version unknown", extra={"error": exc.message})
        return None


def judge_space(
    space: str,
    outcome: PlanOutcome,
    live: LiveCatalog,
    *,
    kinds: Sequence[str] | None,
    database: str,
    detail: Detail = "all",
    owner_database: Callable[[str], str] | None = None,
) -> list[TableCheck]:
    """Every table check of one space (pure: from the planner's outcome and the live catalog).

    ``owner_database(space)`` names the database another space maps to: a managed table of a
    space that shares this database (by the rules) is judged with its own space, not here."""
    extraction = outcome.extraction
    if space in extraction.skipped_spaces:
        return [TableCheck(space=space, database=database, status="skipped",
                           note=f"space not checked: {extraction.skipped_spaces[space]}")]
    specs = [t for t in outcome.mapping.tables if t.source.space == space]
    databases = {t.database for t in specs} | {d.name for d in outcome.mapping.databases if d.source_space == space}
    databases = databases or {database}
    unreadable = {e.get("asset", ""): e.get("message", "") for e in extraction.errors}
    unreadable.update(extraction.incomplete)
    out: list[TableCheck] = []
    for spec in specs:
        found = live.table(spec.database, spec.name)
        base: dict[str, Any] = {"space": space, "asset": str(spec.source),
                                "kind": spec.parameters.get(SOURCE_KIND), "database": spec.database,
                                "table": spec.name}
        if found is None:
            where = "" if spec.database in live.databases else f" (database {spec.database} does not exist)"
            out.append(TableCheck(**base, status="missing", note=f"not in Glue{where}", fields=1, checks=[
                FieldCheck(field="table", expected=spec.key, actual=None, ok=False)]))
            continue
        checks = compare_table(spec.to_table_input(), found)
        managed = (found.get("Parameters") or {}).get(MANAGED_BY) == MANAGED_BY_VALUE
        note = None if managed else "a table dgsync does not manage holds this name (rename, drop or adopt it)"
        out.append(TableCheck(
            **base, status="ok" if all(c.ok for c in checks) else "drift", note=note, fields=len(checks),
            columns=_columns(checks),
            checks=checks if detail == "all" else [c for c in checks if not c.ok or c.note],
        ))
    expected = {(t.database, t.name) for t in specs}
    for db in sorted(databases):
        for name, table in sorted(live.tables.get(db, {}).items()):
            if (db, name) not in expected:
                check = _judge_other(space, db, name, table, kinds=kinds, unreadable=unreadable,
                                     excluded=outcome.mapping.skipped, shared=outcome.plan.shared,
                                     owner_database=owner_database)
                if check is not None:
                    out.append(check)
    listed = {t.asset for t in out}
    out.extend(
        TableCheck(space=space, asset=key, database=database, status="skipped", note=f"not checked: {why}")
        for key, why in sorted(unreadable.items()) if key.split(".", 1)[0] == space and key not in listed
    )
    return out


def _columns(checks: list[FieldCheck]) -> int:
    return sum(1 for c in checks if c.field.endswith(".type") and c.field.startswith(("columns.", "partition_keys.")))


def _judge_other(
    space: str, database: str, name: str, table: dict[str, Any], *, kinds: Sequence[str] | None,
    unreadable: dict[str, str], excluded: dict[str, str], shared: dict[str, str],
    owner_database: Callable[[str], str] | None = None,
) -> TableCheck | None:
    """A live table no source asset of this space maps to: unmanaged, extra or not checked."""
    params = table.get("Parameters") or {}
    base: dict[str, Any] = {"space": space, "database": database, "table": name}
    if params.get(MANAGED_BY) != MANAGED_BY_VALUE:
        return TableCheck(**base, status="unmanaged", note="not managed by dgsync: listed, never judged")
    source, kind = params.get(SOURCE), params.get(SOURCE_KIND)
    if kinds and kind not in kinds:
        return None  # another kind: outside this validation's scope
    owner = (source or "").split(".", 1)[0]
    if owner and owner != space and owner_database is not None and owner_database(owner) == database:
        return None  # the rules put both spaces in this database: judged with its own space
    base.update(asset=source, kind=kind)
    if source in unreadable:
        return TableCheck(**base, status="skipped", note=f"not checked: {unreadable[source]}")
    if source in shared:
        why = f"shared object: {shared[source]}; not expected in this space's database"
    elif source in excluded:
        why = f"the rules exclude its source: {excluded[source]}"
    else:
        why = "its source asset is not in Datasphere"
    if params.get(DEPRECATED) == "true":
        why += f" (deprecated by dgsync at {params.get(DEPRECATED_AT, '?')})"
    return TableCheck(**base, status="extra", note=why, fields=1, checks=[
        FieldCheck(field="table", expected=None, actual=f"{database}.{name}", ok=False)])
