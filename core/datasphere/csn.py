"""CSN → domain assets. Pure: no I/O, no globals, no clock.

:func:`parse_csn` turns one CSN document (a design-time read, or an export with many
definitions) into :class:`~core.models.Asset` objects of one space:

* ``kind: "entity"`` definitions become tables, views or analytic models; ``kind: "context"``
  definitions are namespaces (and, with ``@DataWarehouse.space.name``, space markers), never
  assets; flows (``sap.dis.dataflow``, ``sap.dis.transformationflow``,
  ``sap.dis.replicationflow``, ``sap.dwc.taskChain``) become flow assets.
* Elements become :class:`~core.models.Column` objects, except ``cds.Association`` /
  ``cds.Composition`` elements, which become :class:`~core.models.Association` objects.
* Dependencies come from ``query`` (``from`` refs, joins, nested selects, subqueries, unions,
  mixins), association targets, analytic-model sources and flow sources/targets.
* Every dotted name (definitions, ``from``/joins/unions, associations, mixins,
  analytic-model sources, flow sources/targets) is resolved by the one rule of
  :mod:`core.datasphere.identity`: ``FINANCE.SALES_ALL`` → space ``FINANCE``, name
  ``SALES_ALL`` when ``FINANCE`` is a space (a context with ``@DataWarehouse.space.name``
  in this or any document read this run, a catalog space, a space the tenant refused);
  ``SAP.TIME.M_TIME_DIMENSION`` is one name of the current space when ``SAP`` is a
  namespace context or no space. Definitions that live in another space (exports carry
  them as context for their consumers) are not returned by a whole-document parse; asked
  for by ``name`` they are returned with their owner's space.
* Only data flow (``from``/joins/unions, fact/dimension sources, flow sources) is a
  data-flow dependency; association targets and mixin targets stay ``ASSOCIATION`` /
  ``MIXIN`` dependencies (:attr:`~core.models.DependencyKind.is_data_flow`).

Analytic models carry untyped elements; their columns get the placeholder type
:data:`UNRESOLVED_TYPE` unless the same document defines the source. The extractor calls
:func:`resolve_analytic_types` with the assets it has, then falls back to the analytical
``$metadata``.

Malformed input raises :class:`~core.errors.CsnError` naming the object and the problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.datasphere.identity import (
    DocumentResolver,
    SpaceDirectory,
)
from core.datasphere.identity import (
    namespace_contexts as namespace_contexts,
)
from core.datasphere.identity import (
    space_contexts as space_contexts,
)
from core.errors import CsnError
from core.models import (
    AnalyticDefinition,
    Asset,
    AssetKind,
    AssetRef,
    Association,
    Attribute,
    BusinessContext,
    CdsType,
    Column,
    Dependency,
    DependencyKind,
    FlowDefinition,
    Hierarchy,
    Measure,
    SemanticRole,
    SourceRef,
    Variable,
    content_hash,
)

#: Type name of an analytic-model column whose type is not known yet.
UNRESOLVED_TYPE = "unresolved"

#: CSN definition kind → asset kind, for flows.
FLOW_KINDS: dict[str, AssetKind] = {
    "sap.dis.dataflow": AssetKind.DATA_FLOW,
    "sap.dis.transformationflow": AssetKind.TRANSFORMATION_FLOW,
    "sap.dis.replicationflow": AssetKind.REPLICATION_FLOW,
    "sap.dwc.taskChain": AssetKind.TASK_CHAIN,
}

#: Root keys under which the design-time API returns flows and task chains (instead of
#: ``definitions``).
FLOW_ROOTS: tuple[str, ...] = ("dataflows", "transformationflows", "replicationflows", "taskchains")

_ENTITY_KINDS = frozenset(
    {AssetKind.LOCAL_TABLE, AssetKind.REMOTE_TABLE, AssetKind.VIEW, AssetKind.ANALYTIC_MODEL}
)
_RELATIONSHIP_TYPES = frozenset({"cds.Association", "cds.Composition"})
_FACETS = ("length", "precision", "scale", "srid")
#: Non-integer scales CDS allows for floating decimals; they carry no fixed scale.
_SYMBOLIC_SCALES = frozenset({"floating", "variable"})
_DEP_ORDER = {kind: i for i, kind in enumerate(DependencyKind)}


# -- small helpers ------------------------------------------------------------------------


def _enum_value(value: Any) -> str | None:
    """``{"#": "X"}`` → ``X``; ``"#X"`` → ``X``; a plain string stays as is."""
    if isinstance(value, dict):
        inner = value.get("#", value.get("="))
        return None if inner is None else str(inner)
    if isinstance(value, str):
        return value[1:] if value.startswith("#") else value
    return None


def _element_ref(value: Any) -> str | None:
    """``{"=": "X"}`` / ``[{"=": "X"}]`` / ``"X"`` → ``X`` (an element reference)."""
    if isinstance(value, list):
        return _element_ref(value[0]) if value else None
    if isinstance(value, dict):
        if "=" in value:
            return str(value["="])
        if "ref" in value and isinstance(value["ref"], list) and value["ref"]:
            return str(value["ref"][-1])
        return None
    if isinstance(value, str):
        return value
    return None


def _annotation_text(value: Any) -> str:
    """Render an annotation value as the flat string kept in ``Column.semantics``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        if "=" in value:
            return str(value["="])
        if "#" in value:
            return str(value["#"])
    if isinstance(value, list):
        return ",".join(_annotation_text(v) for v in value)
    return str(value)


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict) and not ({"=", "#"} & value.keys()):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = _annotation_text(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, dict):
        return True
    return bool(value)


