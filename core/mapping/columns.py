"""The parts of one Glue table built from an asset: its columns (type, comment, column
Parameters) and its table Parameters (``dgsync.*``: source, business context, lineage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.glue.limits import MAX_COMMENT_BYTES
from core.models import Asset, Column, SemanticRole
from core.specs import (
    MANAGED_BY,
    MANAGED_BY_VALUE,
    SOURCE,
    SOURCE_FINGERPRINT,
    SOURCE_KIND,
    ColumnSpec,
    MappingIssue,
)

from . import params as P
from .fit import compact_dump, fit_parameters, json_text, truncate_utf8
from .rules import ColumnOverride, ResolvedOverride, Rules
from .types import DecimalFloatSetting, glue_type


def analytic_columns(asset: Asset) -> dict[str, dict[str, str]]:
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

def column_spec(
    asset: Asset,
    col: Column,
    name: str,
    override: ColumnOverride | None,
    setting: DecimalFloatSetting,
    extra: Mapping[str, str],
    type_issues: list[str],
    issues: list[MappingIssue],
) -> ColumnSpec:
    """The Glue column of ``col`` (named ``name``); problems are appended to ``issues``."""
    key = asset.key
    result = glue_type(col.type, setting, measure=col.role is SemanticRole.MEASURE)
    glue = result.type
    if override is not None and override.type is not None:
        glue = override.type
    elif result.issue is not None:
        issues.append(MappingIssue(
            severity=result.severity, code=result.code or "type_fallback", asset=key,
            message=f"column {col.name!r}: {result.issue}",
        ))
        if result.severity == "warning":
            type_issues.append(col.name)
    text = override.comment if override is not None and override.comment else col.label
    comment = None
    if text:
        comment, cut = truncate_utf8(text, MAX_COMMENT_BYTES)
        if cut:
            issues.append(MappingIssue(
                severity="info", code="truncated", asset=key,
                message=f"column {col.name!r}: comment cut to {MAX_COMMENT_BYTES} bytes "
                f"(full label in {P.LABEL})",
            ))
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
        params[P.SEMANTICS] = json_text(dict(sorted(sem.items())))
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
        params[P.COLUMN_LINEAGE] = json_text(col.lineage)
    fitted, found = fit_parameters(params, owner=f"column {col.name!r}", asset=key)
    issues.extend(found)
    # Built from validated parts; skip re-validation (thousands of columns per run).
    return ColumnSpec.model_construct(
        name=name, type=glue, comment=comment, parameters=fitted
    )

def table_parameters(
    rules: Rules,
    asset: Asset,
    override: ResolvedOverride,
    col_names: Mapping[str, str],
    flows: list[dict[str, Any]],
    flow_sources: set[str],
    type_issues: list[str],
) -> dict[str, str]:
    """The ``dgsync.*`` Parameters of a table: source, business context, semantics, lineage."""
    b = asset.business
    priority = rules.priority_for(asset, override)
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
        params[P.CAPABILITIES] = json_text(b.supported_capabilities)
    if b.sql:
        params[P.SQL] = b.sql

    def glue_col(technical: str) -> str | None:
        return col_names.get(technical)

    keys = [col_names[c.name] for c in asset.columns if c.key and c.name in col_names]
    if keys:
        params[P.PRIMARY_KEY] = json_text(list(dict.fromkeys(keys)))
    dims = [col_names[c.name] for c in asset.dimensions if c.name in col_names]
    if dims:
        params[P.DIMENSIONS] = json_text(list(dict.fromkeys(dims)))

    analytic = asset.analytic
    measures: list[dict[str, Any]] = []
    if analytic is not None and analytic.measures:
        for m in analytic.measures:
            item = compact_dump(m)
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
        params[P.MEASURES] = json_text(measures)
    if analytic is not None:
        if analytic.attributes:
            attrs = []
            for a in analytic.attributes:
                item = compact_dump(a)
                column = glue_col(a.name)
                if column:
                    item["column"] = column
                attrs.append(item)
            params[P.ATTRIBUTES] = json_text(attrs)
        if analytic.fact_sources:
            params[P.FACT_SOURCES] = json_text([compact_dump(s) for s in analytic.fact_sources])
        if analytic.dimension_sources:
            params[P.DIMENSION_SOURCES] = json_text(
                [compact_dump(s) for s in analytic.dimension_sources]
            )
        if analytic.variables:
            params[P.VARIABLES] = json_text([compact_dump(v) for v in analytic.variables])
    if asset.hierarchies:
        params[P.HIERARCHIES] = json_text([compact_dump(h) for h in asset.hierarchies])
    if asset.parameters:
        params[P.INPUT_PARAMETERS] = json_text([compact_dump(v) for v in asset.parameters])
    if asset.associations:
        params[P.ASSOCIATIONS] = json_text([compact_dump(a) for a in asset.associations])

    # Lineage means data flow: associations and mixins are in dgsync.associations.
    upstream = {str(d.ref) for d in asset.upstream if d.kind.is_data_flow} | flow_sources
    upstream.discard(asset.key)
    if upstream:
        params[P.UPSTREAM] = json_text(sorted(upstream))
    if flows:
        params[P.LINEAGE_FLOWS] = json_text(flows)
    if type_issues:
        params[P.TYPE_ISSUES] = json_text([col_names.get(c, c) for c in type_issues])
    return params
