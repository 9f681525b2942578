"""core/catalog.py's per-snapshot indexes (what Wolf's pages read instead of scanning or
mapping the tenant per request) agree with the brute-force answers on the embedded tenant."""

from __future__ import annotations

from core.catalog import AssetCatalog
from core.mapping.mapper import map_assets
from core.mapping.preview import map_asset_preview, preview_from_result


def test_readers_index_and_mapping_match_a_scan_of_the_snapshot(embedded_catalog: AssetCatalog) -> None:
    catalog = embedded_catalog
    snapshot = catalog.snapshot()
    readers = catalog.readers(snapshot)
    found_some = False
    for asset in snapshot.assets:
        expected = []
        for other in snapshot.assets:
            if other.key == asset.key:
                continue
            how = next((d.kind.value for d in other.upstream
                        if (d.ref.space, d.ref.name) == (asset.space, asset.name)), None)
            if how is None and any((a.target.space, a.target.name) == (asset.space, asset.name)
                                   for a in other.associations):
                how = "association"
            if how is not None:
                expected.append((other.key, how))
        got = [(o.key, how) for o, how in readers.get((asset.space, asset.name), []) if o.key != asset.key]
        assert got == expected, asset.key
        found_some = found_some or bool(expected)
    assert found_some  # the embedded tenant has dependencies
    assert catalog.readers(snapshot) is readers  # built once per snapshot
    names = catalog.by_name(snapshot)
    assert all(names[(a.space, a.name)] is a for a in snapshot.assets) and len(names) == len(snapshot.assets)
    assert catalog.by_name(snapshot) is names
    whole = catalog.mapping(snapshot)
    assert catalog.mapping(snapshot) is whole
    assert whole == map_assets(snapshot.assets, catalog.services.rules(), env=catalog.services.settings.env,
                               spaces=snapshot.spaces)
    rules = catalog.services.rules()
    for asset in snapshot.assets[:25]:
        assert preview_from_result(asset, whole, rules) == map_asset_preview(
            asset, rules, catalog.services.settings.env, others=snapshot.assets, spaces=snapshot.spaces)
