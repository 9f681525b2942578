"""What real SAP content needs from the mapping (issue 7): numeric measures, DecimalFloat as
``decimal(34,4)``, TINYINT as ``smallint``, lineage = data flow, names that match the data."""

from __future__ import annotations

import json

import pytest
from mapping_factories import col, ref, table

from core.mapping import params as P
from core.mapping.mapper import map_assets
from core.mapping.rules import default_rules, parse_rules
from core.models import (
    AssetKind,
    Association,
    Dependency,
    DependencyKind,
    SemanticRole,
)
from core.specs import MappingResult, TableSpec


def only_table(result: MappingResult) -> TableSpec:
    (spec,) = result.tables
    return spec


@pytest.mark.parametrize(
    ("kind", "flows"),
    [
        (DependencyKind.FROM, True),
        (DependencyKind.JOIN, True),
        (DependencyKind.UNION, True),
        (DependencyKind.FACT_SOURCE, True),
        (DependencyKind.DIMENSION_SOURCE, True),
        (DependencyKind.FLOW_SOURCE, True),
        (DependencyKind.MIXIN, False),
        (DependencyKind.ASSOCIATION, False),
        (DependencyKind.FLOW_TARGET, False),
    ],
)
def test_dependency_kind_says_whether_data_flows(kind: DependencyKind, flows: bool) -> None:
    assert kind.is_data_flow is flows


def test_upstream_holds_data_flow_only_and_associations_stay_in_associations() -> None:
    deps = [
        Dependency(ref=ref("S.FACT"), kind=DependencyKind.FROM),
        Dependency(ref=ref("S.JOINED"), kind=DependencyKind.JOIN),
        Dependency(ref=ref("S.UNIONED"), kind=DependencyKind.UNION),
        Dependency(ref=ref("S.MIXED_IN"), kind=DependencyKind.MIXIN),
        Dependency(ref=ref("S.TEXTS"), kind=DependencyKind.ASSOCIATION),
        Dependency(ref=ref("OTHER.DIM"), kind=DependencyKind.ASSOCIATION),
    ]
    view = table(
        "S", "V", col("ID", "cds.Integer"), kind=AssetKind.VIEW, upstream=deps,
        associations=[
            Association(name="_TEXTS", target=ref("S.TEXTS")),
            Association(name="_DIM", target=ref("OTHER.DIM")),
        ],
    )
    result = map_assets([view], default_rules(), env="dog")
    params = only_table(result).parameters
    assert json.loads(params[P.UPSTREAM]) == ["S.FACT", "S.JOINED", "S.UNIONED"]
    assert sorted((str(e.upstream), e.kind) for e in result.lineage) == [
        ("S.FACT", "from"), ("S.JOINED", "join"), ("S.UNIONED", "union")
    ]
    targets = [a["target"] for a in json.loads(params[P.ASSOCIATIONS])]
    assert targets == ["S.TEXTS", "OTHER.DIM"]


def test_a_table_that_only_associates_has_no_upstream() -> None:
    remote = table(
        "S", "RT", col("ID", "cds.Integer"), kind=AssetKind.REMOTE_TABLE,
        upstream=[Dependency(ref=ref("S.TEXTS"), kind=DependencyKind.ASSOCIATION)],
        associations=[Association(name="_TEXTS", target=ref("S.TEXTS"))],
    )
    params = only_table(map_assets([remote], default_rules(), env="dog")).parameters
    assert P.UPSTREAM not in params
    assert P.ASSOCIATIONS in params


def test_flow_sources_still_join_the_target_upstream() -> None:
    target = table(
        "S", "T", col("ID", "cds.Integer"),
        upstream=[Dependency(ref=ref("S.TEXTS"), kind=DependencyKind.ASSOCIATION)],
    )
    flow = table(
        "S", "RF", kind=AssetKind.REPLICATION_FLOW,
        upstream=[
            Dependency(ref=ref("SRC.ORDERS"), kind=DependencyKind.FLOW_SOURCE),
            Dependency(ref=ref("S.T"), kind=DependencyKind.FLOW_TARGET),
        ],
    )
    params = only_table(map_assets([target, flow], default_rules(), env="dog")).parameters
    assert json.loads(params[P.UPSTREAM]) == ["SRC.ORDERS"]


