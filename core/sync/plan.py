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
  the reason, ``deprecate`` → marker + timestamp, ``delete``) — unless the fail-safe holds:
  extraction had errors, found nothing, or would remove more than ``max_delete_share`` of the
  managed tables in scope. Only objects in scope (the spaces this run covers) are judged.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.models import Priority
from core.specs import (
    DEPRECATED,
    DEPRECATED_AT,
    MANAGED_BY,
    MANAGED_BY_VALUE,
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


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    NOOP = "noop"
    DEPRECATE = "deprecate"
    DELETE = "delete"
    CONFLICT = "conflict"
    SKIP = "skip"

    @property
    def writes(self) -> bool:
        return self in {Action.CREATE, Action.UPDATE, Action.DEPRECATE, Action.DELETE}


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

    def counts(self) -> dict[str, int]:
        out = {a.value: 0 for a in Action}
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

    def table(self, database: str, name: str) -> dict[str, Any] | None:
        return self.tables.get(database, {}).get(name)


class PlanPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deletion_policy: Literal["log", "deprecate", "delete"] = "log"
    max_delete_share: float = 0.2
    unmanaged_policy: Literal["skip_and_flag", "adopt"] = "skip_and_flag"
    #: ``database.table`` names the rules adopt explicitly.
    adopt: frozenset[str] = frozenset()


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
    version = live.get("VersionId")
    if not is_managed(live):
        adopt = policy.unmanaged_policy == "adopt" or spec.key in policy.adopt
        if not adopt:
            return PlanItem(
                action=Action.CONFLICT,
                conflict="unmanaged",
                reason="a table not managed by dgsync is in the way (skip_and_flag)",
                live_hash=live_hash,
                **base,
            )
        merged = merge_table_input(desired, live)
        return PlanItem(
            action=Action.UPDATE,
            reason="adopting an unmanaged table (rules say adopt)",
            conflict="unmanaged",
            payload=merged,
            diffs=diff_table_inputs(live, merged),
            live_hash=live_hash,
            live_version_id=version,
            desired_hash=table_input_hash(merged),
            **base,
        )
    owner = (live.get("Parameters") or {}).get(SOURCE)
    if owner and owner != str(spec.source):
        return PlanItem(
            action=Action.CONFLICT,
            conflict="naming",
            reason=f"the table belongs to another source asset ({owner})",
            live_hash=live_hash,
            **base,
        )
    merged = merge_table_input(desired, live)
    merged_hash = table_input_hash(merged)
    if merged_hash == live_hash:
        return PlanItem(
            action=Action.NOOP,
            reason="table up to date",
            live_hash=live_hash,
            desired_hash=merged_hash,
            live_version_id=version,
            **base,
        )
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
        live_hash=live_hash,
        live_version_id=version,
        desired_hash=merged_hash,
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
) -> Plan:
    """Compare ``mapping`` with ``live`` and decide per object (pure)."""
    scope = sorted(set(scope_spaces)) if scope_spaces is not None else None
    kinds = set(scope_kinds) if scope_kinds is not None else None
    items: list[PlanItem] = []
    desired_tables: dict[tuple[str, str], TableSpec] = {}
    for db in sorted(mapping.databases, key=lambda d: d.name):
        items.append(plan_database(db, live.databases.get(db.name)))
    for spec in sorted(mapping.tables, key=lambda t: (t.priority.rank, t.database, t.name)):
        if scope_priority is not None and spec.priority is not scope_priority:
            continue
        desired_tables[(spec.database, spec.name)] = spec
        item = plan_table(spec, live.table(spec.database, spec.name), policy)
        if impact and item.asset:
            item.impact = list(impact.get(item.asset, []))
        items.append(item)

    # Managed tables whose source asset is gone (within scope only).
    # Every desired source counts (a table re-classified to another priority is not an orphan).
    # Unchanged assets (incremental sync) are not orphans either.
    desired_sources = {str(t.source) for t in mapping.tables} | set(known_sources)
    orphans: list[tuple[str, str, dict[str, Any]]] = []
    managed_in_scope = 0
    for db_name, tables in sorted(live.tables.items()):
        for name, table in sorted(tables.items()):
            if not is_managed(table):
                continue
            source = (table.get("Parameters") or {}).get(SOURCE, "")
            space = source.split(".", 1)[0]
            if scope is not None and space not in scope:
                continue
            if (
                scope_priority is not None
                and (table.get("Parameters") or {}).get("dgsync.priority") != scope_priority.value
            ):
                continue
            if kinds is not None and (table.get("Parameters") or {}).get(SOURCE_KIND) not in kinds:
                continue
            managed_in_scope += 1
            if (db_name, name) in desired_tables or source in desired_sources:
                continue
            if source in mapping.skipped:
                reason = f"excluded by rules ({mapping.skipped[source]})"
            else:
                reason = "source asset no longer exists"
            orphans.append((db_name, name, {**table, "_reason": reason}))

    failsafe: str | None = None
    if orphans and policy.deletion_policy != "log":
        if extraction_errors:
            failsafe = f"extraction had {extraction_errors} error(s)"
        elif assets_found == 0 or (assets_found is None and not mapping.tables):
            failsafe = "extraction found no assets"
        elif managed_in_scope and len(orphans) / managed_in_scope > policy.max_delete_share:
            failsafe = (
                f"{len(orphans)} of {managed_in_scope} managed tables would go "
                f"(more than {policy.max_delete_share:.0%})"
            )
    for db_name, name, table in orphans:
        reason = table.pop("_reason")
        params = table.get("Parameters") or {}
        base: dict[str, Any] = {
            "object_type": "table",
            "database": db_name,
            "name": name,
            "asset": params.get(SOURCE),
            "live_hash": table_input_hash(table),
            "live_version_id": table.get("VersionId"),
        }
        if impact and base["asset"]:
            base["impact"] = list(impact.get(base["asset"], []))
        if failsafe:
            items.append(PlanItem(action=Action.SKIP, reason=f"{reason}; deletion skipped by fail-safe: {failsafe}", **base))
        elif policy.deletion_policy == "log":
            items.append(PlanItem(action=Action.SKIP, reason=f"{reason}; deletion policy is log", **base))
        elif policy.deletion_policy == "deprecate":
            if params.get(DEPRECATED) == "true":
                items.append(PlanItem(action=Action.NOOP, reason=f"{reason}; already deprecated", **base))
            else:
                items.append(PlanItem(action=Action.DEPRECATE, reason=reason, **base))
        else:
            items.append(PlanItem(action=Action.DELETE, reason=reason, **base))
    return Plan(
        items=items,
        issues=list(mapping.issues),
        skipped_assets=dict(mapping.skipped),
        failsafe=failsafe,
        scope_spaces=scope,
    )


def deprecated_input(table: Mapping[str, Any], *, now: str) -> dict[str, Any]:
    """The ``TableInput`` that marks a live table deprecated (everything else unchanged)."""
    from core.specs import normalise_table_input as _norm

    body = _norm(dict(table))
    params = dict(body.get("Parameters", {}))
    params[DEPRECATED] = "true"
    params[DEPRECATED_AT] = now
    body["Parameters"] = dict(sorted(params.items()))
    return body
