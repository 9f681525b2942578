"""The planner: desired specs vs the live catalog → a Plan (pure; no I/O).

For every object the plan says create / update / noop / deprecate / delete / conflict / skip,
with the reason and field-level differences. Decisions, in order:

* a table that does not exist is created;
* an existing table without dgsync's ``managed_by`` marker is never touched unless the rules
  adopt it (``unmanaged: adopt`` or the table is listed under ``adopt``): a *conflict*
  (``unmanaged``) flagged and skipped;
* a managed table that belongs to another source asset is a *conflict* (``naming``);
* otherwise the intended input is the desired spec **merged** with the live table: the source
  wins for the schema (columns, types, partition keys, storage), business metadata added on the
  Glue side survives (Parameters keys outside ``dgsync.*``, column comments and parameters the
  source leaves empty, a description where the source has none). If the merged input hashes
  like the live table, nothing is sent (``noop``: no write, no new table version);
* a live table whose hash differs from the ``target_hash`` dgsync last wrote was edited out
  of band: the update goes ahead (merged) and a conflict ``out_of_band_edit`` is recorded;
* a managed table whose source asset is gone follows the deletion policy (``log`` → skip with
  the reason, ``deprecate`` → marker + timestamp, ``delete``) — only on positive evidence:
  its (space, kind) was listed completely this run (a kind whose listing failed blocks only its
  own deletions), and extraction found something. A (space, kind) whose listing dropped by more
  than ``max_delete_share`` of its managed tables, or to zero while Glue still has managed
  tables of that kind, is **held** for confirmation (``dgsync deletions approve``), and so is
  everything past ``max_deletes_per_run``. Only objects in scope (the spaces this run covers)
  are judged.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.models import Priority
from core.specs import (
    DEPRECATED,
    DEPRECATED_AT,
    MANAGED_BY,
    MANAGED_BY_VALUE,
    PLAN_ACTIONS,
    SOURCE,
    SOURCE_KIND,
    TARGET_HASH,
    DatabaseSpec,
    MappingIssue,
    MappingResult,
    TableSpec,
    normalise_table_input,
    table_input_hash,
)
from core.specs import Action as Action  # re-exported: the plan's action enum


class FieldDiff(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    before: Any = None
    after: Any = None


class PlanItem(BaseModel):
    """One decision about one Glue object."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    object_type: Literal["database", "table"]
    database: str
    name: str | None = None
    #: Source asset (``SPACE.NAME``) for tables; source space for databases.
    asset: str | None = None
    reason: str
    diffs: list[FieldDiff] = Field(default_factory=list)
    conflict: str | None = None
    #: What will be sent: DatabaseInput / TableInput (without run markers).
    payload: dict[str, Any] | None = None
    live_version_id: str | None = None
    live_hash: str | None = None
    desired_hash: str | None = None
    source_fingerprint: str | None = None
    priority: Priority = Priority.LOW
    #: Downstream assets affected by this change (impact analysis).
    impact: list[str] = Field(default_factory=list)
    #: Their Glue tables (``database.table``), as last synced.
    impact_tables: list[str] = Field(default_factory=list)
    #: Why a deletion/deprecation is held for confirmation (``dgsync deletions approve``).
    hold: str | None = None
    #: Source kind of the table (deletions are judged per space and kind).
    source_kind: str | None = None

    @field_validator("action")
    @classmethod
    def _planned(cls, value: Action) -> Action:
        if value not in PLAN_ACTIONS:
            raise ValueError(f"a plan item cannot be {value.value!r}")
        return value

    @property
    def object(self) -> str:
        return f"{self.database}.{self.name}" if self.name else self.database


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[PlanItem] = Field(default_factory=list)
    issues: list[MappingIssue] = Field(default_factory=list)
    skipped_assets: dict[str, str] = Field(default_factory=dict)
    failsafe: str | None = None
    scope_spaces: list[str] | None = None
    #: ``OWNER.NAME`` → why this run does not write it (shared from another space).
    shared: dict[str, str] = Field(default_factory=dict)
    #: Kinds the tenant does not offer (design-time list answered 404).
    not_offered: list[str] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {a.value: 0 for a in PLAN_ACTIONS}
        for item in self.items:
            out[item.action.value] += 1
        return out

    @property
    def writes(self) -> list[PlanItem]:
        return [i for i in self.items if i.action.writes]


