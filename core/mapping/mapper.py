"""Assets → Glue specs (pure, deterministic regardless of input order).

* One :class:`DatabaseSpec` per space that has at least one table in scope.
* One :class:`TableSpec` per local/remote table (a table), view (an external table with the
  storage from the rules) and analytic model (a *business table*: its dimensions, attributes
  and measures are the columns; measures, hierarchies, sources and variables are kept as JSON
  in Parameters).
* Flows (data, replication, transformation flows, task chains) are not tables: they become
  :class:`LineageEdge` objects and a ``dgsync.lineage.flows`` entry on their target tables.
* Lineage means data flow: ``dgsync.upstream`` and the lineage edges hold only dependencies
  whose kind ``is_data_flow`` (``from``, joins, unions, fact/dimension sources, flow sources);
  association and mixin targets are relationships, kept in ``dgsync.associations``.
* Business context goes into Glue's text fields, cut by UTF-8 bytes to Glue's limits without
  splitting a character; the full texts and the semantics stay in Parameters
  (:mod:`core.mapping.params`). Every problem is a :class:`MappingIssue`; every asset the
  rules leave out is in ``skipped`` with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from core.errors import MappingError
from core.glue.limits import (
    MAX_COMMENT_BYTES,
    MAX_DESCRIPTION_BYTES,
    MAX_PARAMETER_KEY_BYTES,
    MAX_PARAMETER_VALUE_BYTES,
)
from core.models import Asset, Column, Space, content_hash
from core.specs import (
    MANAGED_BY,
    MANAGED_BY_VALUE,
    SOURCE,
    SOURCE_FINGERPRINT,
    SOURCE_KIND,
    ColumnSpec,
    DatabaseSpec,
    LineageEdge,
    MappingIssue,
    MappingResult,
    TableSpec,
)

from . import params as P
from .columns import analytic_columns, column_spec, table_parameters
from .fit import (
    ELLIPSIS,
    Severity,
    compact_dump,
    fit_parameters,
    join_parameter,
    json_text,
    split_utf8,
    truncate_utf8,
)
from .graph import downstream_graph, flow_ends, impact, impacted_tables, ref_key
from .names import NameAllocator
from .rules import PartitionKey, ResolvedOverride, Rules

# Re-exported: callers import these from here (the mapper's public face).
__all__ = [
    "ELLIPSIS",
    "MAX_COMMENT_BYTES",
    "MAX_DESCRIPTION_BYTES",
    "MAX_PARAMETER_KEY_BYTES",
    "MAX_PARAMETER_VALUE_BYTES",
    "Severity",
    "compact_dump",
    "downstream_graph",
    "fit_parameters",
    "flow_ends",
    "impact",
    "impacted_tables",
    "join_parameter",
    "json_text",
    "map_assets",
    "ref_key",
    "split_utf8",
    "truncate_utf8",
]


class _Mapper:
    def __init__(self, rules: Rules, env: str, spaces: Iterable[Space]) -> None:
        self.rules = rules
        self.env = env
        self.space_labels = {s.name: s.label for s in spaces}
        self.issues: list[MappingIssue] = []

    def issue(self, severity: Severity, code: str, asset: str | None, message: str) -> None:
        self.issues.append(MappingIssue(severity=severity, code=code, asset=asset, message=message))

    # -- entry point ---------------------------------------------------------------------------
    def run(self, assets: Iterable[Asset]) -> MappingResult:
        unique = self._dedupe(assets)
        skipped: dict[str, str] = {}
        tables: list[Asset] = []
        flows: list[Asset] = []
        for asset in unique:
            reason = self.rules.exclusion_reason(asset)
            if reason is not None:
                skipped[asset.key] = reason
            elif asset.kind.is_flow:
                flows.append(asset)
            else:
                tables.append(asset)
        overrides = {a.key: self.rules.override_for(a) for a in tables}

        db_names = self._database_names(tables)
        table_names = self._table_names(tables, db_names, overrides)
        flows_into, flow_sources, lineage = self._flows(flows)
        for asset in tables:
            for dep in asset.upstream:
                if not dep.kind.is_data_flow:  # associations/mixins relate, they do not feed
                    continue
                lineage.append(
                    LineageEdge(upstream=dep.ref, downstream=asset.ref, kind=dep.kind.value)
                )

        databases = [self._database(space, name) for space, name in db_names.items()]
        specs: list[TableSpec] = []
        for asset in tables:
            try:
                specs.append(
                    self._table(
                        asset,
                        database=db_names[asset.space],
                        name=table_names[asset.key],
                        override=overrides[asset.key],
                        flows=flows_into.get(asset.key, []),
                        flow_sources=flow_sources.get(asset.key, set()),
                    )
                )
            except MappingError as exc:
                skipped[asset.key] = f"cannot be mapped: {exc.message}"
                self.issue("error", "unmappable", asset.key, exc.message)

        unique_edges = {
            (e.upstream.space, e.upstream.name, e.downstream.space, e.downstream.name, e.kind,
             e.via.space if e.via else "", e.via.name if e.via else ""): e
            for e in lineage
        }
        return MappingResult(
            databases=sorted(databases, key=lambda d: d.name),
            tables=sorted(specs, key=lambda t: (t.database, t.name)),
            issues=sorted(
                self.issues, key=lambda i: (i.asset or "", i.code, i.message, i.severity)
            ),
            lineage=[unique_edges[k] for k in sorted(unique_edges)],
            skipped=dict(sorted(skipped.items())),
        )

    def _dedupe(self, assets: Iterable[Asset]) -> list[Asset]:
        by_key: dict[str, list[Asset]] = defaultdict(list)
        for asset in assets:
            by_key[asset.key].append(asset)
        out: list[Asset] = []
        for key in sorted(by_key):
            group = sorted(by_key[key], key=lambda a: (a.fingerprint, a.kind.value))
            if len({a.fingerprint for a in group}) > 1:
                self.issue(
                    "warning", "duplicate_asset", key,
                    f"{len(group)} different definitions of {key}; using the one with "
                    f"fingerprint {group[0].fingerprint[:12]}",
                )
            out.append(group[0])
        return out

    # -- names ---------------------------------------------------------------------------------
    def _database_names(self, tables: list[Asset]) -> dict[str, str]:
        alloc = NameAllocator("the Glue catalog", what="database")
        for space in sorted({a.space for a in tables}):
            alloc.add(
                space,
                self.rules.database_name(space, self.env),
                pinned=space in self.rules.databases.names,
            )
        result = alloc.allocate()
        self.issues.extend(result.issues)
        return dict(sorted(result.names.items()))

    def _table_names(
        self,
        tables: list[Asset],
        db_names: Mapping[str, str],
        overrides: Mapping[str, ResolvedOverride],
    ) -> dict[str, str]:
        allocators: dict[str, NameAllocator] = {}
        for asset in tables:
            db = db_names[asset.space]
            alloc = allocators.setdefault(db, NameAllocator(f"database {db}", what="table"))
            explicit = overrides[asset.key].table_name
            alloc.add(asset.key, explicit or asset.name, pinned=explicit is not None, asset=asset.key)
        names: dict[str, str] = {}
        for db in sorted(allocators):
            result = allocators[db].allocate()
            names.update(result.names)
            self.issues.extend(result.issues)
        return names

    # -- flows ---------------------------------------------------------------------------------
    def _flows(
        self, flows: list[Asset]
    ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, set[str]], list[LineageEdge]]:
        into: dict[str, list[dict[str, Any]]] = defaultdict(list)
        sources_of: dict[str, set[str]] = defaultdict(set)
        edges: list[LineageEdge] = []
        for flow in flows:
            sources, targets = flow_ends(flow)
            kind = flow.kind.value
            if not targets:
                edges.extend(
                    LineageEdge(upstream=s, downstream=flow.ref, kind="flow_source")
                    for s in sources
                )
            if not sources:
                edges.extend(
                    LineageEdge(upstream=flow.ref, downstream=t, kind="flow_target")
                    for t in targets
                )
            for target in targets:
                for source in sources:
                    edges.append(
                        LineageEdge(upstream=source, downstream=target, kind=kind, via=flow.ref)
                    )
                entry: dict[str, Any] = {
                    "flow": flow.key,
                    "kind": kind,
                    "sources": [str(s) for s in sources],
                }
                if flow.label:
                    entry["label"] = flow.label
                if flow.flow is not None and flow.flow.load_type:
                    entry["load_type"] = flow.flow.load_type
                into[str(target)].append(entry)
                sources_of[str(target)].update(str(s) for s in sources)
        for entries in into.values():
            entries.sort(key=lambda e: str(e["flow"]))
        return into, sources_of, edges

    # -- databases -----------------------------------------------------------------------------
    def _database(self, space: str, name: str) -> DatabaseSpec:
        label = self.space_labels.get(space)
        text = label or f"SAP Datasphere space {space}"
        description, cut = truncate_utf8(text, MAX_DESCRIPTION_BYTES)
        if cut:
            self.issue("info", "truncated", space,
                       f"database {name}: description cut to {MAX_DESCRIPTION_BYTES} bytes")
        parameters = {
            MANAGED_BY: MANAGED_BY_VALUE,
            SOURCE: space,
            SOURCE_KIND: "space",
            SOURCE_FINGERPRINT: content_hash({"space": space, "label": label}),
            P.SPACE: space,
        }
        if label:
            parameters[P.LABEL] = label
        fitted, issues = fit_parameters(parameters, owner=f"database {name}", asset=space)
        self.issues.extend(issues)
        return DatabaseSpec(
            name=name, description=description, parameters=fitted, source_space=space
        )

    # -- tables --------------------------------------------------------------------------------
    def _table(
        self,
        asset: Asset,
        *,
        database: str,
        name: str,
        override: ResolvedOverride,
        flows: list[dict[str, Any]],
        flow_sources: set[str],
    ) -> TableSpec:
        key = asset.key
        where = f"{database}.{name}"
        setting = self.rules.decimal_float_for(override)

        # columns: unique technical names, then collision-free Glue names
        columns: list[Column] = []
        seen: set[str] = set()
        for col in asset.columns:
            if col.name in seen:
                self.issue("warning", "duplicate_column", key,
                           f"column {col.name!r} appears twice; the first one is kept")
                continue
            seen.add(col.name)
            columns.append(col)
        if not columns:
            self.issue("warning", "no_columns", key, f"{key} has no columns; {where} has none")

        pk_rules = list(override.partition_keys or [])
        virtual: list[PartitionKey] = []
        for pk in pk_rules:
            if pk.column in seen:
                continue
            if pk.type is None:
                self.issue("warning", "partition_key_unknown", key,
                           f"partition key {pk.column!r} is not a column of {key} and has no "
                           "type; ignored")
                continue
            virtual.append(pk)

        alloc = NameAllocator(f"table {where}", what="column")
        for col in columns:
            co = override.columns.get(col.name)
            explicit = co.name if co is not None else None
            alloc.add(col.name, explicit or col.name, pinned=explicit is not None, asset=key)
        for pk in virtual:
            alloc.add(pk.column, pk.column, asset=key)
        allocation = alloc.allocate()
        self.issues.extend(allocation.issues)
        col_names = allocation.names
        for col_name in override.columns:
            if col_name not in seen:
                self.issue("warning", "override_unknown_column", key,
                           f"rules override column {col_name!r}, which {key} does not have")

        analytic_extra = analytic_columns(asset)
        specs: dict[str, ColumnSpec] = {}
        type_issues: list[str] = []
        for col in columns:
            specs[col.name] = column_spec(
                asset, col, col_names[col.name], override.columns.get(col.name), setting,
                analytic_extra.get(col.name, {}), type_issues, self.issues,
            )

        # partition keys: moved out of the columns, in the order of the rules
        partition_keys: list[ColumnSpec] = []
        table_params: dict[str, str] = {}
        used: set[str] = set()
        for pk in pk_rules:
            if pk.column in used:
                continue
            if pk.column in specs:
                spec = specs.pop(pk.column)
                if pk.comment:
                    spec = spec.model_copy(
                        update={"comment": truncate_utf8(pk.comment, MAX_COMMENT_BYTES)[0]}
                    )
            elif pk.type is not None:
                comment = truncate_utf8(pk.comment, MAX_COMMENT_BYTES)[0] if pk.comment else None
                spec = ColumnSpec(
                    name=col_names[pk.column], type=pk.type, comment=comment,
                    parameters={P.NAME: pk.column, P.ROLE: "partition"},
                )
            else:
                continue
            used.add(pk.column)
            partition_keys.append(spec)
            if pk.projection is not None:
                table_params["projection.enabled"] = "true"
                table_params.update(pk.projection.parameters(spec.name))
        if override.projection_location:
            table_params["storage.location.template"] = override.projection_location

        parameters = table_parameters(
            self.rules, asset, override, col_names, flows, flow_sources, type_issues
        )
        parameters.update(table_params)
        for extra_key, value in {**self.rules.table_parameters, **override.parameters}.items():
            parameters.setdefault(extra_key, value)
        fitted, issues = fit_parameters(parameters, owner=f"table {where}", asset=key)
        self.issues.extend(issues)

        text = override.description or asset.label or asset.business.label
        text = text or asset.business.description
        description = None
        if text:
            description, cut = truncate_utf8(text, MAX_DESCRIPTION_BYTES)
            if cut:
                self.issue("info", "truncated", key,
                           f"table {where}: description cut to {MAX_DESCRIPTION_BYTES} bytes "
                           f"(full text in {P.LABEL}/{P.DESCRIPTION})")
        storage = self.rules.storage_for(
            asset, database=database, table=name, env=self.env, override=override
        )
        return TableSpec(
            database=database,
            name=name,
            description=description,
            table_type="EXTERNAL_TABLE",
            columns=list(specs.values()),
            partition_keys=partition_keys,
            parameters=fitted,
            storage=storage,
            source=asset.ref,
            source_fingerprint=asset.fingerprint,
            priority=self.rules.priority_for(asset, override),
        )


def map_assets(
    assets: Iterable[Asset],
    rules: Rules,
    *,
    env: str,
    spaces: Iterable[Space] = (),
) -> MappingResult:
    """Map assets to Glue specs under ``rules`` for environment ``env`` (pure).

    ``spaces`` supplies space labels (database descriptions); without them a database is
    described as "SAP Datasphere space X". The result does not depend on the input order.
    """
    return _Mapper(rules, env, spaces).run(assets)

