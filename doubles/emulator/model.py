"""What the emulated tenant holds: spaces and design-time objects (CSN documents).

A :class:`DesignObject` is one object of the design-time API (table, view, analytic model,
flow). Its CSN document may be produced lazily by a factory (the synthetic generator), so a
tenant with 10,000 objects costs only their names until a client reads them. The flags the
catalog needs (exposed, relational/analytical services, parameters) are kept eagerly.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.models import AssetKind, content_hash

Json = dict[str, Any]

#: Root key of the design-time document per kind (flows and task chains do not use
#: ``definitions``; that is what SAP's CLI returns).
ROOT_KEYS: dict[AssetKind, str] = {
    AssetKind.DATA_FLOW: "dataflows",
    AssetKind.TRANSFORMATION_FLOW: "transformationflows",
    AssetKind.REPLICATION_FLOW: "replicationflows",
    AssetKind.TASK_CHAIN: "taskchains",
}

#: ``kind`` of the main definition per flow kind.
FLOW_CSN_KINDS: dict[AssetKind, str] = {
    AssetKind.DATA_FLOW: "sap.dis.dataflow",
    AssetKind.TRANSFORMATION_FLOW: "sap.dis.transformationflow",
    AssetKind.REPLICATION_FLOW: "sap.dis.replicationflow",
    AssetKind.TASK_CHAIN: "sap.dwc.taskChain",
}

STATUS_DEPLOYED = "Deployed"

_revisions = itertools.count(1)


def root_key(kind: AssetKind) -> str:
    """The top-level section of the CSN document that holds the object's definition."""
    return ROOT_KEYS.get(kind, "definitions")


def pattern_of(definition: Json) -> str | None:
    """``@ObjectModel.modelingPattern`` of a definition (``ANALYTICAL_FACT``...), if any."""
    value = definition.get("@ObjectModel.modelingPattern")
    if isinstance(value, dict):
        hash_value = value.get("#")
        return hash_value if isinstance(hash_value, str) else None
    return None


@dataclass(frozen=True)
class SpaceInfo:
    """A space: id (``[A-Z0-9_]{1,20}``) and business label."""

    name: str
    label: str
    origin: str = "realistic"
    #: A space the technical user may not see: not in the catalog, 403 on every design-time
    #: request (the owner of objects shared into visible spaces, as in the SAP exports).
    hidden: bool = False


@dataclass(frozen=True)
class ConsumptionFlags:
    """What the catalog says about an object."""

    exposed: bool
    relational: bool
    analytical: bool
    has_parameters: bool


def consumption_flags(kind: AssetKind, doc: Json, name: str, status: str) -> ConsumptionFlags:
    """Derive catalog flags from a CSN document.

    Only deployed assets exposed for consumption (``@DataWarehouse.consumption.external``)
    appear in the catalog, plus every deployed analytic model. Analytic models have only the
    analytical service; views modelled as ``ANALYTICAL_FACT`` have both; the rest relational.
    """
    if kind.is_flow or status != STATUS_DEPLOYED:
        return ConsumptionFlags(False, False, False, False)
    section = doc.get(root_key(kind))
    definition = section.get(name) if isinstance(section, dict) else None
    if not isinstance(definition, dict):
        return ConsumptionFlags(False, False, False, False)
    params = definition.get("params")
    has_params = isinstance(params, dict) and bool(params)
    if kind is AssetKind.ANALYTIC_MODEL:
        bl = (doc.get("businessLayerDefinitions") or {}).get(name) or {}
        variables = bl.get("variables") or {}
        has_params = has_params or any(
            isinstance(v, dict) and str(v.get("parameterType", "")).endswith(".Input")
            for v in variables.values()
        )
        return ConsumptionFlags(True, False, True, has_params)
    exposed = definition.get("@DataWarehouse.consumption.external") is True
    if not exposed:
        return ConsumptionFlags(False, False, False, has_params)
    analytical = kind is AssetKind.VIEW and pattern_of(definition) == "ANALYTICAL_FACT"
    return ConsumptionFlags(True, True, analytical, has_params)


class DesignObject:
    """One design-time object of a space, with its (possibly lazy) CSN document."""

    __slots__ = (
        "_doc",
        "_etag",
        "_factory",
        "cache",
        "flags",
        "kind",
        "label",
        "name",
        "revision",
        "space",
        "status",
        "synthetic",
    )

    def __init__(
        self,
        *,
        space: str,
        name: str,
        kind: AssetKind,
        label: str | None,
        doc: Json | None = None,
        factory: Callable[[], Json] | None = None,
        flags: ConsumptionFlags | None = None,
        status: str = STATUS_DEPLOYED,
        synthetic: bool = False,
    ) -> None:
        if doc is None and factory is None:
            raise ValueError("a design object needs a document or a factory")
        self.space = space
        self.name = name
        self.kind = kind
        self.label = label
        self.status = status
        self.synthetic = synthetic
        self._doc = doc
        self._factory = factory
        self._etag: str | None = None
        self.revision = next(_revisions)
        #: Rendered artefacts ($metadata XML...), keyed by the renderer; dropped with the object.
        self.cache: dict[Any, Any] = {}
        if flags is None:
            flags = consumption_flags(kind, self.doc, name, status)
        self.flags = flags

    @property
    def doc(self) -> Json:
        """The full CSN document as the design-time API serves it."""
        if self._doc is None:
            assert self._factory is not None
            self._doc = self._factory()
            self._factory = None
        return self._doc

    @property
    def loaded(self) -> bool:
        return self._doc is not None

    @property
    def definition(self) -> Json:
        """The object's own definition (the entry keyed by its technical name)."""
        section = self.doc.get(root_key(self.kind)) or {}
        definition = section.get(self.name)
        if not isinstance(definition, dict):
            raise KeyError(f"{self.space}.{self.name}: no definition in its document")
        return definition

    @property
    def business_layer(self) -> Json | None:
        bl = self.doc.get("businessLayerDefinitions")
        if isinstance(bl, dict):
            value = bl.get(self.name)
            return value if isinstance(value, dict) else None
        return None

    @property
    def etag(self) -> str:
        """Strong ETag of the design-time document: hash of the canonical CSN sans volatile keys."""
        if self._etag is None:
            self._etag = '"' + content_hash(self.doc) + '"'
        return self._etag

    def summary(self) -> Json:
        return {
            "space": self.space,
            "name": self.name,
            "kind": self.kind.value,
            "label": self.label,
            "status": self.status,
            "exposed": self.flags.exposed,
            "relational": self.flags.relational,
            "analytical": self.flags.analytical,
            "hasParameters": self.flags.has_parameters,
        }
