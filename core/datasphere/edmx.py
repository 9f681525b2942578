"""Consumption ``$metadata`` (OData v4 CSDL XML) → domain columns. Pure: no I/O.

Datasphere's relational (``StandaloneService``) and analytical (``InaApplicationService``)
services describe one entity type each. :func:`parse_metadata` reads every entity type with:

* EDM types and facets → :class:`~core.models.CdsType` (``edm_type`` set; the CDS name per
  ``datasphere-api.md`` §7), keys, ``Nullable``;
* ``Common.Label``, ``Analytics.dimension|Dimension`` and ``Analytics.measure|Measure``
  (matched case-insensitively), ``Common.IsCurrency`` / ``IsUnit`` / ``IsCalendar*``,
  ``Common.Text``, ``Aggregation.default``;
* ``DataIntegration.OriginalName``, which restores names whose dots became ``_``;
* entity-level ``Analytics.dimensionType`` and ``Hierarchy.leveled``.

Annotations may be inline or in ``<Annotations Target=…>`` blocks, and terms may use an alias
(``SAP__common.Label``) or the full namespace (``com.sap.vocabularies.Common.v1.Label``): all are
normalised to ``Vocabulary.Term``.

Security: the document comes from the network. A ``DOCTYPE`` (and so any entity declaration)
is refused before parsing, which rules out entity-expansion attacks with the standard parser.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import UnexpectedResponse
from core.models import CdsType, Column, Hierarchy, SemanticRole

_EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
_EDM = "http://docs.oasis-open.org/odata/ns/edm"

#: EDM primitive type → CDS type name (``datasphere-api.md`` §7, read right to left).
EDM_TO_CDS: dict[str, str] = {
    "Edm.String": "cds.String",
    "Edm.Guid": "cds.UUID",
    "Edm.Boolean": "cds.Boolean",
    "Edm.Byte": "cds.hana.TINYINT",
    "Edm.SByte": "cds.hana.SMALLINT",
    "Edm.Int16": "cds.hana.SMALLINT",
    "Edm.Int32": "cds.Integer",
    "Edm.Int64": "cds.Integer64",
    "Edm.Decimal": "cds.Decimal",
    "Edm.Double": "cds.Double",
    "Edm.Single": "cds.hana.REAL",
    "Edm.Date": "cds.Date",
    "Edm.TimeOfDay": "cds.Time",
    "Edm.DateTimeOffset": "cds.Timestamp",
    "Edm.Binary": "cds.Binary",
    "Edm.Stream": "cds.LargeBinary",
}

_CALENDAR_TERMS = {
    "iscalendardate": "calendar.date",
    "iscalendaryear": "calendar.year",
    "iscalendaryearmonth": "calendar.yearMonth",
    "iscalendaryearquarter": "calendar.yearQuarter",
    "iscalendaryearweek": "calendar.yearWeek",
    "iscalendarmonth": "calendar.month",
    "iscalendarquarter": "calendar.quarter",
    "iscalendarweek": "calendar.week",
    "iscalendarhalfyear": "calendar.halfyear",
    "iscalendaryearhalfyear": "calendar.yearHalfyear",
    "isdayofcalendarmonth": "calendar.dayOfMonth",
    "isdayofcalendaryear": "calendar.dayOfYear",
    "isfiscalyear": "fiscal.year",
    "isfiscalperiod": "fiscal.period",
    "isfiscalyearperiod": "fiscal.yearPeriod",
}
_VOCAB_NAMESPACE = re.compile(r"^(?:.*\.)?([A-Za-z]+)\.[vV]\d+$")


class EntityTypeInfo(BaseModel):
    """One ``EntityType`` of a ``$metadata`` document, as domain columns."""

    model_config = ConfigDict(extra="forbid")

    #: Name as in the CSDL (dots replaced by ``_``).
    edm_name: str
    #: Restored technical name (``DataIntegration.OriginalName``), else ``edm_name``.
    name: str
    namespace: str
    label: str | None = None
    columns: list[Column] = Field(default_factory=list)
    dimension_type: str | None = None
    hierarchies: list[Hierarchy] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


class MetadataDocument(BaseModel):
    """A parsed ``$metadata`` document."""

    model_config = ConfigDict(extra="forbid")

    namespaces: list[str] = Field(default_factory=list)
    entity_types: list[EntityTypeInfo] = Field(default_factory=list)
    #: Entity set name → qualified entity type name.
    entity_sets: dict[str, str] = Field(default_factory=dict)

    @property
    def main(self) -> EntityTypeInfo:
        """The service's entity type: the one behind the first entity set, else the first."""
        if not self.entity_types:
            raise UnexpectedResponse(
                "the $metadata document defines no entity type",
                hint="The asset may not be deployed; check it in the Datasphere editor.",
            )
        for qualified in self.entity_sets.values():
            short = qualified.rsplit(".", 1)[-1]
            for et in self.entity_types:
                if et.edm_name == short and not et.edm_name.endswith("Parameters"):
                    return et
        return self.entity_types[0]


