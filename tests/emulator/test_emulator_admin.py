"""Admin API: deterministic mutations, explicit object changes, request statistics, reset."""

from __future__ import annotations

from typing import Any

import httpx

from core.settings import EmulatorSettings
from doubles.emulator import RunningEmulator, start_in_thread

from .conftest import CATALOG, client_for, get_token, new_client

DT = "/dwaas-core/api/v1"
CSN = {"Accept": "application/vnd.sap.datasphere.object.content+json"}


def _mutate(emu: RunningEmulator, **body: Any) -> list[dict[str, Any]]:
    with new_client(base_url=emu.admin_url) as admin:
        r = admin.post("/mutate", json=body)
    assert r.status_code == 200, r.text
    changes: list[dict[str, Any]] = r.json()["changes"]
    return changes


def test_same_seed_gives_the_same_changes() -> None:
    settings = EmulatorSettings(synthetic_assets=300, seed=3)
    with start_in_thread(settings) as a, start_in_thread(settings) as b:
        first = _mutate(a, count=25, seed=99)
        assert first == _mutate(b, count=25, seed=99)
        assert len(first) == 25
        kinds = {c["change"] for c in first}
        assert {"add_column", "change_column"} <= kinds
        assert all({"space", "name", "kind", "change"} <= set(c) for c in first)
    with start_in_thread(settings) as c:
        assert _mutate(c, count=25, seed=100) != first


def test_mutations_limited_to_one_space(fresh: RunningEmulator) -> None:
    changes = _mutate(fresh, count=10, seed=1, space="FINANCE")
    assert {c["space"] for c in changes} == {"FINANCE"}
    with new_client(base_url=fresh.admin_url) as admin:
        assert admin.post("/mutate", json={"count": 1, "space": "NOPE"}).status_code == 400


def test_a_column_change_moves_etag_and_metadata(fresh: RunningEmulator, fresh_api: httpx.Client) -> None:
    changes = [c for c in _mutate(fresh, count=30, seed=5) if c["change"] in ("add_column", "change_column")]
    target = changes[-1]
    obj = fresh.tenant.get(target["space"], target["name"])
    assert obj is not None and target["column"] in obj.definition["elements"]
    segment = {"local_table": "localtables", "remote_table": "remotetables", "view": "views"}[target["kind"]]
    url = f"{DT}/spaces/{target['space']}/{segment}/{target['name']}"
    etag = fresh_api.get(url, headers=CSN).headers["etag"]
    _mutate(fresh, count=0, seed=0)
    assert fresh_api.get(url, headers={**CSN, "If-None-Match": etag}).status_code == 304
    # change that very object through the admin API, then the old ETag no longer matches
    doc = fresh_api.get(url, headers=CSN).json()
    doc["definitions"][target["name"]]["elements"]["EXTRA_COL"] = {"type": "cds.Integer"}
    with new_client(base_url=fresh.admin_url) as admin:
        admin.post("/assets", json={"space": target["space"], "kind": segment, "csn": doc, "name": target["name"]})
    assert fresh_api.get(url, headers={**CSN, "If-None-Match": etag}).status_code == 200


