"""The ``$filter`` parser and the other OData option parsers (pure functions)."""

from __future__ import annotations

import pytest

from doubles.emulator.odata import (
    ODataError,
    compile_filter,
    parse_orderby,
    parse_select,
    sort_rows,
)

PROPS = frozenset({"name", "spaceName", "label", "hasParameters"})
ROWS = [
    {"name": "A", "spaceName": "SALES", "label": "Alpha", "hasParameters": False},
    {"name": "B.X", "spaceName": "SALES", "label": None, "hasParameters": True},
    {"name": "O'Neil", "spaceName": "HR", "label": "It's", "hasParameters": False},
    {"name": "c", "spaceName": "FINANCE", "label": "gamma", "hasParameters": False},
]


def _names(expr: str) -> list[str]:
    pred = compile_filter(expr, PROPS)
    return [r["name"] for r in ROWS if pred(r)]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("name eq 'A'", ["A"]),
        ("name ne 'A'", ["B.X", "O'Neil", "c"]),
        ("name gt 'B' and name lt 'Z'", ["B.X", "O'Neil"]),
        ("name ge 'c' or name le 'A'", ["A", "c"]),
        ("spaceName eq 'SALES' and name eq 'B.X' or spaceName eq 'HR'", ["B.X", "O'Neil"]),
        ("spaceName eq 'SALES' and (name eq 'B.X' or spaceName eq 'HR')", ["B.X"]),
        ("not spaceName eq 'SALES'", ["O'Neil", "c"]),
        ("not (spaceName eq 'SALES' or spaceName eq 'HR')", ["c"]),
        ("name eq 'O''Neil'", ["O'Neil"]),
        ("label eq null", ["B.X"]),
        ("label ne null and label gt 'B'", ["O'Neil", "c"]),
        ("label lt 'Z'", ["A", "O'Neil"]),
        ("hasParameters", ["B.X"]),
        ("hasParameters eq true", ["B.X"]),
        ("not hasParameters and contains(label,'a')", ["A", "c"]),
        ("startswith(name,'B') or endswith(name,'il')", ["B.X", "O'Neil"]),
        ("tolower(spaceName) eq 'hr'", ["O'Neil"]),
        ("length(name) eq 1", ["A", "c"]),
        ("spaceName in ('HR', 'FINANCE')", ["O'Neil", "c"]),
        ("((name eq 'A'))", ["A"]),
        ("name EQ 'A'", ["A"]),
    ],
)
def test_filter_semantics(expr: str, expected: list[str]) -> None:
    assert _names(expr) == expected


@pytest.mark.parametrize(
    "expr",
    ["", "name eq", "name eq 'A' and", "(name eq 'A'", "name eq 'A')", "owner eq 'x'", "name", "'x'",
     "frobnicate(name)", "contains(name)", "name eq 'unterminated", "name eq 'A' name eq 'B'", "name ~ 'A'"],
)
def test_filter_errors(expr: str) -> None:
    with pytest.raises(ODataError) as info:
        compile_filter(expr, PROPS)(ROWS[0])
    assert info.value.status == 400
    assert info.value.body()["error"]["target"] == "$filter"


def test_bare_words_are_literals_in_design_time_filters() -> None:
    pred = compile_filter("status eq Deployed", frozenset({"status"}), bare_literals=True)
    assert pred({"status": "Deployed"}) and not pred({"status": "Not Deployed"})


def test_orderby_and_select() -> None:
    order = parse_orderby("spaceName desc, name", PROPS)
    assert order == [("spaceName", True), ("name", False)]
    rows = sort_rows([dict(r) for r in ROWS], order)
    assert [r["name"] for r in rows] == ["A", "B.X", "O'Neil", "c"]
    assert parse_select("label, name", ["name", "label", "spaceName"]) == ["name", "label"]
    with pytest.raises(ODataError):
        parse_orderby("name up", PROPS)
    with pytest.raises(ODataError):
        parse_select("nope", ["name"])
