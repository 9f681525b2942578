"""CDS/EDM → Glue types: every row of datasphere-api.md §7, policies, DDL validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.mapping.types import (
    MEASURE_FALLBACK_TYPE,
    DecimalFloatPolicy,
    DecimalFloatSetting,
    glue_type,
    is_numeric_glue_type,
    is_valid_athena_type,
)
from core.models import CdsType


def cds(name: str, **facets: int) -> CdsType:
    return CdsType(name=name, **facets)


def edm(name: str, **facets: int) -> CdsType:
    return CdsType(name=name, edm_type=name, **facets)


# (input, expected Glue type) — one or more cases per row of the §7 table, CDS and EDM side.
TYPE_TABLE = [
    # cds.String(n) / Edm.String MaxLength=n → varchar(n); no length → string
    (cds("cds.String", length=1), "varchar(1)"),
    (cds("cds.String", length=40), "varchar(40)"),
    (cds("cds.String", length=5000), "varchar(5000)"),
    (cds("cds.String"), "string"),
    (edm("Edm.String", length=40), "varchar(40)"),
    (edm("Edm.String"), "string"),
    # LargeString, hana.CLOB/NCLOB → string
    (cds("cds.LargeString"), "string"),
    (cds("cds.hana.CLOB"), "string"),
    (cds("cds.hana.NCLOB"), "string"),
    (cds("hana.CLOB"), "string"),
    (cds("hana.NCLOB"), "string"),
    # hana.CHAR/NCHAR(n) → char(n) if n ≤ 255 else varchar(n)
    (cds("hana.CHAR", length=3), "char(3)"),
    (cds("cds.hana.NCHAR", length=255), "char(255)"),
    (cds("hana.NCHAR", length=256), "varchar(256)"),
    (cds("cds.hana.CHAR", length=1000), "varchar(1000)"),
    # a CDS name beats the EDM type it travelled as
    (CdsType(name="cds.hana.CHAR", length=10, edm_type="Edm.String"), "char(10)"),
    # UUID / Guid → varchar(36)
    (cds("cds.UUID"), "varchar(36)"),
    (edm("Edm.Guid"), "varchar(36)"),
    # Boolean
    (cds("cds.Boolean"), "boolean"),
    (edm("Edm.Boolean"), "boolean"),
    # TINYINT (unsigned) / Byte → smallint
    (cds("cds.hana.TINYINT"), "smallint"),
    (cds("hana.TINYINT"), "smallint"),
    (cds("cds.UInt8"), "smallint"),
    (edm("Edm.Byte"), "smallint"),
    (CdsType(name="cds.hana.TINYINT", edm_type="Edm.Byte"), "smallint"),
    # SMALLINT / Int16 → smallint
    (cds("cds.hana.SMALLINT"), "smallint"),
    (cds("cds.Int16"), "smallint"),
    (edm("Edm.Int16"), "smallint"),
    # Integer / Int32 → int
    (cds("cds.Integer"), "int"),
    (cds("cds.Int32"), "int"),
    (edm("Edm.Int32"), "int"),
    # Integer64 / Int64 → bigint
    (cds("cds.Integer64"), "bigint"),
    (cds("cds.Int64"), "bigint"),
    (edm("Edm.Int64"), "bigint"),
    # Decimal(p,s) exactly
    (cds("cds.Decimal", precision=20, scale=3), "decimal(20,3)"),
    (cds("cds.Decimal", precision=38, scale=0), "decimal(38,0)"),
    (cds("cds.Decimal", precision=38, scale=38), "decimal(38,38)"),
    (cds("cds.Decimal", precision=10), "decimal(10,0)"),  # absent scale = 0
    (edm("Edm.Decimal", precision=15, scale=2), "decimal(15,2)"),
    # DecimalFloat / SMALLDECIMAL / Decimal without precision / Edm.Decimal without facets
    # → default policy decimal(34,4) (SAP's CSN Interop mapping for Spark/Delta Lake)
    (cds("cds.DecimalFloat"), "decimal(34,4)"),
    (cds("cds.hana.SMALLDECIMAL"), "decimal(34,4)"),
    (cds("hana.SMALLDECIMAL"), "decimal(34,4)"),
    (cds("cds.Decimal"), "decimal(34,4)"),
    (edm("Edm.Decimal"), "decimal(34,4)"),
    (CdsType(name="cds.DecimalFloat", edm_type="Edm.Decimal"), "decimal(34,4)"),
    # Double
    (cds("cds.Double"), "double"),
    (edm("Edm.Double"), "double"),
    # REAL / Single → float
    (cds("cds.hana.REAL"), "float"),
    (cds("hana.REAL"), "float"),
    (edm("Edm.Single"), "float"),
    # Date
    (cds("cds.Date"), "date"),
    (edm("Edm.Date"), "date"),
    # Time / TimeOfDay → string (no TIME in Athena DDL)
    (cds("cds.Time"), "string"),
    (edm("Edm.TimeOfDay"), "string"),
    # DateTime, Timestamp / DateTimeOffset → timestamp
    (cds("cds.DateTime"), "timestamp"),
    (cds("cds.Timestamp"), "timestamp"),
    (edm("Edm.DateTimeOffset"), "timestamp"),
    # Binary(n), LargeBinary, hana.BINARY / Edm.Binary → binary
    (cds("cds.Binary", length=16), "binary"),
    (cds("cds.LargeBinary"), "binary"),
    (cds("cds.hana.BINARY", length=8), "binary"),
    (cds("hana.BINARY", length=8), "binary"),
    (edm("Edm.Binary"), "binary"),
    # geo → string
    (cds("cds.hana.ST_GEOMETRY", srid=4326), "string"),
    (cds("hana.ST_POINT", srid=4326), "string"),
    (cds("cds.hana.ST_POINT"), "string"),
]


@pytest.mark.parametrize(("cds_type", "expected"), TYPE_TABLE, ids=lambda v: str(v))
def test_type_table_row_maps_exactly(cds_type: CdsType, expected: str) -> None:
    result = glue_type(cds_type)
    assert result.type == expected
    assert result.issue is None
    assert result.original == str(cds_type)
    assert is_valid_athena_type(result.type)


@pytest.mark.parametrize("name", ["cds.Association", "cds.Composition"])
def test_relationship_is_not_a_column_and_is_reported(name: str) -> None:
    result = glue_type(cds(name))
    assert result.type == "string"
    assert result.code == "relationship_as_column"


@pytest.mark.parametrize("name", ["cds.Frobnicate", "hana.NOPE", "Edm.Nonsense", ""])
def test_unknown_type_becomes_string_and_is_reported(name: str) -> None:
    result = glue_type(cds(name))
    assert (result.type, result.code, result.severity) == ("string", "unknown_type", "warning")
    assert result.issue


def test_unresolved_analytic_column_type_is_reported_as_such() -> None:
    result = glue_type(cds("unresolved"))
    assert (result.type, result.code) == ("string", "unresolved_type")


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (DecimalFloatSetting(DecimalFloatPolicy.STRING), "string"),
        (DecimalFloatSetting(DecimalFloatPolicy.DOUBLE), "double"),
        (DecimalFloatSetting(DecimalFloatPolicy.DECIMAL), "decimal(34,4)"),
        (DecimalFloatSetting(DecimalFloatPolicy.DECIMAL, 10), "decimal(34,10)"),
        (DecimalFloatSetting(DecimalFloatPolicy.DECIMAL, 6, 38), "decimal(38,6)"),
        (DecimalFloatPolicy.DOUBLE, "double"),
        (DecimalFloatPolicy.STRING, "string"),
    ],
)
@pytest.mark.parametrize(
    "cds_type",
    [cds("cds.DecimalFloat"), cds("cds.hana.SMALLDECIMAL"), edm("Edm.Decimal"), cds("cds.Decimal")],
    ids=str,
)
def test_decimal_float_follows_the_policy(
    cds_type: CdsType, policy: DecimalFloatSetting | DecimalFloatPolicy, expected: str
) -> None:
    assert glue_type(cds_type, policy).type == expected


def test_decimal_float_default_is_sap_interop_decimal_34_4() -> None:
    result = glue_type(cds("cds.DecimalFloat"))
    assert (result.type, result.issue) == ("decimal(34,4)", None)
    assert DecimalFloatSetting().label == "decimal(34,4)"
    assert DecimalFloatSetting(DecimalFloatPolicy.DOUBLE).label == "double"


@pytest.mark.parametrize(("precision", "scale"), [(0, 0), (39, 4), (10, 11), (10, -1)])
def test_decimal_float_setting_refuses_impossible_decimals(precision: int, scale: int) -> None:
    with pytest.raises(ValueError, match="precision"):
        DecimalFloatSetting(DecimalFloatPolicy.DECIMAL, scale, precision)


@pytest.mark.parametrize(
    ("cds_type", "code"),
    [
        (cds("unresolved"), "unresolved_type"),
        (cds("cds.Frobnicate"), "unknown_type"),
        (cds(""), "unknown_type"),
        (cds("cds.String", length=10), "measure_not_numeric"),
        (cds("cds.Decimal", precision=50, scale=2), "measure_not_numeric"),
        (cds("cds.Date"), "measure_not_numeric"),
    ],
    ids=str,
)
def test_a_measure_that_would_not_be_numeric_becomes_decimal_34_4_with_a_warning(
    cds_type: CdsType, code: str
) -> None:
    assert not is_numeric_glue_type(glue_type(cds_type).type)
    result = glue_type(cds_type, measure=True)
    assert (result.type, result.code, result.severity) == (MEASURE_FALLBACK_TYPE, code, "warning")
    assert result.issue is not None and "measure" in result.issue
    assert result.original == str(cds_type)


def test_the_string_policy_does_not_make_a_measure_a_string() -> None:
    df = cds("cds.DecimalFloat")
    assert glue_type(df, DecimalFloatPolicy.STRING).type == "string"
    result = glue_type(df, DecimalFloatPolicy.STRING, measure=True)
    assert (result.type, result.code) == ("decimal(34,4)", "measure_not_numeric")
    # a measure that is numeric already keeps its exact type, silently
    for t, glue in [(cds("cds.Decimal", precision=20, scale=2), "decimal(20,2)"),
                    (cds("cds.hana.TINYINT"), "smallint"), (cds("cds.Double"), "double")]:
        assert glue_type(t, measure=True) == glue_type(t)
        assert glue_type(t, measure=True).type == glue
    assert glue_type(df, DecimalFloatPolicy.DOUBLE, measure=True).type == "double"


@pytest.mark.parametrize(
    ("glue", "numeric"),
    [("tinyint", True), ("smallint", True), ("int", True), ("bigint", True), ("float", True),
     ("double", True), ("decimal", True), ("decimal(34,4)", True), ("decimal(10)", True),
     ("string", False), ("varchar(10)", False), ("boolean", False), ("date", False),
     ("timestamp", False), ("binary", False), ("array<int>", False), ("integer", False)],
)
def test_numeric_glue_types(glue: str, numeric: bool) -> None:
    assert is_numeric_glue_type(glue) is numeric


def test_decimal_over_38_digits_falls_back_to_string_with_a_warning() -> None:
    result = glue_type(cds("cds.Decimal", precision=39, scale=4))
    assert (result.type, result.code, result.severity) == ("string", "decimal_precision", "warning")


@pytest.mark.parametrize(("p", "s"), [(0, 0), (5, 6), (10, -1)])
def test_invalid_decimal_facets_are_reported(p: int, s: int) -> None:
    result = glue_type(cds("cds.Decimal", precision=p, scale=s))
    assert (result.type, result.code) == ("string", "invalid_decimal")


def test_string_longer_than_hive_varchar_becomes_string_with_info() -> None:
    assert glue_type(cds("cds.String", length=65535)).type == "varchar(65535)"
    result = glue_type(cds("cds.String", length=65536))
    assert (result.type, result.code, result.severity) == ("string", "varchar_too_long", "info")


def test_char_without_length_is_reported() -> None:
    result = glue_type(cds("hana.NCHAR"))
    assert (result.type, result.code) == ("string", "missing_length")


def test_edm_sbyte_is_signed_tinyint() -> None:
    assert glue_type(edm("Edm.SByte")).type == "tinyint"


@pytest.mark.parametrize(
    "text",
    [
        "string", "int", "bigint", "smallint", "tinyint", "boolean", "double", "float", "date",
        "timestamp", "binary", "decimal", "decimal(10)", "decimal(38,6)", "varchar(1)",
        "varchar(65535)", "char(255)", "array<string>", "map<string,array<int>>",
        "struct<a:int,b:varchar(3)>", "array<struct<x:decimal(5,2)>>",
    ],
)
def test_valid_athena_types_are_accepted(text: str) -> None:
    assert is_valid_athena_type(text)


@pytest.mark.parametrize(
    "text",
    [
        "", " int", "INT", "integer", "varchar", "varchar(0)", "varchar(65536)", "char(256)",
        "decimal(39,0)", "decimal(5,6)", "time", "array<>", "map<array<int>,int>", "struct<>",
        "struct<a:int,a:int>", "int int", "decimal(38,6", "text",
    ],
)
def test_invalid_athena_types_are_rejected(text: str) -> None:
    assert not is_valid_athena_type(text)


_NAMES = st.sampled_from(
    [
        "cds.String", "cds.LargeString", "cds.hana.CHAR", "hana.NCHAR", "cds.UUID", "cds.Boolean",
        "cds.hana.TINYINT", "cds.hana.SMALLINT", "cds.Integer", "cds.Integer64", "cds.Decimal",
        "cds.DecimalFloat", "hana.SMALLDECIMAL", "cds.Double", "hana.REAL", "cds.Date", "cds.Time",
        "cds.DateTime", "cds.Timestamp", "cds.Binary", "cds.LargeBinary", "hana.ST_POINT",
        "cds.Association", "Edm.String", "Edm.Decimal", "Edm.Byte", "Edm.Guid", "unresolved",
    ]
)
_FACET = st.none() | st.integers(min_value=-5, max_value=100_000)


@given(
    name=_NAMES | st.text(max_size=30),
    length=_FACET,
    precision=_FACET,
    scale=_FACET,
    policy=st.sampled_from(list(DecimalFloatPolicy)),
    df=st.integers(min_value=1, max_value=38).flatmap(
        lambda p: st.tuples(st.just(p), st.integers(min_value=0, max_value=p))
    ),
    measure=st.booleans(),
)
def test_every_mapped_type_is_a_valid_athena_type(
    name: str,
    length: int | None,
    precision: int | None,
    scale: int | None,
    policy: DecimalFloatPolicy,
    df: tuple[int, int],
    measure: bool,
) -> None:
    t = CdsType(name=name, length=length, precision=precision, scale=scale)
    setting = DecimalFloatSetting(policy, df[1], df[0])
    result = glue_type(t, setting, measure=measure)
    assert is_valid_athena_type(result.type), (t, result)
    assert glue_type(t, setting, measure=measure) == result
    if measure:
        assert is_numeric_glue_type(result.type), (t, result)
