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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import MappingError
from core.glue.limits import (
    MAX_COMMENT_BYTES,
    MAX_DESCRIPTION_BYTES,
    MAX_PARAMETER_KEY_BYTES,
    MAX_PARAMETER_VALUE_BYTES,
)
from core.lineage import impact_in
from core.models import (
    Asset,
    AssetKind,
    AssetRef,
    Column,
    DependencyKind,
    SemanticRole,
    Space,
    canonical_json,
    content_hash,
)
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
from core.textutil import truncate_utf8 as _truncate

from . import params as P
from .names import NameAllocator
from .rules import ColumnOverride, PartitionKey, ResolvedOverride, Rules
from .types import DecimalFloatSetting, glue_type

ELLIPSIS = "…"

Severity = Literal["info", "warning", "error"]


# -- small pure helpers ------------------------------------------------------------------------


def truncate_utf8(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` UTF-8 bytes with an ellipsis (:func:`core.textutil.truncate_utf8`),
    and whether it was cut."""
    cut = _truncate(text, limit, suffix=ELLIPSIS)
    return cut, cut != text


def split_utf8(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` UTF-8 bytes, on character boundaries."""
    parts: list[str] = []
    data = text.encode("utf-8")
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # inside a multi-byte char
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return parts or [""]


def _json(value: Any) -> str:
    return canonical_json(value)


def _dump(model: BaseModel) -> dict[str, Any]:
    """A model as JSON-ready dict without empty fields (compact Parameters); asset
    references (``AssetRef``) become ``SPACE.NAME`` strings."""
    data = model.model_dump(mode="json", exclude_none=True)
    for name in ("ref", "target"):
        value = getattr(model, name, None)
        if isinstance(value, AssetRef):
            data[name] = str(value)
    return {k: v for k, v in data.items() if v not in ([], {}, False)}


def fit_parameters(
    parameters: Mapping[str, str], *, owner: str, asset: str | None
) -> tuple[dict[str, str], list[MappingIssue]]:
    """Make every value fit Glue's 512,000-byte limit by splitting it into numbered parts.

    ``<key>`` is replaced by ``<key>.parts`` (the count) and ``<key>.part.1`` … ``.part.N``;
    reported as ``parameter_split``. A key longer than 255 bytes is dropped and reported.
    """
    # Fast path: a str of n characters has at most 4n UTF-8 bytes.
    if all(
        0 < len(k) <= MAX_PARAMETER_KEY_BYTES // 4 and len(v) <= MAX_PARAMETER_VALUE_BYTES // 4
        for k, v in parameters.items()
    ):
        return dict(sorted(parameters.items())), []
    out: dict[str, str] = {}
    issues: list[MappingIssue] = []
    for key, value in sorted(parameters.items()):
        if not 1 <= len(key.encode("utf-8")) <= MAX_PARAMETER_KEY_BYTES:
            issues.append(
                MappingIssue(
                    severity="warning", code="parameter_key_too_long", asset=asset,
                    message=f"{owner}: parameter key {key[:60]!r}… exceeds 255 bytes; dropped",
                )
            )
            continue
        size = len(value.encode("utf-8"))
        if size <= MAX_PARAMETER_VALUE_BYTES:
            out[key] = value
            continue
        parts = split_utf8(value, MAX_PARAMETER_VALUE_BYTES)
        out[key + P.PARTS_SUFFIX] = str(len(parts))
        for i, part in enumerate(parts, start=1):
            out[f"{key}{P.PART_INFIX}{i}"] = part
        issues.append(
            MappingIssue(
                severity="info", code="parameter_split", asset=asset,
                message=(
                    f"{owner}: parameter {key} is {size} bytes (> {MAX_PARAMETER_VALUE_BYTES}); "
                    f"split into {len(parts)} parts {key}{P.PART_INFIX}1..{len(parts)}"
                ),
            )
        )
    return dict(sorted(out.items())), issues


def join_parameter(parameters: Mapping[str, str], key: str) -> str | None:
    """Read back a parameter that :func:`fit_parameters` may have split."""
    if key in parameters:
        return parameters[key]
    count = parameters.get(key + P.PARTS_SUFFIX)
    if count is None:
        return None
    return "".join(parameters[f"{key}{P.PART_INFIX}{i}"] for i in range(1, int(count) + 1))


# -- flows -------------------------------------------------------------------------------------


def flow_ends(flow: Asset) -> tuple[list[AssetRef], list[AssetRef]]:
    """Sources and targets of a flow, from its definition and its dependencies."""
    sources: dict[AssetRef, None] = {}
    targets: dict[AssetRef, None] = {}
    if flow.flow is not None:
        sources.update(dict.fromkeys(flow.flow.sources))
        targets.update(dict.fromkeys(flow.flow.targets))
    for dep in flow.upstream:
        if dep.kind is DependencyKind.FLOW_TARGET:
            targets[dep.ref] = None
        else:
            sources[dep.ref] = None
    key = _ref_key
    return sorted(sources, key=key), sorted(targets, key=key)


def _ref_key(ref: AssetRef) -> tuple[str, str]:
    return (ref.space, ref.name)


# -- the mapper --------------------------------------------------------------------------------


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

        analytic_extra = self._analytic_columns(asset)
        specs: dict[str, ColumnSpec] = {}
        type_issues: list[str] = []
        for col in columns:
            specs[col.name] = self._column(
                asset, col, col_names[col.name], override.columns.get(col.name), setting,
                analytic_extra.get(col.name, {}), type_issues,
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

        parameters = self._table_parameters(
            asset, override, col_names, flows, flow_sources, type_issues
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

    def _analytic_columns(self, asset: Asset) -> dict[str, dict[str, str]]:
        """Column parameters an analytic model adds from its measures and attributes."""
        out: dict[str, dict[str, str]] = {}
        if asset.analytic is None:
            return out
        for m in asset.analytic.measures:
            extra = out.setdefault(m.name, {})
            if m.source and m.source_element:
                extra[P.SOURCE_ELEMENT] = f"{m.source}.{m.source_element}"
            elif m.source_element:
                extra[P.SOURCE_ELEMENT] = m.source_element
            if m.expression:
                extra[P.EXPRESSION] = m.expression
            if m.measure_type:
                extra[P.MEASURE_TYPE] = m.measure_type
            if m.aggregation:
                extra[P.AGGREGATION] = m.aggregation
        for a in asset.analytic.attributes:
            extra = out.setdefault(a.name, {})
            if a.source and a.source_element:
                extra[P.SOURCE_ELEMENT] = f"{a.source}.{a.source_element}"
        return out

    def _column(
        self,
        asset: Asset,
        col: Column,
        name: str,
        override: ColumnOverride | None,
        setting: DecimalFloatSetting,
        extra: Mapping[str, str],
        type_issues: list[str],
    ) -> ColumnSpec:
        key = asset.key
        result = glue_type(col.type, setting, measure=col.role is SemanticRole.MEASURE)
        glue = result.type
        if override is not None and override.type is not None:
            glue = override.type
        elif result.issue is not None:
            self.issue(result.severity, result.code or "type_fallback", key,
                       f"column {col.name!r}: {result.issue}")
            if result.severity == "warning":
                type_issues.append(col.name)
        text = override.comment if override is not None and override.comment else col.label
        comment = None
        if text:
            comment, cut = truncate_utf8(text, MAX_COMMENT_BYTES)
            if cut:
                self.issue("info", "truncated", key,
                           f"column {col.name!r}: comment cut to {MAX_COMMENT_BYTES} bytes "
                           f"(full label in {P.LABEL})")
        params: dict[str, str] = {
            P.NAME: col.name,
            P.CDS_TYPE: str(col.type),
            P.ROLE: col.role.value,
        }
        if col.type.edm_type:
            params[P.EDM_TYPE] = col.type.edm_type
        if col.type.srid is not None:
            params[P.SRID] = str(col.type.srid)
        if col.label:
            params[P.LABEL] = col.label
        if col.key:
            params[P.KEY] = "true"
        if not col.nullable:
            params[P.NOT_NULL] = "true"
        if col.aggregation:
            params[P.AGGREGATION] = col.aggregation
        if col.measure_type:
            params[P.MEASURE_TYPE] = col.measure_type
        for k, v in extra.items():
            params.setdefault(k, v)
        sem = col.semantics
        if sem:
            params[P.SEMANTICS] = _json(dict(sorted(sem.items())))
            if sem.get("amount.currencyCode"):
                params[P.CURRENCY] = sem["amount.currencyCode"]
            if sem.get("quantity.unitOfMeasure"):
                params[P.UNIT] = sem["quantity.unitOfMeasure"]
            if sem.get("currencyCode") == "true":
                params[P.IS_CURRENCY] = "true"
            if sem.get("unitOfMeasure") == "true":
                params[P.IS_UNIT] = "true"
            calendar = sorted(
                k for k, v in sem.items()
                if v != "false"
                and (k == "date" or k.startswith(("calendar.", "fiscal.", "businessDate.")))
            )
            if calendar:
                params[P.CALENDAR] = ",".join(calendar)
        if col.text_element:
            params[P.TEXT_ELEMENT] = col.text_element
        if col.foreign_key_target:
            params[P.FOREIGN_KEY] = col.foreign_key_target
        if col.text_target:
            params[P.TEXT_TARGET] = col.text_target
        if col.lineage:
            params[P.COLUMN_LINEAGE] = _json(col.lineage)
        fitted, issues = fit_parameters(params, owner=f"column {col.name!r}", asset=key)
        self.issues.extend(issues)
        # Built from validated parts; skip re-validation (thousands of columns per run).
        return ColumnSpec.model_construct(
            name=name, type=glue, comment=comment, parameters=fitted
        )

    def _table_parameters(
        self,
        asset: Asset,
        override: ResolvedOverride,
        col_names: Mapping[str, str],
        flows: list[dict[str, Any]],
        flow_sources: set[str],
        type_issues: list[str],
    ) -> dict[str, str]:
        b = asset.business
        priority = self.rules.priority_for(asset, override)
        params: dict[str, str] = {
            MANAGED_BY: MANAGED_BY_VALUE,
            SOURCE: asset.key,
            SOURCE_KIND: asset.kind.value,
            SOURCE_FINGERPRINT: asset.fingerprint,
            P.SPACE: asset.space,
            P.NAME: asset.name,
            P.PRIORITY: priority.value,
            P.EXPOSED: "true" if b.exposed else "false",
        }
        label = asset.label or b.label
        if label:
            params[P.LABEL] = label
        if b.description:
            params[P.DESCRIPTION] = b.description
        if b.modeling_pattern:
            params[P.MODELING_PATTERN] = b.modeling_pattern
        if b.dimension_type:
            params[P.DIMENSION_TYPE] = b.dimension_type
        if b.supported_capabilities:
            params[P.CAPABILITIES] = _json(b.supported_capabilities)
        if b.sql:
            params[P.SQL] = b.sql

        def glue_col(technical: str) -> str | None:
            return col_names.get(technical)

        keys = [col_names[c.name] for c in asset.columns if c.key and c.name in col_names]
        if keys:
            params[P.PRIMARY_KEY] = _json(list(dict.fromkeys(keys)))
        dims = [col_names[c.name] for c in asset.dimensions if c.name in col_names]
        if dims:
            params[P.DIMENSIONS] = _json(list(dict.fromkeys(dims)))

        analytic = asset.analytic
        measures: list[dict[str, Any]] = []
        if analytic is not None and analytic.measures:
            for m in analytic.measures:
                item = _dump(m)
                column = glue_col(m.name)
                if column:
                    item["column"] = column
                measures.append(item)
        else:
            for c in asset.measures:
                item = {"name": c.name, "column": col_names.get(c.name, c.name)}
                if c.label:
                    item["label"] = c.label
                if c.aggregation:
                    item["aggregation"] = c.aggregation
                if c.measure_type:
                    item["measure_type"] = c.measure_type
                measures.append(item)
        if measures:
            params[P.MEASURES] = _json(measures)
        if analytic is not None:
            if analytic.attributes:
                attrs = []
                for a in analytic.attributes:
                    item = _dump(a)
                    column = glue_col(a.name)
                    if column:
                        item["column"] = column
                    attrs.append(item)
                params[P.ATTRIBUTES] = _json(attrs)
            if analytic.fact_sources:
                params[P.FACT_SOURCES] = _json([_dump(s) for s in analytic.fact_sources])
            if analytic.dimension_sources:
                params[P.DIMENSION_SOURCES] = _json(
                    [_dump(s) for s in analytic.dimension_sources]
                )
            if analytic.variables:
                params[P.VARIABLES] = _json([_dump(v) for v in analytic.variables])
        if asset.hierarchies:
            params[P.HIERARCHIES] = _json([_dump(h) for h in asset.hierarchies])
        if asset.parameters:
            params[P.INPUT_PARAMETERS] = _json([_dump(v) for v in asset.parameters])
        if asset.associations:
            params[P.ASSOCIATIONS] = _json([_dump(a) for a in asset.associations])

        # Lineage means data flow: associations and mixins are in dgsync.associations.
        upstream = {str(d.ref) for d in asset.upstream if d.kind.is_data_flow} | flow_sources
        upstream.discard(asset.key)
        if upstream:
            params[P.UPSTREAM] = _json(sorted(upstream))
        if flows:
            params[P.LINEAGE_FLOWS] = _json(flows)
        if type_issues:
            params[P.TYPE_ISSUES] = _json([col_names.get(c, c) for c in type_issues])
        return params


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


class AssetPreview(BaseModel):
    """How one asset maps: what ``dgsync rules test`` shows."""

    model_config = ConfigDict(extra="forbid")

    asset: str
    kind: AssetKind
    database: DatabaseSpec | None = None
    table: TableSpec | None = None
    skipped: str | None = None
    note: str | None = None
    lineage: list[LineageEdge] = Field(default_factory=list)
    issues: list[MappingIssue] = Field(default_factory=list)
    overrides: list[int] = Field(default_factory=list)


def map_asset_preview(
    asset: Asset,
    rules: Rules,
    env: str,
    *,
    others: Iterable[Asset] = (),
    spaces: Iterable[Space] = (),
) -> AssetPreview:
    """Map ``asset`` (with ``others`` as context: name collisions, flows) and keep its part."""
    context = [a for a in others if a.key != asset.key]
    result = map_assets([asset, *context], rules, env=env, spaces=spaces)
    key = asset.key
    table = next((t for t in result.tables if str(t.source) == key), None)
    database = None
    if table is not None:
        database = next((d for d in result.databases if d.name == table.database), None)
    note = None
    if asset.kind.is_flow and key not in result.skipped:
        note = (
            f"a {asset.kind.value.replace('_', ' ')} is not a table: it becomes lineage edges and "
            f"a {P.LINEAGE_FLOWS} entry on its target tables"
        )
    lineage = [
        e for e in result.lineage
        if key in (str(e.upstream), str(e.downstream)) or (e.via is not None and str(e.via) == key)
    ]
    return AssetPreview(
        asset=key,
        kind=asset.kind,
        database=database,
        table=table,
        skipped=result.skipped.get(key),
        note=note,
        lineage=lineage,
        issues=[i for i in result.issues if i.asset == key],
        overrides=rules.override_for(asset).matched,
    )


# -- impact analysis ---------------------------------------------------------------------------


def downstream_graph(assets: Iterable[Asset]) -> dict[str, set[str]]:
    """``SPACE.NAME`` → the assets that read from it directly (flows included as nodes)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for asset in assets:
        if asset.kind.is_flow:
            sources, targets = flow_ends(asset)
            for s in sources:
                graph[str(s)].add(asset.key)
            for t in targets:
                graph[asset.key].add(str(t))
            continue
        for dep in asset.upstream:
            if dep.kind is DependencyKind.FLOW_TARGET:
                graph[asset.key].add(str(dep.ref))
            else:
                graph[str(dep.ref)].add(asset.key)
    for node in graph.values():
        node.discard("")
    return graph


def impact(changed: set[str], assets: Iterable[Asset]) -> dict[str, list[str]]:
    """For each changed asset key, every asset downstream of it (transitively), sorted.

    Dependencies are followed from upstream to downstream: a view read by two analytic models
    impacts both; a table read by a data flow impacts the flow and the flow's target tables.
    Use :func:`impacted_tables` to turn the keys into Glue tables.
    """
    return impact_in(downstream_graph(assets), changed)


def impacted_tables(
    impact_map: Mapping[str, list[str]], mapping: MappingResult
) -> dict[str, list[str]]:
    """For each changed key, the Glue tables (``database.table``) of it and its downstream."""
    table_of = {str(t.source): t.key for t in mapping.tables}
    out: dict[str, list[str]] = {}
    for start, downstream in impact_map.items():
        keys = [start, *downstream]
        out[start] = sorted({table_of[k] for k in keys if k in table_of})
    return out