def test_unresolved_measure_is_decimal_34_4_with_a_warning_naming_the_column() -> None:
    model = table(
        "S", "AM",
        col("REGION", "cds.String", length=4, role=SemanticRole.DIMENSION),
        col("MARGIN", "unresolved", role=SemanticRole.MEASURE, aggregation="SUM"),
        col("NOTE", "unresolved"),
        kind=AssetKind.ANALYTIC_MODEL,
    )
    result = map_assets([model], default_rules(), env="dog")
    spec = only_table(result)
    types = {c.name: c.type for c in spec.columns}
    assert types == {"region": "varchar(4)", "margin": "decimal(34,4)", "note": "string"}
    margin = [i for i in result.issues if "'MARGIN'" in i.message]
    assert [(i.severity, i.code, i.asset) for i in margin] == [
        ("warning", "unresolved_type", "S.AM")
    ]
    assert "decimal(34,4)" in margin[0].message
    assert json.loads(spec.parameters[P.TYPE_ISSUES]) == ["margin", "note"]
    margin_col = next(c for c in spec.columns if c.name == "margin")
    assert margin_col.parameters[P.CDS_TYPE] == "unresolved"


def test_an_explicit_column_type_override_is_the_last_word() -> None:
    model = table("S", "AM", col("M", "unresolved", role=SemanticRole.MEASURE),
                  kind=AssetKind.ANALYTIC_MODEL)
    rules = parse_rules("overrides:\n  - asset: S.AM\n    columns: {M: {type: double}}\n")
    result = map_assets([model], rules, env="dog")
    assert only_table(result).columns[0].type == "double"
    assert not result.issues


def test_decimal_float_and_decimal_without_precision_are_numeric_by_default() -> None:
    asset = table(
        "S", "T",
        col("DF", "cds.DecimalFloat"),
        col("D", "cds.Decimal"),  # Datasphere's DecimalFloat
        col("SD", "hana.SMALLDECIMAL"),
        col("DAY_INT", "cds.hana.TINYINT"),
    )
    result = map_assets([asset], default_rules(), env="dog")
    types = {c.name: c.type for c in only_table(result).columns}
    assert types == {"df": "decimal(34,4)", "d": "decimal(34,4)", "sd": "decimal(34,4)",
                     "day_int": "smallint"}
    assert not result.issues


def test_glue_column_names_are_the_technical_names_lowercased() -> None:
    texts = table(
        "MCT", "SAP.TIME.M_TIME_DIMENSION_TDAY",
        col("DAY_INT", "cds.hana.TINYINT", key=True),
        col("_LANGU", "cds.String", length=6),
        col("_DESCRIPTION", "cds.String", length=50, role=SemanticRole.TEXT),
        col("0CALDAY", "cds.String", length=8),
        col("Amount (EUR)", "cds.Decimal", precision=15, scale=2),
    )
    spec = only_table(map_assets([texts], default_rules(), env="dog"))
    assert spec.name == "sap_time_m_time_dimension_tday"
    assert [c.name for c in spec.columns] == [
        "day_int", "_langu", "_description", "0calday", "amount_eur"
    ]
    assert [c.parameters[P.NAME] for c in spec.columns] == [
        "DAY_INT", "_LANGU", "_DESCRIPTION", "0CALDAY", "Amount (EUR)"
    ]


def test_description_and_underscore_description_no_longer_collide() -> None:
    asset = table("S", "T", col("DESCRIPTION"), col("_DESCRIPTION"))
    result = map_assets([asset], default_rules(), env="dog")
    assert [c.name for c in only_table(result).columns] == ["description", "_description"]
    assert not [i for i in result.issues if i.code == "name_collision"]


def test_geo_column_keeps_its_original_type_and_srid_in_parameters() -> None:
    point = col("LOCATION", "hana.ST_POINT")
    point = point.model_copy(update={"type": point.type.model_copy(update={"srid": 4326})})
    spec = only_table(map_assets([table("S", "T", point)], default_rules(), env="dog"))
    (column,) = spec.columns
    assert column.type == "string"
    assert column.parameters[P.CDS_TYPE] == "hana.ST_POINT"
    assert column.parameters[P.SRID] == "4326"