class LiveCatalog(BaseModel):
    """What Glue holds now for the databases in scope (``Table`` dicts as GetTables returns)."""

    model_config = ConfigDict(extra="forbid")

    databases: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: database → table name → Glue ``Table``.
    tables: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    #: Database names looked for (present or not): the planner may only write these.
    checked: set[str] = Field(default_factory=set)

    def merge(self, other: LiveCatalog) -> None:
        self.databases.update(other.databases)
        self.tables.update(other.tables)
        self.checked |= other.checked

    def table(self, database: str, name: str) -> dict[str, Any] | None:
        return self.tables.get(database, {}).get(name)


class PlanPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deletion_policy: Literal["log", "deprecate", "delete"] = "log"
    max_delete_share: float = 0.2
    unmanaged_policy: Literal["skip_and_flag", "adopt"] = "skip_and_flag"
    #: ``database.table`` names the rules adopt explicitly.
    adopt: frozenset[str] = frozenset()
    #: At most this many deletions/deprecations per run; the rest are held.
    max_deletes_per_run: int = 50


def is_managed(obj: Mapping[str, Any]) -> bool:
    return (obj.get("Parameters") or {}).get(MANAGED_BY) == MANAGED_BY_VALUE


def merge_table_input(desired: dict[str, Any], live: Mapping[str, Any] | None) -> dict[str, Any]:
    """Desired ``TableInput`` merged with business metadata added on the Glue side.

    Source wins for schema. Kept from live: Parameters keys outside ``dgsync.``, column
    comments/parameters where the source has none, a description where the source has none.
    """
    merged = copy.deepcopy(desired)
    if not live:
        return merged
    live_params = live.get("Parameters") or {}
    params = merged.setdefault("Parameters", {})
    for key, value in live_params.items():
        if not key.startswith("dgsync.") and key not in params:
            params[key] = value
    merged["Parameters"] = dict(sorted(params.items()))
    if not merged.get("Description") and live.get("Description"):
        merged["Description"] = live["Description"]
    live_cols = {
        c["Name"]: c for c in ((live.get("StorageDescriptor") or {}).get("Columns") or [])
    }
    for col in merged.get("StorageDescriptor", {}).get("Columns", []):
        old = live_cols.get(col["Name"])
        if not old:
            continue
        if not col.get("Comment") and old.get("Comment"):
            col["Comment"] = old["Comment"]
        old_params = old.get("Parameters") or {}
        extra = {k: v for k, v in old_params.items() if not k.startswith("dgsync.")}
        if extra:
            col["Parameters"] = dict(sorted({**extra, **(col.get("Parameters") or {})}.items()))
    return merged


