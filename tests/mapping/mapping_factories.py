"""Hand-built assets for the mapping tests (a small, realistic sales space)."""

from __future__ import annotations

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
)


def ref(key: str) -> AssetRef:
    space, name = key.split(".", 1)
    return AssetRef(space=space, name=name)


def col(name: str, type_: str = "cds.String", **kw: object) -> Column:
    facets = {k: kw.pop(k) for k in ("length", "precision", "scale") if k in kw}
    return Column(name=name, type=CdsType(name=type_, **facets), **kw)  # type: ignore[arg-type]


def table(space: str, name: str, *columns: Column, **kw: object) -> Asset:
    kw.setdefault("kind", AssetKind.LOCAL_TABLE)
    return Asset(space=space, name=name, columns=list(columns), **kw)  # type: ignore[arg-type]


def orders_table() -> Asset:
    return table(
        "SALES",
        "SALES_ORDERS",
        col("ORDER_ID", "cds.Integer64", key=True, nullable=False, label="Order"),
        col("ORDER_YEAR", "cds.Integer", label="Year"),
        col("CUSTOMER", "cds.String", length=10, label="Customer"),
        col("NET_AMOUNT", "cds.Decimal", precision=15, scale=2, label="Net Amount",
            role=SemanticRole.MEASURE, aggregation="SUM",
            semantics={"amount.currencyCode": "CURRENCY"}),
        col("CURRENCY", "cds.String", length=5, label="Currency",
            semantics={"currencyCode": "true"}),
        col("ORDER_DATE", "cds.Date", label="Order Date", semantics={"calendar.date": "true"}),
        col("RATE", "cds.DecimalFloat", label="Rate"),
        label="Sales Orders",
        business=BusinessContext(label="Sales Orders", modeling_pattern="ANALYTICAL_FACT",
                                 exposed=True),
    )


def customers_table() -> Asset:
    return table(
        "SALES",
        "CUSTOMERS",
        col("ID", "cds.String", length=10, key=True, nullable=False, label="Customer"),
        col("NAME", "cds.String", length=80, label="Name", role=SemanticRole.TEXT),
        kind=AssetKind.REMOTE_TABLE,
        label="Customers",
    )


def orders_view() -> Asset:
    return table(
        "SALES",
        "V_ORDERS",
        col("ORDER_ID", "cds.Integer64", key=True, label="Order",
            lineage=["SALES.SALES_ORDERS.ORDER_ID"]),
        col("ORDER_YEAR", "cds.Integer", label="Year", role=SemanticRole.DIMENSION),
        col("CUSTOMER", "cds.String", length=10, label="Customer", role=SemanticRole.DIMENSION,
            foreign_key_target="SALES.CUSTOMERS", text_element="CUSTOMER_NAME"),
        col("CUSTOMER_NAME", "cds.String", length=80, role=SemanticRole.TEXT),
        col("NET_AMOUNT", "cds.Decimal", precision=15, scale=2, label="Net Amount",
            role=SemanticRole.MEASURE, aggregation="SUM", measure_type="BASE"),
        kind=AssetKind.VIEW,
        label="Orders",
        associations=[Association(name="_CUSTOMER", target=ref("SALES.CUSTOMERS"),
                                  cardinality="0..1", on=[("CUSTOMER", "ID")])],
        upstream=[
            Dependency(ref=ref("SALES.SALES_ORDERS"), kind=DependencyKind.FROM),
            Dependency(ref=ref("SALES.CUSTOMERS"), kind=DependencyKind.JOIN),
        ],
        business=BusinessContext(label="Orders", modeling_pattern="ANALYTICAL_FACT",
                                 exposed=True, sql="SELECT * FROM SALES_ORDERS"),
        parameters=[Variable(name="P_YEAR", type=CdsType(name="cds.Integer"))],
    )


