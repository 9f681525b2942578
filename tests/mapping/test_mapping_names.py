"""Glue names: always valid, deterministic, collision-free and order-independent."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.mapping.names import (
    NameAllocator,
    glue_column_name,
    glue_name,
    is_valid_glue_column_name,
    is_valid_glue_name,
)

VALID = re.compile(rb"^[a-z0-9_]{1,255}$")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SALES_ORDER", "sales_order"),
        ("Sales.Order", "sales_order"),
        ("sales order", "sales_order"),
        ("SAP.TIME.VIEW_DIMENSION_DAY", "sap_time_view_dimension_day"),
        ("A__B", "a__b"),  # underscores of the original survive
        ("Amount (EUR)", "amount_eur"),
        ("_ID", "_id"),  # a leading underscore is kept (Athena DDL quotes it with backticks)
        ("_DESCRIPTION", "_description"),
        ("__X_", "__x_"),  # every underscore of the source stays, trailing ones too
        ("AMOUNT_", "amount_"),
        (" _X", "_x"),  # a replaced character next to an underscore adds none
        ("(A)", "a"),  # replaced characters at the ends leave no underscore
        ("∞_X", "inf_x"),
        ("Größe", "groesse"),
        ("Ümsatz ∞", "uemsatz_inf"),
        ("Café", "cafe"),
        ("Margin %", "margin_pct"),
        ("3VF_SALARY", "n_3vf_salary"),  # no leading digit
        ("数量", "u6570_u91cf"),
    ],
)
def test_glue_name_examples(raw: str, expected: str) -> None:
    assert glue_name(raw) == expected
    if not raw[0].isdigit():
        assert glue_column_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0CALDAY", "0calday"), ("3VF_SALARY", "3vf_salary"), ("_DESCRIPTION", "_description"),
     ("DAY_INT", "day_int"), ("1 €", "1_eur")],
)
def test_column_names_keep_a_leading_digit_to_match_the_data(raw: str, expected: str) -> None:
    assert glue_column_name(raw) == expected
    assert is_valid_glue_column_name(expected)
    assert not is_valid_glue_name(expected) or not expected[0].isdigit()


def test_a_technical_name_that_is_already_lowercase_glue_stays_identical() -> None:
    for raw in ["_description", "a__b_", "_langu", "mct_products", "day_int"]:
        assert glue_name(raw) == glue_column_name(raw) == raw


@pytest.mark.parametrize("raw", ["", "***", " ", "∙∙", "_", "__"])
def test_glue_name_is_never_empty(raw: str) -> None:
    name = glue_name(raw)
    assert is_valid_glue_name(name)
    assert name.startswith("n_")
    assert glue_column_name(raw) == name


def test_long_names_are_cut_with_a_hash_and_stay_distinct() -> None:
    a, b = "X" * 300 + "A", "X" * 300 + "B"
    assert len(glue_name(a)) <= 255
    assert glue_name(a) != glue_name(b)


@given(st.text(max_size=400))
def test_glue_name_is_always_valid_deterministic_and_idempotent(raw: str) -> None:
    name = glue_name(raw)
    assert VALID.fullmatch(name.encode("utf-8"))
    assert is_valid_glue_name(name)
    assert glue_name(raw) == name
    assert glue_name(name) == name
    column = glue_column_name(raw)
    assert is_valid_glue_column_name(column)
    assert glue_column_name(column) == column


def test_collisions_are_disambiguated_and_reported() -> None:
    alloc = NameAllocator("database sales")
    for raw in ["Sales.Order", "SALES_ORDER", "sales order", "Other"]:
        alloc.add(raw)
    result = alloc.allocate()
    assert result.names["SALES_ORDER"] == "sales_order"  # smallest key keeps the plain name
    assert result.names["Other"] == "other"
    assert re.fullmatch(r"sales_order_[0-9a-f]{8}", result.names["Sales.Order"])
    assert re.fullmatch(r"sales_order_[0-9a-f]{8}", result.names["sales order"])
    assert len(set(result.names.values())) == 4
    assert sorted(i.asset for i in result.issues) == ["Sales.Order", "sales order"]
    assert {i.code for i in result.issues} == {"name_collision"}
    assert "SALES_ORDER" in result.issues[0].message


def test_a_kept_leading_underscore_can_collide_and_is_resolved() -> None:
    alloc = NameAllocator("table t", what="column")
    for raw in ["_DESCRIPTION", "_Description", "DESCRIPTION"]:
        alloc.add(raw)
    result = alloc.allocate()
    assert result.names["DESCRIPTION"] == "description"  # no longer clashes with _DESCRIPTION
    assert result.names["_DESCRIPTION"] == "_description"
    assert re.fullmatch(r"_description_[0-9a-f]{8}", result.names["_Description"])
    assert [i.asset for i in result.issues] == ["_Description"]


def test_column_allocator_keeps_digits_and_table_allocator_prefixes_them() -> None:
    cols = NameAllocator("table t", what="column")
    cols.add("0CALDAY")
    cols.add("n_0calday")
    tables = NameAllocator("db")
    tables.add("0CALDAY")
    assert cols.allocate().names == {"0CALDAY": "0calday", "n_0calday": "n_0calday"}
    assert tables.allocate().names == {"0CALDAY": "n_0calday"}


def test_names_differing_only_in_case_collide() -> None:
    alloc = NameAllocator("table t", what="column")
    alloc.add("Amount")
    alloc.add("AMOUNT")
    result = alloc.allocate()
    assert result.names["AMOUNT"] == "amount"
    assert result.names["Amount"] != "amount"
    assert len(result.issues) == 1


def test_pinned_name_wins_the_collision() -> None:
    alloc = NameAllocator("db")
    alloc.add("S.A", "orders", pinned=True)
    alloc.add("S.B", "ORDERS")
    result = alloc.allocate()
    assert result.names["S.A"] == "orders"
    assert result.names["S.B"].startswith("orders_")


def test_reserved_names_are_never_handed_out() -> None:
    alloc = NameAllocator("db", reserved={"x"})
    alloc.add("X")
    result = alloc.allocate()
    assert result.names["X"] != "x"
    assert result.issues


def test_adding_a_key_twice_with_different_names_is_an_error() -> None:
    alloc = NameAllocator("db")
    alloc.add("k", "a")
    alloc.add("k", "a")
    with pytest.raises(ValueError, match="twice"):
        alloc.add("k", "b")


_RAW = st.text(
    alphabet=st.sampled_from(list("aAbB_. -∞äÄ1é数")), min_size=0, max_size=6
)


@settings(max_examples=150)
@given(st.lists(_RAW, max_size=30, unique=True), st.randoms(use_true_random=False))
def test_allocation_is_valid_collision_free_and_order_independent(
    raws: list[str], rnd: object
) -> None:
    alloc = NameAllocator("db")
    for raw in raws:
        alloc.add(raw)
    result = alloc.allocate()
    names = list(result.names.values())
    assert len(names) == len(set(names)) == len(raws)
    assert all(VALID.fullmatch(n.encode("utf-8")) for n in names)

    shuffled = list(raws)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    again = NameAllocator("db")
    for raw in shuffled:
        again.add(raw)
    other = again.allocate()
    assert other.names == result.names
    assert sorted(i.message for i in other.issues) == sorted(i.message for i in result.issues)


@settings(max_examples=50)
@given(st.lists(st.text(max_size=300), max_size=15, unique=True))
def test_allocation_handles_arbitrary_unicode(raws: list[str]) -> None:
    alloc = NameAllocator("db")
    for raw in raws:
        alloc.add(raw)
    names = list(alloc.allocate().names.values())
    assert len(set(names)) == len(raws)
    assert all(is_valid_glue_name(n) for n in names)
