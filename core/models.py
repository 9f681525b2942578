"""The domain model: what dgsync knows about a Datasphere tenant.

Everything the connectors extract becomes these typed, immutable-by-convention pydantic
models; the mapping engine turns them into Glue specs. Nothing here does I/O.

Identity: an asset is ``(space, name)``; technical names are case-sensitive and may contain
dots, spaces and ``∞``. ``AssetRef`` renders as ``SPACE.NAME``.

Fingerprints: ``Asset.fingerprint`` is a SHA-256 over the canonical JSON of the asset's
content (every field but the fingerprints themselves), so it changes exactly when something a
sync could write changes. ``Asset.source_hash`` is the hash of the canonical source document
(CSN with volatile keys such as ``_meta`` and ``editorSettings`` removed): the cheap change
signal used by incremental sync.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Keys dropped anywhere in a CSN document before hashing: they change without any change
#: of meaning (editor layout, deployment bookkeeping).
VOLATILE_KEYS: frozenset[str] = frozenset({"_meta", "editorSettings", "meta"})


def canonical_json(value: Any) -> str:
    """Serialise ``value`` deterministically (sorted keys, no whitespace, UTF-8 kept)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def strip_volatile(doc: Any) -> Any:
    """Return ``doc`` without the keys in :data:`VOLATILE_KEYS`, at any depth."""
    if isinstance(doc, dict):
        return {k: strip_volatile(v) for k, v in doc.items() if k not in VOLATILE_KEYS}
    if isinstance(doc, list):
        return [strip_volatile(v) for v in doc]
    return doc


