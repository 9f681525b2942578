"""Extraction of shared objects, lineage-only owners, per-kind listings and kinds a tenant does
not offer — over a scripted fake tenant (no sockets)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from core.datasphere.client import NOT_MODIFIED, DatasphereClient
from core.datasphere.extract import Extractor
from core.models import AssetKind, AssetRef

from .fakes import FakeTenant, Sleeps, settings


def _table(*, ctx: str | None = None, name: str = "T") -> dict[str, Any]:
    defs: dict[str, Any] = {
        name: {
            "kind": "entity",
            "elements": {
                "ID": {"type": "cds.Integer", "key": True},
                "AMOUNT": {"type": "cds.Decimal", "precision": 15, "scale": 2},
            },
        }
    }
    if ctx is not None:
        defs[ctx] = {"kind": "context", "@DataWarehouse.space.name": ctx}
    return {"definitions": defs}


def _view(name: str, source: str, *contexts: str) -> dict[str, Any]:
    defs: dict[str, Any] = {
        name: {
            "kind": "entity",
            "elements": {"ID": {"type": "cds.Integer", "key": True}},
            "query": {"SELECT": {"from": {"ref": [source]}, "columns": [{"ref": ["ID"]}]}},
        }
    }
    for c in contexts:
        defs[c] = {"kind": "context", "@DataWarehouse.space.name": c}
    return {"definitions": defs}


class Tenant:
    """``objects``: space → segment → name → CSN; ``catalog``: spaces the catalog lists;
    ``refused``: space → status of every design-time request; ``missing``: segments answering 404."""

    def __init__(
        self,
        objects: dict[str, dict[str, dict[str, Any]]],
        *,
        catalog: list[str],
        refused: dict[str, int] | None = None,
        missing: frozenset[str] = frozenset(),
        failing: dict[tuple[str, str], int] | None = None,
    ) -> None:
        self.objects = objects
        self.catalog = catalog
        self.refused = refused or {}
        self.missing = missing
        self.failing = failing or {}
        self.reads: list[str] = []
        self.fake = FakeTenant(api=self.api)

    def api(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/catalog/spaces"):
            return httpx.Response(200, json={"value": [{"name": s} for s in self.catalog]})
        if "/catalog/spaces(" in path:
            space = path.split("('")[1].split("')")[0]
            if space in self.refused:
                return httpx.Response(
                    self.refused[space], json={"error": {"code": "x", "message": "no"}}
                )
            if path.endswith("/assets"):
                return httpx.Response(200, json={"value": []})
            return httpx.Response(404, json={"error": {"code": "404", "message": "not exposed"}})
        parts = path.split("/")  # /dwaas-core/api/v1/spaces/{space}/{segment}[/{name}]
        space, segment = parts[5], parts[6]
        if segment in self.missing:
            return httpx.Response(404, json={"error": {"code": "404", "message": "Not Found"}})
        if space in self.refused:
            return httpx.Response(
                self.refused[space], json={"error": {"code": "x", "message": "no"}}
            )
        if (space, segment) in self.failing:
            return httpx.Response(
                self.failing[(space, segment)], json={"error": {"code": "x", "message": "boom"}}
            )
        if space not in self.objects:
            return httpx.Response(404, json={"error": {"code": "404", "message": "no space"}})
        objects = self.objects[space].get(segment, {})
        if len(parts) == 7:
            skip = int(request.url.params.get("skip", 0))
            return httpx.Response(200, json=[{"technicalName": n} for n in objects][skip:])
        name = httpx.URL(path).path.split("/")[7]
        self.reads.append(f"{space}/{name}")
        return httpx.Response(200, json=objects[name], headers={"etag": f'"{space}-{name}"'})

    def client(self) -> DatasphereClient:
        return DatasphereClient(settings(max_retries=0), http=self.fake.client(), sleep=Sleeps())


VISIBLE, HIDDEN = "OWNER_VISIBLE", "OWNER_HIDDEN"


def _shared_tenant(**kw: Any) -> Tenant:
    return Tenant(
        {
            "SALES": {
                "views": {"V_SALES": _view("V_SALES", f"{HIDDEN}.T_PAY", HIDDEN)},
                "localtables": {
                    f"{VISIBLE}.T_EMP": _table(ctx=VISIBLE, name=f"{VISIBLE}.T_EMP"),
                    f"{HIDDEN}.T_PAY": _table(ctx=HIDDEN, name=f"{HIDDEN}.T_PAY"),
                    "T_OWN": _table(name="T_OWN"),
                },
            },
            VISIBLE: {"localtables": {"T_EMP": _table(name="T_EMP")}},
        },
        catalog=["SALES", VISIBLE],
        **kw,
    )


def test_shared_objects_are_never_assets_of_the_consumer() -> None:
    tenant = _shared_tenant()
    result = Extractor(tenant.client()).extract()
    assert result.errors == {}
    assert sorted(a.key for a in result.assets) == [
        f"{VISIBLE}.T_EMP",  # from the owner's own listing
        "SALES.T_OWN",
        "SALES.V_SALES",
    ]
    extracted = {s.name for s in result.spaces}
    assert all(a.space in extracted for a in result.assets)
    assert set(result.shared) == {f"{VISIBLE}.T_EMP", f"{HIDDEN}.T_PAY"}
    assert "SALES" in result.shared[f"{VISIBLE}.T_EMP"]
    assert f"synced with {VISIBLE}" in result.shared[f"{VISIBLE}.T_EMP"]
    assert "lineage node only, no Glue table" in result.shared[f"{HIDDEN}.T_PAY"]
    assert set(result.lineage_only) == {f"{HIDDEN}.T_PAY"}
    assert [a.ref for a in result.lineage_assets] == [AssetRef(space=HIDDEN, name="T_PAY")]
    # the visible owner's object is read once, from its owner; the consumer's listing is not read
    assert f"SALES/{VISIBLE}.T_EMP" not in tenant.reads
    assert f"{VISIBLE}/T_EMP" in tenant.reads
    # the view's lineage points at the owner's identity
    view = result.by_ref()[AssetRef(space="SALES", name="V_SALES")]
    assert [str(d.ref) for d in view.upstream] == [f"{HIDDEN}.T_PAY"]
    # no ETag is kept for objects this space does not own
    assert set(result.etags) == {f"{VISIBLE}.T_EMP", "SALES.T_OWN", "SALES.V_SALES"}


def test_space_filter_never_returns_another_space_and_says_who_syncs_it() -> None:
    result = Extractor(_shared_tenant().client(), spaces=["SALES"]).extract()
    assert {a.space for a in result.assets} == {"SALES"}
    assert result.shared[f"{VISIBLE}.T_EMP"].endswith(f"synced with {VISIBLE}")
    assert set(result.lineage_only) == {f"{HIDDEN}.T_PAY"}


def test_owner_refusing_403_makes_its_shared_objects_lineage_only() -> None:
    tenant = _shared_tenant(refused={VISIBLE: 403})
    result = Extractor(tenant.client()).extract()
    assert VISIBLE in result.skipped_spaces
    assert set(result.lineage_only) == {f"{VISIBLE}.T_EMP", f"{HIDDEN}.T_PAY"}
    assert "403" in result.lineage_only[f"{VISIBLE}.T_EMP"]
    assert {a.key for a in result.lineage_assets} == {f"{VISIBLE}.T_EMP", f"{HIDDEN}.T_PAY"}
    assert all(a.space == "SALES" for a in result.assets)


def test_kind_not_offered_is_a_single_warning_not_an_error_and_counts_as_listed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant = _shared_tenant(missing=frozenset({"taskchains"}))
    extractor = Extractor(tenant.client())
    with caplog.at_level(logging.WARNING):
        result = extractor.extract()
        extractor.extract()  # a second call of the same run: still one warning
    assert result.errors == {}
    assert result.not_offered == ["task_chain"]
    assert result.skipped_spaces == {}
    assert set(result.listings) == {"SALES", VISIBLE}
    for kinds in result.listings.values():
        assert set(kinds) == {k.value for k in AssetKind}
    warnings = [r for r in caplog.records if "not offered" in r.getMessage()]
    assert len(warnings) == 1


def test_a_failed_listing_leaves_only_that_kind_out_of_listings() -> None:
    tenant = _shared_tenant(failing={("SALES", "views"): 500})
    result = Extractor(tenant.client()).extract()
    assert "SALES/views" in result.errors
    assert "view" not in result.listings["SALES"]
    assert "local_table" in result.listings["SALES"]
    assert set(result.listings[VISIBLE]) == {k.value for k in AssetKind}
    assert result.not_offered == []


def test_every_kind_404_is_a_missing_space_not_a_missing_kind() -> None:
    tenant = _shared_tenant()
    result = Extractor(tenant.client(), spaces=["GHOST"]).extract()
    assert result.skipped_spaces["GHOST"].startswith("not found (404)")
    assert result.not_offered == []
    assert result.listings == {}


def test_incremental_inventory_and_fetch_follow_the_same_rules(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant = _shared_tenant(missing=frozenset({"dataflows"}))
    extractor = Extractor(tenant.client())
    with caplog.at_level(logging.WARNING):
        inventory = extractor.list_inventory("SALES")
        extractor.list_inventory(VISIBLE)
    names = {name for _, name in inventory}
    assert f"{VISIBLE}.T_EMP" not in names  # the visible owner has it
    assert {"T_OWN", "V_SALES"} <= names
    assert len([r for r in caplog.records if "not offered" in r.getMessage()]) == 1
    # the hidden owner's object is only known once read: fetching it yields no own asset
    got = extractor.fetch_asset("SALES", AssetKind.LOCAL_TABLE, f"{HIDDEN}.T_PAY")
    assert got.value is not NOT_MODIFIED and got.value == []
    own = extractor.fetch_asset("SALES", AssetKind.LOCAL_TABLE, "T_OWN")
    assert isinstance(own.value, list) and [a.key for a in own.value] == ["SALES.T_OWN"]
    assert extractor.identity("SALES", f"{VISIBLE}.T_EMP") == AssetRef(space=VISIBLE, name="T_EMP")
    # the context learned from the fetched document now decides the hidden owner too
    assert extractor.identity("SALES", f"{HIDDEN}.T_PAY") == AssetRef(space=HIDDEN, name="T_PAY")


def test_connections_are_a_bare_list() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/dwaas-core/api/v1/spaces/SALES/connections"
        return httpx.Response(200, json=[{"name": "S4H_PROD", "typeId": "ABAP"}])

    client = DatasphereClient(
        settings(max_retries=0), http=FakeTenant(api=api).client(), sleep=Sleeps()
    )
    assert client.list_connections("SALES") == [{"name": "S4H_PROD", "typeId": "ABAP"}]


def test_connections_without_names_are_an_unexpected_response() -> None:
    from core.errors import UnexpectedResponse

    fake = FakeTenant(api=lambda r: httpx.Response(200, json={"oops": 1}))
    client = DatasphereClient(settings(max_retries=0), http=fake.client(), sleep=Sleeps())
    with pytest.raises(UnexpectedResponse) as info:
        client.list_connections("SALES")
    assert info.value.hint


def test_space_by_space_extraction_on_one_client_shares_what_it_learned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The sync engine extracts one space per Extractor, all on the run's one client."""
    tenant = _shared_tenant(missing=frozenset({"taskchains"}))
    tenant.objects["FINANCE"] = {
        # names the hidden owner's object without describing the owner space
        "views": {"V_FIN": _view("V_FIN", f"{HIDDEN}.T_PAY")},
    }
    tenant.catalog.append("FINANCE")
    client = tenant.client()
    with caplog.at_level(logging.WARNING):
        sales = Extractor(client, spaces=["SALES"]).extract()
        finance = Extractor(client, spaces=["FINANCE"]).extract()
    assert sales.not_offered == finance.not_offered == ["task_chain"]
    assert len([r for r in caplog.records if "not offered" in r.getMessage()]) == 1
    (view,) = finance.assets
    assert [str(d.ref) for d in view.upstream] == [f"{HIDDEN}.T_PAY"]
    # a fresh client (the next run) starts without that knowledge: a prefix nobody
    # described is asked about once — 404 means no space, a namespace of FINANCE
    (fresh,) = Extractor(tenant.client(), spaces=["FINANCE"]).extract().assets
    assert [str(d.ref) for d in fresh.upstream] == [f"FINANCE.{HIDDEN}.T_PAY"]


