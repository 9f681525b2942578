"""Every documented Glue limit is checked before a request is sent."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import LimitExceeded
from core.glue import limits
from core.glue.client import GlueClient
from core.specs import DatabaseSpec
from core.textutil import truncate_utf8, utf8_len
from doubles.glue_faults import GlueFaults

# "é" is 2 bytes, "€" 3 bytes, "𝄞" 4 bytes in UTF-8.


def _table(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Name": "orders",
        "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {"Columns": [{"Name": "amount", "Type": "decimal(15,2)"}]},
        "Parameters": {"dgsync.managed_by": "dgsync"},
    }
    base.update(overrides)
    return base


def _column(**overrides: Any) -> dict[str, Any]:
    col: dict[str, Any] = {"Name": "amount", "Type": "int"}
    col.update(overrides)
    return _table(StorageDescriptor={"Columns": [col]})


def _fill(total_bytes: int, char: str = "a") -> str:
    """A string of exactly ``total_bytes`` UTF-8 bytes, made of ``char`` plus ASCII padding."""
    width = utf8_len(char)
    return char * (total_bytes // width) + "a" * (total_bytes % width)


# -- truncate_utf8 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "max_bytes", "expected"),
    [
        ("abc", 3, "abc"),
        ("abc", 2, "ab"),
        ("aé", 2, "a"),  # é would be split: dropped whole
        ("aé", 3, "aé"),
        ("€€", 5, "€"),
        ("𝄞x", 3, ""),
        ("𝄞x", 4, "𝄞"),
        ("", 0, ""),
        ("abc", 0, ""),
    ],
)
def test_truncate_utf8_never_splits_a_character(text: str, max_bytes: int, expected: str) -> None:
    assert truncate_utf8(text, max_bytes) == expected


def test_truncate_utf8_appends_suffix_within_budget() -> None:
    assert truncate_utf8("abcdef", 5, suffix="…") == "ab…"  # "…" is 3 bytes
    assert truncate_utf8("abc", 5, suffix="…") == "abc"  # fits: unchanged, no suffix
    assert truncate_utf8("abcdef", 2, suffix="…") == "ab"  # suffix alone too long: dropped


def test_truncate_utf8_refuses_negative_budget() -> None:
    with pytest.raises(ValueError):
        truncate_utf8("x", -1)


@given(st.text(), st.integers(min_value=0, max_value=64))
def test_truncate_utf8_is_a_prefix_within_budget(text: str, max_bytes: int) -> None:
    out = truncate_utf8(text, max_bytes)
    assert text.startswith(out)
    assert utf8_len(out) <= max_bytes
    # maximal: the next character would not have fitted
    if out != text:
        assert utf8_len(text[: len(out) + 1]) > max_bytes


def test_limits_module_reexports_truncate() -> None:
    assert limits.truncate_utf8 is truncate_utf8


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "orders_2024", "x" * 255, "_tmp", "9lives"])
def test_valid_names_pass(name: str) -> None:
    limits.validate_name("table", name)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "empty"),
        ("x" * 256, "256 bytes"),
        ("Orders", "a-z, 0-9 and _"),
        ("order-lines", "a-z, 0-9 and _"),
        ("größe", "a-z, 0-9 and _"),
        ("with space", "a-z, 0-9 and _"),
    ],
)
def test_invalid_names_fail(name: str, fragment: str) -> None:
    with pytest.raises(LimitExceeded, match=fragment):
        limits.validate_name("table", name, obj=f"sales.{name}")


def test_non_athena_mode_checks_length_and_lowercase_only() -> None:
    limits.validate_name("table", "order-lines", athena=False)
    limits.validate_name("table", "é" * 127, athena=False)  # 254 bytes
    with pytest.raises(LimitExceeded, match="256 bytes"):
        limits.validate_name("table", "é" * 128, athena=False)
    with pytest.raises(LimitExceeded, match="upper-case"):
        limits.validate_name("table", "Orders", athena=False)


# -- table and column fields: boundary passes, one byte more fails ----------------------------

FIELD_CASES: list[tuple[str, Any, int, str]] = [
    # (id, builder(text) -> TableInput, limit in bytes, message fragment)
    ("description", lambda t: _table(Description=t), 2048, "Description"),
    ("column comment", lambda t: _column(Comment=t), 255, "column Comment"),
    ("column type", lambda t: _column(Type=t), 131_072, "column Type"),
    ("parameter value", lambda t: _table(Parameters={"k": t}), 512_000, "Parameters['k']"),
    ("parameter key", lambda t: _table(Parameters={t: "v"}), 255, "Parameters key"),
    ("view original text", lambda t: _table(ViewOriginalText=t), 409_600, "ViewOriginalText"),
    ("view expanded text", lambda t: _table(ViewExpandedText=t), 409_600, "ViewExpandedText"),
    (
        "column parameter value",
        lambda t: _column(Parameters={"k": t}),
        512_000,
        "column Parameters['k']",
    ),
    (
        "location",
        lambda t: _table(StorageDescriptor={"Columns": [], "Location": t}),
        2056,
        "Location",
    ),
]


@pytest.mark.parametrize("char", ["a", "é", "€", "𝄞"], ids=["ascii", "2-byte", "3-byte", "4-byte"])
@pytest.mark.parametrize(
    ("case", "build", "limit", "fragment"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES]
)
def test_field_limit_at_boundary(
    case: str, build: Any, limit: int, fragment: str, char: str
) -> None:
    at_limit = _fill(limit, char)
    assert utf8_len(at_limit) == limit
    limits.validate_table_input("sales", build(at_limit))
    over = at_limit + "a"
    with pytest.raises(LimitExceeded) as err:
        limits.validate_table_input("sales", build(over))
    assert fragment in err.value.message
    assert f"{limit + 1} bytes" in err.value.message
    assert str(limit) in err.value.message


def test_multibyte_text_counted_in_bytes_not_characters() -> None:
    comment = "€" * 85  # 85 characters, 255 bytes: fits
    limits.validate_table_input("sales", _column(Comment=comment))
    with pytest.raises(LimitExceeded, match="258 bytes"):
        limits.validate_table_input("sales", _column(Comment=comment + "€"))


def test_error_names_database_table_and_column() -> None:
    with pytest.raises(LimitExceeded) as err:
        limits.validate_table_input("sales", _column(Name="amount", Comment="x" * 256))
    assert err.value.message.startswith("sales.orders.amount:")
    assert err.value.hint


def test_partition_key_names_and_comments_are_checked() -> None:
    table = _table(PartitionKeys=[{"Name": "Year", "Type": "int"}])
    with pytest.raises(LimitExceeded, match="partition key name 'Year'"):
        limits.validate_table_input("sales", table)
    table = _table(PartitionKeys=[{"Name": "year", "Type": "int", "Comment": "x" * 256}])
    with pytest.raises(LimitExceeded, match=r"sales\.orders\.year: partition key Comment"):
        limits.validate_table_input("sales", table)


def test_control_characters_refused_in_comment_but_newlines_allowed_in_description() -> None:
    limits.validate_table_input("sales", _table(Description="line 1\nline 2"))
    with pytest.raises(LimitExceeded, match="control characters"):
        limits.validate_table_input("sales", _column(Comment="a\nb"))
    with pytest.raises(LimitExceeded, match="control characters"):
        limits.validate_table_input("sales", _table(Description="nul\x00"))


def test_non_string_parameter_value_refused() -> None:
    with pytest.raises(LimitExceeded, match="must be a string"):
        limits.validate_table_input("sales", _table(Parameters={"n": 1}))


def test_database_input_limits() -> None:
    limits.validate_database_input({"Name": "sales", "Description": _fill(2048, "€")})
    with pytest.raises(LimitExceeded, match="sales: Description is 2049 bytes"):
        limits.validate_database_input({"Name": "sales", "Description": "x" * 2049})
    with pytest.raises(LimitExceeded, match="database name"):
        limits.validate_database_input({"Name": "Sales"})


# -- tags --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "fragment"),
    [
        ({f"k{i}": "v" for i in range(51)}, "51 tags"),
        ({"": "v"}, "0 characters"),
        ({"k" * 129: "v"}, "129 characters"),
        ({"é" * 129: "v"}, "129 characters"),
        ({"k": "v" * 257}, "257 characters"),
        ({"aws:owner": "me"}, "reserved 'aws:' prefix"),
        ({"AWS:Owner": "me"}, "reserved 'aws:' prefix"),
    ],
)
def test_invalid_tags_fail(tags: dict[str, str], fragment: str) -> None:
    with pytest.raises(LimitExceeded, match=fragment):
        limits.check_tags("sales", tags)


def test_tags_at_limits_pass() -> None:
    limits.check_tags("sales", {f"k{i}": "v" for i in range(50)})
    limits.check_tags("sales", {"é" * 128: "€" * 256, "awsome": "ok"})


def test_tag_count_includes_existing_tags() -> None:
    existing = [f"old{i}" for i in range(49)]
    limits.check_tags("sales", {"old0": "x", "new": "y"}, existing=existing)  # 50 in total
    with pytest.raises(LimitExceeded, match="51 tags"):
        limits.check_tags("sales", {"new1": "x", "new2": "y"}, existing=existing)


# -- batch sizes and MaxResults ----------------------------------------------------------------


@pytest.mark.parametrize(("operation", "spec"), sorted(limits.BATCH_LIMITS.items()))
def test_batch_size_limits(operation: str, spec: tuple[str, int]) -> None:
    _, limit = spec
    limits.check_batch_size(operation, limit)
    with pytest.raises(LimitExceeded, match=f"{limit + 1} entries.*at most {limit}"):
        limits.check_batch_size(operation, limit + 1)


def test_batch_limits_match_the_reference() -> None:
    assert {op: n for op, (_, n) in limits.BATCH_LIMITS.items()} == {
        "BatchDeleteTable": 100,
        "BatchCreatePartition": 100,
        "BatchUpdatePartition": 100,
        "BatchDeletePartition": 25,
        "BatchGetPartition": 1000,
        "BatchDeleteTableVersion": 100,
    }


@pytest.mark.parametrize(
    ("operation", "low", "high"),
    [
        ("GetDatabases", 1, 100),
        ("GetTables", 1, 100),
        ("GetTableVersions", 1, 100),
        ("GetPartitions", 1, 1000),
    ],
)
def test_max_results_ranges(operation: str, low: int, high: int) -> None:
    limits.check_max_results(operation, low)
    limits.check_max_results(operation, high)
    for bad in (low - 1, high + 1):
        with pytest.raises(LimitExceeded, match=f"MaxResults={bad}"):
            limits.check_max_results(operation, bad)


def test_batch_create_partition_values_checked() -> None:
    params = {
        "DatabaseName": "sales",
        "TableName": "orders",
        "PartitionInputList": [{"Values": ["x" * 1025]}],
    }
    with pytest.raises(LimitExceeded, match="partition value is 1025 bytes"):
        limits.validate_request("BatchCreatePartition", params)


def test_validate_request_checks_update_table_and_version_id() -> None:
    ok = {"DatabaseName": "sales", "TableInput": _table(), "VersionId": "3"}
    limits.validate_request("UpdateTable", ok)
    with pytest.raises(LimitExceeded, match="VersionId is empty"):
        limits.validate_request("UpdateTable", {**ok, "VersionId": ""})


def test_reads_of_legacy_names_are_not_blocked_by_athena_rule() -> None:
    limits.validate_request("GetTable", {"DatabaseName": "Legacy-DB", "Name": "Some-Table"})
    limits.validate_request("BatchDeleteTable", {"DatabaseName": "db", "TablesToDelete": ["Old-T"]})


# -- through the client: nothing is sent -------------------------------------------------------


def test_client_refuses_over_limit_table_without_sending(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str
) -> None:
    with pytest.raises(LimitExceeded, match=rf"{glue_database}.orders.amount: column Comment"):
        glue.create_table(glue_database, _column(Comment="é" * 128))  # 256 bytes
    assert glue_faults.attempts == {}
    assert glue.stats.snapshot().calls == 0
    assert glue.get_table(glue_database, "orders") is None


def test_client_refuses_too_many_database_tags(
    glue: GlueClient, glue_faults: GlueFaults, unique_name: Any
) -> None:
    spec = DatabaseSpec(
        name=unique_name("db"), source_space="S", tags={f"k{i}": "v" for i in range(51)}
    )
    with pytest.raises(LimitExceeded, match="51 tags"):
        glue.create_database(spec)
    assert glue_faults.attempts == {}


def test_client_refuses_page_size_out_of_range(glue: GlueClient, glue_faults: GlueFaults) -> None:
    with pytest.raises(LimitExceeded, match="MaxResults=101"):
        list(glue.iter_databases(page_size=101))
    with pytest.raises(LimitExceeded, match="MaxResults=1001"):
        list(glue.iter_partitions("db", "t", page_size=1001))
    assert glue_faults.attempts == {}