def diff_table_inputs(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[FieldDiff]:
    """Field-level differences between two table inputs (normalised)."""
    a = normalise_table_input(dict(before or {}))
    b = normalise_table_input(dict(after))
    diffs: list[FieldDiff] = []
    for key in ("Description", "TableType", "ViewOriginalText"):
        if a.get(key) != b.get(key):
            diffs.append(FieldDiff(field=key, before=a.get(key), after=b.get(key)))
    sd_a, sd_b = a.get("StorageDescriptor", {}), b.get("StorageDescriptor", {})
    for key in ("Location", "InputFormat", "OutputFormat", "SerdeInfo"):
        if sd_a.get(key) != sd_b.get(key):
            diffs.append(FieldDiff(field=f"StorageDescriptor.{key}", before=sd_a.get(key), after=sd_b.get(key)))
    diffs.extend(_column_diffs("column", sd_a.get("Columns", []), sd_b.get("Columns", [])))
    diffs.extend(_column_diffs("partition_key", a.get("PartitionKeys", []), b.get("PartitionKeys", [])))
    pa, pb = a.get("Parameters", {}), b.get("Parameters", {})
    for key in sorted(set(pa) | set(pb)):
        if pa.get(key) != pb.get(key):
            diffs.append(FieldDiff(field=f"Parameters.{key}", before=pa.get(key), after=pb.get(key)))
    return diffs


def _column_diffs(
    label: str, before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> list[FieldDiff]:
    out: list[FieldDiff] = []
    old = {c["Name"]: c for c in before}
    new = {c["Name"]: c for c in after}
    for name in new:
        if name not in old:
            out.append(FieldDiff(field=f"{label}.{name}", before=None, after=new[name].get("Type")))
            continue
        for key in ("Type", "Comment", "Parameters"):
            if old[name].get(key) != new[name].get(key):
                out.append(
                    FieldDiff(
                        field=f"{label}.{name}.{key}",
                        before=old[name].get(key),
                        after=new[name].get(key),
                    )
                )
    for name in old:
        if name not in new:
            out.append(FieldDiff(field=f"{label}.{name}", before=old[name].get("Type"), after=None))
    if [c["Name"] for c in before if c["Name"] in new] != [
        c["Name"] for c in after if c["Name"] in old
    ]:
        out.append(FieldDiff(field=f"{label}s.order", before=[c["Name"] for c in before], after=[c["Name"] for c in after]))
    return out


def plan_database(spec: DatabaseSpec, live: Mapping[str, Any] | None) -> PlanItem:
    desired = spec.to_database_input()
    base = {"object_type": "database", "database": spec.name, "asset": spec.source_space}
    if live is None:
        return PlanItem(action=Action.CREATE, reason="database does not exist", payload=desired, **base)
    if not is_managed(live):
        return PlanItem(
            action=Action.SKIP,
            reason="database exists and is not managed by dgsync; its tables are still synced",
            conflict="unmanaged",
            **base,
        )
    live_cmp = {
        "Name": live.get("Name"),
        "Description": live.get("Description"),
        "Parameters": live.get("Parameters") or {},
    }
    merged_params = dict(desired.get("Parameters", {}))
    for key, value in (live.get("Parameters") or {}).items():
        if not key.startswith("dgsync."):
            merged_params.setdefault(key, value)
    merged = {**desired, "Parameters": dict(sorted(merged_params.items()))}
    if not merged.get("Description") and live.get("Description"):
        merged["Description"] = live["Description"]
    diffs = [
        FieldDiff(field=k, before=live_cmp.get(k), after=merged.get(k))
        for k in ("Description", "Parameters")
        if (live_cmp.get(k) or None) != (merged.get(k) or None)
    ]
    if not diffs:
        return PlanItem(action=Action.NOOP, reason="database up to date", **base)
    return PlanItem(action=Action.UPDATE, reason="database metadata changed", diffs=diffs, payload=merged, **base)


def plan_table(
    spec: TableSpec, live: Mapping[str, Any] | None, policy: PlanPolicy
) -> PlanItem:
    """Decide what to do with one desired table."""
    desired = spec.to_table_input()
    base: dict[str, Any] = {
        "object_type": "table",
        "database": spec.database,
        "name": spec.name,
        "asset": str(spec.source),
        "source_fingerprint": spec.source_fingerprint,
        "priority": spec.priority,
    }
    if live is None:
        return PlanItem(
            action=Action.CREATE,
            reason="table does not exist",
            payload=desired,
            desired_hash=table_input_hash(desired),
            **base,
        )
    live_hash = table_input_hash(dict(live))
    base.update(live_hash=live_hash, live_version_id=live.get("VersionId"))
    if not is_managed(live):
        return _plan_unmanaged(spec, desired, live, policy, base)
    owner = (live.get("Parameters") or {}).get(SOURCE)
    if owner and owner != str(spec.source):
        base.pop("live_version_id")
        return PlanItem(
            action=Action.CONFLICT,
            conflict="naming",
            reason=f"the table belongs to another source asset ({owner})",
            **base,
        )
    merged = merge_table_input(desired, live)
    merged_hash = table_input_hash(merged)
    if merged_hash == live_hash:
        return PlanItem(action=Action.NOOP, reason="table up to date", desired_hash=merged_hash, **base)
    written = (live.get("Parameters") or {}).get(TARGET_HASH)
    edited = bool(written) and written != live_hash
    return PlanItem(
        action=Action.UPDATE,
        reason=(
            "edited outside dgsync: source wins for schema, business metadata merged"
            if edited
            else "source changed"
        ),
        conflict="out_of_band_edit" if edited else None,
        payload=merged,
        diffs=diff_table_inputs(live, merged),
        desired_hash=merged_hash,
        **base,
    )


def _plan_unmanaged(
    spec: TableSpec, desired: dict[str, Any], live: Mapping[str, Any], policy: PlanPolicy,
    base: dict[str, Any],
) -> PlanItem:
    """A table not managed by dgsync is in the way: flagged, or adopted when the rules say so."""
    if not (policy.unmanaged_policy == "adopt" or spec.key in policy.adopt):
        return PlanItem(
            action=Action.CONFLICT,
            conflict="unmanaged",
            reason="a table not managed by dgsync is in the way (skip_and_flag)",
            **{k: v for k, v in base.items() if k != "live_version_id"},
        )
    merged = merge_table_input(desired, live)
    return PlanItem(
        action=Action.UPDATE,
        reason="adopting an unmanaged table (rules say adopt)",
        conflict="unmanaged",
        payload=merged,
        diffs=diff_table_inputs(live, merged),
        desired_hash=table_input_hash(merged),
        **base,
    )


def build_plan(
    *,
    mapping: MappingResult,
    live: LiveCatalog,
    policy: PlanPolicy,
    scope_spaces: Iterable[str] | None = None,
    scope_priority: Priority | None = None,
    scope_kinds: Iterable[str] | None = None,
    extraction_errors: int = 0,
    assets_found: int | None = None,
    impact: Mapping[str, list[str]] | None = None,
    known_sources: Iterable[str] = (),
    listed_kinds: Mapping[str, Iterable[str]] | None = None,
    listed_counts: Mapping[tuple[str, str], int] | None = None,
    approved_deletions: Iterable[str] = (),
) -> Plan:
    """Compare ``mapping`` with ``live`` and decide per object (pure).

    ``known_sources``: assets that exist but are not mapped here (unchanged, unreadable,
    incomplete). ``listed_kinds`` (space → kinds listed completely) and ``listed_counts``
    ((space, kind) → objects listed) are the per-(space, kind) evidence deletions are judged
    on; without them any extraction error holds every deletion. ``approved_deletions``:
    ``database.table`` names an operator confirmed (``dgsync deletions approve``)."""
    scope = sorted(set(scope_spaces)) if scope_spaces is not None else None
    kinds = set(scope_kinds) if scope_kinds is not None else None
    items = [plan_database(db, live.databases.get(db.name))
             for db in sorted(mapping.databases, key=lambda d: d.name)]
    desired_tables = {
        (spec.database, spec.name): spec
        for spec in sorted(mapping.tables, key=lambda t: (t.priority.rank, t.database, t.name))
        if scope_priority is None or spec.priority is scope_priority
    }
    for spec in desired_tables.values():
        item = plan_table(spec, live.table(spec.database, spec.name), policy)
        item.source_kind = spec.parameters.get(SOURCE_KIND)
        if impact and item.asset:
            item.impact = list(impact.get(item.asset, []))
        items.append(item)
    orphans, managed = _orphans(
        mapping, live, desired_tables, scope=scope, scope_priority=scope_priority, kinds=kinds,
        known_sources=set(known_sources),
    )
    failsafe: str | None = None
    holds: dict[tuple[str, str], str] = {}
    if orphans and policy.deletion_policy != "log":
        failsafe, holds = _deletion_evidence(
            orphans, managed, policy,
            extraction_errors=extraction_errors,
            assets_found=assets_found if assets_found is not None else len(mapping.tables),
            listed_kinds=listed_kinds,
            listed_counts=listed_counts,
        )
    items.extend(_judge_orphans(orphans, policy, failsafe, holds, set(approved_deletions), impact))
    return Plan(
        items=items,
        issues=list(mapping.issues),
        skipped_assets=dict(mapping.skipped),
        failsafe=failsafe,
        scope_spaces=scope,
    )


def _judge_orphans(
    orphans: list[tuple[str, str, dict[str, Any], str]],
    policy: PlanPolicy,
    failsafe: str | None,
    holds: Mapping[tuple[str, str], str],
    approved: set[str],
    impact: Mapping[str, list[str]] | None,
) -> list[PlanItem]:
    """The deletion policy applied to each orphan, unless the fail-safe or a hold stops it."""
    items: list[PlanItem] = []
    budget = policy.max_deletes_per_run
    for db_name, name, table, reason in orphans:
        params = table.get("Parameters") or {}
        space_kind = _space_kind(table)
        base: dict[str, Any] = {
            "object_type": "table",
            "database": db_name,
            "name": name,
            "asset": params.get(SOURCE),
            "live_hash": table_input_hash(table),
            "live_version_id": table.get("VersionId"),
            "source_kind": space_kind[1] or None,
        }
        if impact and base["asset"]:
            base["impact"] = list(impact.get(base["asset"], []))
        if policy.deletion_policy == "log" or failsafe:
            why = "deletion policy is log" if policy.deletion_policy == "log" else f"deletion skipped by fail-safe: {failsafe}"
            items.append(PlanItem(action=Action.SKIP, reason=f"{reason}; {why}", **base))
            continue
        if policy.deletion_policy == "deprecate" and params.get(DEPRECATED) == "true":
            items.append(PlanItem(action=Action.NOOP, reason=f"{reason}; already deprecated", **base))
            continue
        hold = holds.get(space_kind)
        if hold is None and budget <= 0:
            hold = f"more than {policy.max_deletes_per_run} deletions in one run (max_deletes_per_run)"
        if hold is not None and f"{db_name}.{name}" not in approved:
            items.append(PlanItem(
                action=Action.SKIP,
                reason=f"{reason}; held for confirmation: {hold} (dgsync deletions approve)",
                hold=hold,
                **base,
            ))
            continue
        budget -= 1
        action = Action.DEPRECATE if policy.deletion_policy == "deprecate" else Action.DELETE
        items.append(PlanItem(action=action, reason=f"{reason}; approved by an operator" if hold else reason, **base))
    return items


def _space_kind(table: Mapping[str, Any]) -> tuple[str, str]:
    params = table.get("Parameters") or {}
    return str(params.get(SOURCE, "")).split(".", 1)[0], str(params.get(SOURCE_KIND, ""))


def _orphans(
    mapping: MappingResult,
    live: LiveCatalog,
    desired_tables: Mapping[tuple[str, str], TableSpec],
    *,
    scope: list[str] | None,
    scope_priority: Priority | None,
    kinds: set[str] | None,
    known_sources: set[str],
) -> tuple[list[tuple[str, str, dict[str, Any], str]], dict[tuple[str, str], int]]:
    """Managed tables in scope whose source asset is gone, and the managed tables in scope per
    (space, kind). Every desired source counts (a table re-classified to another priority is not
    an orphan); known sources (unchanged, unreadable, incomplete) are not orphans either."""
    table_of: dict[str, set[str]] = {}
    for t in mapping.tables:
        table_of.setdefault(str(t.source), set()).add(f"{t.database}.{t.name}")
    orphans: list[tuple[str, str, dict[str, Any], str]] = []
    managed: dict[tuple[str, str], int] = {}
    for db_name, tables in sorted(live.tables.items()):
        for name, table in sorted(tables.items()):
            if not is_managed(table):
                continue
            params = table.get("Parameters") or {}
            source = str(params.get(SOURCE, ""))
            space_kind = _space_kind(table)
            if scope is not None and space_kind[0] not in scope:
                continue
            if scope_priority is not None and params.get("dgsync.priority") != scope_priority.value:
                continue
            if kinds is not None and params.get(SOURCE_KIND) not in kinds:
                continue
            managed[space_kind] = managed.get(space_kind, 0) + 1
            if (db_name, name) in desired_tables or (source in known_sources and source not in table_of):
                continue
            if source in table_of:
                if f"{db_name}.{name}" in table_of[source]:
                    continue  # desired, in another priority slice
                reason = f"its source now maps to {', '.join(sorted(table_of[source]))} (Glue cannot rename a table)"
            elif source in mapping.skipped:
                reason = f"excluded by rules ({mapping.skipped[source]})"
            else:
                reason = "source asset no longer exists"
            orphans.append((db_name, name, dict(table), reason))
    return orphans, managed


def _deletion_evidence(
    orphans: list[tuple[str, str, dict[str, Any], str]],
    managed: Mapping[tuple[str, str], int],
    policy: PlanPolicy,
    *,
    extraction_errors: int,
    assets_found: int,
    listed_kinds: Mapping[str, Iterable[str]] | None,
    listed_counts: Mapping[tuple[str, str], int] | None,
) -> tuple[str | None, dict[tuple[str, str], str]]:
    """(run-wide fail-safe, per-(space, kind) holds) for the orphans found.

    Without positive evidence nothing goes: no assets found at all stops every deletion; a
    (space, kind) not listed completely is not judged; a listing that dropped too far is held.
    """
    if assets_found == 0:
        return "extraction found no assets", {}
    if listed_kinds is None:
        if extraction_errors:
            return f"extraction had {extraction_errors} error(s)", {}
        total = sum(managed.values())
        if total and len(orphans) / total > policy.max_delete_share:
            return (
                f"{len(orphans)} of {total} managed tables would go "
                f"(more than {policy.max_delete_share:.0%})"
            ), {}
        return None, {}
    listed = {space: set(ks) for space, ks in listed_kinds.items()}
    gone: dict[tuple[str, str], int] = {}
    for _db, _name, table, _reason in orphans:
        key = _space_kind(table)
        gone[key] = gone.get(key, 0) + 1
    holds: dict[tuple[str, str], str] = {}
    for (space, kind), count in gone.items():
        total = managed.get((space, kind), 0)
        if kind not in listed.get(space, set()):
            holds[(space, kind)] = f"the {kind or 'unknown-kind'} listing of space {space} did not complete this run"
        elif listed_counts is not None and listed_counts.get((space, kind), 0) == 0:
            holds[(space, kind)] = (
                f"the {kind} listing of space {space} is empty while Glue has {total} managed "
                f"table(s) of that kind"
            )
        elif total and count / total > policy.max_delete_share:
            holds[(space, kind)] = (
                f"{count} of {total} managed {kind} tables of space {space} would go "
                f"(more than {policy.max_delete_share:.0%})"
            )
    return None, holds


def deprecated_input(table: Mapping[str, Any], *, now: str) -> dict[str, Any]:
    """The ``TableInput`` that marks a live table deprecated (everything else unchanged)."""
    from core.specs import normalise_table_input as _norm

    body = _norm(dict(table))
    params = dict(body.get("Parameters", {}))
    params[DEPRECATED] = "true"
    params[DEPRECATED_AT] = now
    body["Parameters"] = dict(sorted(params.items()))
    return body