def test_an_undescribed_prefix_the_tenant_refuses_403_is_a_space_asked_once() -> None:
    tenant = _shared_tenant(refused={HIDDEN: 403})
    tenant.objects["FINANCE"] = {
        "views": {
            "V_FIN": _view("V_FIN", f"{HIDDEN}.T_PAY"),
            "V_FIN2": _view("V_FIN2", f"{HIDDEN}.T_PAY"),
            "V_NS": _view("V_NS", "SAP.TIME.DAY"),
        },
    }
    tenant.catalog.append("FINANCE")
    client = tenant.client()
    result = Extractor(client, spaces=["FINANCE"]).extract()
    ups = {a.name: [str(d.ref) for d in a.upstream] for a in result.assets}
    assert ups == {
        "V_FIN": [f"{HIDDEN}.T_PAY"],
        "V_FIN2": [f"{HIDDEN}.T_PAY"],
        "V_NS": ["FINANCE.SAP.TIME.DAY"],  # SAP: every list answers 404, no space
    }
    asked = [r.url.path for r in tenant.fake.requests if f"/spaces/{HIDDEN}/" in r.url.path]
    assert len(asked) == 1
    Extractor(client, spaces=["FINANCE"]).extract()  # same client: not asked again
    assert len([r for r in tenant.fake.requests if f"/spaces/{HIDDEN}/" in r.url.path]) == 1
