"""CSDL XML (OData v4) ``$metadata`` generated from CSN, as the consumption services serve it.

One ``EntityType`` and one ``EntitySet`` per service; namespace ``StandaloneService``
(relational) or ``InaApplicationService`` (analytical). Names that are not OData identifiers
(dots, spaces, ``∞``, a leading digit) become ``_``-separated; the original is kept in
``DataIntegration.OriginalName``. Analytic models have no types in CSN: their property types
are resolved from the fact / dimension sources named in ``businessLayerDefinitions``.

Annotation spelling: relational services write ``Analytics.Dimension`` / ``Analytics.Measure``,
analytical services ``Analytics.dimension`` / ``Analytics.measure`` (SAP uses both; clients
must match case-insensitively).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

from core.models import AssetKind

from .model import DesignObject, Json

if TYPE_CHECKING:
    from .tenant import Tenant

RELATIONAL = "relational"
ANALYTICAL = "analytical"
NAMESPACES = {RELATIONAL: "StandaloneService", ANALYTICAL: "InaApplicationService"}

_VOCABULARIES = (
    ("Common", "com.sap.vocabularies.Common.v1", "https://sap.github.io/odata-vocabularies/vocabularies/Common.xml"),
    ("Analytics", "com.sap.vocabularies.Analytics.v1", "https://sap.github.io/odata-vocabularies/vocabularies/Analytics.xml"),
    ("Hierarchy", "com.sap.vocabularies.Hierarchy.v1", "https://sap.github.io/odata-vocabularies/vocabularies/Hierarchy.xml"),
    ("DataIntegration", "com.sap.vocabularies.DataIntegration.v1",
     "https://sap.github.io/odata-vocabularies/vocabularies/DataIntegration.xml"),
    ("Measures", "Org.OData.Measures.V1",
     "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Measures.V1.xml"),
    ("Core", "Org.OData.Core.V1", "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml"),
)

_IDENT = re.compile(r"[^A-Za-z0-9_]")
_ASSOCIATIONS = ("cds.Association", "cds.Composition")

_CALENDAR_TERMS = {
    "@Semantics.date": "Common.IsCalendarDate",
    "@Semantics.calendar.date": "Common.IsCalendarDate",
    "@Semantics.calendar.year": "Common.IsCalendarYear",
    "@Semantics.calendar.yearMonth": "Common.IsCalendarYearMonth",
    "@Semantics.calendar.yearQuarter": "Common.IsCalendarYearQuarter",
    "@Semantics.calendar.yearWeek": "Common.IsCalendarYearWeek",
    "@Semantics.calendar.month": "Common.IsCalendarMonth",
    "@Semantics.calendar.quarter": "Common.IsCalendarQuarter",
    "@Semantics.calendar.week": "Common.IsCalendarWeek",
    "@Semantics.calendar.dayOfYear": "Common.IsDayOfCalendarYear",
    "@Semantics.fiscal.year": "Common.IsFiscalYear",
    "@Semantics.fiscal.period": "Common.IsFiscalPeriod",
    "@Semantics.currencyCode": "Common.IsCurrency",
    "@Semantics.unitOfMeasure": "Common.IsUnit",
    "@Semantics.language": "Common.IsLanguageIdentifier",
}


def canonical_type(cds_type: str) -> str:
    """``cds.hana.X`` and ``hana.X`` are the same type; return the ``hana.X`` spelling."""
    return cds_type[4:] if cds_type.startswith("cds.hana.") else cds_type


def edm_type(element: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """EDM type and facets of a CSN element (the contract's §7 table)."""
    t = canonical_type(str(element.get("type", "")))
    length = element.get("length")
    facets: dict[str, str] = {}
    if t in ("cds.String", "hana.CHAR", "hana.NCHAR", "hana.VARCHAR", "hana.ALPHANUM"):
        if isinstance(length, int):
            facets["MaxLength"] = str(length)
        return "Edm.String", facets
    if t in ("cds.LargeString", "hana.CLOB", "hana.NCLOB", "hana.ST_POINT", "hana.ST_GEOMETRY"):
        return "Edm.String", facets
    if t == "cds.UUID":
        return "Edm.Guid", facets
    if t == "cds.Boolean":
        return "Edm.Boolean", facets
    if t in ("hana.TINYINT", "cds.UInt8"):
        return "Edm.Byte", facets
    if t in ("hana.SMALLINT", "cds.Int16"):
        return "Edm.Int16", facets
    if t in ("cds.Integer", "cds.Int32"):
        return "Edm.Int32", facets
    if t in ("cds.Integer64", "cds.Int64"):
        return "Edm.Int64", facets
    if t == "cds.Decimal":
        precision, scale = element.get("precision"), element.get("scale")
        if isinstance(precision, int):
            facets["Precision"] = str(precision)
            if isinstance(scale, int):
                facets["Scale"] = str(scale)
        return "Edm.Decimal", facets
    if t in ("cds.DecimalFloat", "hana.SMALLDECIMAL"):
        return "Edm.Decimal", facets
    if t == "cds.Double":
        return "Edm.Double", facets
    if t == "hana.REAL":
        return "Edm.Single", facets
    if t == "cds.Date":
        return "Edm.Date", facets
    if t == "cds.Time":
        return "Edm.TimeOfDay", facets
    if t == "cds.DateTime":
        return "Edm.DateTimeOffset", {"Precision": "0"}
    if t == "cds.Timestamp":
        return "Edm.DateTimeOffset", {"Precision": "7"}
    if t in ("cds.Binary", "hana.BINARY", "hana.VARBINARY"):
        if isinstance(length, int):
            facets["MaxLength"] = str(length)
        return "Edm.Binary", facets
    if t in ("cds.LargeBinary", "hana.BLOB"):
        return "Edm.Binary", facets
    return "Edm.String", facets


class _Names:
    """OData identifiers for CSN names: unique, ``[A-Za-z_][A-Za-z0-9_]*``."""

    def __init__(self) -> None:
        self.used: set[str] = set()
        self.mapping: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if name in self.mapping:
            return self.mapping[name]
        ident = _IDENT.sub("_", name) or "_"
        if ident[0].isdigit():
            ident = "_" + ident
        candidate, n = ident, 2
        while candidate in self.used:
            candidate = f"{ident}_{n}"
            n += 1
        self.used.add(candidate)
        self.mapping[name] = candidate
        return candidate


def odata_identifier(name: str) -> str:
    return _Names()(name)


@dataclass
class _Prop:
    name: str
    original: str
    element: Json
    source: Json | None = None
    key: bool = False
    measure: bool = False
    dimension: bool = False
    annotations: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rendered:
    """A rendered ``$metadata`` document and what the service document needs."""

    xml: str
    etag: str
    entity_set: str


def _bool_annotation(term: str) -> str:
    return f'<Annotation Term="{term}" Bool="true"/>'


def _string_annotation(term: str, value: str) -> str:
    return f"<Annotation Term=\"{term}\" String={quoteattr(value)}/>"


def _path_annotation(term: str, path: str) -> str:
    return f"<Annotation Term=\"{term}\" Path={quoteattr(path)}/>"


def _is_measure(element: Mapping[str, Any]) -> bool:
    if "@AnalyticsDetails.measureType" in element:
        return True
    agg = element.get("@Aggregation.default")
    return isinstance(agg, dict) and agg.get("#") not in (None, "NONE")


def _ref_value(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("="), str):
        return str(value["="])
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return _ref_value(value[0])
    return None


def _semantic_annotations(element: Mapping[str, Any], names: _Names, known: set[str]) -> list[str]:
    out: list[str] = []
    for csn, term in _CALENDAR_TERMS.items():
        if element.get(csn) is True:
            out.append(_bool_annotation(term))
    for csn, term in (("@Semantics.amount.currencyCode", "Measures.ISOCurrency"),
                      ("@Semantics.quantity.unitOfMeasure", "Measures.Unit"),
                      ("@ObjectModel.text.element", "Common.Text")):
        target = _ref_value(element.get(csn))
        if target is not None and target in known:
            out.append(_path_annotation(term, names(target)))
    return out


def _xml(
    *, namespace: str, entity_name: str, entity_label: str | None, props: list[_Prop], names: _Names,
    dimension_term: str, measure_term: str, entity_annotations: list[str],
) -> tuple[str, str]:
    set_name = odata_identifier(entity_name)
    type_name = f"{set_name}Type"
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">']
    for alias, ns, uri in _VOCABULARIES:
        lines.append(f'  <edmx:Reference Uri="{uri}"><edmx:Include Alias="{alias}" Namespace="{ns}"/></edmx:Reference>')
    lines.append("  <edmx:DataServices>")
    lines.append(f'    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{namespace}">')
    lines.append(f'      <EntityType Name="{type_name}">')
    keys = [p for p in props if p.key]
    if keys:
        lines.append("        <Key>" + "".join(f'<PropertyRef Name="{p.name}"/>' for p in keys) + "</Key>")
    known = {p.original for p in props}
    for p in props:
        typed = p.source if p.source is not None else p.element
        edm, facets = edm_type(typed)
        attrs = f'Name="{p.name}" Type="{edm}"' + "".join(f' {k}="{v}"' for k, v in facets.items())
        if p.key or typed.get("notNull") is True or p.element.get("notNull") is True:
            attrs += ' Nullable="false"'
        ann: list[str] = []
        label = p.element.get("@EndUserText.label")
        if not isinstance(label, str) and p.source is not None:
            label = p.source.get("@EndUserText.label")
        if isinstance(label, str):
            ann.append(_string_annotation("Common.Label", label))
        if p.dimension:
            ann.append(_bool_annotation(dimension_term))
        if p.measure:
            ann.append(_bool_annotation(measure_term))
        ann += _semantic_annotations(typed if p.source is not None else p.element, names, known)
        if p.name != p.original:
            ann.append(_string_annotation("DataIntegration.OriginalName", p.original))
        ann += p.annotations
        if ann:
            lines.append(f"        <Property {attrs}>" + "".join(ann) + "</Property>")
        else:
            lines.append(f"        <Property {attrs}/>")
    if isinstance(entity_label, str):
        lines.append("        " + _string_annotation("Common.Label", entity_label))
    if set_name != entity_name:
        lines.append("        " + _string_annotation("DataIntegration.OriginalName", entity_name))
    lines += ["        " + a for a in entity_annotations]
    lines.append("      </EntityType>")
    lines.append('      <EntityContainer Name="EntityContainer">')
    lines.append(f'        <EntitySet Name="{set_name}" EntityType="{namespace}.{type_name}"/>')
    lines.append("      </EntityContainer>")
    lines.append("    </Schema>")
    lines.append("  </edmx:DataServices>")
    lines.append("</edmx:Edmx>")
    return "\n".join(lines) + "\n", set_name


def _hierarchy_annotations(definition: Mapping[str, Any], names: _Names) -> list[str]:
    out: list[str] = []
    leveled = definition.get("@Hierarchy.leveled")
    if isinstance(leveled, list) and leveled:
        records = []
        for h in leveled:
            if not isinstance(h, dict):
                continue
            levels = "".join(
                f'<Record><PropertyValue Property="element" PropertyPath={quoteattr(names(str(lv_el)))}/></Record>'
                for lv in h.get("levels") or []
                if isinstance(lv, dict) and (lv_el := _ref_value(lv.get("element"))) is not None
            )
            records.append(
                "<Record>"
                f"<PropertyValue Property=\"name\" String={quoteattr(str(h.get('name', '')))}/>"
                f"<PropertyValue Property=\"label\" String={quoteattr(str(h.get('label', '')))}/>"
                f'<PropertyValue Property="levels"><Collection>{levels}</Collection></PropertyValue>'
                "</Record>"
            )
        out.append('<Annotation Term="Hierarchy.leveled"><Collection>' + "".join(records) + "</Collection></Annotation>")
    pc = definition.get("@Hierarchy.parentChild")
    if isinstance(pc, list) and pc:
        records = []
        for h in pc:
            if not isinstance(h, dict):
                continue
            recurse = h.get("recurse") or {}
            parts = []
            for role in ("parent", "child"):
                paths = "".join(
                    f"<PropertyPath>{names(str(v))}</PropertyPath>"
                    for v in (_ref_value(x) for x in recurse.get(role) or []) if v is not None
                )
                parts.append(f'<PropertyValue Property="{role}"><Collection>{paths}</Collection></PropertyValue>')
            records.append(
                "<Record>"
                f"<PropertyValue Property=\"name\" String={quoteattr(str(h.get('name', '')))}/>"
                f"<PropertyValue Property=\"label\" String={quoteattr(str(h.get('label', '')))}/>"
                + "".join(parts) + "</Record>"
            )
        out.append('<Annotation Term="Hierarchy.parentChild"><Collection>' + "".join(records) + "</Collection></Annotation>")
    return out


def _entity_annotations(definition: Mapping[str, Any], names: _Names) -> list[str]:
    out: list[str] = []
    dim_type = definition.get("@Analytics.dimensionType")
    if isinstance(dim_type, str):
        out.append(_string_annotation("Analytics.dimensionType", dim_type.lstrip("#")))
    out += _hierarchy_annotations(definition, names)
    return out


def _etag(xml: str) -> str:
    return 'W/"' + hashlib.sha256(xml.encode("utf-8")).hexdigest()[:40] + '"'


# -- views and tables ------------------------------------------------------------------------


def _render_entity(obj: DesignObject, service: str) -> Rendered:
    definition = obj.definition
    elements = definition.get("elements") or {}
    names = _Names()
    props: list[_Prop] = []
    for name, element in elements.items():
        if not isinstance(element, dict) or element.get("type") in _ASSOCIATIONS:
            continue
        props.append(_Prop(
            name=names(name), original=name, element=element, key=element.get("key") is True,
            measure=_is_measure(element), dimension=element.get("@Analytics.dimension") is True,
        ))
    relational = service == RELATIONAL
    xml, set_name = _xml(
        namespace=NAMESPACES[service], entity_name=obj.name, entity_label=_label(definition, obj), props=props,
        names=names, dimension_term="Analytics.Dimension" if relational else "Analytics.dimension",
        measure_term="Analytics.Measure" if relational else "Analytics.measure",
        entity_annotations=_entity_annotations(definition, names),
    )
    return Rendered(xml, _etag(xml), set_name)


def _label(definition: Mapping[str, Any], obj: DesignObject) -> str | None:
    label = definition.get("@EndUserText.label")
    return label if isinstance(label, str) else obj.label


# -- analytic models ---------------------------------------------------------------------------


class _AmResolver:
    """Types of analytic-model elements, from the sources in ``businessLayerDefinitions``."""

    def __init__(self, tenant: Tenant, obj: DesignObject) -> None:
        self.tenant = tenant
        self.obj = obj
        self.bl: Json = obj.business_layer or {}
        self.definition = obj.definition
        self.deps: dict[tuple[str, str], DesignObject] = {}
        source_model = self.bl.get("sourceModel") or {}
        self.facts: dict[str, Json] = self._sources(source_model.get("factSources"))
        self.dims: dict[str, Json] = self._sources(source_model.get("dimensionSources"))

    def _sources(self, sources: Any) -> dict[str, Json]:
        out: dict[str, Json] = {}
        if not isinstance(sources, dict):
            return out
        for alias, spec in sources.items():
            key = ((spec or {}).get("dataEntity") or {}).get("key")
            target = self.tenant.resolve_ref(self.obj.space, key) if isinstance(key, str) else None
            if target is None or not target.kind.has_columns:
                continue
            self.deps[(target.space, target.name)] = target
            elements = target.definition.get("elements")
            out[str(alias)] = elements if isinstance(elements, dict) else {}
        return out

    def fingerprint(self) -> tuple[int, ...]:
        return (self.obj.revision, *sorted(d.revision for d in self.deps.values()))

    def _fact_element(self, alias: str | None, key: Any) -> Json | None:
        if not isinstance(key, str):
            return None
        pools = [self.facts[alias]] if alias in self.facts else list(self.facts.values())
        for pool in pools:
            e = pool.get(key)
            if isinstance(e, dict):
                return e
        return None

    def element_source(self, name: str, depth: int = 0) -> Json | None:
        if depth > 5:
            return None
        attrs = self.bl.get("attributes") or {}
        measures = self.bl.get("measures") or {}
        if name in attrs:
            spec = attrs[name] or {}
            kind = str(spec.get("attributeType", ""))
            if kind.endswith("DimensionSourceAttribute"):
                e = (self.dims.get(str(spec.get("sourceKey"))) or {}).get(str(spec.get("key")))
                return e if isinstance(e, dict) else None
            mapping = spec.get("attributeMapping") or {}
            for alias, m in mapping.items():
                found = self._fact_element(str(alias), (m or {}).get("key"))
                if found is not None:
                    return found
            return None
        if name in measures:
            spec = measures[name] or {}
            kind = str(spec.get("measureType", ""))
            if kind.endswith("FactSourceMeasure"):
                mapping = spec.get("measureMapping")
                if isinstance(mapping, dict):
                    for alias, m in mapping.items():
                        found = self._fact_element(str(alias), (m or {}).get("key"))
                        if found is not None:
                            return found
                return self._fact_element(spec.get("sourceKey"), spec.get("key"))
            if kind.endswith("RestrictedMeasure"):
                base = spec.get("key")
                if isinstance(base, str) and base in measures and base != name:
                    return self.element_source(base, depth + 1)
                return self._fact_element(None, base)
            if kind.endswith("CountDistinct"):
                return {"type": "cds.Integer64"}
            if kind.endswith("CalculatedMeasure"):
                for used in spec.get("elements") or {}:
                    if used != name:
                        found = self.element_source(str(used), depth + 1)
                        if found is not None:
                            return found
                return {"type": "cds.Double"}
        nav = self.definition.get("elements", {}).get(name, {}).get("@Analytics.navigationAttributeRef")
        if isinstance(nav, list) and len(nav) == 2:
            assoc = self.definition.get("elements", {}).get(nav[0], {})
            target = self.tenant.resolve_ref(self.obj.space, str(assoc.get("target", "")))
            if target is not None:
                e = (target.definition.get("elements") or {}).get(nav[1])
                return e if isinstance(e, dict) else None
        return None

    def auxiliary(self, name: str) -> bool:
        spec = (self.bl.get("measures") or {}).get(name)
        return isinstance(spec, dict) and spec.get("isAuxiliary") is True


def _render_analytic_model(resolver: _AmResolver) -> Rendered:
    obj = resolver.obj
    definition = resolver.definition
    names = _Names()
    props: list[_Prop] = []
    attrs = resolver.bl.get("attributes") or {}
    for name, element in (definition.get("elements") or {}).items():
        if not isinstance(element, dict) or element.get("type") in _ASSOCIATIONS or resolver.auxiliary(name):
            continue
        source = resolver.element_source(name) or {"type": "cds.String"}
        measure = _is_measure(element)
        spec = attrs.get(name) or {}
        is_key = (
            not measure
            and str(spec.get("attributeType", "")).endswith("FactSourceAttribute")
            and source.get("key") is True
        )
        typed = {k: v for k, v in source.items() if k in ("type", "length", "precision", "scale", "srid", "notNull")}
        typed.update({k: v for k, v in source.items() if k.startswith(("@Semantics.", "@ObjectModel.text."))})
        props.append(_Prop(
            name=names(name), original=name, element=element, source=typed, key=is_key, measure=measure,
            dimension=not measure,
        ))
    xml, set_name = _xml(
        namespace=NAMESPACES[ANALYTICAL], entity_name=obj.name, entity_label=_label(definition, obj), props=props,
        names=names, dimension_term="Analytics.dimension", measure_term="Analytics.measure", entity_annotations=[],
    )
    return Rendered(xml, _etag(xml), set_name)


def render(tenant: Tenant, obj: DesignObject, service: str) -> Rendered:
    """``$metadata`` of one asset's relational or analytical service (cached per object)."""
    if obj.kind is AssetKind.ANALYTIC_MODEL:
        resolver = _AmResolver(tenant, obj)
        key = (service, resolver.fingerprint())
        cached: Rendered | None = obj.cache.get(key)
        if cached is None:
            cached = _render_analytic_model(resolver)
            for stale in [k for k in obj.cache if isinstance(k, tuple) and k[0] == service]:
                del obj.cache[stale]
            obj.cache[key] = cached
        return cached
    plain: Rendered | None = obj.cache.get(service)
    if plain is None:
        plain = _render_entity(obj, service)
        obj.cache[service] = plain
    return plain


# -- catalog service ---------------------------------------------------------------------------

CATALOG_METADATA = """<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">
  <edmx:Reference Uri="https://sap.github.io/odata-vocabularies/vocabularies/Common.xml"><edmx:Include Alias="Common" Namespace="com.sap.vocabularies.Common.v1"/></edmx:Reference>
  <edmx:DataServices>
    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="CatalogService">
      <EntityType Name="spacesType">
        <Key><PropertyRef Name="name"/></Key>
        <Property Name="name" Type="Edm.String" MaxLength="20" Nullable="false"/>
        <Property Name="label" Type="Edm.String" MaxLength="5000"/>
        <NavigationProperty Name="assets" Type="Collection(CatalogService.assetsType)"/>
      </EntityType>
      <EntityType Name="assetsType">
        <Key><PropertyRef Name="spaceName"/><PropertyRef Name="name"/></Key>
        <Property Name="name" Type="Edm.String" MaxLength="256" Nullable="false"/>
        <Property Name="label" Type="Edm.String" MaxLength="5000"/>
        <Property Name="spaceName" Type="Edm.String" MaxLength="20" Nullable="false"/>
        <Property Name="assetRelationalMetadataUrl" Type="Edm.String"/>
        <Property Name="assetRelationalDataUrl" Type="Edm.String"/>
        <Property Name="assetAnalyticalMetadataUrl" Type="Edm.String"/>
        <Property Name="assetAnalyticalDataUrl" Type="Edm.String"/>
        <Property Name="supportsAnalyticalQueries" Type="Edm.Boolean"/>
        <Property Name="hasParameters" Type="Edm.Boolean"/>
      </EntityType>
      <EntityContainer Name="EntityContainer">
        <EntitySet Name="spaces" EntityType="CatalogService.spacesType">
          <NavigationPropertyBinding Path="assets" Target="assets"/>
        </EntitySet>
        <EntitySet Name="assets" EntityType="CatalogService.assetsType"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"""
CATALOG_METADATA_ETAG = _etag(CATALOG_METADATA)
