"""CSN → domain assets: golden files of the two real exports, key facts, shapes, errors."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.datasphere.csn import (
    UNRESOLVED_TYPE,
    parse_csn,
    resolve_analytic_types,
    resolve_reference,
    source_hash,
)
from core.errors import CsnError
from core.models import Asset, AssetKind, AssetRef, CdsType, DependencyKind, SemanticRole

from .conftest import GOLDEN, load_fixture

EXPORTS = {
    # the spaces the emulator loads them into (docs/csn-shapes.md §10)
    "ER_MCT_MEDIUM.json": "MCT_DEMO",
    "DP_Salary_Analysis.json": "DP_SALARY",
}


def _parse(fixture: str) -> dict[str, Asset]:
    assets = parse_csn(load_fixture(fixture), space=EXPORTS[fixture], known_spaces=set())
    return {a.name: a for a in assets}


def _dump(assets: list[Asset]) -> str:
    body = [a.model_dump(mode="json") for a in sorted(assets, key=lambda a: a.name)]
    return json.dumps(body, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


# -- golden files -----------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", sorted(EXPORTS))
def test_real_export_matches_golden_file(fixture: str, update_golden: bool) -> None:
    assets = parse_csn(load_fixture(fixture), space=EXPORTS[fixture], known_spaces=set())
    actual = _dump(assets)
    golden = GOLDEN / fixture
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"missing golden file {golden}; run pytest --update-golden"
    assert actual == golden.read_text(encoding="utf-8")


# -- hand-checked facts of the real exports ---------------------------------------------------


def test_opportunity_items_quantity_is_decimal_measure_with_unit() -> None:
    items = _parse("ER_MCT_MEDIUM.json")["MCT_OpportunityItems"]
    qty = next(c for c in items.columns if c.name == "Quantity")
    assert qty.type == CdsType(name="cds.Decimal", precision=20, scale=3)
    assert str(qty.type) == "cds.Decimal(20,3)"
    assert qty.role is SemanticRole.MEASURE
    assert qty.aggregation == "SUM"
    assert qty.measure_type == "BASE"
    assert qty.semantics == {"quantity.unitOfMeasure": "Unit"}
    value = next(c for c in items.columns if c.name == "Value")
    assert value.semantics == {"amount.currencyCode": "Currency"}


def test_opportunity_items_keys_labels_and_foreign_keys() -> None:
    items = _parse("ER_MCT_MEDIUM.json")["MCT_OpportunityItems"]
    by_name = {c.name: c for c in items.columns}
    assert [c.name for c in items.columns if c.key] == ["ItemID"]
    assert by_name["ItemID"].nullable is False
    assert by_name["Opportunity"].nullable is True
    assert by_name["Opportunity"].label == "Opportunity ID"
    assert by_name["Product"].type == CdsType(name="cds.String", length=5000)
    assert by_name["Product"].foreign_key_target == "MCT_DEMO.MCT_Products"
    assert by_name["ItemStatus"].text_target == "MCT_DEMO.MCT_ItemStatusTexts"
    assert by_name["FactAttr"].text_element == "FactAttrLabel"
    assert by_name["FactAttrLabel"].role is SemanticRole.TEXT
    # associations are relationships, never columns
    assert "_MCT_Produ" not in by_name
    assocs = {a.name: a for a in items.associations}
    assert assocs["MCT_CCSending"].target == AssetRef(space="MCT_DEMO", name="MCT_CostCenter")
    assert assocs["MCT_CCSending"].on == [
        ("ControllingArea", "ControllingArea"),
        ("SendingCostCenter", "CostCenter"),
    ]


def test_time_dimension_has_leveled_hierarchies_and_time_type() -> None:
    day = _parse("ER_MCT_MEDIUM.json")["SAP.TIME.VIEW_DIMENSION_DAY"]
    assert day.kind is AssetKind.VIEW
    assert day.label == "Time Dimension - Day"
    assert day.business.dimension_type == "TIME"
    assert day.business.modeling_pattern == "ANALYTICAL_DIMENSION"
    yqmd = next(h for h in day.hierarchies if h.name == "YQMD")
    assert yqmd.kind == "leveled"
    assert yqmd.levels == ["YEAR", "CALQUARTER", "CALMONTH", "DATE_SQL"]
    assert [h.name for h in day.hierarchies] == ["YQMD", "YMD", "YWD"]
    calmonth = next(c for c in day.columns if c.name == "CALMONTH")
    assert calmonth.role is SemanticRole.DIMENSION
    assert calmonth.semantics == {"calendar.yearMonth": "true"}
    # a namespaced name in the same space, not a cross-space reference
    assert [str(d.ref) for d in day.upstream if d.kind is DependencyKind.FROM] == [
        "MCT_DEMO.SAP.TIME.M_TIME_DIMENSION"
    ]
    assert calmonth.lineage == ["MCT_DEMO.SAP.TIME.M_TIME_DIMENSION.CALMONTH"]


def test_employees_parent_child_hierarchy() -> None:
    employees = _parse("ER_MCT_MEDIUM.json")["MCT_Employees"]
    (org,) = employees.hierarchies
    assert org.name == "OrgHier"
    assert org.kind == "parent_child"
    assert org.label == "Organizational Hierarchy"
    assert org.parent == ["Manager"]
    assert org.child == ["ID"]
    # the self-association is kept as a relationship but is not an upstream dependency
    assert [a.target.name for a in employees.associations] == ["MCT_Employees"]
    assert employees.upstream == []


def test_salary_view_upstream_is_cross_space() -> None:
    assets = _parse("DP_Salary_Analysis.json")
    # the sources' definitions belong to other spaces: not assets of this one
    assert list(assets) == ["3VF_SALARY_CSRD"]
    view = assets["3VF_SALARY_CSRD"]
    assert view.kind is AssetKind.VIEW
    assert view.business.exposed is False
    assert {(d.ref.space, d.ref.name) for d in view.upstream} == {
        ("ABC21B84BF4D4A7BA549", "3VF_SALARY"),
        ("D8D90336A0E24D678F9D", "3VD_EMPLOYEE_CSRD_ATTR_VIEW"),
    }
    assert {d.kind for d in view.upstream} == {DependencyKind.JOIN}


def test_salary_view_column_lineage_through_nested_select() -> None:
    view = _parse("DP_Salary_Analysis.json")["3VF_SALARY_CSRD"]
    lineage = {c.name: c.lineage for c in view.columns}
    assert lineage["PERIOD_YEAR"] == ["ABC21B84BF4D4A7BA549.3VF_SALARY.CalenderYear"]
    assert lineage["GENDER_EXTERNAL_ID"] == [
        "D8D90336A0E24D678F9D.3VD_EMPLOYEE_CSRD_ATTR_VIEW.Gender"
    ]
    # a CASE expression over one column still traces to it
    assert lineage["WORKING_TIME_ID"] == [
        "D8D90336A0E24D678F9D.3VD_EMPLOYEE_CSRD_ATTR_VIEW.IsFullTimeEmployee"
    ]
    assert lineage["MEASURE_ID"] == []  # a literal


def test_view_over_table_in_same_space() -> None:
    view = _parse("ER_MCT_MEDIUM.json")["V_MCT_OpportunityItems_v2"]
    from_deps = [d for d in view.upstream if d.kind is DependencyKind.FROM]
    assert [str(d.ref) for d in from_deps] == ["MCT_DEMO.MCT_OpportunityItems"]
    mixins = {d.ref.name for d in view.upstream if d.kind is DependencyKind.MIXIN}
    assert mixins == {"MCT_Products", "MCT_ControllingArea", "MCT_Opportunities"}
    qty = next(c for c in view.columns if c.name == "Quantity")
    assert qty.lineage == ["MCT_DEMO.MCT_OpportunityItems.Quantity"]
    # foreign keys naming associations the view does not have are reported, not invented
    assert any("MCT_CCSending" in w for w in view.warnings)


def test_kinds_of_the_er_model() -> None:
    kinds = {n: a.kind for n, a in _parse("ER_MCT_MEDIUM.json").items()}
    assert kinds["SAP.TIME.M_TIME_DIMENSION"] is AssetKind.LOCAL_TABLE
    assert kinds["MCT_Products"] is AssetKind.REMOTE_TABLE
    assert kinds["V_MCT_OpportunityItems_v2"] is AssetKind.VIEW
    assert "SAP" not in kinds and "SAP.TIME" not in kinds  # contexts are namespaces


def test_kind_hint_wins_over_detection() -> None:
    doc = load_fixture("ER_MCT_MEDIUM.json")
    (products,) = parse_csn(
        doc, space="S", known_spaces=set(), kind_hint=AssetKind.LOCAL_TABLE, name="MCT_Products"
    )
    assert products.kind is AssetKind.LOCAL_TABLE


# -- shapes: analytic models, flows, unions, subqueries ---------------------------------------


def _am_doc() -> dict[str, Any]:
    return {
        "definitions": {
            "AM_SALES": {
                "kind": "entity",
                "@EndUserText.label": "Sales",
                "@ObjectModel.modelingPattern": {"#": "ANALYTICAL_CUBE"},
                "@ObjectModel.supportedCapabilities": [{"#": "ANALYTICAL_PROVIDER"}],
                "elements": {
                    "Product": {"@EndUserText.label": "Product", "@Analytics.dimension": True},
                    "ProductName": {"@Semantics.text": True},
                    "Quantity": {
                        "@AnalyticsDetails.measureType": {"#": "BASE"},
                        "@Aggregation.default": {"#": "SUM"},
                    },
                    "QtyEU": {"@AnalyticsDetails.measureType": {"#": "RESTRICTION"}},
                },
            }
        },
        "businessLayerDefinitions": {
            "AM_SALES": {
                "sourceModel": {
                    "factSources": {"f": {"dataEntity": {"key": "V_FACT"}, "text": "Fact"}},
                    "dimensionSources": {
                        "d": {
                            "dataEntity": {"key": "MASTER.DIM_PRODUCT"},
                            "associationContexts": [
                                {"sourceKey": "f", "associationSteps": ["_product"]}
                            ],
                        }
                    },
                },
                "attributes": {
                    "Product": {
                        "attributeType": "AnalyticModelAttributeType.FactSourceAttribute",
                        "attributeMapping": {"f": {"key": "Product"}},
                        "text": "Product",
                    },
                    "ProductName": {
                        "attributeType": "AnalyticModelAttributeType.DimensionSourceAttribute",
                        "attributeMapping": {"d": {"key": "Name"}},
                    },
                },
                "measures": {
                    "Quantity": {
                        "measureType": "AnalyticModelMeasureType.FactSourceMeasure",
                        "sourceKey": "f",
                        "key": "Quantity",
                        "text": "Quantity",
                        "isAuxiliary": False,
                    },
                    "QtyEU": {
                        "measureType": "AnalyticModelMeasureType.RestrictedMeasure",
                        "key": "Quantity",
                        "text": "Quantity EU",
                    },
                },
                "variables": {
                    "P_YEAR": {
                        "parameterType": "AnalyticModelParameterType.Input",
                        "text": "Year",
                        "type": "cds.String",
                        "length": 4,
                        "defaultValue": "2024",
                        "mandatory": True,
                    }
                },
            }
        },
    }


def test_analytic_model_definition_and_dependencies() -> None:
    (am,) = parse_csn(_am_doc(), space="SALES", known_spaces={"SALES", "MASTER"})
    assert am.kind is AssetKind.ANALYTIC_MODEL
    assert am.analytic is not None
    (fact,) = am.analytic.fact_sources
    assert fact.ref == AssetRef(space="SALES", name="V_FACT")
    (dim,) = am.analytic.dimension_sources
    assert dim.ref == AssetRef(space="MASTER", name="DIM_PRODUCT")
    assert (dim.via, dim.association_steps) == ("f", ["_product"])
    measures = {m.name: m for m in am.analytic.measures}
    assert measures["Quantity"].measure_type == "FactSourceMeasure"
    assert (measures["Quantity"].source, measures["Quantity"].source_element) == ("f", "Quantity")
    attrs = {a.name: a for a in am.analytic.attributes}
    assert attrs["ProductName"].attribute_type == "DimensionSourceAttribute"
    assert (attrs["ProductName"].source, attrs["ProductName"].source_element) == ("d", "Name")
    (var,) = am.analytic.variables
    assert (var.name, var.label, var.default, var.mandatory) == ("P_YEAR", "Year", "2024", True)
    assert var.type == CdsType(name="cds.String", length=4)
    assert [(d.kind, str(d.ref)) for d in am.upstream] == [
        (DependencyKind.FACT_SOURCE, "SALES.V_FACT"),
        (DependencyKind.DIMENSION_SOURCE, "MASTER.DIM_PRODUCT"),
    ]
    roles = {c.name: c.role for c in am.columns}
    assert roles == {
        "Product": SemanticRole.DIMENSION,
        "ProductName": SemanticRole.TEXT,
        "Quantity": SemanticRole.MEASURE,
        "QtyEU": SemanticRole.MEASURE,
    }
    assert all(c.type.name == UNRESOLVED_TYPE for c in am.columns)
    assert am.warnings


def _table(space: str, name: str, columns: dict[str, CdsType]) -> Asset:
    doc = {
        "definitions": {
            name: {
                "kind": "entity",
                "elements": {
                    n: {
                        "type": t.name,
                        **({"length": t.length} if t.length else {}),
                        **({"precision": t.precision, "scale": t.scale} if t.precision else {}),
                    }
                    for n, t in columns.items()
                },
            }
        }
    }
    (asset,) = parse_csn(doc, space=space, known_spaces=set())
    return asset


def test_analytic_types_resolved_from_sources_across_spaces() -> None:
    (am,) = parse_csn(_am_doc(), space="SALES", known_spaces={"SALES", "MASTER"})
    fact = _table(
        "SALES",
        "V_FACT",
        {
            "Product": CdsType(name="cds.String", length=10),
            "Quantity": CdsType(name="cds.Decimal", precision=20, scale=3),
        },
    )
    dim = _table("MASTER", "DIM_PRODUCT", {"Name": CdsType(name="cds.String", length=60)})
    known = {fact.ref: fact, dim.ref: dim}
    resolved = resolve_analytic_types(am, known.get)
    types = {c.name: c.type for c in resolved.columns}
    assert types["Product"] == CdsType(name="cds.String", length=10)
    assert types["ProductName"] == CdsType(name="cds.String", length=60)
    assert types["Quantity"] == CdsType(name="cds.Decimal", precision=20, scale=3)
    assert types["QtyEU"] == types["Quantity"]  # restricted measure over Quantity
    assert resolved.fingerprint != am.fingerprint
    assert resolved.fingerprint == resolved.compute_fingerprint()
    assert not resolved.warnings
    lineage = {c.name: c.lineage for c in resolved.columns}
    assert lineage["ProductName"] == ["MASTER.DIM_PRODUCT.Name"]


def test_analytic_types_resolved_from_a_source_in_the_same_document() -> None:
    doc = _am_doc()
    doc["definitions"]["V_FACT"] = {
        "kind": "entity",
        "elements": {"Quantity": {"type": "cds.Decimal", "precision": 15, "scale": 2}},
    }
    (am,) = parse_csn(doc, space="SALES", known_spaces=set(), name="AM_SALES")
    qty = next(c for c in am.columns if c.name == "Quantity")
    assert qty.type == CdsType(name="cds.Decimal", precision=15, scale=2)


def test_data_flow_sources_targets_and_mode() -> None:
    doc = {
        "definitions": {
            "DF_LOAD": {
                "kind": "sap.dis.dataflow",
                "@EndUserText.label": "Load",
                "contents": {
                    "processes": {
                        "src": {
                            "component": "com.sap.database.table.consumer",
                            "metadata": {"config": {"dwcEntity": "FINANCE.GL_RAW"}},
                        },
                        "proj": {"component": "com.sap.dataflow.projection", "metadata": {}},
                        "tgt": {
                            "component": "com.sap.database.table.producer",
                            "metadata": {"config": {"dwcEntity": "GL", "mode": "APPEND"}},
                        },
                    },
                    "connections": [],
                },
            }
        }
    }
    (flow,) = parse_csn(doc, space="SALES", known_spaces={"FINANCE", "SALES"})
    assert flow.kind is AssetKind.DATA_FLOW
    assert flow.columns == []
    assert flow.flow is not None
    assert flow.flow.sources == [AssetRef(space="FINANCE", name="GL_RAW")]
    assert flow.flow.targets == [AssetRef(space="SALES", name="GL")]
    assert flow.flow.load_type == "APPEND"
    assert {(d.kind, str(d.ref)) for d in flow.upstream} == {
        (DependencyKind.FLOW_SOURCE, "FINANCE.GL_RAW"),
        (DependencyKind.FLOW_TARGET, "SALES.GL"),
    }


@pytest.mark.parametrize(
    ("csn_kind", "kind"),
    [
        ("sap.dis.transformationflow", AssetKind.TRANSFORMATION_FLOW),
        ("sap.dis.replicationflow", AssetKind.REPLICATION_FLOW),
        ("sap.dwc.taskChain", AssetKind.TASK_CHAIN),
    ],
)
def test_other_flow_kinds_are_recognised(csn_kind: str, kind: AssetKind) -> None:
    (flow,) = parse_csn({"definitions": {"F": {"kind": csn_kind}}}, space="S", known_spaces=set())
    assert flow.kind is kind


def _am_doc_bl17() -> dict[str, Any]:
    """The BL 1.7.0 analytic-model shape the emulator serves (docs/csn-shapes.md §5)."""
    return {
        "definitions": {
            "AM_SALES": {
                "kind": "entity",
                "@ObjectModel.modelingPattern": {"#": "ANALYTICAL_CUBE"},
                "@DataWarehouse.consumption.external": True,
                "elements": {
                    "SalesOrder": {
                        "@EndUserText.label": "Sales Order",
                        "@Analytics.dimension": True,
                    },
                    "Customer": {
                        "@Analytics.dimension": True,
                        "@ObjectModel.foreignKey.association": {"=": "_Customer∞0"},
                    },
                    "_Customer∞0": {
                        "type": "cds.Association",
                        "target": "V_CUSTOMER_DIM",
                        "on": [{"ref": ["Customer"]}, "=", {"ref": ["_Customer∞0", "Customer"]}],
                    },
                    "Country": {"@Analytics.dimension": True},
                    "NetAmount": {
                        "@AnalyticsDetails.measureType": {"#": "BASE"},
                        "@Aggregation.default": {"#": "SUM"},
                    },
                    "Margin": {
                        "@AnalyticsDetails.measureType": {"#": "CALCULATION"},
                        "@Aggregation.default": {"#": "FORMULA"},
                    },
                    "Orders": {"@AnalyticsDetails.measureType": {"#": "BASE"}},
                },
                "query": {
                    "SELECT": {
                        "from": {"ref": ["SALES.V_SALES_ORDER_ITEMS"], "as": "V_SALES_ORDER_ITEMS"},
                        "columns": [{"ref": ["V_SALES_ORDER_ITEMS", "SalesOrder"]}],
                    }
                },
            },
            "SALES": {"kind": "context", "@DataWarehouse.space.name": "SALES"},
        },
        "businessLayerDefinitions": {
            "AM_SALES": {
                "version": "1.7.0",
                "sourceModel": {
                    "factSources": {
                        "V_SALES_ORDER_ITEMS": {"dataEntity": {"key": "SALES.V_SALES_ORDER_ITEMS"}}
                    },
                    "dimensionSources": {
                        "0": {
                            "dataEntity": {"key": "V_CUSTOMER_DIM"},
                            "associationContexts": [
                                {
                                    "sourceKey": "V_SALES_ORDER_ITEMS",
                                    "sourceType": "AnalyticModelSourceType.Fact",
                                    "associationSteps": ["_Customer"],
                                }
                            ],
                        }
                    },
                },
                "attributes": {
                    "SalesOrder": {
                        "attributeType": "AnalyticModelAttributeType.FactSourceAttribute",
                        "attributeMapping": {"V_SALES_ORDER_ITEMS": {"key": "SalesOrder"}},
                    },
                    "Country": {
                        "attributeType": "AnalyticModelAttributeType.DimensionSourceAttribute",
                        "sourceKey": "0",
                        "key": "Country",
                    },
                },
                "measures": {
                    "NetAmount": {
                        "measureType": "AnalyticModelMeasureType.FactSourceMeasure",
                        "measureMapping": {"V_SALES_ORDER_ITEMS": {"key": "NetAmount"}},
                    },
                    "Margin": {
                        "measureType": "AnalyticModelMeasureType.CalculatedMeasure",
                        "formula": "NetAmount - CostAmount",
                        "elements": {"NetAmount": {}, "CostAmount": {}},
                    },
                    "Orders": {
                        "measureType": "AnalyticModelMeasureType.CountDistinct",
                        "countDistinctAttributes": ["SalesOrder"],
                    },
                },
                "variables": {
                    "P_YEAR": {
                        "parameterType": "AnalyticModelParameterType.Input",
                        "dataType": {"type": "cds.Integer"},
                        "mandatory": True,
                    }
                },
            }
        },
    }


def test_analytic_model_bl_1_7_shape() -> None:
    (am,) = parse_csn(_am_doc_bl17(), space="REPORTING", known_spaces={"SALES"})
    assert am.analytic is not None
    assert [str(s.ref) for s in am.analytic.fact_sources] == ["SALES.V_SALES_ORDER_ITEMS"]
    assert [(s.alias, str(s.ref)) for s in am.analytic.dimension_sources] == [
        ("0", "REPORTING.V_CUSTOMER_DIM")
    ]
    attrs = {a.name: (a.source, a.source_element) for a in am.analytic.attributes}
    assert attrs == {
        "SalesOrder": ("V_SALES_ORDER_ITEMS", "SalesOrder"),
        "Country": ("0", "Country"),
    }
    measures = {m.name: m for m in am.analytic.measures}
    assert (measures["NetAmount"].source, measures["NetAmount"].source_element) == (
        "V_SALES_ORDER_ITEMS",
        "NetAmount",
    )
    assert measures["NetAmount"].aggregation == "SUM"  # from the element annotation
    assert measures["Margin"].expression == "NetAmount - CostAmount"
    assert measures["Orders"].expression == "COUNT(DISTINCT SalesOrder)"
    assert am.analytic.variables[0].type == CdsType(name="cds.Integer")
    # association elements (names with ∞) are relationships, not columns
    assert "_Customer∞0" not in [c.name for c in am.columns]
    assert [a.name for a in am.associations] == ["_Customer∞0"]
    customer = next(c for c in am.columns if c.name == "Customer")
    assert customer.foreign_key_target == "REPORTING.V_CUSTOMER_DIM"


def test_flows_under_their_own_root_keys() -> None:
    doc = {
        "dataflows": {
            "DF_LOAD": {
                "kind": "sap.dis.dataflow",
                "contents": {
                    "processes": {
                        "source1": {
                            "component": "com.sap.database.table.consumer",
                            "metadata": {"config": {"service": "HANA", "dwcEntity": "STAGING"}},
                        },
                        "target1": {
                            "component": "com.sap.database.table.producer",
                            "metadata": {"config": {"dwcEntity": "ORDERS", "mode": "UPSERT"}},
                        },
                    }
                },
            }
        }
    }
    (flow,) = parse_csn(
        doc, space="S", known_spaces=set(), kind_hint=AssetKind.DATA_FLOW, name="DF_LOAD"
    )
    assert flow.flow is not None
    assert [r.name for r in flow.flow.sources] == ["STAGING"]
    assert [r.name for r in flow.flow.targets] == ["ORDERS"]
    assert flow.flow.load_type == "UPSERT"
    assert flow.source_hash == source_hash(doc, "DF_LOAD")


def test_transformation_flow_sources_from_view_transform_query() -> None:
    doc = {
        "transformationflows": {
            "TF_ENRICH": {
                "kind": "sap.dis.transformationflow",
                "contents": {
                    "metadata": {"loadType": "INITIAL_ONLY"},
                    "processes": {
                        "viewtransform1": {
                            "component": "com.sap.dwc.viewtransform",
                            "metadata": {
                                "config": {
                                    "definition": {
                                        "kind": "entity",
                                        "query": {
                                            "SELECT": {
                                                "from": {
                                                    "join": "inner",
                                                    "args": [
                                                        {"ref": ["V_ORDERS"], "as": "O"},
                                                        {"ref": ["MASTER.V_CUSTOMER"], "as": "C"},
                                                    ],
                                                }
                                            }
                                        },
                                    }
                                }
                            },
                        },
                        "target1": {
                            "component": "com.sap.dwc.target",
                            "metadata": {"config": {"name": "ORDERS_ENRICHED", "truncate": True}},
                        },
                    },
                },
            }
        }
    }
    (flow,) = parse_csn(doc, space="SALES", known_spaces={"MASTER"})
    assert flow.kind is AssetKind.TRANSFORMATION_FLOW
    assert flow.flow is not None
    assert [str(r) for r in flow.flow.sources] == ["SALES.V_ORDERS", "MASTER.V_CUSTOMER"]
    assert [str(r) for r in flow.flow.targets] == ["SALES.ORDERS_ENRICHED"]
    assert flow.flow.load_type == "TRUNCATE"


def test_replication_flow_keeps_only_datasphere_objects() -> None:
    doc = {
        "replicationflows": {
            "RF_S4": {
                "kind": "sap.dis.replicationflow",
                "contents": {
                    "sourceSystem": {"connectionId": "S4H_PROD", "container": "/CDS_EXTRACTION"},
                    "targetSystem": {"connectionId": "$DWC", "container": "SALES"},
                    "loadType": "INITIAL_AND_DELTA",
                    "replicationTasks": [
                        {
                            "sourceObject": {"name": "I_SALESDOCUMENT"},
                            "targetObject": {"name": "SALES_DOCUMENT_REPL"},
                        }
                    ],
                },
            }
        }
    }
    (flow,) = parse_csn(doc, space="SALES", known_spaces=set())
    assert flow.flow is not None
    assert flow.flow.sources == []  # a remote system's object is not an asset
    assert [str(r) for r in flow.flow.targets] == ["SALES.SALES_DOCUMENT_REPL"]
    assert flow.flow.load_type == "INITIAL_AND_DELTA"


def test_task_chain_lists_the_objects_it_runs() -> None:
    doc = {
        "taskchains": {
            "TC_NIGHTLY": {
                "kind": "sap.dwc.taskChain",
                "nodes": [
                    {"id": 0, "type": "START"},
                    {
                        "id": 1,
                        "type": "TASK",
                        "taskIdentifier": {
                            "applicationId": "DATA_FLOWS",
                            "activity": "EXECUTE",
                            "objectId": "DF_LOAD",
                        },
                    },
                ],
            }
        }
    }
    (chain,) = parse_csn(doc, space="SALES", known_spaces=set())
    assert chain.kind is AssetKind.TASK_CHAIN
    assert [(d.kind, d.ref.name) for d in chain.upstream] == [
        (DependencyKind.FLOW_SOURCE, "DF_LOAD")
    ]


def test_union_join_and_subquery_dependencies() -> None:
    query = {
        "SET": {
            "op": "union",
            "all": True,
            "args": [
                {"SELECT": {"from": {"ref": ["T_2023"]}, "columns": [{"ref": ["ID"]}]}},
                {
                    "SELECT": {
                        "from": {
                            "join": "left",
                            "args": [
                                {"ref": ["T_2024"], "as": "a"},
                                {"ref": ["HR.DIM"], "as": "b"},
                            ],
                            "on": [{"ref": ["a", "K"]}, "=", {"ref": ["b", "K"]}],
                        },
                        "columns": [{"ref": ["a", "ID"], "as": "ID"}],
                        "where": [
                            {"ref": ["a", "ID"]},
                            "in",
                            {
                                "SELECT": {
                                    "from": {"ref": ["ALLOWED"]},
                                    "columns": [{"ref": ["ID"]}],
                                }
                            },
                        ],
                    }
                },
            ],
        }
    }
    doc = {
        "definitions": {
            "V_ALL": {"kind": "entity", "query": query, "elements": {"ID": {"type": "cds.Integer"}}}
        }
    }
    (view,) = parse_csn(doc, space="SALES", known_spaces={"HR"})
    deps = {(d.kind, str(d.ref)) for d in view.upstream}
    assert deps == {
        (DependencyKind.UNION, "SALES.T_2023"),
        (DependencyKind.JOIN, "SALES.T_2024"),
        (DependencyKind.JOIN, "HR.DIM"),
        (DependencyKind.FROM, "SALES.ALLOWED"),
    }
    (col,) = view.columns
    assert col.lineage == ["SALES.T_2023.ID", "SALES.T_2024.ID"]


def test_parameters_sql_and_exposure() -> None:
    doc = {
        "definitions": {
            "V_P": {
                "kind": "entity",
                "@DataWarehouse.consumption.external": True,
                "@DataWarehouse.sqlEditor.query": "SELECT * FROM T",
                "params": {
                    "P_FROM": {"type": "cds.Date", "default": {"val": "2024-01-01"}},
                    "P_TO": {"type": "cds.Date"},
                },
                "query": {"SELECT": {"from": {"ref": ["T"]}}},
                "elements": {
                    "A": {"type": "cds.hana.TINYINT"},
                    "G": {"type": "hana.ST_POINT", "srid": 4326},
                },
            },
            "T": {
                "kind": "entity",
                "elements": {"A": {"type": "cds.hana.TINYINT"}, "G": {"type": "hana.ST_POINT"}},
            },
        }
    }
    view = parse_csn(doc, space="S", known_spaces=set(), name="V_P")[0]
    assert view.business.exposed is True
    assert view.business.sql == "SELECT * FROM T"
    assert [(p.name, p.default, p.mandatory) for p in view.parameters] == [
        ("P_FROM", "2024-01-01", False),
        ("P_TO", None, True),
    ]
    assert view.columns[1].type == CdsType(name="cds.hana.ST_POINT", srid=4326)  # normalised
    assert [c.lineage for c in view.columns] == [["S.T.A"], ["S.T.G"]]  # SELECT * lineage


def test_cross_space_resolution_rules() -> None:
    known = {"FINANCE_DATA", "SALES"}
    assert resolve_reference(
        "FINANCE_DATA.SALES_ALL_GE", space="SALES", known_spaces=known
    ) == AssetRef(space="FINANCE_DATA", name="SALES_ALL_GE")
    assert resolve_reference(
        "SAP.TIME.M_TIME_DIMENSION", space="SALES", known_spaces=known
    ) == AssetRef(space="SALES", name="SAP.TIME.M_TIME_DIMENSION")
    assert resolve_reference(
        "ABC.X", space="SALES", known_spaces=set(), space_contexts={"ABC": "ABC"}
    ) == AssetRef(space="ABC", name="X")


# -- malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({}, "no 'definitions'"),
        ({"definitions": []}, "no 'definitions'"),
        ({"definitions": {"T": "x"}}, "S.T: definition is a str"),
        ({"definitions": {"T": {"kind": "entity", "elements": []}}}, "S.T: 'elements' is a list"),
        (
            {"definitions": {"T": {"kind": "entity", "elements": {"A": {}}}}},
            "element 'A' has no type",
        ),
        (
            {
                "definitions": {
                    "T": {
                        "kind": "entity",
                        "elements": {"A": {"type": "cds.String", "length": "x"}},
                    }
                }
            },
            "element 'A' has a non-integer length",
        ),
        (
            {
                "definitions": {
                    "T": {"kind": "entity", "elements": {"A": {"type": "cds.Association"}}}
                }
            },
            "association 'A' has no target",
        ),
        (
            {"definitions": {"V": {"kind": "entity", "query": {"SELECT": {}}, "elements": {}}}},
            "S.V: query SELECT has no 'from'",
        ),
        (
            {
                "definitions": {
                    "V": {"kind": "entity", "query": {"SELECT": {"from": {"join": "inner"}}}}
                }
            },
            "S.V: join without 'args'",
        ),
        (
            {
                "definitions": {"AM": {"kind": "entity"}},
                "businessLayerDefinitions": {"AM": {"sourceModel": {"factSources": {"f": {}}}}},
            },
            "S.AM: fact source 'f' has no dataEntity.key",
        ),
        (
            {"definitions": {"DF": {"kind": "sap.dis.dataflow", "contents": {"processes": []}}}},
            "S.DF: flow 'processes' is not an object",
        ),
    ],
)
def test_malformed_csn_raises_csn_error_naming_the_object(doc: Any, fragment: str) -> None:
    with pytest.raises(CsnError) as info:
        parse_csn(doc, space="S", known_spaces=set())
    assert fragment in info.value.message
    assert info.value.hint


def test_requesting_an_undefined_name_is_an_error() -> None:
    with pytest.raises(CsnError, match="does not define 'NOPE'"):
        parse_csn({"definitions": {}}, space="S", known_spaces=set(), name="NOPE")


# -- properties ---------------------------------------------------------------------------------

_ORDERED_KEYS = frozenset({"elements", "params", "variables"})


def _shuffle_keys(value: Any, rng: random.Random, parent: str = "") -> Any:
    """Reorder every object's keys, except where order is meaning (columns, parameters)."""
    if isinstance(value, dict):
        items = [(k, _shuffle_keys(v, rng, k)) for k, v in value.items()]
        if parent not in _ORDERED_KEYS:
            rng.shuffle(items)
        return dict(items)
    if isinstance(value, list):
        return [_shuffle_keys(v, rng, parent) for v in value]
    return value