def _segment(seg: Any) -> str:
    """A ``ref`` path segment: a string, or ``{"id": ..., "args": ...}`` for parameters."""
    if isinstance(seg, dict):
        return str(seg.get("id", ""))
    return str(seg)


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _all_definitions(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``definitions`` merged with the flow root keys (``dataflows``, ``taskchains``...)."""
    out: dict[str, Any] = {}
    for root in ("definitions", *FLOW_ROOTS):
        value = doc.get(root)
        if isinstance(value, dict):
            for name, body in value.items():
                out.setdefault(str(name), body)
    return out


def csn_slice(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The part of ``doc`` that belongs to definition ``name``: its definition (under the root
    key it came in) and its ``businessLayerDefinitions`` entry (input of ``Asset.source_hash``)."""
    root = next(
        (
            r
            for r in ("definitions", *FLOW_ROOTS)
            if isinstance(doc.get(r), dict) and name in doc[r]
        ),
        "definitions",
    )
    out: dict[str, Any] = {root: {name: doc.get(root, {}).get(name)}}
    bld = doc.get("businessLayerDefinitions")
    if isinstance(bld, dict) and name in bld:
        out["businessLayerDefinitions"] = {name: bld[name]}
    return out


def source_hash(doc: Mapping[str, Any], name: str) -> str:
    """``content_hash`` of :func:`csn_slice` (volatile keys such as ``_meta`` excluded)."""
    return content_hash(csn_slice(doc, name))


# -- reference resolution -----------------------------------------------------------------


def resolve_reference(
    name: str,
    *,
    space: str,
    known_spaces: Iterable[str],
    space_contexts: Mapping[str, str] | None = None,
    directory: SpaceDirectory | None = None,
) -> AssetRef:
    """Resolve a CSN reference seen in ``space`` to an :class:`AssetRef` (the rule of
    :mod:`core.datasphere.identity`).

    ``space_contexts`` maps context names of the document at hand to the space they stand
    for (contexts carrying ``@DataWarehouse.space.name``); ``directory`` is the run-wide
    knowledge (else one built from ``known_spaces``)."""
    spaces = directory or SpaceDirectory(known_spaces)
    if directory is not None:
        spaces.add_catalog(known_spaces)
    return spaces.resolve(name, space=space, doc_spaces=dict(space_contexts or {}))


# -- the parser -----------------------------------------------------------------------------


class _Parser:
    def __init__(
        self,
        doc: Mapping[str, Any],
        *,
        space: str,
        known_spaces: Iterable[str],
        kind_hint: AssetKind | None,
        directory: SpaceDirectory | None = None,
    ) -> None:
        if not isinstance(doc, Mapping):
            raise CsnError(
                f"CSN document for space {space} is a {type(doc).__name__}, not an object"
            )
        roots = [key for key in ("definitions", *FLOW_ROOTS) if key in doc]
        if not roots or any(not isinstance(doc[key], dict) for key in roots):
            raise CsnError(
                f"CSN document for space {space} has no 'definitions' object",
                hint="The design-time read did not return CSN; check the object in Datasphere.",
            )
        defs = _all_definitions(doc)
        for name, body in defs.items():
            if not isinstance(body, dict):
                raise CsnError(
                    f"{space}.{name}: definition is a {type(body).__name__}, not an object"
                )
        bld = doc.get("businessLayerDefinitions", {})
        if bld is None:
            bld = {}
        if not isinstance(bld, dict):
            raise CsnError(
                f"CSN document for space {space}: 'businessLayerDefinitions' is not an object"
            )
        self.doc = doc
        self.defs: dict[str, dict[str, Any]] = defs
        self.bld: dict[str, Any] = bld
        self.space = space
        self.kind_hint = kind_hint
        if directory is None:
            directory = SpaceDirectory(known_spaces)
        else:
            directory.add_catalog(known_spaces)
        self.resolver: DocumentResolver = directory.for_document(doc, space)

    # ---------------------------------------------------------------- assets
    def parse(self, only: str | None) -> list[Asset]:
        if only is not None and only not in self.defs:
            raise CsnError(
                f"{self.space}.{only}: the CSN document does not define {only!r}",
                hint="The design-time read returned another object; check the technical name.",
            )
        assets: list[Asset] = []
        names = [only] if only is not None else list(self.defs)
        for name in names:
            body = self.defs[name]
            kind = body.get("kind")
            if only is None and self.resolver.is_foreign(name):
                continue  # another space's object, carried for reference only
            if kind == "entity":
                assets.append(self._entity(name, body, self.kind_hint))
            elif kind in FLOW_KINDS:
                assets.append(self._flow(name, body))
            elif only is not None:
                raise CsnError(f"{self.space}.{name}: unsupported definition kind {kind!r}")
        return assets

    def _entity_kind(self, name: str, body: dict[str, Any], hint: AssetKind | None) -> AssetKind:
        if hint is not None and hint in _ENTITY_KINDS:
            return hint
        pattern = _enum_value(body.get("@ObjectModel.modelingPattern"))
        if pattern == "ANALYTICAL_CUBE" or name in self.bld:
            return AssetKind.ANALYTIC_MODEL
        if "query" in body or "projection" in body:
            return AssetKind.VIEW
        if any(
            k.startswith(("@DataWarehouse.remote.", "@DataWarehouse.dataSource.")) for k in body
        ):
            return AssetKind.REMOTE_TABLE
        return AssetKind.LOCAL_TABLE

    def _entity(self, name: str, body: dict[str, Any], hint: AssetKind | None = None) -> Asset:
        kind = self._entity_kind(name, body, hint)
        me = self.resolver.ref(name)
        warnings: list[str] = []
        elements = body.get("elements", {})
        if elements is None:
            elements = {}
        if not isinstance(elements, dict):
            raise CsnError(f"{me}: 'elements' is a {type(elements).__name__}, not an object")

        assoc_targets: dict[str, AssetRef] = {}
        associations: list[Association] = []
        for el_name, el in elements.items():
            if not isinstance(el, dict):
                raise CsnError(f"{me}: element {el_name!r} is a {type(el).__name__}, not an object")
            if self._is_relationship(el):
                assoc = self._association(me, el_name, el)
                assoc_targets[el_name] = assoc.target
                associations.append(assoc)

        query = body.get("query")
        if query is None and isinstance(body.get("projection"), dict):
            query = {"SELECT": body["projection"]}
        lineage: dict[str, list[str]] = {}
        deps: list[tuple[AssetRef, DependencyKind]] = []
        if query is not None:
            if not isinstance(query, dict):
                raise CsnError(f"{me}: 'query' is a {type(query).__name__}, not an object")
            deps.extend(self._query_deps(me, query, DependencyKind.FROM))
            lineage = self._query_lineage(me, query)
        deps.extend((a.target, DependencyKind.ASSOCIATION) for a in associations)

        columns: list[Column] = []
        for el_name, el in elements.items():
            if self._is_relationship(el):
                continue
            columns.append(
                self._column(
                    me,
                    el_name,
                    el,
                    assoc_targets,
                    lineage.get(el_name, []),
                    warnings,
                    untyped_ok=kind is AssetKind.ANALYTIC_MODEL,
                )
            )

        analytic: AnalyticDefinition | None = None
        if kind is AssetKind.ANALYTIC_MODEL:
            analytic = self._analytic(me, name)
            for src in analytic.fact_sources:
                deps.append((src.ref, DependencyKind.FACT_SOURCE))
            for src in analytic.dimension_sources:
                deps.append((src.ref, DependencyKind.DIMENSION_SOURCE))
            columns = self._resolve_in_document(columns, analytic)
            missing = [c.name for c in columns if c.type.name == UNRESOLVED_TYPE]
            if missing:
                warnings.append(
                    "column types not in the CSN (resolved from sources or $metadata): "
                    + ", ".join(missing)
                )

        business = BusinessContext(
            label=_str_or_none(body.get("@EndUserText.label")),
            description=_str_or_none(body.get("@EndUserText.quickInfo") or body.get("doc")),
            modeling_pattern=_enum_value(body.get("@ObjectModel.modelingPattern")),
            supported_capabilities=self._capabilities(
                body.get("@ObjectModel.supportedCapabilities")
            ),
            exposed=bool(body.get("@DataWarehouse.consumption.external", False)),
            dimension_type=_enum_value(body.get("@Analytics.dimensionType")),
            sql=_str_or_none(body.get("@DataWarehouse.sqlEditor.query")),
        )
        return Asset(
            space=me.space,
            name=me.name,
            kind=kind,
            label=business.label,
            columns=columns,
            associations=associations,
            hierarchies=self._hierarchies(me, body),
            upstream=_dependencies(deps, me),
            business=business,
            analytic=analytic,
            parameters=self._params(me, body.get("params")),
            warnings=warnings,
            source_hash=source_hash(self.doc, name),
        )

    # ---------------------------------------------------------------- elements
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
            label=_str_or_none(el.get("@EndUserText.label")),
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
                src = self.defs.get(_segment(ref[0]), {}).get("elements", {}).get(_segment(ref[-1]))
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
        measure_type = _enum_value(el.get("@AnalyticsDetails.measureType"))
        aggregation = _enum_value(el.get("@Aggregation.default"))
        if measure_type is not None or (aggregation is not None and aggregation != "NONE"):
            role = SemanticRole.MEASURE
        elif _truthy(el.get("@Analytics.dimension")):
            role = SemanticRole.DIMENSION
        elif _truthy(el.get("@Semantics.text")):
            role = SemanticRole.TEXT
        else:
            role = SemanticRole.ATTRIBUTE
        semantics: dict[str, str] = {}
        for key, value in el.items():
            if key == "@Semantics":
                _flatten("", value, semantics)
            elif key.startswith("@Semantics."):
                _flatten(key[len("@Semantics.") :], value, semantics)

        def target_of(annotation: str) -> str | None:
            assoc = _element_ref(el.get(annotation))
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
            label=_str_or_none(el.get("@EndUserText.label")),
            type=cds_type,
            type_origin=None if cds_type.name == UNRESOLVED_TYPE else "csn",
            key=is_key,
            nullable=not (is_key or bool(el.get("notNull", False))),
            role=role,
            aggregation=aggregation,
            measure_type=measure_type,
            semantics=semantics,
            text_element=_element_ref(el.get("@ObjectModel.text.element")),
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
        return [v for v in (_enum_value(i) for i in items) if v]

    def _hierarchies(self, me: AssetRef, body: dict[str, Any]) -> list[Hierarchy]:
        out: list[Hierarchy] = []
        for spec in _as_list(body.get("@Hierarchy.leveled")):
            if not isinstance(spec, dict):
                raise CsnError(f"{me}: @Hierarchy.leveled entry is not an object")
            levels = []
            for level in _as_list(spec.get("levels")):
                element = _element_ref(level.get("element") if isinstance(level, dict) else level)
                if element is None:
                    raise CsnError(
                        f"{me}: hierarchy {spec.get('name')!r} has a level without element"
                    )
                levels.append(element)
            out.append(
                Hierarchy(
                    name=str(spec.get("name") or ""),
                    label=_str_or_none(spec.get("label")),
                    kind="leveled",
                    levels=levels,
                )
            )
        for spec in _as_list(body.get("@Hierarchy.parentChild")):
            if not isinstance(spec, dict):
                raise CsnError(f"{me}: @Hierarchy.parentChild entry is not an object")
            recurse = spec.get("recurse", spec)
            if not isinstance(recurse, dict):
                raise CsnError(
                    f"{me}: parent-child hierarchy {spec.get('name')!r} has no 'recurse'"
                )
            parent = [e for e in (_element_ref(p) for p in _as_list(recurse.get("parent"))) if e]
            child = [e for e in (_element_ref(c) for c in _as_list(recurse.get("child"))) if e]
            out.append(
                Hierarchy(
                    name=str(spec.get("name") or ""),
                    label=_str_or_none(spec.get("label")),
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
                    label=_str_or_none(p.get("@EndUserText.label")),
                    variable_type="parameter",
                    type=self._cds_type(me, f"param {name}", p, [], untyped_ok=True)
                    if p.get("type")
                    else None,
                    default=None if default is None else _annotation_text(default),
                    mandatory=default is None and not p.get("@Consumption.defaultValue"),
                )
            )
        return out

    # ---------------------------------------------------------------- queries
    def _query_deps(
        self, me: AssetRef, node: Any, kind: DependencyKind
    ) -> list[tuple[AssetRef, DependencyKind]]:
        out: list[tuple[AssetRef, DependencyKind]] = []
        if not isinstance(node, dict):
            return out
        if "SET" in node:
            args = node["SET"].get("args") if isinstance(node["SET"], dict) else None
            if not isinstance(args, list):
                raise CsnError(f"{me}: query SET has no 'args' list")
            for arg in args:
                out.extend(self._query_deps(me, arg, DependencyKind.UNION))
            return out
        select = node.get("SELECT")
        if select is None:
            return out
        if not isinstance(select, dict):
            raise CsnError(f"{me}: query SELECT is not an object")
        if "from" not in select:
            raise CsnError(f"{me}: query SELECT has no 'from'")
        out.extend(self._from_deps(me, select["from"], kind))
        mixin = select.get("mixin")
        if isinstance(mixin, dict):
            for mix_name, mix in mixin.items():
                target = mix.get("target") if isinstance(mix, dict) else None
                if not isinstance(target, str):
                    raise CsnError(f"{me}: mixin {mix_name!r} has no target")
                out.append((self.resolver.ref(target), DependencyKind.MIXIN))
        for clause in ("columns", "where", "having", "groupBy", "orderBy"):
            for sub in _subqueries(select.get(clause)):
                out.extend(self._query_deps(me, sub, DependencyKind.FROM))
        return out

    def _from_deps(
        self, me: AssetRef, node: Any, kind: DependencyKind
    ) -> list[tuple[AssetRef, DependencyKind]]:
        if not isinstance(node, dict):
            raise CsnError(f"{me}: query 'from' is a {type(node).__name__}, not an object")
        if "ref" in node:
            return [(self.resolver.ref(_ref_name(me, node["ref"])), kind)]
        if "join" in node or "args" in node:
            args = node.get("args")
            if not isinstance(args, list) or not args:
                raise CsnError(f"{me}: join without 'args'")
            out: list[tuple[AssetRef, DependencyKind]] = []
            for arg in args:
                out.extend(self._from_deps(me, arg, DependencyKind.JOIN))
            for sub in _subqueries(node.get("on")):
                out.extend(self._query_deps(me, sub, DependencyKind.FROM))
            return out
        if "SELECT" in node or "SET" in node:
            return self._query_deps(me, node, kind)
        raise CsnError(f"{me}: query 'from' has neither ref, join nor SELECT")

    # column-level lineage -------------------------------------------------------------
    def _query_lineage(self, me: AssetRef, node: Any) -> dict[str, list[str]]:
        if not isinstance(node, dict):
            return {}
        if "SET" in node:
            args = node["SET"].get("args", []) if isinstance(node["SET"], dict) else []
            maps = [self._query_lineage(me, a) for a in args]
            if not maps:
                return {}
            names = list(maps[0])
            out = {n: list(v) for n, v in maps[0].items()}
            for other in maps[1:]:
                if len(other) == len(names) and set(other) != set(names):
                    pairs = zip(names, other.values(), strict=True)  # positional union
                else:
                    pairs = ((n, other.get(n, [])) for n in names)  # type: ignore[assignment]
                for n, lin in pairs:
                    out[n] = _dedupe([*out[n], *lin])
            return out
        select = node.get("SELECT")
        if not isinstance(select, dict):
            return {}
        sources = self._sources(me, select.get("from"))
        out_map: dict[str, list[str]] = {}
        columns = select.get("columns")
        star = columns is None or "*" in (columns or [])
        for col in columns or []:
            if not isinstance(col, dict):
                continue
            name = col.get("as")
            if "ref" in col and isinstance(col["ref"], list) and col["ref"]:
                segs = [_segment(s) for s in col["ref"]]
                name = name or segs[-1]
                out_map[str(name)] = self._ref_lineage(segs, sources)
            elif name is not None and not ("SELECT" in col or "SET" in col):
                refs: list[list[str]] = []
                _collect_refs(col, refs)
                out_map[str(name)] = _dedupe(x for r in refs for x in self._ref_lineage(r, sources))
        if star and len(sources) == 1:
            (source,) = sources.values()
            if isinstance(source, AssetRef):
                el_names = self._elements_of(source)
                star_map: dict[str, list[str]] = {n: [f"{source}.{n}"] for n in el_names}
            else:
                star_map = {n: list(v) for n, v in source.items()}
            for n, lin in star_map.items():
                out_map.setdefault(n, lin)
        return out_map

    def _elements_of(self, ref: AssetRef) -> list[str]:
        """Element names of a source defined in this document (for ``SELECT *``)."""
        for name, body in self.defs.items():
            if self.resolver.ref(name) == ref:
                els = body.get("elements", {})
                return [
                    n
                    for n, e in els.items()
                    if isinstance(e, dict) and not self._is_relationship(e)
                ]
        return []

    def _ref_lineage(
        self, segs: list[str], sources: dict[str, AssetRef | dict[str, list[str]]]
    ) -> list[str]:
        if not segs or segs[0].startswith("$"):
            return []
        if len(segs) == 2 and segs[0] in sources:
            source, col = sources[segs[0]], segs[1]
        elif len(segs) == 1 and len(sources) == 1:
            (source,), col = sources.values(), segs[0]
        else:
            return []  # association paths and ambiguous refs carry no simple lineage
        if isinstance(source, AssetRef):
            return [f"{source}.{col}"]
        return list(source.get(col, []))

    def _sources(self, me: AssetRef, node: Any) -> dict[str, AssetRef | dict[str, list[str]]]:
        """Alias → source asset (a ref) or lineage map (a nested select)."""
        out: dict[str, AssetRef | dict[str, list[str]]] = {}
        if not isinstance(node, dict):
            return out
        if "ref" in node:
            name = _ref_name(me, node["ref"])
            ref = self.resolver.ref(name)
            alias = node.get("as") or ref.name.rsplit(".", 1)[-1]
            out[str(alias)] = ref
        elif "join" in node or "args" in node:
            for arg in node.get("args") or []:
                out.update(self._sources(me, arg))
        elif "SELECT" in node or "SET" in node:
            alias = node.get("as")
            if alias:
                out[str(alias)] = self._query_lineage(me, node)
        return out

    # ---------------------------------------------------------------- analytic models
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
                via = _str_or_none(contexts[0].get("sourceKey"))
                steps = [str(s) for s in contexts[0].get("associationSteps") or []]
            return SourceRef(
                alias=alias,
                ref=self.resolver.ref(key),
                label=_str_or_none(spec.get("text")),
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
                    label=_str_or_none(spec.get("text")),
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
                    label=_str_or_none(spec.get("text")),
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
                    label=_str_or_none(spec.get("text")),
                    variable_type=_short_enum(
                        spec.get("parameterType") or spec.get("variableType")
                    ),
                    type=self._cds_type(me, f"variable {v_name}", type_spec, [], untyped_ok=True)
                    if vtype and vtype.startswith(("cds.", "hana."))
                    else None,
                    default=None if default is None else _annotation_text(default),
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

    def _resolve_in_document(
        self, columns: list[Column], analytic: AnalyticDefinition
    ) -> list[Column]:
        """Type analytic-model columns from sources defined in the same document."""
        local: dict[AssetRef, Asset] = {}

        def lookup(ref: AssetRef) -> Asset | None:
            if ref in local:
                return local[ref]
            for name, body in self.defs.items():
                if (
                    self.resolver.ref(name) == ref
                    and body.get("kind") == "entity"
                    and name not in self.bld
                ):
                    local[ref] = self._entity(name, body)
                    return local[ref]
            return None

        return _resolve_columns(columns, analytic, lookup)

    # ---------------------------------------------------------------- flows
    def _flow(self, name: str, body: dict[str, Any]) -> Asset:
        kind = FLOW_KINDS[str(body["kind"])]
        if self.kind_hint is not None and self.kind_hint.is_flow:
            kind = self.kind_hint
        me = self.resolver.ref(name)
        sources: list[AssetRef] = []
        targets: list[AssetRef] = []
        modes: list[str] = []
        warnings: list[str] = []
        contents = body.get("contents", {})
        if contents is None:
            contents = {}
        if not isinstance(contents, dict):
            raise CsnError(f"{me}: flow 'contents' is a {type(contents).__name__}, not an object")
        processes = contents.get("processes", {})
        if not isinstance(processes, dict):
            raise CsnError(f"{me}: flow 'processes' is not an object")
        for p_name, proc in processes.items():
            if not isinstance(proc, dict):
                raise CsnError(f"{me}: flow process {p_name!r} is not an object")
            component = str(proc.get("component", ""))
            metadata = proc.get("metadata") or {}
            config = metadata.get("config", {}) if isinstance(metadata, dict) else {}
            if not isinstance(config, dict):
                raise CsnError(f"{me}: flow process {p_name!r} has a non-object config")
            entity = config.get("dwcEntity")
            if component == "com.sap.dwc.viewtransform":
                # transformation flow: the sources are the refs of the embedded view's query
                definition = config.get("definition")
                query = definition.get("query") if isinstance(definition, dict) else None
                if not isinstance(query, dict):
                    raise CsnError(f"{me}: view transform {p_name!r} has no query")
                sources.extend(ref for ref, _ in self._query_deps(me, query, DependencyKind.FROM))
            elif component == "com.sap.dwc.target":
                target = config.get("name")
                if not isinstance(target, str) or not target:
                    raise CsnError(f"{me}: target {p_name!r} has no name")
                targets.append(self.resolver.ref(target))
                if "truncate" in config:
                    modes.append("TRUNCATE" if config["truncate"] else "UPSERT")
            elif not entity:
                continue  # operators (projection, join, script...) and remote sources
            elif component.endswith(".consumer"):
                sources.append(self.resolver.ref(str(entity)))
            elif component.endswith(".producer"):
                targets.append(self.resolver.ref(str(entity)))
                if isinstance(config.get("mode"), str):
                    modes.append(config["mode"])
            else:
                warnings.append(f"process {p_name!r}: component {component!r} not understood")
        # replication flows: only objects in the Datasphere container are assets
        target_space = _dwc_container(contents.get("targetSystem"))
        source_space = _dwc_container(contents.get("sourceSystem"))
        for task in _as_list(contents.get("replicationTasks")):
            if not isinstance(task, dict):
                raise CsnError(f"{me}: replication task is not an object")
            src, tgt = task.get("sourceObject"), task.get("targetObject")
            if (
                source_space is not None
                and isinstance(src, dict)
                and isinstance(src.get("name"), str)
            ):
                sources.append(self._in_container(src["name"], source_space))
            if (
                target_space is not None
                and isinstance(tgt, dict)
                and isinstance(tgt.get("name"), str)
            ):
                targets.append(self._in_container(tgt["name"], target_space))
            if isinstance(task.get("loadType"), str):
                modes.append(task["loadType"])
        # task chains: the objects the chain runs
        for node in _as_list(body.get("nodes", contents.get("nodes"))):
            task_id = node.get("taskIdentifier") if isinstance(node, dict) else None
            if isinstance(task_id, dict) and isinstance(task_id.get("objectId"), str):
                sources.append(self.resolver.ref(task_id["objectId"]))
        flow_meta = contents.get("metadata")
        for holder in (contents, flow_meta if isinstance(flow_meta, dict) else {}):
            if isinstance(holder.get("loadType"), str):
                modes.append(holder["loadType"])
        src_refs = list(dict.fromkeys(sources))
        tgt_refs = list(dict.fromkeys(targets))
        deps = [(r, DependencyKind.FLOW_SOURCE) for r in src_refs] + [
            (r, DependencyKind.FLOW_TARGET) for r in tgt_refs
        ]
        label = _str_or_none(body.get("@EndUserText.label") or body.get("label"))
        return Asset(
            space=me.space,
            name=me.name,
            kind=kind,
            label=label,
            upstream=_dependencies(deps, me),
            business=BusinessContext(
                label=label,
                description=_str_or_none(body.get("description") or contents.get("description")),
            ),
            flow=FlowDefinition(
                sources=src_refs, targets=tgt_refs, load_type=modes[0] if modes else None
            ),
            warnings=warnings,
            source_hash=source_hash(self.doc, name),
        )

    def _in_container(self, name: str, container: str) -> AssetRef:
        if container in ("", self.space):
            return self.resolver.ref(name)
        return AssetRef(space=container, name=name)


# -- module-level helpers ---------------------------------------------------------------------


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _items(me: AssetRef, value: Any, where: str) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise CsnError(f"{me}: businessLayerDefinitions {where} is not an object")
    return [(str(k), v) for k, v in value.items()]


def _short_enum(value: Any) -> str | None:
    """``AnalyticModelMeasureType.FactSourceMeasure`` → ``FactSourceMeasure``."""
    text = _enum_value(value)
    if text is None:
        return None
    return text.rsplit(".", 1)[-1]


def _canon(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normalize_type_name(name: str) -> str:
    """One spelling per type: ``hana.TINYINT`` → ``cds.hana.TINYINT`` (the CDS compiler's)."""
    if name.startswith("hana."):
        return "cds." + name
    return name


def _mapped_source(spec: dict[str, Any], key: str) -> tuple[str | None, str | None]:
    """``{key: {alias: {"key": EL}}}`` or ``sourceKey`` + ``key`` → ``(alias, EL)``."""
    mapping = spec.get(key)
    if isinstance(mapping, dict) and mapping:
        alias, target = next(iter(mapping.items()))
        element = target.get("key") if isinstance(target, dict) else target
        return str(alias), _str_or_none(element)
    return _str_or_none(spec.get("sourceKey")), _str_or_none(spec.get("key"))


def _attribute_source(spec: dict[str, Any]) -> tuple[str | None, str | None]:
    return _mapped_source(spec, "attributeMapping")


def _dwc_container(system: Any) -> str | None:
    """Replication-flow system: the space (``container``; ``""`` = this one) when it is
    Datasphere itself (``connectionId: $DWC``), else ``None`` (a remote system's objects)."""
    first = _as_list(system)[0] if _as_list(system) else None
    if not isinstance(first, dict):
        return None
    if first.get("connectionId") != "$DWC":
        return None
    container = first.get("container")
    return str(container).strip("/") if isinstance(container, str) else ""


def _ref_name(me: AssetRef, ref: Any) -> str:
    if not isinstance(ref, list) or not ref:
        raise CsnError(f"{me}: query 'ref' is not a non-empty list")
    name = _segment(ref[0])
    if not name:
        raise CsnError(f"{me}: query 'ref' has an empty name")
    return name


def _subqueries(node: Any) -> Iterable[dict[str, Any]]:
    """Nested ``SELECT`` / ``SET`` nodes inside an expression (where, having, columns...)."""
    if isinstance(node, dict):
        if "SELECT" in node or "SET" in node:
            yield node
            return
        for value in node.values():
            yield from _subqueries(value)
    elif isinstance(node, list):
        for value in node:
            yield from _subqueries(value)


def _collect_refs(node: Any, out: list[list[str]]) -> None:
    """Column refs used inside an expression (``xpr``, ``func`` args...), nested selects excluded."""
    if isinstance(node, dict):
        if "SELECT" in node or "SET" in node:
            return
        ref = node.get("ref")
        if isinstance(ref, list) and ref:
            out.append([_segment(s) for s in ref])
        for key, value in node.items():
            if key != "ref":
                _collect_refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _collect_refs(value, out)


def _on_pairs(assoc: str, on: Any) -> list[tuple[str, str]]:
    """``[{ref:[A]}, "=", {ref:[assoc, B]}, "and", ...]`` → ``[(A, B), ...]`` where simple."""
    if not isinstance(on, list):
        return []
    pairs: list[tuple[str, str]] = []
    i = 0
    while i + 2 < len(on):
        left, op, right = on[i], on[i + 1], on[i + 2]
        if op == "=" and isinstance(left, dict) and isinstance(right, dict):
            lref = [_segment(s) for s in left.get("ref") or []]
            rref = [_segment(s) for s in right.get("ref") or []]
            if lref and rref and rref[0] == assoc and lref[0] != assoc:
                pairs.append((lref[-1], ".".join(rref[1:])))
            elif lref and rref and lref[0] == assoc and rref[0] != assoc:
                pairs.append((rref[-1], ".".join(lref[1:])))
        i += 4  # skip the "and"
    return pairs


def _dependencies(
    deps: Iterable[tuple[AssetRef, DependencyKind]], me: AssetRef
) -> list[Dependency]:
    """Deduplicated, canonically ordered dependencies (self-references dropped)."""
    unique = {(ref, kind) for ref, kind in deps if ref != me}
    ordered = sorted(unique, key=lambda d: (_DEP_ORDER[d[1]], d[0].space, d[0].name))
    return [Dependency(ref=ref, kind=kind) for ref, kind in ordered]


#: How deep a source column's type is followed through views' ``from`` chains.
_MAX_CHAIN = 8

#: Prefix of the parse-time note on analytic-model columns without a CSN type.
UNTYPED_NOTE = "column types not in the CSN"


def _lineage_target(
    lineage: str, candidates: Iterable[AssetRef]
) -> tuple[AssetRef, str] | None:
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


def _resolve_columns(
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
    columns = _resolve_columns(asset.columns, asset.analytic, lookup)
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


def parse_csn(
    doc: Mapping[str, Any],
    *,
    space: str,
    known_spaces: set[str] | frozenset[str] | Iterable[str] = frozenset(),
    kind_hint: AssetKind | None = None,
    name: str | None = None,
    directory: SpaceDirectory | None = None,
) -> list[Asset]:
    """Parse a CSN document into the assets of ``space``.

    ``known_spaces`` and ``directory`` (the run-wide :class:`SpaceDirectory`: catalog
    spaces, refused spaces, space contexts of every document read) decide cross-space
    references (:mod:`core.datasphere.identity`). With ``name``, the one definition is
    returned even when it belongs to another space (a shared object listed by a consumer:
    its ``space`` is the owner's).
    ``kind_hint`` (from the design-time list the object came from) wins over kind detection.
    ``name`` restricts the result to that one definition (a design-time read may carry its
    sources' definitions too). Raises :class:`CsnError` on malformed input.
    """
    parser = _Parser(
        doc, space=space, known_spaces=known_spaces, kind_hint=kind_hint, directory=directory
    )
    return parser.parse(name)
