"""Entities' elements in the CSN parser: CDS types and facets, columns with their
semantics, associations, hierarchies and parameters."""

from __future__ import annotations

from typing import Any

from core.datasphere.csn.resolution import ParserState
from core.datasphere.csn.values import (
    UNRESOLVED_TYPE,
    annotation_text,
    as_list,
    element_ref,
    enum_value,
    flatten,
    segment,
    str_or_none,
    truthy,
)
from core.errors import CsnError
from core.models import AssetRef, Association, CdsType, Column, Hierarchy, SemanticRole, Variable

_RELATIONSHIP_TYPES = frozenset({"cds.Association", "cds.Composition"})
_FACETS = ("length", "precision", "scale", "srid")
#: Non-integer scales CDS allows for floating decimals; they carry no fixed scale.
_SYMBOLIC_SCALES = frozenset({"floating", "variable"})


def normalize_type_name(name: str) -> str:
    """One spelling per type: ``hana.TINYINT`` → ``cds.hana.TINYINT`` (the CDS compiler's)."""
    if name.startswith("hana."):
        return "cds." + name
    return name


def _on_pairs(assoc: str, on: Any) -> list[tuple[str, str]]:
    """``[{ref:[A]}, "=", {ref:[assoc, B]}, "and", ...]`` → ``[(A, B), ...]`` where simple."""
    if not isinstance(on, list):
        return []
    pairs: list[tuple[str, str]] = []
    i = 0
    while i + 2 < len(on):
        left, op, right = on[i], on[i + 1], on[i + 2]
        if op == "=" and isinstance(left, dict) and isinstance(right, dict):
            lref = [segment(s) for s in left.get("ref") or []]
            rref = [segment(s) for s in right.get("ref") or []]
            if lref and rref and rref[0] == assoc and lref[0] != assoc:
                pairs.append((lref[-1], ".".join(rref[1:])))
            elif lref and rref and lref[0] == assoc and rref[0] != assoc:
                pairs.append((rref[-1], ".".join(lref[1:])))
        i += 4  # skip the "and"
    return pairs