# -- parsing ------------------------------------------------------------------------------------


def _tag(el: ET.Element) -> str:
    return el.tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _tag(c) == name]


def _refuse_unsafe(text: str) -> None:
    head = text.lstrip()[:512].lower()
    if head.startswith("<html") or head.startswith("<!doctype html") or "<html" in head[:200]:
        raise UnexpectedResponse(
            "an HTML page was returned where $metadata (CSDL XML) was expected",
            hint="A proxy or login page answered; check DGSYNC_DATASPHERE__BASE_URL and the network.",
        )
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise UnexpectedResponse(
            "the $metadata document declares a DOCTYPE/ENTITY; refused (entity expansion)",
            hint="Datasphere never sends one; check what answers at DGSYNC_DATASPHERE__BASE_URL.",
        )


class _Terms:
    """Normalises annotation terms to ``Vocabulary.Term`` (``Common.Label``)."""

    def __init__(self, root: ET.Element) -> None:
        self.aliases: dict[str, str] = {}
        for el in root.iter():
            if _tag(el) in ("Include", "Schema"):
                ns, alias = el.get("Namespace"), el.get("Alias")
                if ns and alias:
                    self.aliases[alias] = self._vocabulary(ns)

    @staticmethod
    def _vocabulary(namespace: str) -> str:
        match = _VOCAB_NAMESPACE.match(namespace)
        return match.group(1) if match else namespace

    def normalise(self, term: str) -> str:
        prefix, _, name = term.rpartition(".")
        if not prefix:
            return term
        vocab = self.aliases.get(prefix) or self._vocabulary(prefix)
        return f"{vocab}.{name}"


def _value(el: ET.Element) -> Any:
    """The value of an ``Annotation`` / ``PropertyValue`` (attribute or child expression)."""
    for attr in (
        "String",
        "Bool",
        "Int",
        "Decimal",
        "EnumMember",
        "Path",
        "PropertyPath",
        "Date",
        "Float",
        "NavigationPropertyPath",
    ):
        if attr in el.attrib:
            raw = el.attrib[attr]
            if attr == "Bool":
                return raw.strip().lower() == "true"
            if attr == "Int":
                try:
                    return int(raw)
                except ValueError:
                    return raw
            return raw
    for child in el:
        tag = _tag(child)
        if tag == "Annotation":
            continue
        return _expression(child)
    return True  # a bare boolean term means true


def _expression(el: ET.Element) -> Any:
    tag = _tag(el)
    if tag == "Record":
        return {pv.get("Property", ""): _value(pv) for pv in _children(el, "PropertyValue")}
    if tag == "Collection":
        return [_expression(c) for c in el]
    if tag == "Bool":
        return (el.text or "").strip().lower() == "true"
    if tag == "Int":
        text = (el.text or "").strip()
        return int(text) if text.lstrip("-").isdigit() else text
    return (el.text or "").strip()


