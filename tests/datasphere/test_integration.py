"""The connector against the emulator over real HTTP on 127.0.0.1 (faults via /_emulator)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from core.datasphere.auth import Diagnosis, TokenManager, diagnosis_of
from core.datasphere.client import DatasphereClient
from core.datasphere.csn import UNRESOLVED_TYPE, normalize_type_name
from core.datasphere.extract import Extractor
from core.errors import AccessDenied, UnexpectedResponse
from core.models import AssetKind, AssetRef, CdsType, DependencyKind
from core.settings import DatasphereSettings, EmulatorSettings
from doubles.emulator.server import RunningEmulator, start_in_thread

from .fakes import Sleeps


@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    with start_in_thread(EmulatorSettings()) as running:
        yield running


def ds_settings(
    emu: RunningEmulator, client_id: str | None = None, **overrides: Any
) -> DatasphereSettings:
    client_id = client_id or emu.client_id
    values: dict[str, Any] = {
        "base_url": emu.base_url,
        "token_url": emu.token_url,
        "authorize_url": emu.authorize_url,
        "client_id": client_id,
        "client_secret": SecretStr(emu.clients[client_id].client_secret),
        "max_retries": 5,
        "max_backoff_s": 1.0,
        "timeout_s": 10.0,
    }
    values.update(overrides)
    return DatasphereSettings(**values)


_OPEN: list[DatasphereClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def connector(
    emu: RunningEmulator,
    client_id: str | None = None,
    *,
    sleeps: Sleeps | None = None,
    **overrides: Any,
) -> DatasphereClient:
    """A client on the emulator; closed after the test (``filterwarnings=error``)."""
    client = DatasphereClient(ds_settings(emu, client_id, **overrides), sleep=sleeps or Sleeps())
    _OPEN.append(client)
    return client


def faults(emu: RunningEmulator, **body: Any) -> None:
    httpx.post(f"{emu.admin_url}/faults", json=body, timeout=5).raise_for_status()


def _expected_type(element: dict[str, Any]) -> CdsType:
    return CdsType(
        name=normalize_type_name(element["type"]),
        length=element.get("length"),
        precision=element.get("precision"),
        scale=element.get("scale"),
        srid=element.get("srid"),
    )


# -- full extraction ------------------------------------------------------------------------------


def test_full_extraction_has_every_kind_with_exact_types(emu: RunningEmulator) -> None:
    with connector(emu) as client:
        result = Extractor(client, concurrency=4).extract()
    assert result.errors == {}
    assert result.skipped_spaces == {}
    kinds = Counter(a.kind for a in result.assets)
    assert set(kinds) == set(AssetKind), kinds
    assert len(result.assets) == len(emu.tenant.owned_visible_objects())

    # every typed column is exactly the type of its CSN element (facets included)
    checked = 0
    for asset in result.assets:
        if asset.kind is AssetKind.ANALYTIC_MODEL or asset.kind.is_flow:
            continue
        elements = emu.tenant.get(asset.space, asset.name).definition["elements"]  # type: ignore[union-attr]
        for col in asset.columns:
            assert col.type == _expected_type(elements[col.name]), f"{asset.key}.{col.name}"
            checked += 1
    assert checked > 300

    # analytic models: every column typed (sources, then $metadata), no guessing left
    for am in (a for a in result.assets if a.kind is AssetKind.ANALYTIC_MODEL):
        assert all(c.type.name != UNRESOLVED_TYPE for c in am.columns), am.key
        assert am.analytic is not None and am.analytic.fact_sources
        assert am.analytical_metadata_url and am.business.exposed
    sales = result.by_ref()[AssetRef(space="SALES", name="AM_SALES")]
    net = next(c for c in sales.columns if c.name == "NetAmount")
    assert net.type == CdsType(name="cds.Decimal", precision=15, scale=2)

    # views: every from/join/union source is itself an extracted asset (cross-space included)
    # or a lineage node of a space this technical user cannot see
    refs = {a.ref for a in result.assets} | {a.ref for a in result.lineage_assets}
    for view in (a for a in result.assets if a.kind is AssetKind.VIEW):
        for dep in view.upstream:
            if dep.kind in (DependencyKind.FROM, DependencyKind.JOIN, DependencyKind.UNION):
                assert dep.ref in refs, f"{view.key} -> {dep.ref}"
    csrd = result.by_ref()[AssetRef(space="DP_SALARY", name="3VF_SALARY_CSRD")]
    assert {str(d.ref) for d in csrd.upstream} == {
        "ABC21B84BF4D4A7BA549.3VF_SALARY",
        "D8D90336A0E24D678F9D.3VD_EMPLOYEE_CSRD_ATTR_VIEW",
    }
    assert result.stats and sum(r["requests"] for r in result.stats.values()) > len(result.assets)


def test_space_and_kind_filters(emu: RunningEmulator) -> None:
    with connector(emu) as client:
        result = Extractor(client, spaces=["SALES"], kinds=[AssetKind.VIEW]).extract()
    assert {a.space for a in result.assets} == {"SALES"}
    assert {a.kind for a in result.assets} == {AssetKind.VIEW}
    assert [s.name for s in result.spaces] == ["SALES"]


def test_paging_across_several_pages() -> None:
    with (
        start_in_thread(EmulatorSettings(), catalog_page_size=4, design_time_page_size=3) as small,
        connector(small) as client,
    ):
        catalog = list(client.iter_assets())
        views = client.list_names("SALES", AssetKind.VIEW, page_size=3)
        stats = client.stats.snapshot()
        expected_views = [o.name for o in small.tenant.objects_in("SALES", AssetKind.VIEW)]
        assert len(catalog) == len(small.tenant.catalog())
    assert len({(a.space, a.name) for a in catalog}) == len(catalog)
    assert stats["/api/v1/datasphere/consumption/catalog/assets"]["requests"] == -(
        -len(catalog) // 4
    )
    assert sorted(views) == sorted(expected_views) and len(expected_views) > 6
    # full pages of 3, then the short (or empty) last one, then the empty page that ends the walk
    pages = stats["/dwaas-core/api/v1/spaces/{space}/views"]["requests"]
    assert pages == len(expected_views) // 3 + 1 + (1 if len(expected_views) % 3 else 0)


# -- faults ---------------------------------------------------------------------------------------


def test_token_expiry_mid_run_is_survived(emu: RunningEmulator) -> None:
    client = connector(emu)
    fired = threading.Event()

    def on_progress(done: int, total: int | None) -> None:
        if done == 5 and not fired.is_set():
            fired.set()
            faults(emu, expire_tokens=True)

    result = Extractor(client, concurrency=4, spaces=["SALES"]).extract(progress=on_progress)
    assert fired.is_set()
    assert result.errors == {}
    assert len(result.assets) == len(emu.tenant.objects_in("SALES"))
    assert sum(r["reauth"] for r in result.stats.values()) >= 1
    assert client.tokens.requests == 2  # one new token for all threads


def test_a_429_storm_is_ridden_out(emu: RunningEmulator) -> None:
    # a burst on the first request, then about a third of all requests throttled
    faults(emu, throttle={"count": 8, "probability": 0.3, "retry_after": 0}, seed=3)
    sleeps = Sleeps()
    client = connector(emu, sleeps=sleeps, max_retries=12)
    result = Extractor(client, concurrency=8, spaces=["SALES", "MCT_DEMO"]).extract()
    assert result.errors == {}
    throttles = sum(r["throttles"] for r in result.stats.values())
    assert throttles >= 8 + 10
    assert (
        throttles == httpx.get(f"{emu.admin_url}/faults", timeout=5).json()["injected"]["throttle"]
    )
    assert sleeps.calls and all(s == 0 for s in sleeps.calls)  # Retry-After: 0 honoured


def test_5xx_bursts_are_retried(emu: RunningEmulator) -> None:
    # a burst on the first request, then about a fifth of all requests failing
    faults(emu, server_error={"status": 502, "count": 6, "probability": 0.2}, seed=5)
    client = connector(emu, max_retries=12)
    result = Extractor(client, concurrency=8, spaces=["SALES", "HR"]).extract()
    assert result.errors == {}
    retries = sum(r["retries"] for r in result.stats.values())
    assert retries >= 6 + 5
    injected = httpx.get(f"{emu.admin_url}/faults", timeout=5).json()["injected"]
    assert retries == injected["server_error"]


def test_persistent_failure_of_one_kind_is_reported_per_asset(emu: RunningEmulator) -> None:
    faults(emu, server_error={"status": 503, "probability": 1.0}, match="/analyticmodels/")
    spaces = ["SALES", "HR"]
    result = Extractor(connector(emu, max_retries=1), concurrency=8, spaces=spaces).extract()
    failed = {k for k, v in result.errors.items() if v.kind == "analytic_model"}
    models = [o for s in spaces for o in emu.tenant.objects_in(s, AssetKind.ANALYTIC_MODEL)]
    assert len(failed) == len(models) == 2
    assert all(result.errors[k].code == "source_unavailable" for k in failed)
    assert AssetKind.ANALYTIC_MODEL not in {a.kind for a in result.assets}
    everything = sum(len(emu.tenant.objects_in(s)) for s in spaces)
    assert len(result.assets) == everything - 2  # the run went on


def test_a_malformed_object_is_reported_and_the_run_goes_on(emu: RunningEmulator) -> None:
    bad = {
        "definitions": {
            "V_BROKEN": {
                "kind": "entity",
                "elements": {"A": {"type": "cds.String", "length": "ten"}},
                "query": {"SELECT": {"from": {"ref": ["X"]}}},
            }
        }
    }
    httpx.post(
        f"{emu.admin_url}/assets", json={"space": "SALES", "kind": "views", "csn": bad}, timeout=5
    ).raise_for_status()
    result = Extractor(connector(emu)).extract()
    issue = result.errors["SALES.V_BROKEN"]
    assert issue.code == "csn_error"
    assert "non-integer length" in issue.message
    assert len(result.assets) == len(emu.tenant.owned_visible_objects()) - 1


def test_403_space_is_skipped_and_reported(emu: RunningEmulator) -> None:
    client = connector(emu, "dgsync-restricted")
    result = Extractor(client, concurrency=8, spaces=["HR", "MASTER_DATA"]).extract()
    assert set(result.skipped_spaces) == {"HR"}
    assert "not a member" in result.skipped_spaces["HR"]
    assert {a.space for a in result.assets} == {"MASTER_DATA"}
    assert [s.name for s in result.spaces] == ["MASTER_DATA"]


def test_html_login_page_is_a_clear_error(emu: RunningEmulator) -> None:
    faults(emu, html_login={"count": 1})
    with pytest.raises(UnexpectedResponse) as info:
        list(connector(emu).iter_spaces())
    assert diagnosis_of(info.value) is Diagnosis.HTML_LOGIN_PAGE


def test_concurrent_refresh_after_expiry_fetches_one_token(emu: RunningEmulator) -> None:
    client = connector(emu)
    list(client.iter_spaces())
    faults(emu, expire_tokens=True)
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            list(client.iter_spaces())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert client.tokens.requests == 2


def test_proactive_refresh_before_expiry(emu: RunningEmulator) -> None:
    faults(emu, token_lifetime_s=30)
    clock = [0.0]
    settings = ds_settings(emu, refresh_margin_s=10)
    with httpx.Client(timeout=10) as http:
        tokens = TokenManager(settings, http, clock=lambda: clock[0])
        client = DatasphereClient(settings, http=http, token_manager=tokens)
        list(client.iter_spaces())
        clock[0] = 21.0  # 9 s before expiry
        list(client.iter_spaces())
    assert tokens.requests == 2
    assert sum(r["reauth"] for r in client.stats.snapshot().values()) == 0  # no 401 needed


def test_403_on_a_design_time_read(emu: RunningEmulator) -> None:
    with pytest.raises(AccessDenied):
        connector(emu, "dgsync-restricted").list_names("HR", AssetKind.VIEW)


# -- incremental API ------------------------------------------------------------------------------


def test_inventory_and_conditional_fetch(emu: RunningEmulator) -> None:
    extractor = Extractor(connector(emu))
    inventory = extractor.list_inventory("SALES")
    assert (AssetKind.ANALYTIC_MODEL, "AM_SALES") in inventory
    first = extractor.fetch_asset("SALES", AssetKind.ANALYTIC_MODEL, "AM_SALES")
    assert not first.not_modified and first.etag
    (am,) = first.value  # type: ignore[misc]
    assert all(c.type.name != UNRESOLVED_TYPE for c in am.columns)  # via $metadata
    assert am.analytical_metadata_url
    again = extractor.fetch_asset("SALES", AssetKind.ANALYTIC_MODEL, "AM_SALES", etag=first.etag)
    assert again.not_modified