class ColumnParser(ParserState):
    """Parses the elements and element-level annotations of an entity."""

    @staticmethod
    def _is_relationship(el: dict[str, Any]) -> bool:
        kind = el.get("type")  # may be a "type of" reference object: not a relationship
        return (isinstance(kind, str) and kind in _RELATIONSHIP_TYPES) or (
            "target" in el and "type" not in el
        )

    def _association(self, me: AssetRef, el_name: str, el: dict[str, Any]) -> Association:
        target = el.get("target")
        if not isinstance(target, str) or not target:
            raise CsnError(f"{me}: association {el_name!r} has no target")
        card = el.get("cardinality")
        cardinality: str | None = None
        if isinstance(card, dict) and "max" in card:
            cardinality = f"{card.get('min', 0)}..{card['max']}"
        return Association(
            name=el_name,
            target=self.resolver.ref(target),
            label=str_or_none(el.get("@EndUserText.label")),
            cardinality=cardinality,
            on=_on_pairs(el_name, el.get("on")),
        )

    def _cds_type(
        self,
        me: AssetRef,
        el_name: str,
        el: dict[str, Any],
        warnings: list[str],
        *,
        untyped_ok: bool,
        depth: int = 0,
    ) -> CdsType:
        raw = el.get("type")
        facets: dict[str, int | None] = {}
        for facet in _FACETS:
            value = el.get(facet)
            if value is None:
                continue
            if isinstance(value, bool):
                raise CsnError(f"{me}: element {el_name!r} has a non-integer {facet} {value!r}")
            if isinstance(value, int):
                facets[facet] = value
            elif isinstance(value, str) and value.isdigit():
                facets[facet] = int(value)
            elif facet == "scale" and value in _SYMBOLIC_SCALES:
                facets[facet] = None
            else:
                raise CsnError(f"{me}: element {el_name!r} has a non-integer {facet} {value!r}")
        if raw is None:
            if untyped_ok:
                return CdsType(name=UNRESOLVED_TYPE)
            if "items" in el:
                warnings.append(f"element {el_name!r} is an array; kept as cds.LargeString")
                return CdsType(name="cds.LargeString")
            raise CsnError(f"{me}: element {el_name!r} has no type")
        if isinstance(raw, dict):
            # ``type: {ref: [Entity, element]}`` ("type of"): look it up in this document.
            ref = raw.get("ref")
            if isinstance(ref, list) and len(ref) >= 2:
                src = self.defs.get(segment(ref[0]), {}).get("elements", {}).get(segment(ref[-1]))
                if isinstance(src, dict) and depth < 8:
                    return self._cds_type(
                        me,
                        el_name,
                        {**src, **{k: v for k, v in el.items() if k in _FACETS}},
                        warnings,
                        untyped_ok=untyped_ok,
                        depth=depth + 1,
                    )
            warnings.append(
                f"element {el_name!r}: type reference {raw!r} not resolvable; kept as unresolved"
            )
            return CdsType(name=UNRESOLVED_TYPE)
        if not isinstance(raw, str):
            raise CsnError(f"{me}: element {el_name!r} has a type of kind {type(raw).__name__}")
        if not raw.startswith(("cds.", "hana.")):
            # A user-defined type (``kind: type``) of this document: inherit its type and facets.
            typedef = self.defs.get(raw)
            if isinstance(typedef, dict) and typedef.get("kind") == "type" and depth < 8:
                merged = {**typedef, **{k: v for k, v in el.items() if k in _FACETS}}
                return self._cds_type(
                    me, el_name, merged, warnings, untyped_ok=untyped_ok, depth=depth + 1
                )
            warnings.append(f"element {el_name!r} has unknown type {raw!r}")
        return CdsType(name=normalize_type_name(raw), **facets)

    def _column(
        self,
        me: AssetRef,
        el_name: str,
        el: dict[str, Any],
        assoc_targets: dict[str, AssetRef],
        lineage: list[str],
        warnings: list[str],
        *,
        untyped_ok: bool,
    ) -> Column:
        measure_type = enum_value(el.get("@AnalyticsDetails.measureType"))
        aggregation = enum_value(el.get("@Aggregation.default"))
        if measure_type is not None or (aggregation is not None and aggregation != "NONE"):
            role = SemanticRole.MEASURE
        elif truthy(el.get("@Analytics.dimension")):
            role = SemanticRole.DIMENSION
        elif truthy(el.get("@Semantics.text")):
            role = SemanticRole.TEXT
        else:
            role = SemanticRole.ATTRIBUTE
        semantics: dict[str, str] = {}
        for key, value in el.items():
            if key == "@Semantics":
                flatten("", value, semantics)
            elif key.startswith("@Semantics."):
                flatten(key[len("@Semantics.") :], value, semantics)

        def target_of(annotation: str) -> str | None:
            assoc = element_ref(el.get(annotation))
            if assoc is None:
                return None
            if assoc in assoc_targets:
                return str(assoc_targets[assoc])
            warnings.append(
                f"column {el_name!r}: {annotation} names {assoc!r}, which is not an association here"
            )
            return None

        is_key = bool(el.get("key", False))
        cds_type = self._cds_type(me, el_name, el, warnings, untyped_ok=untyped_ok)
        return Column(
            name=el_name,
            label=str_or_none(el.get("@EndUserText.label")),
            type=cds_type,
            type_origin=None if cds_type.name == UNRESOLVED_TYPE else "csn",
            key=is_key,
            nullable=not (is_key or bool(el.get("notNull", False))),
            role=role,
            aggregation=aggregation,
            measure_type=measure_type,
            semantics=semantics,
            text_element=element_ref(el.get("@ObjectModel.text.element")),
            foreign_key_target=target_of("@ObjectModel.foreignKey.association"),
            text_target=target_of("@ObjectModel.text.association"),
            lineage=lineage,
        )

    # ---------------------------------------------------------------- entity annotations
    @staticmethod
    def _capabilities(value: Any) -> list[str]:
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return [v for v in (enum_value(i) for i in items) if v]

    def _hierarchies(self, me: AssetRef, body: dict[str, Any]) -> list[Hierarchy]:
        out: list[Hierarchy] = []
        for spec in as_list(body.get("@Hierarchy.leveled")):
            if not isinstance(spec, dict):
                raise CsnError(f"{me}: @Hierarchy.leveled entry is not an object")
            levels = []
            for level in as_list(spec.get("levels")):
                element = element_ref(level.get("element") if isinstance(level, dict) else level)
                if element is None:
                    raise CsnError(
                        f"{me}: hierarchy {spec.get('name')!r} has a level without element"
                    )
                levels.append(element)
            out.append(
                Hierarchy(
                    name=str(spec.get("name") or ""),
                    label=str_or_none(spec.get("label")),
                    kind="leveled",
                    levels=levels,
                )
            )
        for spec in as_list(body.get("@Hierarchy.parentChild")):
            if not isinstance(spec, dict):
                raise CsnError(f"{me}: @Hierarchy.parentChild entry is not an object")
            recurse = spec.get("recurse", spec)
            if not isinstance(recurse, dict):
                raise CsnError(
                    f"{me}: parent-child hierarchy {spec.get('name')!r} has no 'recurse'"
                )
            parent = [e for e in (element_ref(p) for p in as_list(recurse.get("parent"))) if e]
            child = [e for e in (element_ref(c) for c in as_list(recurse.get("child"))) if e]
            out.append(
                Hierarchy(
                    name=str(spec.get("name") or ""),
                    label=str_or_none(spec.get("label")),
                    kind="parent_child",
                    parent=parent,
                    child=child,
                )
            )
        return out

    def _params(self, me: AssetRef, params: Any) -> list[Variable]:
        if params is None:
            return []
        if not isinstance(params, dict):
            raise CsnError(f"{me}: 'params' is not an object")
        out = []
        for name, p in params.items():
            if not isinstance(p, dict):
                raise CsnError(f"{me}: parameter {name!r} is not an object")
            default = p.get("default")
            if isinstance(default, dict):
                default = default.get("val", default.get("#"))
            out.append(
                Variable(
                    name=name,
                    label=str_or_none(p.get("@EndUserText.label")),
                    variable_type="parameter",
                    type=self._cds_type(me, f"param {name}", p, [], untyped_ok=True)
                    if p.get("type")
                    else None,
                    default=None if default is None else annotation_text(default),
                    mandatory=default is None and not p.get("@Consumption.defaultValue"),
                )
            )
        return out