def content_hash(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value`` with volatile keys removed."""
    return hashlib.sha256(canonical_json(strip_volatile(value)).encode("utf-8")).hexdigest()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class AssetKind(StrEnum):
    """Object types the Datasphere design-time API exposes."""

    LOCAL_TABLE = "local_table"
    REMOTE_TABLE = "remote_table"
    VIEW = "view"
    ANALYTIC_MODEL = "analytic_model"
    DATA_FLOW = "data_flow"
    REPLICATION_FLOW = "replication_flow"
    TRANSFORMATION_FLOW = "transformation_flow"
    TASK_CHAIN = "task_chain"

    @property
    def is_flow(self) -> bool:
        return self in {
            AssetKind.DATA_FLOW,
            AssetKind.REPLICATION_FLOW,
            AssetKind.TRANSFORMATION_FLOW,
            AssetKind.TASK_CHAIN,
        }

    @property
    def has_columns(self) -> bool:
        return not self.is_flow


#: Design-time list path segment (``/dwaas-core/api/v1/spaces/{space}/{segment}``) per kind.
DESIGN_TIME_SEGMENTS: dict[AssetKind, str] = {
    AssetKind.VIEW: "views",
    AssetKind.ANALYTIC_MODEL: "analyticmodels",
    AssetKind.LOCAL_TABLE: "localtables",
    AssetKind.REMOTE_TABLE: "remotetables",
    AssetKind.DATA_FLOW: "dataflows",
    AssetKind.REPLICATION_FLOW: "replicationflows",
    AssetKind.TRANSFORMATION_FLOW: "transformationflows",
    AssetKind.TASK_CHAIN: "taskchains",
}


class SemanticRole(StrEnum):
    DIMENSION = "dimension"
    MEASURE = "measure"
    ATTRIBUTE = "attribute"
    TEXT = "text"


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return [Priority.CRITICAL, Priority.HIGH, Priority.MEDIUM, Priority.LOW].index(self)


def default_priority(kind: AssetKind) -> Priority:
    """Priority class of a kind: analytic models critical, views and tables high, flows medium."""
    if kind is AssetKind.ANALYTIC_MODEL:
        return Priority.CRITICAL
    if kind in {AssetKind.VIEW, AssetKind.LOCAL_TABLE, AssetKind.REMOTE_TABLE}:
        return Priority.HIGH
    if kind in {AssetKind.DATA_FLOW, AssetKind.TRANSFORMATION_FLOW, AssetKind.REPLICATION_FLOW}:
        return Priority.MEDIUM
    return Priority.LOW


class AssetRef(_Model):
    """Identity of an asset: space plus case-sensitive technical name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: str
    name: str

    def __str__(self) -> str:
        return f"{self.space}.{self.name}"


class CdsType(_Model):
    """A CDS type with its facets, e.g. ``cds.Decimal(20,3)`` or ``cds.String(40)``.

    ``name`` is the CDS name (``cds.String``, ``cds.hana.TINYINT``, ``hana.ST_POINT``...). When
    the type was resolved from OData ``$metadata`` instead of CSN, ``edm_type`` holds the EDM
    type it came from and ``name`` the CDS type it corresponds to.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    srid: int | None = None
    edm_type: str | None = None

    def __str__(self) -> str:
        if self.precision is not None:
            return f"{self.name}({self.precision},{self.scale or 0})"
        if self.length is not None:
            return f"{self.name}({self.length})"
        return self.name


class Column(_Model):
    """A column (CSN element that is not an association)."""

    name: str
    label: str | None = None
    type: CdsType
    key: bool = False
    nullable: bool = True
    role: SemanticRole = SemanticRole.ATTRIBUTE
    #: ``@Aggregation.default`` (SUM, MIN, MAX, COUNT, AVG, NONE...) for measures.
    aggregation: str | None = None
    #: ``@AnalyticsDetails.measureType`` (BASE, RESTRICTION, CALCULATION, ...).
    measure_type: str | None = None
    #: Flattened ``@Semantics.*`` annotations, e.g. ``{"currencyCode": "true",
    #: "amount.currencyCode": "Currency", "calendar.yearMonth": "true"}``.
    semantics: dict[str, str] = Field(default_factory=dict)
    #: ``@ObjectModel.text.element`` (the column holding this column's text).
    text_element: str | None = None
    #: Target of ``@ObjectModel.foreignKey.association`` / ``@ObjectModel.text.association``.
    foreign_key_target: str | None = None
    text_target: str | None = None
    #: Column-level lineage: source columns as ``SPACE.ASSET.COLUMN`` where the CSN allows.
    lineage: list[str] = Field(default_factory=list)
    #: Where ``type`` came from: ``csn`` (the element's own type), ``source:SPACE.ASSET.COLUMN``
    #: (an analytic model's source column), ``measure:NAME`` (the base of a restricted
    #: measure), ``metadata`` (the analytical ``$metadata``), ``formula:NAME`` (a calculated
    #: measure: the measure its formula names), ``assumed`` (a measure nothing typed:
    #: ``cds.DecimalFloat``); ``None`` while unresolved. Provenance only: not part of
    #: ``Asset.fingerprint``.
    type_origin: str | None = None


class Hierarchy(_Model):
    """``@Hierarchy.leveled`` (levels, top-down) or ``@Hierarchy.parentChild``."""

    name: str
    label: str | None = None
    kind: Literal["leveled", "parent_child"] = "leveled"
    levels: list[str] = Field(default_factory=list)
    parent: list[str] = Field(default_factory=list)
    child: list[str] = Field(default_factory=list)


class Association(_Model):
    """A ``cds.Association`` / ``cds.Composition`` element: a relationship, not a column."""

    name: str
    target: AssetRef
    label: str | None = None
    cardinality: str | None = None
    #: Pairs of (local element, target element) from the ``on`` condition where simple.
    on: list[tuple[str, str]] = Field(default_factory=list)


class DependencyKind(StrEnum):
    FROM = "from"
    JOIN = "join"
    UNION = "union"
    MIXIN = "mixin"
    ASSOCIATION = "association"
    FACT_SOURCE = "fact_source"
    DIMENSION_SOURCE = "dimension_source"
    FLOW_SOURCE = "flow_source"
    FLOW_TARGET = "flow_target"

    @property
    def is_data_flow(self) -> bool:
        """True when data of ``ref`` flows into the dependent object (``from``, joins, unions,
        analytic-model fact/dimension sources, flow sources). Associations and mixins only
        relate objects, and a flow target is downstream, not upstream."""
        return self in _DATA_FLOW_KINDS


_DATA_FLOW_KINDS: frozenset[DependencyKind] = frozenset(
    {
        DependencyKind.FROM,
        DependencyKind.JOIN,
        DependencyKind.UNION,
        DependencyKind.FACT_SOURCE,
        DependencyKind.DIMENSION_SOURCE,
        DependencyKind.FLOW_SOURCE,
    }
)


class Dependency(_Model):
    """An upstream object this asset reads from (``ref``; cross-space resolved)."""

    ref: AssetRef
    kind: DependencyKind


class SourceRef(_Model):
    """A fact or dimension source of an analytic model."""

    alias: str
    ref: AssetRef
    label: str | None = None
    #: For dimension sources: the fact source alias and association steps that reach it.
    via: str | None = None
    association_steps: list[str] = Field(default_factory=list)


class Measure(_Model):
    name: str
    label: str | None = None
    #: e.g. ``FactSourceMeasure``, ``CalculatedMeasure``, ``RestrictedMeasure``, ``CountDistinct``.
    measure_type: str | None = None
    aggregation: str | None = None
    source: str | None = None
    source_element: str | None = None
    expression: str | None = None
    is_auxiliary: bool = False


class Attribute(_Model):
    name: str
    label: str | None = None
    #: ``FactSourceAttribute`` / ``DimensionSourceAttribute``.
    attribute_type: str | None = None
    source: str | None = None
    source_element: str | None = None


class Variable(_Model):
    name: str
    label: str | None = None
    variable_type: str | None = None
    type: CdsType | None = None
    default: str | None = None
    mandatory: bool = False


class AnalyticDefinition(_Model):
    """What ``businessLayerDefinitions`` says about an analytic model."""

    fact_sources: list[SourceRef] = Field(default_factory=list)
    dimension_sources: list[SourceRef] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)
    measures: list[Measure] = Field(default_factory=list)
    variables: list[Variable] = Field(default_factory=list)


class FlowDefinition(_Model):
    """Sources and targets of a data / transformation / replication flow."""

    sources: list[AssetRef] = Field(default_factory=list)
    targets: list[AssetRef] = Field(default_factory=list)
    #: Write mode per target where the flow says (APPEND, UPSERT, TRUNCATE...).
    load_type: str | None = None


class BusinessContext(_Model):
    label: str | None = None
    description: str | None = None
    #: ``@ObjectModel.modelingPattern`` (DATA_STRUCTURE, ANALYTICAL_FACT, ANALYTICAL_DIMENSION,
    #: LANGUAGE_DEPENDENT_TEXT, ANALYTICAL_CUBE...).
    modeling_pattern: str | None = None
    supported_capabilities: list[str] = Field(default_factory=list)
    #: ``@DataWarehouse.consumption.external``: exposed for consumption.
    exposed: bool = False
    dimension_type: str | None = None
    #: ``@DataWarehouse.sqlEditor.query`` or a rendering of ``query`` (display only).
    sql: str | None = None


class Space(_Model):
    name: str
    label: str | None = None


class Asset(_Model):
    """One Datasphere object with everything a sync needs to know about it."""

    space: str
    name: str
    kind: AssetKind
    label: str | None = None
    columns: list[Column] = Field(default_factory=list)
    associations: list[Association] = Field(default_factory=list)
    hierarchies: list[Hierarchy] = Field(default_factory=list)
    upstream: list[Dependency] = Field(default_factory=list)
    business: BusinessContext = Field(default_factory=BusinessContext)
    analytic: AnalyticDefinition | None = None
    flow: FlowDefinition | None = None
    parameters: list[Variable] = Field(default_factory=list)
    #: Consumption URLs from the catalog (when exposed); followed as given, never rebuilt.
    relational_metadata_url: str | None = None
    analytical_metadata_url: str | None = None
    #: Problems met while extracting that did not stop it (e.g. unknown type -> string).
    warnings: list[str] = Field(default_factory=list)
    source_hash: str = ""
    fingerprint: str = ""

    @model_validator(mode="after")
    def _fill_fingerprint(self) -> Asset:
        if not self.fingerprint:
            self.fingerprint = self.compute_fingerprint()
        return self

    def compute_fingerprint(self) -> str:
        """Hash of the canonical content (fingerprints, warnings, URLs and type origins excluded)."""
        body = self.model_dump(
            mode="json",
            exclude={
                "fingerprint",
                "source_hash",
                "warnings",
                "relational_metadata_url",
                "analytical_metadata_url",
            },
        )
        # Type provenance is not content: the same types from another origin write the same table.
        for column in body.get("columns", []):
            column.pop("type_origin", None)
        # The domain model holds no volatile CSN keys: hash its canonical JSON directly.
        return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()

    @property
    def ref(self) -> AssetRef:
        return AssetRef(space=self.space, name=self.name)

    @property
    def key(self) -> str:
        return f"{self.space}.{self.name}"

    @property
    def measures(self) -> list[Column]:
        return [c for c in self.columns if c.role is SemanticRole.MEASURE]

    @property
    def dimensions(self) -> list[Column]:
        return [c for c in self.columns if c.role is SemanticRole.DIMENSION]

    @property
    def priority(self) -> Priority:
        return default_priority(self.kind)
