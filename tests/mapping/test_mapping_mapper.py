"""The mapper: assets → database/table specs, lineage, issues; pure and order-independent."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_factories import (
    assert_within_glue_limits,
    col,
    customers_table,
    load_flow,
    orders_table,
    orders_view,
    revenue_model,
    sales_space,
    table,
)

from core.mapping import params as P
from core.mapping.mapper import (
    MAX_PARAMETER_VALUE_BYTES,
    impact,
    impacted_tables,
    join_parameter,
    map_assets,
    truncate_utf8,
)
from core.mapping.preview import map_asset_preview, preview_from_result
from core.mapping.rules import FORMAT_PRESETS, default_rules, parse_rules
from core.models import AssetKind, Dependency, DependencyKind, Priority, Space
from core.specs import MANAGED_BY, SOURCE, SOURCE_FINGERPRINT, SOURCE_KIND, MappingResult


def by_name(result: MappingResult, name: str):  # type: ignore[no-untyped-def]
    return next(t for t in result.tables if t.name == name)


def columns(spec) -> dict:  # type: ignore[no-untyped-def]
    return {c.name: c for c in [*spec.columns, *spec.partition_keys]}


@pytest.fixture
def result() -> MappingResult:
    return map_assets(sales_space(), default_rules(), env="dog",
                      spaces=[Space(name="SALES", label="Sales")])


def test_one_database_per_space_with_label_and_markers(result: MappingResult) -> None:
    (db,) = result.databases
    assert (db.name, db.description, db.source_space) == ("sales", "Sales", "SALES")
    assert db.parameters[MANAGED_BY] == "dgsync"
    assert db.parameters[SOURCE] == "SALES"
    assert db.parameters[SOURCE_KIND] == "space"
    assert db.parameters[P.LABEL] == "Sales"


def test_database_without_label_gets_a_generic_description() -> None:
    res = map_assets([orders_table()], default_rules(), env="dog")
    assert res.databases[0].description == "SAP Datasphere space SALES"


def test_tables_views_and_models_become_tables_flows_do_not(result: MappingResult) -> None:
    assert [t.key for t in result.tables] == [
        "sales.am_revenue", "sales.customers", "sales.sales_orders", "sales.v_orders"
    ]
    assert not any(t.name.startswith("df_") for t in result.tables)
    assert result.skipped == {}
    assert_within_glue_limits(result)


def test_table_carries_ownership_markers_and_business_context(result: MappingResult) -> None:
    spec = by_name(result, "sales_orders")
    asset = orders_table()
    assert spec.parameters[MANAGED_BY] == "dgsync"
    assert spec.parameters[SOURCE] == "SALES.SALES_ORDERS"
    assert spec.parameters[SOURCE_KIND] == "local_table"
    assert spec.parameters[SOURCE_FINGERPRINT] == asset.fingerprint == spec.source_fingerprint
    assert spec.description == "Sales Orders"
    assert spec.parameters[P.LABEL] == "Sales Orders"
    assert spec.parameters[P.MODELING_PATTERN] == "ANALYTICAL_FACT"
    assert spec.parameters[P.EXPOSED] == "true"
    assert json.loads(spec.parameters[P.PRIMARY_KEY]) == ["order_id"]
    assert spec.priority is Priority.HIGH
    assert spec.storage is None  # a table is not given a storage by default


def test_columns_have_exact_types_comments_and_semantics(result: MappingResult) -> None:
    cols = columns(by_name(result, "sales_orders"))
    assert {n: c.type for n, c in cols.items()} == {
        "order_id": "bigint", "order_year": "int", "customer": "varchar(10)",
        "net_amount": "decimal(15,2)", "currency": "varchar(5)", "order_date": "date",
        "rate": "decimal(34,4)",  # DecimalFloat, default policy
    }
    amount = cols["net_amount"]
    assert amount.comment == "Net Amount"
    assert amount.parameters[P.NAME] == "NET_AMOUNT"
    assert amount.parameters[P.CDS_TYPE] == "cds.Decimal(15,2)"
    assert amount.parameters[P.ROLE] == "measure"
    assert amount.parameters[P.AGGREGATION] == "SUM"
    assert amount.parameters[P.CURRENCY] == "CURRENCY"
    assert cols["currency"].parameters[P.IS_CURRENCY] == "true"
    assert cols["order_date"].parameters[P.CALENDAR] == "calendar.date"
    assert cols["order_id"].parameters[P.KEY] == "true"
    assert cols["order_id"].parameters[P.NOT_NULL] == "true"
    assert cols["rate"].parameters[P.CDS_TYPE] == "cds.DecimalFloat"


def test_view_becomes_external_table_with_storage_from_rules() -> None:
    rules = parse_rules("storage:\n  location: 's3://lake/{space}/{name}/'\n  format: orc\n")
    res = map_assets([orders_view()], rules, env="dog")
    spec = res.tables[0]
    assert spec.table_type == "EXTERNAL_TABLE"
    assert spec.storage is not None
    assert spec.storage.location == "s3://lake/SALES/v_orders/"
    assert spec.storage.input_format == FORMAT_PRESETS["orc"][0]
    ti = spec.to_table_input()
    assert ti["StorageDescriptor"]["Location"] == "s3://lake/SALES/v_orders/"


def test_view_keeps_lineage_associations_parameters_and_sql(result: MappingResult) -> None:
    spec = by_name(result, "v_orders")
    assert json.loads(spec.parameters[P.UPSTREAM]) == ["SALES.CUSTOMERS", "SALES.SALES_ORDERS"]
    assoc = json.loads(spec.parameters[P.ASSOCIATIONS])
    assert assoc == [{"cardinality": "0..1", "name": "_CUSTOMER", "on": [["CUSTOMER", "ID"]],
                      "target": "SALES.CUSTOMERS"}]
    assert json.loads(spec.parameters[P.INPUT_PARAMETERS])[0]["name"] == "P_YEAR"
    assert spec.parameters[P.SQL] == "SELECT * FROM SALES_ORDERS"
    assert json.loads(spec.parameters[P.DIMENSIONS]) == ["order_year", "customer"]
    cust = columns(spec)["customer"]
    assert cust.parameters[P.FOREIGN_KEY] == "SALES.CUSTOMERS"
    assert cust.parameters[P.TEXT_ELEMENT] == "CUSTOMER_NAME"
    assert json.loads(columns(spec)["order_id"].parameters[P.COLUMN_LINEAGE]) == [
        "SALES.SALES_ORDERS.ORDER_ID"
    ]
    assert "Comment" not in columns(spec)["customer_name"].to_glue()  # no label, no comment


def test_analytic_model_becomes_business_table(result: MappingResult) -> None:
    spec = by_name(result, "am_revenue")
    assert spec.priority is Priority.CRITICAL
    assert [c.name for c in spec.columns] == ["order_year", "customer", "net_amount", "avg_amount"]
    measures = json.loads(spec.parameters[P.MEASURES])
    assert measures[0] == {"aggregation": "SUM", "column": "net_amount",
                           "measure_type": "FactSourceMeasure", "name": "NET_AMOUNT",
                           "source": "Orders", "source_element": "NET_AMOUNT"}
    assert measures[1]["expression"] == "NET_AMOUNT / 2"
    assert json.loads(spec.parameters[P.FACT_SOURCES]) == [{"alias": "Orders",
                                                            "ref": "SALES.V_ORDERS"}]
    dims = json.loads(spec.parameters[P.DIMENSION_SOURCES])
    assert dims[0]["ref"] == "SALES.CUSTOMERS" and dims[0]["via"] == "Orders"
    assert json.loads(spec.parameters[P.HIERARCHIES])[0]["levels"] == ["ORDER_YEAR"]
    assert json.loads(spec.parameters[P.VARIABLES])[0]["name"] == "V_YEAR"
    assert json.loads(spec.parameters[P.ATTRIBUTES])[0]["column"] == "order_year"
    cols = columns(spec)
    assert cols["net_amount"].parameters[P.SOURCE_ELEMENT] == "Orders.NET_AMOUNT"
    assert cols["avg_amount"].parameters[P.EXPRESSION] == "NET_AMOUNT / 2"
    assert cols["avg_amount"].type == "decimal(34,4)"  # DecimalFloat, default policy


def test_data_flow_becomes_lineage_on_its_target(result: MappingResult) -> None:
    spec = by_name(result, "sales_orders")
    flows = json.loads(spec.parameters[P.LINEAGE_FLOWS])
    assert flows == [{"flow": "SALES.DF_LOAD_ORDERS", "kind": "data_flow", "label": "Load orders",
                      "load_type": "APPEND", "sources": ["ERP.VBAK"]}]
    assert json.loads(spec.parameters[P.UPSTREAM]) == ["ERP.VBAK"]
    via = [e for e in result.lineage if e.via is not None]
    assert [(str(e.upstream), str(e.downstream), e.kind, str(e.via)) for e in via] == [
        ("ERP.VBAK", "SALES.SALES_ORDERS", "data_flow", "SALES.DF_LOAD_ORDERS")
    ]
    fact = [e for e in result.lineage if e.kind == "fact_source"]
    assert [(str(e.upstream), str(e.downstream)) for e in fact] == [
        ("SALES.V_ORDERS", "SALES.AM_REVENUE")
    ]


def test_flow_without_targets_still_records_its_sources() -> None:
    chain = load_flow().model_copy(update={"flow": None, "upstream": load_flow().upstream[:1],
                                           "kind": AssetKind.TASK_CHAIN})
    res = map_assets([chain], default_rules(), env="dog")
    assert res.tables == []
    assert [(str(e.upstream), str(e.downstream), e.kind) for e in res.lineage] == [
        ("ERP.VBAK", "SALES.DF_LOAD_ORDERS", "flow_source")
    ]


def test_labels_are_cut_by_utf8_bytes_and_kept_whole_in_parameters() -> None:
    long_label = "Größe∞" * 200  # 9 bytes per repetition: 1800 bytes
    very_long = "€" * 1000  # 3000 bytes
    asset = table("SALES", "T", col("C", label=long_label), label=very_long)
    res = map_assets([asset], default_rules(), env="dog")
    spec = res.tables[0]
    assert spec.description is not None
    assert len(spec.description.encode("utf-8")) <= 2048 and spec.description.endswith("…")
    assert spec.parameters[P.LABEL] == very_long
    comment = spec.columns[0].comment
    assert comment is not None and len(comment.encode("utf-8")) <= 255
    comment.encode("utf-8").decode("utf-8")  # no split character
    assert spec.columns[0].parameters[P.LABEL] == long_label
    assert sorted(i.code for i in res.issues) == ["truncated", "truncated"]


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 10])
def test_truncate_never_splits_a_character(limit: int) -> None:
    text, cut = truncate_utf8("ä€𝄞abc", limit)
    assert cut
    assert len(text.encode("utf-8")) <= limit


def test_huge_parameter_is_split_into_parts_and_reported() -> None:
    big = "x" * (MAX_PARAMETER_VALUE_BYTES + 10)
    asset = orders_table().model_copy(update={"label": big})
    res = map_assets([asset], default_rules(), env="dog")
    params = res.tables[0].parameters
    assert P.LABEL not in params
    assert params[P.LABEL + ".parts"] == "2"
    assert join_parameter(params, P.LABEL) == big
    assert any(i.code == "parameter_split" for i in res.issues)
    assert_within_glue_limits(res)


def test_table_name_collisions_are_disambiguated_and_reported() -> None:
    assets = [
        table("SALES", name, col("A", "cds.Integer"))
        for name in ["Sales.Order", "SALES_ORDER", "sales order"]
    ]
    res = map_assets(assets, default_rules(), env="dog")
    names = sorted(t.name for t in res.tables)
    assert len(set(names)) == 3 and "sales_order" in names
    assert by_name(res, "sales_order").source.name == "SALES_ORDER"
    collisions = [i for i in res.issues if i.code == "name_collision"]
    assert sorted(i.asset or "" for i in collisions) == ["SALES.Sales.Order", "SALES.sales order"]


def test_column_name_collisions_are_disambiguated() -> None:
    asset = table("SALES", "T", col("Amount"), col("AMOUNT"), col("amount "))
    res = map_assets([asset], default_rules(), env="dog")
    names = [c.name for c in res.tables[0].columns]
    assert len(set(names)) == 3 and "amount" in names
    assert sum(i.code == "name_collision" for i in res.issues) == 2


def test_excluded_assets_are_skipped_with_the_reason() -> None:
    rules = parse_rules("exclude:\n  kinds: [analytic_model]\n  assets: [CUSTOMERS]\n")
    res = map_assets(sales_space(), rules, env="dog")
    assert res.skipped == {
        "SALES.AM_REVENUE": "excluded by exclude.kinds 'analytic_model'",
        "SALES.CUSTOMERS": "excluded by exclude.assets 'CUSTOMERS'",
    }
    assert {t.name for t in res.tables} == {"sales_orders", "v_orders"}


def test_overrides_shape_the_table() -> None:
    rules = parse_rules(
        "overrides:\n"
        "  - asset: SALES.SALES_ORDERS\n"
        "    table_name: orders\n"
        "    description: Curated orders\n"
        "    priority: critical\n"
        "    partition_keys:\n"
        "      - ORDER_YEAR\n"
        "      - {column: region, type: string, projection: {type: enum, values: [eu, us]}}\n"
        "      - NOT_THERE\n"
        "    projection_location: 's3://b/orders/${order_year}/${region}/'\n"
        "    columns:\n"
        "      RATE: {type: 'decimal(38,12)', name: fx_rate, comment: FX}\n"
        "      GHOST: {comment: x}\n"
        "    parameters: {classification: parquet}\n"
        "table_parameters: {owner: team-a}\n"
    )
    res = map_assets([orders_table()], rules, env="dog")
    spec = res.tables[0]
    assert (spec.name, spec.description, spec.priority) == ("orders", "Curated orders",
                                                            Priority.CRITICAL)
    assert [c.name for c in spec.partition_keys] == ["order_year", "region"]
    assert "order_year" not in {c.name for c in spec.columns}
    fx = next(c for c in spec.columns if c.name == "fx_rate")
    assert (fx.type, fx.comment) == ("decimal(38,12)", "FX")
    p = spec.parameters
    assert p["projection.enabled"] == "true"
    assert p["projection.region.type"] == "enum" and p["projection.region.values"] == "eu,us"
    assert p["storage.location.template"] == "s3://b/orders/${order_year}/${region}/"
    assert p["classification"] == "parquet" and p["owner"] == "team-a"
    assert p[P.PRIORITY] == "critical"
    codes = sorted(i.code for i in res.issues)
    assert codes == ["override_unknown_column", "partition_key_unknown"]


def test_decimal_float_policy_from_rules_and_per_asset() -> None:
    rules = parse_rules(
        "decimal_float: {policy: decimal, precision: 38, scale: 6}\n"
        "overrides:\n  - {asset: SALES.AM_REVENUE, decimal_float: double}\n"
    )
    res = map_assets([orders_table(), revenue_model()], rules, env="dog")
    assert columns(by_name(res, "sales_orders"))["rate"].type == "decimal(38,6)"
    assert columns(by_name(res, "am_revenue"))["avg_amount"].type == "double"
    as_text = parse_rules("decimal_float: string\n")
    res = map_assets([orders_table(), revenue_model()], as_text, env="dog")
    assert columns(by_name(res, "sales_orders"))["rate"].type == "string"  # an attribute
    # a measure stays numeric whatever the policy, and says so
    assert columns(by_name(res, "am_revenue"))["avg_amount"].type == "decimal(34,4)"
    assert [(i.asset, i.code) for i in res.issues if "AVG_AMOUNT" in i.message] == [
        ("SALES.AM_REVENUE", "measure_not_numeric")
    ]


def test_env_prefix_names_the_databases() -> None:
    rules = parse_rules("databases:\n  env_prefix: {wolf: qa_}\n")
    res = map_assets([orders_table()], rules, env="wolf")
    assert res.tables[0].database == res.databases[0].name == "qa_sales"


def test_unknown_types_are_reported_and_listed() -> None:
    asset = table("SALES", "T", col("G", "cds.Weird"), col("B", "cds.Decimal", precision=50))
    res = map_assets([asset], default_rules(), env="dog")
    assert sorted(i.code for i in res.issues) == ["decimal_precision", "unknown_type"]
    assert json.loads(res.tables[0].parameters[P.TYPE_ISSUES]) == ["g", "b"]


def test_table_without_columns_is_mapped_with_a_warning() -> None:
    res = map_assets([table("SALES", "EMPTY")], default_rules(), env="dog")
    assert res.tables[0].columns == []
    assert [i.code for i in res.issues] == ["no_columns"]


def test_duplicate_assets_and_columns_are_reported_once() -> None:
    a = orders_table()
    b = a.model_copy(update={"label": "Other", "fingerprint": ""})
    b = b.model_copy(update={"fingerprint": b.compute_fingerprint()})
    dup_cols = table("SALES", "D", col("A"), col("A", "cds.Integer"))
    res = map_assets([a, a, b, dup_cols], default_rules(), env="dog")
    assert len(res.tables) == 2
    assert sorted(i.code for i in res.issues) == ["duplicate_asset", "duplicate_column"]


def test_result_does_not_depend_on_input_order() -> None:
    assets = sales_space() + [
        table("SALES", n, col("X")) for n in ["Sales.Order", "SALES_ORDER", "sales order"]
    ] + [table("HR", "EMP", col("ID"))]
    first = map_assets(assets, default_rules(), env="dog").model_dump()
    for seed in range(5):
        shuffled = list(assets)
        random.Random(seed).shuffle(shuffled)
        assert map_assets(shuffled, default_rules(), env="dog").model_dump() == first


_NAME = st.text(alphabet=st.sampled_from(list("aAbB_. ∞ä1")), min_size=1, max_size=5)


@settings(max_examples=40, deadline=None)
@given(st.lists(_NAME, min_size=1, max_size=12, unique=True), st.randoms(use_true_random=False))
def test_table_names_are_unique_valid_and_order_independent(names: list[str], rnd: object) -> None:
    assets = [table("S", n, col("C")) for n in names]
    res = map_assets(assets, default_rules(), env="dog")
    assert len(res.tables) == len(names)
    assert_within_glue_limits(res)
    rnd.shuffle(assets)  # type: ignore[attr-defined]
    assert map_assets(assets, default_rules(), env="dog") == res


def test_preview_shows_one_asset_in_context() -> None:
    rules = parse_rules("overrides:\n  - {asset: SALES.V_ORDERS, table_name: orders}\n")
    preview = map_asset_preview(orders_view(), rules, "dog", others=sales_space())
    assert preview.table is not None and preview.table.name == "orders"
    assert preview.database is not None and preview.database.name == "sales"
    assert preview.overrides == [0]
    assert {e.kind for e in preview.lineage} >= {"from", "fact_source"}


def test_preview_of_one_mapping_of_everything_equals_the_preview_in_context() -> None:
    """Wolf's asset page maps the extraction once and shows each asset's part of it."""
    rules = parse_rules("overrides:\n  - {asset: SALES.V_ORDERS, table_name: orders}\n")
    everything = [*sales_space(), load_flow()]
    whole = map_assets(everything, rules, env="dog", spaces=[Space(name="SALES", label="Sales")])
    for asset in everything:
        alone = map_asset_preview(asset, rules, "dog", others=everything, spaces=[Space(name="SALES", label="Sales")])
        assert preview_from_result(asset, whole, rules) == alone, asset.key
    assert preview_from_result(orders_view(), whole, rules).table is not None


def test_preview_of_a_flow_explains_it_is_lineage() -> None:
    preview = map_asset_preview(load_flow(), default_rules(), "dog")
    assert preview.table is None and preview.note is not None
    assert "lineage" in preview.note
    assert preview.lineage


def test_preview_of_an_excluded_asset_says_why() -> None:
    rules = parse_rules("overrides:\n  - {asset: SALES.CUSTOMERS, exclude: true}\n")
    preview = map_asset_preview(customers_table(), rules, "dog")
    assert preview.table is None
    assert preview.skipped == "excluded by overrides[0] (asset 'SALES.CUSTOMERS')"


def test_impact_follows_dependencies_and_flows_transitively() -> None:
    assets = sales_space()
    result = impact({"SALES.SALES_ORDERS", "ERP.VBAK", "SALES.AM_REVENUE"}, assets)
    assert result["SALES.SALES_ORDERS"] == ["SALES.AM_REVENUE", "SALES.V_ORDERS"]
    assert result["ERP.VBAK"] == [
        "SALES.AM_REVENUE", "SALES.DF_LOAD_ORDERS", "SALES.SALES_ORDERS", "SALES.V_ORDERS"
    ]
    assert result["SALES.AM_REVENUE"] == []
    tables = impacted_tables(result, map_assets(assets, default_rules(), env="dog"))
    assert tables["SALES.SALES_ORDERS"] == ["sales.am_revenue", "sales.sales_orders",
                                            "sales.v_orders"]
    assert tables["ERP.VBAK"] == ["sales.am_revenue", "sales.sales_orders", "sales.v_orders"]


def test_impact_survives_cycles() -> None:
    a = orders_view()
    b = revenue_model()  # reads a (fact source); make a read b too
    a = a.model_copy(update={"upstream": [Dependency(ref=b.ref, kind=DependencyKind.FROM)]})
    result = impact({a.key}, [a, b])
    assert result[a.key] == [b.key]
