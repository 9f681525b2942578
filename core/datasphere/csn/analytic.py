"""Analytic models in the CSN parser: the ``businessLayerDefinitions`` entry (sources,
attributes, measures, variables) and the typing of analytic-model columns from their
sources (:func:`resolve_analytic_types`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from core.datasphere.csn.columns import ColumnParser
from core.datasphere.csn.values import UNRESOLVED_TYPE, annotation_text, enum_value, str_or_none
from core.errors import CsnError
from core.models import (
    AnalyticDefinition,
    Asset,
    AssetRef,
    Attribute,
    Column,
    Measure,
    SourceRef,
    Variable,
)

#: How deep a source column's type is followed through views' ``from`` chains.
_MAX_CHAIN = 8

#: Prefix of the parse-time note on analytic-model columns without a CSN type.
UNTYPED_NOTE = "column types not in the CSN"


def _items(me: AssetRef, value: Any, where: str) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise CsnError(f"{me}: businessLayerDefinitions {where} is not an object")
    return [(str(k), v) for k, v in value.items()]


def _short_enum(value: Any) -> str | None:
    """``AnalyticModelMeasureType.FactSourceMeasure`` → ``FactSourceMeasure``."""
    text = enum_value(value)
    if text is None:
        return None
    return text.rsplit(".", 1)[-1]


def _canon(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _mapped_source(spec: dict[str, Any], key: str) -> tuple[str | None, str | None]:
    """``{key: {alias: {"key": EL}}}`` or ``sourceKey`` + ``key`` → ``(alias, EL)``."""
    mapping = spec.get(key)
    if isinstance(mapping, dict) and mapping:
        alias, target = next(iter(mapping.items()))
        element = target.get("key") if isinstance(target, dict) else target
        return str(alias), str_or_none(element)
    return str_or_none(spec.get("sourceKey")), str_or_none(spec.get("key"))


def _attribute_source(spec: dict[str, Any]) -> tuple[str | None, str | None]:
    return _mapped_source(spec, "attributeMapping")


def _lineage_target(lineage: str, candidates: Iterable[AssetRef]) -> tuple[AssetRef, str] | None:
    """``SPACE.ASSET.COLUMN`` → ``(ref, COLUMN)`` for the candidate ref it starts with.

    Names may contain dots, so the split is decided by the known upstream refs (the longest
    match wins), never guessed."""
    best: tuple[AssetRef, str] | None = None
    for ref in candidates:
        prefix = f"{ref}."
        longer = best is None or len(str(ref)) > len(str(best[0]))
        if lineage.startswith(prefix) and len(lineage) > len(prefix) and longer:
            best = (ref, lineage[len(prefix) :])
    return best


def _source_column(
    ref: AssetRef,
    element: str,
    lookup: Callable[[AssetRef], Asset | None],
    depth: int = 0,
) -> tuple[Column, str] | None:
    """The typed column ``element`` of source ``ref`` and its ``SPACE.ASSET.COLUMN``.

    A source column without a type of its own (a view over another view) is followed
    through its column lineage to the object its ``from`` names, up to :data:`_MAX_CHAIN`
    steps."""
    src = lookup(ref)
    if src is None:
        return None
    col = next((c for c in src.columns if c.name == element), None)
    if col is None:
        return None
    if col.type.name != UNRESOLVED_TYPE:
        return col, f"{ref}.{element}"
    if depth >= _MAX_CHAIN or len(col.lineage) != 1:
        return None
    target = _lineage_target(col.lineage[0], (d.ref for d in src.upstream))
    if target is None:
        return None
    found = _source_column(target[0], target[1], lookup, depth + 1)
    return None if found is None else (col.model_copy(update={"type": found[0].type}), found[1])


def resolve_columns(
    columns: list[Column], analytic: AnalyticDefinition, lookup: Callable[[AssetRef], Asset | None]
) -> list[Column]:
    """Type untyped analytic-model columns from their sources.

    A column mapped by the business layer (``attributeMapping`` / ``measureMapping`` /
    ``sourceKey`` + ``key``) takes the type of that source's column; a column without a
    mapping follows its own query lineage (``{ref: [alias, element], as: name}``) to a fact or
    dimension source. Source columns without a type are followed through their views'
    ``from`` chains (:func:`_source_column`). A restricted measure takes its base measure's
    type. Each typed column records ``type_origin``; ``lookup`` is only called for sources a
    still untyped column needs."""
    sources = {s.alias: s.ref for s in [*analytic.fact_sources, *analytic.dimension_sources]}
    source_refs = list(dict.fromkeys(sources.values()))
    mapping: dict[str, tuple[str, str]] = {}
    for attr in analytic.attributes:
        if attr.source and attr.source_element:
            mapping[attr.name] = (attr.source, attr.source_element)
    measure_base: dict[str, str] = {}
    for m in analytic.measures:
        if m.source and m.source_element and m.source in sources:
            mapping[m.name] = (m.source, m.source_element)
        elif m.source_element:
            measure_base[m.name] = m.source_element  # restricted measure over another measure
    out: list[Column] = []
    by_name: dict[str, Column] = {}
    for col in columns:
        new = col
        if col.type.name == UNRESOLVED_TYPE:
            target: tuple[AssetRef, str] | None = None
            if col.name in mapping:
                alias, element = mapping[col.name]
                ref = sources.get(alias)
                target = None if ref is None else (ref, element)
            elif col.name not in measure_base and len(col.lineage) == 1:
                target = _lineage_target(col.lineage[0], source_refs)
            found = None if target is None else _source_column(target[0], target[1], lookup)
            if found is not None and target is not None:
                src_col, origin = found
                new = col.model_copy(
                    update={
                        "type": src_col.type,
                        "type_origin": f"source:{origin}",
                        "label": col.label or src_col.label,
                        "lineage": col.lineage or [f"{target[0]}.{target[1]}"],
                    }
                )
        by_name[col.name] = new
        out.append(new)
    for i, col in enumerate(out):
        base = measure_base.get(col.name)
        if col.type.name == UNRESOLVED_TYPE and base and base in by_name:
            base_col = by_name[base]
            if base_col.type.name != UNRESOLVED_TYPE:
                out[i] = col.model_copy(
                    update={
                        "type": base_col.type,
                        "type_origin": f"measure:{base}",
                        "lineage": col.lineage or base_col.lineage,
                    }
                )
    return out


def resolve_analytic_types(asset: Asset, lookup: Callable[[AssetRef], Asset | None]) -> Asset:
    """Fill unresolved analytic-model column types from their fact/dimension sources.

    ``lookup`` returns a source asset (any space) or ``None`` when it has none; it is called
    only for the sources still untyped columns map to (and, for source columns without a
    type, the objects their views read from). Returns a new asset (fingerprint recomputed);
    columns that stay unresolved keep :data:`UNRESOLVED_TYPE` and are listed in a warning.
    The result depends only on the asset and what ``lookup`` returns — never on the order
    or path that produced them."""
    if asset.analytic is None or not any(c.type.name == UNRESOLVED_TYPE for c in asset.columns):
        return asset
    columns = resolve_columns(asset.columns, asset.analytic, lookup)
    warnings = [w for w in asset.warnings if not w.startswith(UNTYPED_NOTE)]
    missing = [c.name for c in columns if c.type.name == UNRESOLVED_TYPE]
    if missing:
        warnings.append(
            f"{UNTYPED_NOTE} (resolved from sources or $metadata): " + ", ".join(missing)
        )
    return refingerprint(asset.model_copy(update={"columns": columns, "warnings": warnings}))


def refingerprint(asset: Asset) -> Asset:
    """Recompute ``asset.fingerprint`` after a change (``model_copy`` does not)."""
    asset.fingerprint = asset.compute_fingerprint()
    return asset


class AnalyticParser(ColumnParser):
    """Reads the business-layer definition of an analytic model."""

    def _analytic(self, me: AssetRef, name: str) -> AnalyticDefinition:
        entry = self.bld.get(name)
        if entry is None:
            return AnalyticDefinition()
        if not isinstance(entry, dict):
            raise CsnError(f"{me}: businessLayerDefinitions entry is not an object")
        model = entry.get("sourceModel", {}) or {}
        if not isinstance(model, dict):
            raise CsnError(f"{me}: businessLayerDefinitions.sourceModel is not an object")

        def source(alias: str, spec: Any, where: str) -> SourceRef:
            if not isinstance(spec, dict):
                raise CsnError(f"{me}: {where} {alias!r} is not an object")
            entity = spec.get("dataEntity")
            key = entity.get("key") if isinstance(entity, dict) else None
            if not isinstance(key, str) or not key:
                raise CsnError(f"{me}: {where} {alias!r} has no dataEntity.key")
            via: str | None = None
            steps: list[str] = []
            contexts = spec.get("associationContexts")
            if isinstance(contexts, list) and contexts and isinstance(contexts[0], dict):
                via = str_or_none(contexts[0].get("sourceKey"))
                steps = [str(s) for s in contexts[0].get("associationSteps") or []]
            return SourceRef(
                alias=alias,
                ref=self.resolver.ref(key),
                label=str_or_none(spec.get("text")),
                via=via,
                association_steps=steps,
            )

        facts = [
            source(a, s, "fact source")
            for a, s in _items(me, model.get("factSources"), "factSources")
        ]
        dims = [
            source(a, s, "dimension source")
            for a, s in _items(me, model.get("dimensionSources"), "dimensionSources")
        ]

        attributes: list[Attribute] = []
        for attr_name, spec in _items(me, entry.get("attributes"), "attributes"):
            if not isinstance(spec, dict):
                raise CsnError(f"{me}: attribute {attr_name!r} is not an object")
            src, el = _attribute_source(spec)
            attributes.append(
                Attribute(
                    name=attr_name,
                    label=str_or_none(spec.get("text")),
                    attribute_type=_short_enum(spec.get("attributeType")),
                    source=src,
                    source_element=el,
                )
            )
        measures: list[Measure] = []
        elements = self.defs.get(name, {}).get("elements") or {}
        for m_name, spec in _items(me, entry.get("measures"), "measures"):
            if not isinstance(spec, dict):
                raise CsnError(f"{me}: measure {m_name!r} is not an object")
            expression = spec.get("formula", spec.get("expression", spec.get("formulaRaw")))
            distinct = spec.get("countDistinctAttributes")
            if expression is None and isinstance(distinct, list) and distinct:
                expression = f"COUNT(DISTINCT {', '.join(str(a) for a in distinct)})"
            # BL 1.7.0: measureMapping.<factAlias>.key; BL 1.3.1: sourceKey + key.
            m_source, m_element = _mapped_source(spec, "measureMapping")
            found = elements.get(m_name)
            element: dict[str, Any] = found if isinstance(found, dict) else {}
            measures.append(
                Measure(
                    name=m_name,
                    label=str_or_none(spec.get("text")),
                    measure_type=_short_enum(spec.get("measureType")),
                    aggregation=_short_enum(
                        spec.get("aggregation")
                        or spec.get("exceptionAggregationType")
                        or element.get("@Aggregation.default")
                    ),
                    source=m_source,
                    source_element=m_element,
                    expression=None
                    if expression is None
                    else (expression if isinstance(expression, str) else _canon(expression)),
                    is_auxiliary=bool(spec.get("isAuxiliary", False)),
                )
            )
        variables: list[Variable] = []
        for v_name, spec in _items(me, entry.get("variables"), "variables"):
            if not isinstance(spec, dict):
                raise CsnError(f"{me}: variable {v_name!r} is not an object")
            default = spec.get("defaultValue", spec.get("default"))
            data_type = spec.get("dataType")
            type_spec = data_type if isinstance(data_type, dict) else spec
            vtype = type_spec.get("type") if isinstance(type_spec.get("type"), str) else None
            variables.append(
                Variable(
                    name=v_name,
                    label=str_or_none(spec.get("text")),
                    variable_type=_short_enum(
                        spec.get("parameterType") or spec.get("variableType")
                    ),
                    type=self._cds_type(me, f"variable {v_name}", type_spec, [], untyped_ok=True)
                    if vtype and vtype.startswith(("cds.", "hana."))
                    else None,
                    default=None if default is None else annotation_text(default),
                    mandatory=bool(spec.get("mandatory", spec.get("isMandatory", False))),
                )
            )
        # Canonical order (the fingerprint must not depend on JSON key order): sources by
        # alias, attributes and measures in column order; variables keep their declared order.
        position = {el: i for i, el in enumerate(elements)}

        def by_column(item: Attribute | Measure) -> tuple[int, str]:
            return (position.get(item.name, len(position)), item.name)

        return AnalyticDefinition(
            fact_sources=sorted(facts, key=lambda s: s.alias),
            dimension_sources=sorted(dims, key=lambda s: s.alias),
            attributes=sorted(attributes, key=by_column),
            measures=sorted(measures, key=by_column),
            variables=variables,
        )