_DOCS = [load_fixture(f) for f in sorted(EXPORTS)] + [_am_doc(), _am_doc_bl17()]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc_index=st.integers(0, len(_DOCS) - 1), seed=st.integers(0, 2**32 - 1))
def test_fingerprint_and_source_hash_stable_under_key_order(doc_index: int, seed: int) -> None:
    doc = _DOCS[doc_index]
    before = {
        a.name: (a.fingerprint, a.source_hash)
        for a in parse_csn(doc, space="S", known_spaces=set())
    }
    shuffled = _shuffle_keys(copy.deepcopy(doc), random.Random(seed))
    after = {
        a.name: (a.fingerprint, a.source_hash)
        for a in parse_csn(shuffled, space="S", known_spaces=set())
    }
    assert after == before


@settings(max_examples=25, deadline=None)
@given(meta=st.dictionaries(st.text(max_size=8), st.text(max_size=8) | st.integers(), max_size=4))
def test_volatile_meta_does_not_change_hashes(meta: dict[str, Any]) -> None:
    doc = load_fixture("ER_MCT_MEDIUM.json")
    before = {
        a.name: (a.fingerprint, a.source_hash)
        for a in parse_csn(doc, space="S", known_spaces=set())
    }
    changed = copy.deepcopy(doc)
    changed["meta"] = meta
    changed["editorSettings"] = {"x": meta}
    for body in changed["definitions"].values():
        body["_meta"] = meta
    after = {
        a.name: (a.fingerprint, a.source_hash)
        for a in parse_csn(changed, space="S", known_spaces=set())
    }
    assert after == before


@settings(max_examples=25, deadline=None)
@given(label=st.text(min_size=1, max_size=20))
def test_a_label_change_changes_fingerprint_and_source_hash(label: str) -> None:
    doc = load_fixture("ER_MCT_MEDIUM.json")
    name = "MCT_Products"
    (before,) = parse_csn(doc, space="S", known_spaces=set(), name=name)
    changed = copy.deepcopy(doc)
    old = changed["definitions"][name]["elements"]["Name"]["@EndUserText.label"]
    changed["definitions"][name]["elements"]["Name"]["@EndUserText.label"] = old + label
    (after,) = parse_csn(changed, space="S", known_spaces=set(), name=name)
    assert after.fingerprint != before.fingerprint
    assert after.source_hash != before.source_hash
    assert after.source_hash == source_hash(changed, name)