def revenue_model() -> Asset:
    return table(
        "SALES",
        "AM_REVENUE",
        col("ORDER_YEAR", "cds.Integer", label="Year", role=SemanticRole.DIMENSION),
        col("CUSTOMER", "cds.String", length=10, label="Customer", role=SemanticRole.DIMENSION),
        col("NET_AMOUNT", "cds.Decimal", precision=15, scale=2, label="Net Amount",
            role=SemanticRole.MEASURE, aggregation="SUM"),
        col("AVG_AMOUNT", "cds.DecimalFloat", label="Average",
            role=SemanticRole.MEASURE, aggregation="AVG", measure_type="CALCULATION"),
        kind=AssetKind.ANALYTIC_MODEL,
        label="Revenue",
        hierarchies=[Hierarchy(name="H_TIME", label="Time", levels=["ORDER_YEAR"])],
        upstream=[
            Dependency(ref=ref("SALES.V_ORDERS"), kind=DependencyKind.FACT_SOURCE),
            Dependency(ref=ref("SALES.CUSTOMERS"), kind=DependencyKind.DIMENSION_SOURCE),
        ],
        business=BusinessContext(label="Revenue", modeling_pattern="ANALYTICAL_CUBE",
                                 exposed=True),
        analytic=AnalyticDefinition(
            fact_sources=[SourceRef(alias="Orders", ref=ref("SALES.V_ORDERS"))],
            dimension_sources=[SourceRef(alias="Customer", ref=ref("SALES.CUSTOMERS"),
                                         via="Orders", association_steps=["_CUSTOMER"])],
            attributes=[Attribute(name="ORDER_YEAR", attribute_type="FactSourceAttribute",
                                  source="Orders", source_element="ORDER_YEAR")],
            measures=[
                Measure(name="NET_AMOUNT", measure_type="FactSourceMeasure", aggregation="SUM",
                        source="Orders", source_element="NET_AMOUNT"),
                Measure(name="AVG_AMOUNT", measure_type="CalculatedMeasure",
                        expression="NET_AMOUNT / 2"),
            ],
            variables=[Variable(name="V_YEAR", variable_type="Filter", mandatory=True)],
        ),
    )


def load_flow() -> Asset:
    return Asset(
        space="SALES",
        name="DF_LOAD_ORDERS",
        kind=AssetKind.DATA_FLOW,
        label="Load orders",
        flow=FlowDefinition(sources=[ref("ERP.VBAK")], targets=[ref("SALES.SALES_ORDERS")],
                            load_type="APPEND"),
        upstream=[
            Dependency(ref=ref("ERP.VBAK"), kind=DependencyKind.FLOW_SOURCE),
            Dependency(ref=ref("SALES.SALES_ORDERS"), kind=DependencyKind.FLOW_TARGET),
        ],
    )


def sales_space() -> list[Asset]:
    return [orders_table(), customers_table(), orders_view(), revenue_model(), load_flow()]


def assert_within_glue_limits(result: object) -> None:
    """Every name, text and parameter of a MappingResult fits Glue's documented limits."""
    import re

    from core.mapping.types import is_valid_athena_type
    from core.specs import MappingResult

    assert isinstance(result, MappingResult)
    name_re = re.compile(r"^[a-z0-9_]{1,255}$")

    def check_params(params: dict[str, str]) -> None:
        for k, v in params.items():
            assert 1 <= len(k.encode("utf-8")) <= 255, k
            assert len(v.encode("utf-8")) <= 512_000, k

    db_names = [d.name for d in result.databases]
    assert len(db_names) == len(set(db_names))
    for db in result.databases:
        assert name_re.fullmatch(db.name)
        assert db.description is None or len(db.description.encode("utf-8")) <= 2048
        check_params(db.parameters)
    keys = [t.key for t in result.tables]
    assert len(keys) == len(set(keys))
    for t in result.tables:
        assert t.database in db_names
        assert name_re.fullmatch(t.name)
        assert t.description is None or len(t.description.encode("utf-8")) <= 2048
        check_params(t.parameters)
        cols = [*t.columns, *t.partition_keys]
        assert len({c.name for c in cols}) == len(cols), t.key
        for c in cols:
            assert name_re.fullmatch(c.name)
            assert is_valid_athena_type(c.type), (t.key, c.name, c.type)
            assert c.comment is None or len(c.comment.encode("utf-8")) <= 255
            check_params(c.parameters)
