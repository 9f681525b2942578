"""Small builders for CSN fragments (elements, entities, queries, analytic models, flows).

Used by the realistic tenant and the synthetic generator so both emit the shapes documented
in ``docs/csn-shapes.md``. Everything returns plain JSON-able dicts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.models import AssetKind

from .model import FLOW_CSN_KINDS, Json, root_key

CSN_VERSION: Json = {"csn": "1.0"}

_SEMANTIC_FLAGS = {
    "is_currency": "@Semantics.currencyCode",
    "is_unit": "@Semantics.unitOfMeasure",
    "is_text": "@Semantics.text",
    "is_language": "@Semantics.language",
    "is_date": "@Semantics.date",
    "dim": "@Analytics.dimension",
}


def el(
    type_: str,
    label: str | None = None,
    *,
    length: int | None = None,
    precision: int | None = None,
    scale: int | None = None,
    srid: int | None = None,
    key: bool = False,
    not_null: bool = False,
    measure: str | None = None,
    measure_type: str = "BASE",
    currency: str | None = None,
    unit: str | None = None,
    text: str | None = None,
    text_assoc: str | None = None,
    fk: str | None = None,
    calendar: str | None = None,
    extra: Mapping[str, Any] | None = None,
    **flags: bool,
) -> Json:
    """One CSN element. ``measure="SUM"`` makes it a measure (``@AnalyticsDetails.measureType``
    + ``@Aggregation.default``); flags: ``dim``, ``is_currency``, ``is_unit``, ``is_text``,
    ``is_language``, ``is_date``."""
    out: Json = {}
    if label is not None:
        out["@EndUserText.label"] = label
    out["type"] = type_
    if length is not None:
        out["length"] = length
    if precision is not None:
        out["precision"] = precision
    if scale is not None:
        out["scale"] = scale
    if srid is not None:
        out["srid"] = srid
    if key:
        out["key"] = True
        out["notNull"] = True
    elif not_null:
        out["notNull"] = True
    for flag, value in flags.items():
        if value:
            out[_SEMANTIC_FLAGS[flag]] = True
    if measure is not None:
        out["@AnalyticsDetails.measureType"] = {"#": measure_type}
        out["@Aggregation.default"] = {"#": measure}
    if currency is not None:
        out["@Semantics.amount.currencyCode"] = {"=": currency}
    if unit is not None:
        out["@Semantics.quantity.unitOfMeasure"] = {"=": unit}
    if text is not None:
        out["@ObjectModel.text.element"] = [{"=": text}]
    if text_assoc is not None:
        out["@ObjectModel.text.association"] = {"=": text_assoc}
    if fk is not None:
        out["@ObjectModel.foreignKey.association"] = {"=": fk}
    if calendar is not None:
        out[f"@Semantics.calendar.{calendar}"] = True
    if extra:
        out.update(extra)
    return out


def s(length: int, label: str | None = None, **kw: Any) -> Json:
    return el("cds.String", label, length=length, **kw)


def dec(precision: int, scale: int | None, label: str | None = None, **kw: Any) -> Json:
    return el("cds.Decimal", label, precision=precision, scale=scale, **kw)


def on_pairs(assoc_name: str, pairs: Sequence[tuple[str, str]], *, projection: bool = False) -> list[Any]:
    """``on`` token list: ``local = assoc.remote [and ...]``."""
    tokens: list[Any] = []
    for i, (local, remote) in enumerate(pairs):
        if i:
            tokens.append("and")
        left = ["$projection", local] if projection else [local]
        tokens += [{"ref": left}, "=", {"ref": [assoc_name, remote]}]
    return tokens


def assoc(
    name: str, target: str, pairs: Sequence[tuple[str, str]], label: str | None = None,
    *, projection: bool = False, cardinality: Json | None = None,
) -> Json:
    out: Json = {"type": "cds.Association"}
    if label is not None:
        out["@EndUserText.label"] = label
    if cardinality is not None:
        out["cardinality"] = cardinality
    out["on"] = on_pairs(name, pairs, projection=projection)
    out["target"] = target
    return out


def ref(name: str, alias: str | None = None) -> Json:
    out: Json = {"ref": [name]}
    if alias is not None:
        out["as"] = alias
    return out


def col(*path: str, alias: str | None = None, key: bool = False) -> Json:
    out: Json = {}
    if key:
        out["key"] = True
    out["ref"] = list(path)
    if alias is not None and alias != path[-1]:
        out["as"] = alias
    return out


def join(kind: str, left: Json, right: Json, on: Sequence[tuple[str, str]] | list[Any]) -> Json:
    """A two-argument join; ``on`` as ``[(leftAlias.col, rightAlias.col), ...]`` or tokens."""
    tokens: list[Any]
    if on and isinstance(on[0], tuple):
        tokens = []
        for i, pair in enumerate(on):
            assert isinstance(pair, tuple)
            left_ref, right_ref = pair
            if i:
                tokens.append("and")
            tokens += [{"ref": left_ref.split(".", 1)}, "=", {"ref": right_ref.split(".", 1)}]
    else:
        tokens = list(on)
    return {"join": kind, "args": [left, right], "on": tokens}


def select(
    from_: Json, columns: list[Json], *, mixin: Json | None = None, where: list[Any] | None = None,
    distinct: bool = False,
) -> Json:
    body: Json = {"from": from_}
    if distinct:
        body["distinct"] = True
    body["columns"] = columns
    if mixin:
        body["mixin"] = mixin
    if where:
        body["where"] = where
    return {"SELECT": body}


def union(*selects: Json, all_: bool = True) -> Json:
    return {"SET": {"op": "union", "all": all_, "args": list(selects)}}


def entity(
    label: str,
    elements: Json,
    *,
    pattern: str | None = "DATA_STRUCTURE",
    capabilities: Iterable[str] | None = None,
    exposed: bool | None = None,
    query: Json | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Json:
    out: Json = {"kind": "entity", "@EndUserText.label": label}
    if pattern is not None:
        out["@ObjectModel.modelingPattern"] = {"#": pattern}
        caps = list(capabilities) if capabilities is not None else [pattern]
        out["@ObjectModel.supportedCapabilities"] = [{"#": c} for c in caps]
    if exposed is not None:
        out["@DataWarehouse.consumption.external"] = exposed
    if extra:
        out.update(extra)
    out["elements"] = elements
    if query is not None:
        out["query"] = query
    return out


def space_context(space: str, label: str) -> Json:
    return {
        "kind": "context",
        "@EndUserText.label": label,
        "@DataWarehouse.space.schema": space,
        "@DataWarehouse.space.name": space,
    }


def document(
    kind: AssetKind,
    name: str,
    definition: Json,
    *,
    contexts: Mapping[str, Json] | None = None,
    business_layer: Json | None = None,
    editor_settings: Json | None = None,
    creator: str = "dgsync emulator",
) -> Json:
    """The design-time document of one object (see docs/csn-shapes.md §1)."""
    section: Json = {name: definition}
    if contexts:
        section.update(contexts)
    doc: Json = {root_key(kind): section}
    if business_layer is not None:
        doc["businessLayerDefinitions"] = {name: business_layer}
    if editor_settings is not None:
        doc["editorSettings"] = {name: editor_settings}
    doc["version"] = dict(CSN_VERSION)
    doc["meta"] = {"creator": creator}
    doc["$version"] = "1.0"
    return doc


def project_columns(alias: str, elements: Mapping[str, Json], names: Iterable[str] | None = None) -> list[Json]:
    """Query columns selecting ``names`` (default: all non-association elements) from ``alias``."""
    chosen = names if names is not None else [
        n for n, e in elements.items() if e.get("type") not in ("cds.Association", "cds.Composition")
    ]
    return [col(alias, n, key=bool(elements[n].get("key"))) for n in chosen]


def copy_elements(elements: Mapping[str, Json], names: Iterable[str] | None = None, *, keep_keys: bool = True) -> Json:
    """Deep copies of source elements for a view (associations dropped)."""
    chosen = names if names is not None else list(elements)
    out: Json = {}
    for n in chosen:
        e = elements[n]
        if e.get("type") in ("cds.Association", "cds.Composition"):
            continue
        c = copy.deepcopy(e)
        if not keep_keys:
            c.pop("key", None)
        out[n] = c
    return out


# -- analytic models -------------------------------------------------------------------------


def analytic_model(
    *,
    name: str,
    label: str,
    fact_alias: str,
    fact_key: str,
    fact_label: str,
    fact_elements: Mapping[str, Json],
    fact_attributes: Sequence[str],
    measures: Sequence[str],
    dimensions: Sequence[Json] = (),
    calculated: Sequence[Json] = (),
    restricted: Sequence[Json] = (),
    count_distinct: Sequence[Json] = (),
    variables: Mapping[str, Json] | None = None,
    bl_version: str = "1.7.0",
) -> tuple[Json, Json]:
    """Build (definition, businessLayerDefinition) of an analytic model.

    ``dimensions``: dicts with ``key`` (dimension source key, e.g. "0"), ``assoc`` (bare
    association name on the fact), ``fk`` (fact element), ``target`` (dimension entity key as
    written in the model), ``target_elements``, ``attributes`` (dimension element names to expose)
    and optional ``text``/``renames`` ({dim element: model element}).
    ``calculated``: ``{"name", "label", "formula", "uses": [...]}``.
    ``restricted``: ``{"name", "label", "base", "formula"}``.
    ``count_distinct``: ``{"name", "label", "attributes": [...]}``.
    """
    elements: Json = {}
    columns: list[Json] = []
    mixin: Json = {}
    attributes: Json = {}
    bl_measures: Json = {}
    dim_sources: Json = {}
    fk_for_dim = {d["fk"]: d for d in dimensions}

    for attr in fact_attributes:
        src = fact_elements[attr]
        element: Json = {"@EndUserText.label": src.get("@EndUserText.label", attr), "@Analytics.dimension": True}
        spec: Json = {
            "text": src.get("@EndUserText.label", attr),
            "attributeType": "AnalyticModelAttributeType.FactSourceAttribute",
            "attributeMapping": {fact_alias: {"key": attr}},
        }
        dim = fk_for_dim.get(attr)
        if dim is not None:
            element["@ObjectModel.foreignKey.association"] = {"=": f"{dim['assoc']}∞{dim['key']}"}
            spec["text"] = attr
            spec["usedForDimensionSourceKey"] = dim["key"]
        elements[attr] = element
        attributes[attr] = spec
        columns.append(col(fact_alias, attr, alias=attr))

    for dim in dimensions:
        am_assoc = f"{dim['assoc']}∞{dim['key']}"
        target_elements: Mapping[str, Json] = dim["target_elements"]
        target_keys = [n for n, e in target_elements.items() if e.get("key")]
        pairs = [(dim["fk"], target_keys[0] if target_keys else dim["fk"])]
        elements[am_assoc] = assoc(am_assoc, dim["target"], pairs, dim.get("text", dim["assoc"]))
        mixin[am_assoc] = assoc(am_assoc, dim["target"], pairs, projection=True)
        columns.append({"ref": [am_assoc]})
        dim_sources[dim["key"]] = {
            "text": dim["fk"],
            "dataEntity": {"key": dim["target"]},
            "associationContexts": [
                {
                    "sourceKey": fact_alias,
                    "sourceType": "AnalyticModelSourceType.Fact",
                    "associationSteps": [dim["assoc"]],
                }
            ],
        }
        renames: Mapping[str, str] = dim.get("renames", {})
        for attr in dim["attributes"]:
            model_name = renames.get(attr, attr)
            src = target_elements[attr]
            elements[model_name] = {
                "@EndUserText.label": src.get("@EndUserText.label", attr),
                "@Analytics.dimension": True,
                "@Analytics.navigationAttributeRef": [am_assoc, attr],
            }
            attributes[model_name] = {
                "text": src.get("@EndUserText.label", attr),
                "attributeType": "AnalyticModelAttributeType.DimensionSourceAttribute",
                "sourceKey": dim["key"],
                "key": attr,
            }
            columns.append(col(am_assoc, attr, alias=model_name))

    for m in measures:
        src = fact_elements[m]
        agg = (src.get("@Aggregation.default") or {"#": "SUM"}).get("#", "SUM")
        elements[m] = {
            "@EndUserText.label": src.get("@EndUserText.label", m),
            "@AnalyticsDetails.measureType": {"#": "BASE"},
            "@Aggregation.default": {"#": agg},
        }
        spec = {"text": src.get("@EndUserText.label", m), "measureType": "AnalyticModelMeasureType.FactSourceMeasure"}
        if _version_tuple(bl_version) >= (1, 7):
            spec["measureMapping"] = {fact_alias: {"key": m}}
        else:
            spec["sourceKey"] = fact_alias
            spec["key"] = m
        spec["isAuxiliary"] = False
        bl_measures[m] = spec
        columns.append(col(fact_alias, m, alias=m))

    for c in calculated:
        elements[c["name"]] = {
            "@EndUserText.label": c["label"],
            "@AnalyticsDetails.measureType": {"#": "CALCULATION"},
            "@Aggregation.default": {"#": "FORMULA"},
        }
        bl_measures[c["name"]] = {
            "text": c["label"],
            "measureType": "AnalyticModelMeasureType.CalculatedMeasure",
            "formula": c["formula"],
            "formulaRaw": c["formula"],
            "elements": {u: {} for u in c["uses"]},
            "isAuxiliary": bool(c.get("auxiliary", False)),
        }
    for r in restricted:
        elements[r["name"]] = {
            "@EndUserText.label": r["label"],
            "@AnalyticsDetails.measureType": {"#": "RESTRICTION"},
            "@Aggregation.default": {"#": "SUM"},
        }
        bl_measures[r["name"]] = {
            "text": r["label"],
            "measureType": "AnalyticModelMeasureType.RestrictedMeasure",
            "key": r["base"],
            "formula": r["formula"],
            "formulaRaw": r["formula"],
            "constantSelectionType": "AnalyticModelConstantSelectionType.None",
            "elements": {},
            "isAuxiliary": False,
        }
    for cd in count_distinct:
        elements[cd["name"]] = {
            "@EndUserText.label": cd["label"],
            "@AnalyticsDetails.measureType": {"#": "BASE"},
            "@Aggregation.default": {"#": "COUNT_DISTINCT"},
        }
        bl_measures[cd["name"]] = {
            "text": cd["label"],
            "measureType": "AnalyticModelMeasureType.CountDistinct",
            "countDistinctAttributes": list(cd["attributes"]),
            "isAuxiliary": False,
        }

    definition: Json = {
        "kind": "entity",
        "@EndUserText.label": label,
        "@ObjectModel.modelingPattern": {"#": "ANALYTICAL_CUBE"},
        "@ObjectModel.supportedCapabilities": [
            {"#": "ANALYTICAL_PROVIDER"},
            {"#": "_DWC_AM_EDITABLE_DIMENSION_NAMES"},
        ],
        "@DataWarehouse.editorType": {"#": "DWCQueryModelEditor"},
        "@DataWarehouse.hanaCatalog.viewType": {"#": "CALCULATION_VIEW"},
        "@DataWarehouse.consumption.external": True,
        "elements": elements,
        "query": select(ref(fact_key, fact_alias), columns, mixin=mixin or None),
    }
    bl: Json = {
        "identifier": {"key": name},
        "text": label,
        "version": bl_version,
        "sourceModel": {
            "factSources": {fact_alias: {"text": fact_label, "dataEntity": {"key": fact_key}}},
            "dimensionSources": dim_sources,
        },
        "exposedAssociations": {},
        "attributes": attributes,
        "measures": bl_measures,
        "variables": dict(variables or {}),
        "supportedCapabilities": {},
        "crossCalculations": {},
    }
    return definition, bl


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


# -- flows -----------------------------------------------------------------------------------


def data_flow(label: str, sources: Sequence[str], target: str, *, mode: str = "APPEND") -> Json:
    processes: Json = {}
    connections: list[Json] = []
    for i, src in enumerate(sources, start=1):
        processes[f"source{i}"] = {
            "component": "com.sap.database.table.consumer",
            "metadata": {"label": src, "config": {"service": "HANA", "dwcEntity": src}},
        }
    last = "source1"
    if len(sources) > 1:
        processes["union1"] = {"component": "com.sap.dataflow.union", "metadata": {"label": "Union 1", "config": {}}}
        for i in range(1, len(sources) + 1):
            connections.append(_conn(f"source{i}", "union1"))
        last = "union1"
    processes["projection1"] = {
        "component": "com.sap.dataflow.projection",
        "metadata": {"label": "Projection 1", "config": {}},
    }
    connections.append(_conn(last, "projection1"))
    processes["target1"] = {
        "component": "com.sap.database.table.producer",
        "metadata": {"label": target, "config": {"service": "HANA", "dwcEntity": target, "mode": mode}},
    }
    connections.append(_conn("projection1", "target1"))
    return {
        "kind": FLOW_CSN_KINDS[AssetKind.DATA_FLOW],
        "@EndUserText.label": label,
        "contents": {
            "description": label,
            "properties": {},
            "metadata": {"dwc-restartOnFail": False},
            "processes": processes,
            "connections": connections,
            "groups": [],
            "inports": {},
            "outports": {},
        },
    }


def _conn(src: str, tgt: str) -> Json:
    return {"src": {"port": "outTable", "process": src}, "tgt": {"port": "inTable", "process": tgt}}


def transformation_flow(
    name: str, label: str, source: str, source_elements: Mapping[str, Json], target: str, *, truncate: bool = True
) -> Json:
    elements = copy_elements(source_elements)
    return {
        "kind": FLOW_CSN_KINDS[AssetKind.TRANSFORMATION_FLOW],
        "@EndUserText.label": label,
        "contents": {
            "properties": {},
            "metadata": {"loadType": "INITIAL_ONLY"},
            "parameters": {},
            "description": label,
            "processes": {
                "viewtransform1": {
                    "component": "com.sap.dwc.viewtransform",
                    "metadata": {
                        "label": "View Transform",
                        "config": {
                            "definition": {
                                "kind": "entity",
                                "elements": elements,
                                "query": select(ref(source), [col(n) for n in elements]),
                                "@EndUserText.label": "viewtransform1",
                                "@ObjectModel.modelingPattern": {"#": "DATA_STRUCTURE"},
                                "@ObjectModel.supportedCapabilities": [{"#": "DATA_STRUCTURE"}],
                                "@DataWarehouse.consumption.external": False,
                            },
                            "name": f"{name}$TRF_TV_viewtransform1",
                        },
                    },
                },
                "target1": {
                    "component": "com.sap.dwc.target",
                    "metadata": {
                        "label": target,
                        "config": {
                            "attributeMappings": [{"source": n, "target": n} for n in elements],
                            "definition": {"kind": "entity", "@EndUserText.label": target, "elements": copy.deepcopy(elements)},
                            "name": target,
                            "truncate": truncate,
                        },
                    },
                },
            },
            "groups": [],
            "connections": [_conn("viewtransform1", "target1")],
            "inports": {},
            "outports": {},
        },
    }


def replication_flow(
    label: str, connection: str, space: str, tasks: Sequence[tuple[str, str]], *, load_type: str = "INITIAL_AND_DELTA"
) -> Json:
    return {
        "kind": FLOW_CSN_KINDS[AssetKind.REPLICATION_FLOW],
        "@EndUserText.label": label,
        "contents": {
            "sourceSystem": {"connectionId": connection, "connectionType": "ABAP", "container": "/CDS_EXTRACTION"},
            "targetSystem": {"connectionId": "$DWC", "container": space},
            "loadType": load_type,
            "replicationTasks": [
                {"sourceObject": {"name": src}, "targetObject": {"name": tgt}, "loadType": load_type}
                for src, tgt in tasks
            ],
        },
    }


_APPLICATION_IDS = {
    AssetKind.DATA_FLOW: "DATA_FLOWS",
    AssetKind.TRANSFORMATION_FLOW: "TRANSFORMATION_FLOWS",
    AssetKind.REPLICATION_FLOW: "REPLICATION_FLOWS",
    AssetKind.VIEW: "VIEWS",
    AssetKind.LOCAL_TABLE: "LOCAL_TABLE",
}


def task_chain(label: str, steps: Sequence[tuple[AssetKind, str]]) -> Json:
    nodes: list[Json] = [{"id": 0, "type": "START"}]
    links: list[Json] = []
    for i, (kind, obj) in enumerate(steps, start=1):
        activity = "PERSIST" if kind is AssetKind.VIEW else "EXECUTE"
        nodes.append(
            {
                "id": i,
                "type": "TASK",
                "taskIdentifier": {"applicationId": _APPLICATION_IDS[kind], "activity": activity, "objectId": obj},
                "ignoreError": False,
            }
        )
        links.append(
            {
                "id": i - 1,
                "startNode": {"nodeId": i - 1, "statusRequired": "ANY" if i == 1 else "COMPLETED"},
                "endNode": {"nodeId": i},
            }
        )
    return {
        "kind": FLOW_CSN_KINDS[AssetKind.TASK_CHAIN],
        "@EndUserText.label": label,
        "nodes": nodes,
        "links": links,
        "options": {"layout": "VERTICAL"},
        "schemaVersion": 2,
    }
