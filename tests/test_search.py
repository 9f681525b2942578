"""Unified search (core/search.py): both catalogs as one, pairs, semantics, ranking, pages."""

from __future__ import annotations

from typing import Any

import pytest

from core.catalog import CatalogSnapshot
from core.errors import InputError
from core.mapping.mapper import map_assets
from core.mapping.rules import default_rules
from core.models import Asset, AssetKind, BusinessContext, CdsType, Column, SemanticRole, Space
from core.search import GlueSnapshot, SearchFilters, join, search_entries


def _col(name: str, **kw: Any) -> Column:
    return Column(name=name, type=CdsType(name="cds.Decimal", precision=15, scale=2), **kw)


def _assets() -> list[Asset]:
    revenue = Asset(
        space="SALES", name="AM_REVENUE", kind=AssetKind.ANALYTIC_MODEL, label="Revenue by Region",
        business=BusinessContext(description="Net revenue per sales region"),
        columns=[
            _col("Region", role=SemanticRole.DIMENSION, label="Sales Region"),
            _col("NetRevenue", role=SemanticRole.MEASURE, aggregation="SUM",
                 semantics={"amount.currencyCode": "Currency"}),
            _col("Currency", semantics={"currencyCode": "true"}),
        ],
    )
    orders = Asset(space="SALES", name="T_ORDERS", kind=AssetKind.LOCAL_TABLE, label="Orders",
                   columns=[_col("OrderId", key=True), _col("Quantity", semantics={"quantity.unitOfMeasure": "Unit"})])
    staff = Asset(space="HR", name="T_STAFF", kind=AssetKind.LOCAL_TABLE, label="Staff",
                  columns=[_col("PersonId", key=True)])
    return [revenue, orders, staff]


def _glue_table(name: str, *, params: dict[str, str] | None = None, columns: list[dict[str, Any]] | None = None,
                description: str | None = None) -> dict[str, Any]:
    table: dict[str, Any] = {"Name": name, "Parameters": params or {},
                             "StorageDescriptor": {"Columns": columns or []}}
    if description:
        table["Description"] = description
    return table


def _entries(glue: GlueSnapshot | None = None) -> list[Any]:
    assets = _assets()
    spaces = [Space(name="SALES"), Space(name="HR")]
    mapping = map_assets(assets, default_rules(), env="dog", spaces=spaces)
    snapshot = CatalogSnapshot(assets=assets, spaces=spaces)
    return join(snapshot, mapping, glue)


def _glue() -> GlueSnapshot:
    managed = {"dgsync.managed_by": "dgsync", "dgsync.source": "SALES.AM_REVENUE"}
    return GlueSnapshot(tables={
        ("sales", "am_revenue"): _glue_table("am_revenue", params=managed,
                                             columns=[{"Name": "netrevenue", "Type": "decimal(15,2)"}]),
        ("raw", "region_revenue_daily"): _glue_table(
            "region_revenue_daily", description="Crawler output",
            columns=[{"Name": "region", "Type": "string"}, {"Name": "amount_eur", "Type": "double",
                                                           "Comment": "revenue in euro"}]),
    })


def test_a_synced_asset_and_its_glue_table_are_one_hit_on_both_sides() -> None:
    page = search_entries(_entries(_glue()), "revenue region")
    first = page.hits[0]
    assert (first.space, first.name, first.database, first.table) == ("SALES", "AM_REVENUE", "sales", "am_revenue")
    assert first.sides == ["datasphere", "glue"] and first.managed is True


def test_an_unmanaged_glue_table_is_found_by_its_own_name_and_columns() -> None:
    page = search_entries(_entries(_glue()), "region_revenue_daily")
    assert [(h.sides, h.database, h.table, h.managed) for h in page.hits] == [
        (["glue"], "raw", "region_revenue_daily", False)]
    by_comment = search_entries(_entries(_glue()), "euro")
    assert [h.table for h in by_comment.hits] == ["region_revenue_daily"]
    assert "column:amount_eur" in by_comment.hits[0].matched


def test_an_asset_not_yet_in_glue_names_the_table_it_would_become() -> None:
    page = search_entries(_entries(_glue()), "orders")
    hit = next(h for h in page.hits if h.name == "T_ORDERS")
    assert hit.sides == ["datasphere"] and (hit.database, hit.table) == ("sales", "t_orders")
    assert hit.managed is None


@pytest.mark.parametrize(("word", "expected"), [
    ("measure", {"AM_REVENUE"}), ("currency", {"AM_REVENUE"}), ("unit", {"T_ORDERS"}), ("key", {"T_ORDERS", "T_STAFF"}),
])
def test_column_semantics_are_searchable(word: str, expected: set[str]) -> None:
    page = search_entries(_entries(), word)
    assert {h.name for h in page.hits} == expected
    assert all(f"semantics:{word}" in h.matched for h in page.hits)


def test_the_technical_name_outranks_a_label_or_a_column() -> None:
    hits = search_entries(_entries(_glue()), "revenue").hits
    assert hits[0].name == "AM_REVENUE"
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_filters_by_space_database_kind_and_side() -> None:
    entries = _entries(_glue())
    assert {h.name for h in search_entries(entries, "t", filters=SearchFilters(space="hr")).hits} == {"T_STAFF"}
    assert {h.table for h in search_entries(entries, "revenue", filters=SearchFilters(database="raw")).hits} == {"region_revenue_daily"}
    assert {h.kind for h in search_entries(entries, "revenue", filters=SearchFilters(kind="glue_table")).hits} == {"glue_table"}
    both = search_entries(entries, "revenue", filters=SearchFilters(side="both")).hits
    assert [h.name for h in both] == ["AM_REVENUE"]


def test_pages_follow_the_cursor_and_cover_every_hit_once() -> None:
    entries = _entries(_glue())
    seen: list[tuple[Any, ...]] = []
    cursor = None
    while True:
        page = search_entries(entries, "s", limit=1, cursor=cursor)
        seen += [(h.name, h.table) for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == page.total == len(set(seen)) > 2


@pytest.mark.parametrize("cursor", ["garbage!", None])
def test_a_cursor_of_another_query_or_garbage_is_refused_with_a_hint(cursor: str | None) -> None:
    entries = _entries(_glue())
    if cursor is None:
        cursor = search_entries(entries, "s", limit=1).next_cursor
    with pytest.raises(InputError) as info:
        search_entries(entries, "revenue", limit=1, cursor=cursor)
    assert info.value.hint and "cursor" in info.value.hint


def test_a_query_without_words_is_refused() -> None:
    with pytest.raises(InputError):
        search_entries(_entries(), "  ,, ")


def test_when_no_object_has_every_word_the_closest_ones_say_what_they_lack() -> None:
    page = search_entries(_entries(_glue()), "revenue margin")
    assert page.hits and "match some" in page.notes[0]
    assert all(h.missing == ["margin"] for h in page.hits)
    assert search_entries(_entries(_glue()), "margin").hits == []  # one word: no fallback
