"""The web catalog stays cheap to keep (core/catalog.py, core/heap.py): a refresh reads the
tenant conditionally and keeps what did not change, searches use one string per snapshot,
previews are lookups, and a snapshot leaves nothing for the cyclic collector.

Against the embedded tenant (emulator + moto), each module its own tenant (it is mutated)."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from core import heap
from core.catalog import AssetCatalog, CatalogSnapshot, CatalogWarming, refreshed, search
from core.datasphere.extract import Extractor
from core.datasphere.extract_results import ExtractionResult
from core.errors import SourceUnavailable
from core.mapping.preview import MappingIndex, map_asset_preview, preview_from_result
from core.metrics import prometheus_text
from core.models import AssetKind
from core.services import Services
from dog_flask import doubles

from .conftest import own_embedded_services

REGION = "ap-south-1"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with own_embedded_services(tmp_path_factory.mktemp("catalog-refresh"), REGION) as services:
        yield services


@pytest.fixture
def extractions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, str] | None, ExtractionResult]]:
    """Every ``Extractor.extract`` call of the test: the ETags it was given and its result."""
    seen: list[tuple[dict[str, str] | None, ExtractionResult]] = []
    real = Extractor.extract

    def spy(self: Extractor, *args: Any, **kwargs: Any) -> ExtractionResult:
        result = real(self, *args, **kwargs)
        seen.append((kwargs.get("etags"), result))
        return result

    monkeypatch.setattr(Extractor, "extract", spy)
    return seen


def _dump(snapshot: CatalogSnapshot) -> list[dict[str, Any]]:
    return [a.model_dump(mode="json") for a in snapshot.assets]


def test_an_unchanged_tenant_keeps_the_snapshot_and_its_indexes(
    svc: Services, extractions: list[tuple[dict[str, str] | None, ExtractionResult]]
) -> None:
    catalog = AssetCatalog(svc)
    first = catalog.snapshot()
    graph, index = catalog.lineage_graph(first), catalog.mapping_index(first)
    assert first.etags and extractions[0][0] is None

    again = catalog.snapshot(refresh=True)

    etags, result = extractions[-1]
    assert etags == first.etags  # every object read conditionally...
    assert result.assets == [] and len(result.unchanged) == len(first.assets)  # ...and all 304
    assert again is first  # the same snapshot: no index is built again
    assert catalog.lineage_graph(again) is graph and catalog.mapping_index(again) is index


def test_a_refresh_after_a_change_equals_a_full_extraction(
    svc: Services, extractions: list[tuple[dict[str, str] | None, ExtractionResult]]
) -> None:
    catalog = AssetCatalog(svc)
    first = catalog.snapshot()
    added = doubles.mutate(svc, count=1, seed=5, space="FINANCE", operations=("add_asset",))[0]

    after = catalog.snapshot(refresh=True)

    etags, result = extractions[-1]
    assert etags == first.etags and [a.name for a in result.assets] == [added["name"]]  # only it was read
    assert after is not first and after.lookup("FINANCE", added["name"]) is not None
    assert _dump(after) == _dump(CatalogSnapshot.of(svc.extractor().extract()))  # what a full one gives
    old = {a.key: a for a in first.assets}
    assert all(a is old[a.key] for a in after.assets if a.name != added["name"])  # the rest not parsed again

    # A source of an analytic model changes (HR.V_HEADCOUNT_FACT feeds HR.AM_HEADCOUNT): the
    # model answers 304, but its types come from its sources, so everything is extracted anew.
    changed = doubles.mutate(svc, count=1, seed=11, space="HR", operations=("add_column",))[0]
    assert changed["name"] == "V_HEADCOUNT_FACT"
    calls = len(extractions)
    again = catalog.snapshot(refresh=True)
    assert [etags is None for etags, _ in extractions[calls:]] == [False, True]  # conditional, then full
    assert _dump(again) == _dump(CatalogSnapshot.of(svc.extractor().extract()))
    fact = again.lookup("HR", "V_HEADCOUNT_FACT")
    assert fact is not None and changed["column"] in [c.name for c in fact.columns]


def test_an_unchanged_analytic_model_over_a_changed_source_is_extracted_again(svc: Services) -> None:
    snapshot = AssetCatalog(svc).snapshot()
    model = next(a for a in snapshot.assets if a.kind is AssetKind.ANALYTIC_MODEL and a.upstream)
    source = snapshot.lookup(model.upstream[0].ref.space, model.upstream[0].ref.name)
    assert source is not None
    others = {a.key: a.kind for a in snapshot.assets if a.key != source.key}
    # The source changed (read again), the model answered 304: its types may be stale.
    stale = ExtractionResult(assets=[source], unchanged=others, spaces=snapshot.spaces, etags=snapshot.etags)
    assert refreshed(snapshot, stale) is None
    # A change elsewhere keeps the model (and a new snapshot is made).
    other = next(a for a in snapshot.assets if a.key not in {model.key, *(str(d.ref) for d in model.upstream)})
    fine = ExtractionResult(assets=[other], unchanged={k: v for k, v in
                                                       [*others.items(), (source.key, source.kind)]
                                                       if k != other.key},
                            spaces=snapshot.spaces, etags=snapshot.etags)
    made = refreshed(snapshot, fine)
    assert made is not None and made is not snapshot and made.lookup(model.space, model.name) is model
    # An object answered 304 that the previous snapshot does not hold: extract everything.
    assert refreshed(snapshot, ExtractionResult(unchanged={"HR.NOT_THERE": AssetKind.VIEW})) is None


@pytest.mark.parametrize("query", ["orders", "sales orders", "ORDER amount", "view", "local table", "id",
                                   "zzz-nothing", "hr.", "currency", "sales.v_orders"])
def test_the_search_index_ranks_like_a_scan_of_every_asset(svc: Services, query: str) -> None:
    catalog = AssetCatalog(svc)
    snapshot = catalog.snapshot()
    expected = [(h.space, h.name, h.score, h.matched) for h in search(snapshot.assets, query, limit=10_000)]
    got = [(a.space, a.name, score, matched) for a, score, matched in catalog.search_in(snapshot, query)]
    assert got == expected
    # Remembered per snapshot; a filter applies to the remembered ranking.
    assert [r[0].key for r in catalog.search_in(snapshot, query, lambda a: a.space == "HR")] == [
        f"{s}.{n}" for s, n, _, _ in expected if s == "HR"]


def test_previews_from_the_mapping_index_equal_mapping_each_asset_alone(svc: Services) -> None:
    catalog = AssetCatalog(svc)
    snapshot = catalog.snapshot()
    index, rules = catalog.mapping_index(snapshot), svc.rules()
    assert isinstance(index, MappingIndex) and catalog.mapping_index(snapshot) is index
    for asset in snapshot.assets:
        assert preview_from_result(asset, index, rules) == map_asset_preview(
            asset, rules, svc.settings.env, others=snapshot.assets, spaces=snapshot.spaces), asset.key


def test_a_dropped_snapshot_and_its_indexes_leave_no_cycles_for_the_collector(svc: Services) -> None:
    catalog = AssetCatalog(svc)
    snapshot = catalog.snapshot()
    for build in (catalog.index, catalog.lineage_graph, catalog.mapping_index, catalog.readers, catalog.by_name):
        build(snapshot)
    snapshot.by_space()
    catalog.search_in(snapshot, "orders")
    assets = len(snapshot.assets)
    gc.collect()
    gc.disable()
    try:
        del catalog, snapshot
        unreachable = gc.collect()  # only objects in reference cycles are left for it
    finally:
        gc.enable()
    assert assets > 20
    assert unreachable < 20, f"{unreachable} objects of a dropped snapshot were in reference cycles"


def test_settling_freezes_the_heap_and_collections_are_timed(svc: Services) -> None:
    heap.watch()
    before = heap.pauses()[2].snapshot().count
    gc.collect()
    assert heap.pauses()[2].snapshot().count == before + 1
    try:
        assert heap.settle() > 0 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    svc.catalog().snapshot()
    svc.catalog().snapshot(refresh=True)
    text = prometheus_text(svc.store(), env=svc.settings.env, services=svc)
    assert 'dgsync_process_gc_pause_seconds_count{generation="2"}' in text
    assert 'dgsync_catalog_extractions_total{env="dog",outcome="full"} 1.0' in text
    assert 'dgsync_catalog_extractions_total{env="dog",outcome="kept"} 1.0' in text
    assert 'dgsync_catalog_age_seconds{env="dog"}' in text


def test_a_refresh_in_flight_never_blocks_a_reader_and_publishes_a_prepared_snapshot(
    svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = AssetCatalog(svc, ttl_s=3600)
    first = catalog.snapshot()
    doubles.mutate(svc, count=1, seed=6, space="SALES", operations=("add_asset",))
    release, entered = threading.Event(), threading.Event()
    real = Extractor.extract

    def slow(self: Extractor, *args: Any, **kwargs: Any) -> ExtractionResult:
        entered.set()
        assert release.wait(30)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Extractor, "extract", slow)
    refresher = threading.Thread(target=catalog.snapshot, kwargs={"refresh": True, "prepare": True})
    refresher.start()
    try:
        assert entered.wait(30)
        started = time.monotonic()
        assert catalog.ready_snapshot() is first and catalog.snapshot() is first  # not waiting for it
        assert catalog.search_in(first, "orders")  # nor for its indexes
        assert time.monotonic() - started < 5
    finally:
        release.set()
        refresher.join(60)
    new = catalog.ready_snapshot()
    assert new is not first
    # Published with its indexes built: the first request after a refresh does not build them.
    assert {"search_index", "mapping", "mapping_index", "lineage_graph", "lineage_index", "by_name",
            "readers"} <= set(new._derived)
    assert catalog.extractions == {"full": 1, "incremental": 1}


def test_an_unexpected_failure_of_a_background_refresh_is_reported_not_lost(
    svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Extractor, *args: Any, **kwargs: Any) -> ExtractionResult:
        raise RuntimeError("Cannot send a request, as the client has been closed.")

    monkeypatch.setattr(Extractor, "extract", broken)
    catalog = AssetCatalog(svc)
    with pytest.raises(CatalogWarming):
        catalog.ready_snapshot()
    assert catalog._refreshing is not None
    catalog._refreshing.join(30)
    with pytest.raises(SourceUnavailable, match=r"RuntimeError") as failed:
        catalog.ready_snapshot()  # the thread did not die with it: the request is told
    assert "client has been closed" not in failed.value.message  # the exception text stays in the log
    with pytest.raises(CatalogWarming):
        catalog.ready_snapshot()  # once: the next request tries again


def test_filtered_listings_equal_a_filter_of_every_asset(svc: Services) -> None:
    catalog = AssetCatalog(svc)
    snapshot = catalog.snapshot()
    ordered = sorted(snapshot.assets, key=lambda a: (a.space, a.name))
    spaces = sorted({a.space for a in snapshot.assets})
    for space in [None, *spaces, "hr", "NOT_A_SPACE"]:
        for kind in [None, *AssetKind]:
            expected = [a for a in ordered if (space is None or a.space.upper() == space.upper())
                        and (kind is None or a.kind is kind)]
            assert catalog.filtered(snapshot, space=space, kind=kind) == expected, (space, kind)
    assert catalog.filtered(snapshot, space="HR") and catalog.filtered(snapshot, space="hr") == catalog.filtered(
        snapshot, space="HR")