def _annotations(el: ET.Element, terms: _Terms) -> dict[str, Any]:
    return {
        terms.normalise(a.get("Term", "")): _value(a)
        for a in _children(el, "Annotation")
        if a.get("Term")
    }


def _int_facet(el: ET.Element, name: str, warnings: list[str], where: str) -> int | None:
    raw = el.get(name)
    if raw is None or raw.lower() in ("max", "variable", "floating"):
        return None
    try:
        return int(raw)
    except ValueError:
        warnings.append(f"{where}: facet {name}={raw!r} is not an integer; ignored")
        return None


def cds_type_from_edm(el: ET.Element, warnings: list[str], where: str) -> CdsType:
    """CDS type of a ``Property`` element from its EDM type and facets."""
    edm = el.get("Type", "")
    length = _int_facet(el, "MaxLength", warnings, where)
    if edm == "Edm.Decimal":
        precision = _int_facet(el, "Precision", warnings, where)
        scale_raw = el.get("Scale")
        if precision is None or (scale_raw or "").lower() in ("variable", "floating"):
            return CdsType(name="cds.DecimalFloat", edm_type=edm)
        scale = _int_facet(el, "Scale", warnings, where) if scale_raw is not None else 0
        return CdsType(name="cds.Decimal", precision=precision, scale=scale, edm_type=edm)
    if edm == "Edm.String":
        return CdsType(name="cds.String", length=length, edm_type=edm)
    if edm == "Edm.Binary":
        if length is None:
            return CdsType(name="cds.LargeBinary", edm_type=edm)
        return CdsType(name="cds.Binary", length=length, edm_type=edm)
    if edm.startswith(("Edm.Geography", "Edm.Geometry")):
        srid = _int_facet(el, "SRID", warnings, where)
        return CdsType(name="cds.hana.ST_GEOMETRY", srid=srid, edm_type=edm)
    if edm in EDM_TO_CDS:
        return CdsType(name=EDM_TO_CDS[edm], edm_type=edm)
    warnings.append(f"{where}: unknown type {edm!r}")
    return CdsType(name=edm or "unknown", edm_type=edm or None)


def _lower_terms(annotations: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): v for k, v in annotations.items()}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "")
    return bool(value)


def _column(
    prop: ET.Element, annotations: dict[str, Any], *, is_key: bool, warnings: list[str], where: str
) -> Column:
    low = _lower_terms(annotations)
    edm_name = prop.get("Name", "")
    name = str(low.get("dataintegration.originalname") or edm_name)
    nullable_raw = prop.get("Nullable")
    nullable = not is_key and (nullable_raw is None or nullable_raw.lower() != "false")
    if _truthy(low.get("analytics.measure", False)):
        role = SemanticRole.MEASURE
    elif _truthy(low.get("analytics.dimension", False)):
        role = SemanticRole.DIMENSION
    elif _truthy(low.get("common.istext", False)):
        role = SemanticRole.TEXT
    else:
        role = SemanticRole.ATTRIBUTE
    semantics: dict[str, str] = {}
    if _truthy(low.get("common.iscurrency", False)):
        semantics["currencyCode"] = "true"
    if _truthy(low.get("common.isunit", False)):
        semantics["unitOfMeasure"] = "true"
    for term, key in _CALENDAR_TERMS.items():
        if _truthy(low.get(f"common.{term}", False)):
            semantics[key] = "true"
    for term, key in (
        ("measures.iso4217", "amount.currencyCode"),
        ("measures.unit", "quantity.unitOfMeasure"),
    ):
        if isinstance(low.get(term), str):
            semantics[key] = low[term]
    text = low.get("common.text")
    aggregation = low.get("aggregation.default")
    return Column(
        name=name,
        label=low.get("common.label") if isinstance(low.get("common.label"), str) else None,
        type=cds_type_from_edm(prop, warnings, f"{where}/{name}"),
        key=is_key,
        nullable=nullable,
        role=role,
        aggregation=str(aggregation).rsplit("/", 1)[-1] if isinstance(aggregation, str) else None,
        semantics=semantics,
        text_element=text if isinstance(text, str) else None,
    )