def test_am_metadata_follows_a_change_of_its_fact_source(fresh: RunningEmulator, fresh_api: httpx.Client) -> None:
    meta = "/api/v1/datasphere/consumption/analytical/SALES/AM_SALES/$metadata"
    before = fresh_api.get(meta)
    url = f"{DT}/spaces/SALES/views/V_SALES_ORDER_ITEMS"
    doc = fresh_api.get(url, headers=CSN).json()
    doc["definitions"]["V_SALES_ORDER_ITEMS"]["elements"]["NetAmount"]["precision"] = 17
    with new_client(base_url=fresh.admin_url) as admin:
        admin.post("/assets", json={"space": "SALES", "kind": "views", "csn": doc})
    after = fresh_api.get(meta, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert 'Name="NetAmount" Type="Edm.Decimal" Precision="17"' in after.text


def test_add_and_delete_objects(fresh: RunningEmulator, fresh_api: httpx.Client) -> None:
    doc = {"definitions": {"NEW_TABLE": {"kind": "entity", "@EndUserText.label": "New",
                                         "@DataWarehouse.consumption.external": True,
                                         "elements": {"ID": {"type": "cds.String", "length": 4, "key": True}}}}}
    with new_client(base_url=fresh.admin_url) as admin:
        r = admin.post("/assets", json={"space": "NEWSPACE", "kind": "local_table", "csn": doc,
                                        "space_label": "New space"})
        assert r.status_code == 201
        assert r.json()["exposed"] is True
        assert fresh_api.get(f"{CATALOG}/spaces('NEWSPACE')").json()["label"] == "New space"
        assert fresh_api.get(f"{CATALOG}/spaces('NEWSPACE')/assets('NEW_TABLE')").status_code == 200
        assert admin.delete("/assets/NEWSPACE/NEW_TABLE").status_code == 200
        assert admin.delete("/assets/NEWSPACE/NEW_TABLE").status_code == 404
        assert fresh_api.get(f"{CATALOG}/spaces('NEWSPACE')/assets('NEW_TABLE')").status_code == 404
        bad = admin.post("/assets", json={"space": "SALES", "kind": "views", "csn": {"definitions": {}}})
        assert bad.status_code == 400


def test_stats_count_by_route_template_with_304_separately(fresh: RunningEmulator) -> None:
    token = get_token(fresh)
    with client_for(fresh, token) as api, new_client(base_url=fresh.admin_url) as admin:
        admin.post("/stats/reset")
        api.get(f"{CATALOG}/spaces('SALES')/assets")
        api.get(f"{CATALOG}/spaces('FINANCE')/assets")
        api.get("/api/v1/dwc/consumption/catalog/assets")
        etag = api.get(f"{DT}/spaces/SALES/views/V_ORDERS", headers=CSN).headers["etag"]
        api.get(f"{DT}/spaces/SALES/views/V_ORDERS", headers={**CSN, "If-None-Match": etag})
        api.get(f"{DT}/spaces/NOPE/views")
        with new_client(base_url=fresh.base_url) as anonymous:
            anonymous.get(f"{CATALOG}/spaces")
            anonymous.post("/oauth/token", auth=(fresh.client_id, fresh.client_secret),
                           data={"grant_type": "client_credentials"})
        stats = admin.get("/stats").json()
    by_route = stats["by_route"]
    assert by_route["GET /api/v1/datasphere/consumption/catalog/spaces('{space}')/assets"] == 2
    assert by_route["GET /api/v1/dwc/consumption/catalog/assets"] == 1
    assert by_route["GET /dwaas-core/api/v1/spaces/{space}/views/{name}"] == 2
    assert by_route["GET /dwaas-core/api/v1/spaces/{space}/views"] == 1
    assert by_route["POST /oauth/token"] == 1
    assert stats["not_modified"] == {"GET /dwaas-core/api/v1/spaces/{space}/views/{name}": 1}
    assert stats["not_modified_total"] == 1
    assert stats["by_status"] == {"200": 5, "304": 1, "401": 1, "404": 1}
    assert stats["total"] == 8
    with new_client(base_url=fresh.admin_url) as admin:
        assert admin.post("/stats/reset").json()["total"] == 0


def test_reset_restores_the_initial_content(fresh: RunningEmulator) -> None:
    before = len(fresh.tenant.all_objects())
    _mutate(fresh, count=40, seed=8)
    with new_client(base_url=fresh.admin_url) as admin:
        admin.post("/faults", json={"latency_ms": 5})
        assert admin.post("/reset").json()["objects"] == before
        assert admin.get("/faults").json()["latency_ms"] == 0
        inventory = admin.get("/inventory").json()
    assert {c["client_id"] for c in inventory["clients"]} == {"dgsync-demo", "dgsync-interactive", "dgsync-restricted"}
    assert len(inventory["objects"]) == before


def test_mutations_restricted_to_some_operations(fresh: RunningEmulator) -> None:
    changes = _mutate(fresh, count=15, seed=2, operations=["change_column", "remove_column"])
    assert {c["change"] for c in changes} <= {"change_column", "remove_column"}
    assert changes
    with new_client(base_url=fresh.admin_url) as admin:
        assert admin.post("/mutate", json={"count": 1, "operations": ["explode"]}).status_code == 400
