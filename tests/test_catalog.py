"""core/catalog.py: the search index ranks every word by where it matches (name, label, space,
description, kind, columns), drops assets missing a word, filters by space, and is built once
per snapshot."""

from __future__ import annotations

from core.catalog import CatalogSnapshot, SearchIndex, search
from core.models import Asset, AssetKind, BusinessContext, CdsType, Column, Space


def _asset(space: str, name: str, *, label: str | None = None, description: str | None = None,
           kind: AssetKind = AssetKind.VIEW, columns: tuple[tuple[str, str | None], ...] = ()) -> Asset:
    return Asset(
        space=space, name=name, kind=kind, label=label,
        business=BusinessContext(description=description),
        columns=[Column(name=n, label=lbl, type=CdsType(name="cds.String", length=10)) for n, lbl in columns],
    )


ASSETS = [
    _asset("SALES", "ORDERS", label="Sales orders", columns=(("Amount", "Net amount"),)),
    _asset("SALES", "V_ORDER_ITEMS", label="Order items", description="one row per order item"),
    _asset("HR", "EMPLOYEE", label="Employee", columns=(("OrderRef", None),)),
    _asset("HR", "SALARY", kind=AssetKind.LOCAL_TABLE, columns=(("Amount", None),)),
]


def test_words_rank_by_where_they_match_and_every_word_must_match() -> None:
    hits = search(ASSETS, "order")
    assert [(h.space, h.name) for h in hits] == [("SALES", "V_ORDER_ITEMS"), ("SALES", "ORDERS"), ("HR", "EMPLOYEE")]
    assert hits[0].score == 40 + 30 + 10 and hits[0].matched == ["description", "label", "name"]
    assert hits[1].score == 40 + 30 and hits[1].matched == ["label", "name"]
    assert hits[2].matched == ["column"]  # only a column name holds it
    assert [h.name for h in search(ASSETS, "orders amount")] == ["ORDERS"]
    assert [h.name for h in search(ASSETS, "net")] == ["ORDERS"]  # a column label
    exact = search(ASSETS, "SALES.ORDERS")  # the full key is an exact name match
    assert exact[0].name == "ORDERS" and exact[0].score == 100
    assert [h.name for h in search(ASSETS, "local_table")] == ["SALARY"]
    assert search(ASSETS, "") == [] and search(ASSETS, "zzz") == []


def test_the_index_filters_by_space_and_the_snapshot_keeps_one_index() -> None:
    index = SearchIndex(ASSETS)
    assert [a.name for _, _, a in index.ranked("amount", space="HR")] == ["SALARY"]
    snapshot = CatalogSnapshot(assets=ASSETS, spaces=[Space(name="SALES"), Space(name="HR")])
    assert snapshot.index is snapshot.index
    assert [h.name for h in snapshot.index.search("amount", limit=1)] == ["SALARY"]  # a tie: by space