def _hierarchies(value: Any) -> list[Hierarchy]:
    out: list[Hierarchy] = []
    for spec in value if isinstance(value, list) else [value]:
        if not isinstance(spec, dict):
            continue
        levels: list[str] = []
        for level in spec.get("levels") or []:
            element = level.get("element") if isinstance(level, dict) else level
            if isinstance(element, str):
                levels.append(element)
        label = spec.get("label")
        out.append(
            Hierarchy(
                name=str(spec.get("name", "")),
                label=label if isinstance(label, str) else None,
                kind="leveled",
                levels=levels,
            )
        )
    return out


def parse_metadata(document: str | bytes) -> MetadataDocument:
    """Parse a ``$metadata`` CSDL document; malformed or unsafe input → UnexpectedResponse."""
    text = document.decode("utf-8", errors="replace") if isinstance(document, bytes) else document
    _refuse_unsafe(text)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise UnexpectedResponse(
            f"the $metadata document is not well-formed XML ({exc})",
            hint="Retry; if it persists, the service answered with something other than CSDL.",
        ) from exc
    if _tag(root) != "Edmx":
        raise UnexpectedResponse(
            f"the $metadata document has root <{_tag(root)}>, not <edmx:Edmx>",
            hint="The URL does not point at an OData $metadata document.",
        )
    terms = _Terms(root)
    doc = MetadataDocument()
    schemas = [el for el in root.iter() if _tag(el) == "Schema"]
    external: dict[str, dict[str, Any]] = {}
    for schema in schemas:
        for block in _children(schema, "Annotations"):
            target = block.get("Target", "")
            external.setdefault(target, {}).update(_annotations(block, terms))
    for schema in schemas:
        ns = schema.get("Namespace", "")
        alias = schema.get("Alias")
        doc.namespaces.append(ns)
        for container in _children(schema, "EntityContainer"):
            for entity_set in _children(container, "EntitySet"):
                doc.entity_sets[entity_set.get("Name", "")] = entity_set.get("EntityType", "")
        for et in _children(schema, "EntityType"):
            edm_name = et.get("Name", "")
            prefixes = [f"{ns}.{edm_name}"] + ([f"{alias}.{edm_name}"] if alias else [])
            et_ann = _annotations(et, terms)
            for p in prefixes:
                et_ann.update(external.get(p, {}))
            low = _lower_terms(et_ann)
            keys = {
                ref.get("Name", "")
                for key in _children(et, "Key")
                for ref in _children(key, "PropertyRef")
            }
            warnings: list[str] = []
            columns = []
            for prop in _children(et, "Property"):
                prop_ann = _annotations(prop, terms)
                for p in prefixes:
                    prop_ann.update(external.get(f"{p}/{prop.get('Name', '')}", {}))
                columns.append(
                    _column(
                        prop,
                        prop_ann,
                        is_key=prop.get("Name", "") in keys,
                        warnings=warnings,
                        where=edm_name,
                    )
                )
            dim_type = low.get("analytics.dimensiontype")
            label = low.get("common.label")
            doc.entity_types.append(
                EntityTypeInfo(
                    edm_name=edm_name,
                    name=str(low.get("dataintegration.originalname") or edm_name),
                    namespace=ns,
                    label=label if isinstance(label, str) else None,
                    columns=columns,
                    dimension_type=str(dim_type).rsplit("/", 1)[-1].lstrip("#")
                    if dim_type
                    else None,
                    hierarchies=_hierarchies(low["hierarchy.leveled"])
                    if "hierarchy.leveled" in low
                    else [],
                    warnings=warnings,
                )
            )
    return doc
