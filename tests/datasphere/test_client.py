"""DatasphereClient over httpx.MockTransport: retries, 401, errors, paging, conditional reads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from core.datasphere.auth import Diagnosis, diagnosis_of
from core.datasphere.client import (
    CSN_ACCEPT,
    NOT_MODIFIED,
    DatasphereClient,
    parse_retry_after,
)
from core.errors import (
    AccessDenied,
    AuthError,
    ConfigError,
    NotFound,
    SourceError,
    SourceThrottled,
    SourceUnavailable,
    UnexpectedResponse,
)
from core.models import AssetKind

from .fakes import BASE, FakeTenant, Sleeps, settings

CATALOG = f"{BASE}/api/v1/datasphere/consumption/catalog"


def _client(fake: FakeTenant, sleeps: Sleeps | None = None, **overrides: Any) -> DatasphereClient:
    return DatasphereClient(
        settings(**overrides), http=fake.client(), sleep=sleeps or Sleeps(), rand=lambda: 1.0
    )


def _sequence(*responses: httpx.Response) -> Any:
    answers = iter(responses)
    return lambda request: next(answers)


# -- 401 -----------------------------------------------------------------------------------------


def test_one_401_invalidates_token_and_retries_once() -> None:
    fake = FakeTenant(
        api=_sequence(
            httpx.Response(401, json={"error": "unauthorized"}), httpx.Response(200, json={"ok": 1})
        )
    )
    client = _client(fake)
    assert client.get_json("/x") == {"ok": 1}
    assert fake.bearer_tokens() == ["Bearer tok-1", "Bearer tok-2"]
    assert client.stats["/x"]["reauth"] == 1


def test_second_401_is_an_auth_error() -> None:
    fake = FakeTenant(api=lambda r: httpx.Response(401, json={"error": "unauthorized"}))
    client = _client(fake)
    with pytest.raises(AuthError) as info:
        client.get_json("/x")
    assert diagnosis_of(info.value) is Diagnosis.TOKEN_REJECTED
    assert len(fake.requests) == 2
    assert len(fake.token_requests) == 2


# -- retries -------------------------------------------------------------------------------------


def test_429_honours_retry_after_seconds() -> None:
    fake = FakeTenant(
        api=_sequence(
            httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={"ok": 1})
        )
    )
    sleeps = Sleeps()
    client = _client(fake, sleeps)
    assert client.get_json("/x", route="r") == {"ok": 1}
    assert sleeps.calls == [3.0]
    assert client.stats["r"] == {
        "requests": 2,
        "retries": 1,
        "throttles": 1,
        "reauth": 0,
        "errors": 0,
    }


def test_retry_after_http_date_and_cap() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=5), usegmt=True)
    assert parse_retry_after(later, now=now) == pytest.approx(5.0)
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None
    fake = FakeTenant(
        api=_sequence(
            httpx.Response(503, headers={"Retry-After": "120"}), httpx.Response(200, json={})
        )
    )
    sleeps = Sleeps()
    _client(fake, sleeps, max_backoff_s=8.0).get_json("/x")
    assert sleeps.calls == [8.0]  # never longer than max_backoff_s


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retries_are_bounded_then_translated(status: int) -> None:
    fake = FakeTenant(
        api=lambda r: httpx.Response(status, json={"error": {"code": "X", "message": "busy"}})
    )
    sleeps = Sleeps()
    client = _client(fake, sleeps, max_retries=3)
    expected = SourceThrottled if status == 429 else SourceUnavailable
    with pytest.raises(expected) as info:
        client.get_json("/x")
    assert len(fake.requests) == 4  # the first try + 3 retries
    assert len(sleeps.calls) == 3
    assert "after 3 retries" in str(info.value)


def test_backoff_is_full_jitter_capped_by_max_backoff() -> None:
    fake = FakeTenant(api=lambda r: httpx.Response(503))
    sleeps = Sleeps()
    client = DatasphereClient(
        settings(max_retries=6, max_backoff_s=2.0),
        http=fake.client(),
        sleep=sleeps,
        rand=lambda: 0.5,
    )
    with pytest.raises(SourceUnavailable):
        client.get_json("/x")
    # 0.5 * min(2, 0.5 * 2**n): 0.25, 0.5, 1.0, 1.0, 1.0, 1.0
    assert sleeps.calls == [0.25, 0.5, 1.0, 1.0, 1.0, 1.0]


def test_retries_switched_off() -> None:
    fake = FakeTenant(api=lambda r: httpx.Response(429))
    sleeps = Sleeps()
    with pytest.raises(SourceThrottled):
        _client(fake, sleeps, max_retries=0).get_json("/x")
    assert sleeps.calls == []
    assert len(fake.requests) == 1


def test_timeouts_are_retried_then_source_unavailable() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake = FakeTenant(api=timeout)
    sleeps = Sleeps()
    with pytest.raises(SourceUnavailable) as info:
        _client(fake, sleeps, max_retries=2).get_json("/x")
    assert diagnosis_of(info.value) is Diagnosis.TIMEOUT
    assert len(sleeps.calls) == 2


def test_transient_connect_error_recovers() -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("Connection refused", request=request)
        return httpx.Response(200, json=[1])

    assert _client(FakeTenant(api=flaky)).get_json("/x") == [1]


# -- status translation --------------------------------------------------------------------------


def test_html_where_json_expected_is_unexpected_response() -> None:
    fake = FakeTenant(api=lambda r: httpx.Response(200, html="<!DOCTYPE html><html>Sign in</html>"))
    with pytest.raises(UnexpectedResponse) as info:
        _client(fake).get_json("/x")
    assert diagnosis_of(info.value) is Diagnosis.HTML_LOGIN_PAGE
    assert "HTML page" in str(info.value)


def test_invalid_json_is_unexpected_response() -> None:
    fake = FakeTenant(
        api=lambda r: httpx.Response(
            200, text="{not json", headers={"content-type": "application/json"}
        )
    )
    with pytest.raises(UnexpectedResponse, match="invalid JSON"):
        _client(fake).get_json("/x")


def test_redirect_to_login_page_is_unexpected_response() -> None:
    fake = FakeTenant(
        api=lambda r: httpx.Response(302, headers={"location": "https://idp.example/login"})
    )
    with pytest.raises(UnexpectedResponse, match=r"idp\.example"):
        _client(fake).get_json("/x")


@pytest.mark.parametrize(
    ("status", "error", "diagnosis"),
    [
        (403, AccessDenied, Diagnosis.NOT_A_MEMBER),
        (404, NotFound, Diagnosis.NOT_FOUND),
        (400, SourceError, Diagnosis.UNEXPECTED),
    ],
)
def test_4xx_are_translated_with_the_odata_message(
    status: int, error: type[Exception], diagnosis: Diagnosis
) -> None:
    body = {"error": {"code": "E42", "message": "You are not a member of space SALES"}}
    fake = FakeTenant(api=lambda r: httpx.Response(status, json=body))
    with pytest.raises(error) as info:
        _client(fake).get_json("/x")
    assert "You are not a member of space SALES" in str(info.value)
    assert diagnosis_of(info.value) is diagnosis


def test_missing_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="BASE_URL"):
        DatasphereClient(settings(base_url=None))


def test_credentials_never_sent_to_another_host() -> None:
    fake = FakeTenant()
    with pytest.raises(UnexpectedResponse, match="refusing to send credentials"):
        _client(fake).get_json("https://evil.example/api/v1/dwc/x")
    assert fake.requests == []


# -- catalog paging ------------------------------------------------------------------------------


def _asset(i: int, space: str = "SALES") -> dict[str, Any]:
    return {
        "name": f"A{i:04d}",
        "label": f"Asset {i}",
        "spaceName": space,
        "assetRelationalMetadataUrl": f"{BASE}/api/v1/dwc/consumption/relational/{space}/A{i:04d}/$metadata",
        "assetRelationalDataUrl": f"{BASE}/api/v1/dwc/consumption/relational/{space}/A{i:04d}/",
        "assetAnalyticalMetadataUrl": None,
        "assetAnalyticalDataUrl": None,
        "supportsAnalyticalQueries": False,
        "hasParameters": False,
    }


def test_catalog_follows_next_link() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if "skiptoken" in str(request.url):
            return httpx.Response(200, json={"value": [_asset(2)]})
        return httpx.Response(
            200, json={"value": [_asset(0), _asset(1)], "@odata.nextLink": "assets?$skiptoken=2"}
        )

    fake = FakeTenant(api=api)
    names = [a.name for a in _client(fake).iter_assets()]
    assert names == ["A0000", "A0001", "A0002"]
    assert str(fake.requests[1].url) == f"{CATALOG}/assets?$skiptoken=2"


def test_catalog_pages_with_top_skip_until_a_short_page() -> None:
    rows = [_asset(i) for i in range(1100)]

    def api(request: httpx.Request) -> httpx.Response:
        top, skip = int(request.url.params["$top"]), int(request.url.params["$skip"])
        return httpx.Response(200, json={"value": rows[skip : skip + top]})

    fake = FakeTenant(api=api)
    got = list(_client(fake).iter_assets("SALES"))
    assert len(got) == 1100
    assert [r.url.params["$skip"] for r in fake.requests] == ["0", "500", "1000"]
    assert (
        fake.requests[0].url.path == "/api/v1/datasphere/consumption/catalog/spaces('SALES')/assets"
    )
    assert got[0].relational_metadata_url == rows[0]["assetRelationalMetadataUrl"]


def test_catalog_exact_multiple_of_page_ends_on_empty_page() -> None:
    rows = [_asset(i) for i in range(500)]

    def api(request: httpx.Request) -> httpx.Response:
        skip = int(request.url.params["$skip"])
        return httpx.Response(200, json={"value": rows[skip : skip + 500]})

    assert len(list(_client(FakeTenant(api=api)).iter_assets())) == 500


def test_catalog_single_asset_quotes_name_and_404_is_none() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if "NOPE" in request.url.path:
            return httpx.Response(404, json={"error": {"code": "404", "message": "not exposed"}})
        return httpx.Response(200, json=_asset(1))

    fake = FakeTenant(api=api)
    client = _client(fake)
    assert client.catalog_asset("SALES", "NOPE") is None
    assert client.catalog_asset("SALES", "O'Brien view") is not None
    assert fake.requests[1].url.raw_path.decode().endswith("assets('O''Brien%20view')")


# -- design-time paging --------------------------------------------------------------------------


def _design_time(total: int, cap: int = 25) -> Any:
    names = [{"technicalName": f"V_{i:03d}"} for i in range(total)]

    def api(request: httpx.Request) -> httpx.Response:
        top = int(request.url.params.get("top", cap))
        skip = int(request.url.params.get("skip", 0))
        return httpx.Response(200, json=names[skip : skip + min(top, cap)])

    return api


@pytest.mark.parametrize("total", [0, 7, 25, 50, 51])
def test_design_time_list_walks_to_an_empty_page(total: int) -> None:
    fake = FakeTenant(api=_design_time(total))
    names = _client(fake).list_names("SALES", AssetKind.VIEW)
    assert names == [f"V_{i:03d}" for i in range(total)]
    # a full page may be the last one: only an empty page ends the walk
    assert fake.requests[-1].url.params["skip"] == str(total)
    assert fake.requests[0].url.path == "/dwaas-core/api/v1/spaces/SALES/views"


def test_design_time_list_refuses_a_server_that_ignores_skip() -> None:
    fake = FakeTenant(api=lambda r: httpx.Response(200, json=[{"technicalName": "V"}]))
    with pytest.raises(UnexpectedResponse, match="repeated a page"):
        _client(fake).list_names("SALES", AssetKind.VIEW)


def test_read_csn_sends_accept_and_is_conditional() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept"] == CSN_ACCEPT
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"etag": '"v1"'})
        return httpx.Response(200, json={"definitions": {}}, headers={"etag": '"v1"'})

    fake = FakeTenant(api=api)
    client = _client(fake)
    first = client.read_csn("SALES", AssetKind.ANALYTIC_MODEL, "AM ∞ 1")
    assert first.value == {"definitions": {}} and first.etag == '"v1"'
    assert (
        fake.requests[0].url.raw_path.decode()
        == "/dwaas-core/api/v1/spaces/SALES/analyticmodels/AM%20%E2%88%9E%201"
    )
    second = client.read_csn("SALES", AssetKind.ANALYTIC_MODEL, "AM ∞ 1", etag='"v1"')
    assert second.value is NOT_MODIFIED and second.not_modified and second.etag == '"v1"'


def test_metadata_urls_followed_as_given_for_both_prefixes() -> None:
    fake = FakeTenant(
        api=lambda r: httpx.Response(
            200, text="<edmx:Edmx/>", headers={"content-type": "application/xml"}
        )
    )
    client = _client(fake)
    for prefix in ("/api/v1/dwc", "/api/v1/datasphere"):
        url = f"{BASE}{prefix}/consumption/analytical/SALES/AM_SALES/$metadata"
        assert client.read_metadata(url).value == "<edmx:Edmx/>"
    assert [r.url.path for r in fake.requests] == [
        "/api/v1/dwc/consumption/analytical/SALES/AM_SALES/$metadata",
        "/api/v1/datasphere/consumption/analytical/SALES/AM_SALES/$metadata",
    ]
    stats = client.stats.snapshot()
    assert stats["/api/v1/dwc/consumption/analytical/{space}/{asset}/$metadata"]["requests"] == 1


def test_stats_are_thread_safe() -> None:
    fake = FakeTenant(api=lambda r: httpx.Response(200, json={}))
    client = _client(fake)

    def worker() -> None:
        for _ in range(25):
            client.get_json("/x", route="r")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.stats["r"]["requests"] == 200
    assert client.stats.total() == 200
