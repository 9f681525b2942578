"""Dog's Debug page over HTTP (Flask test client): every fault switch changes what the real
emulator (over HTTP) or the embedded Glue answers, and the next plan counts it; the rule tester
shows YAML errors with their line and the TableInput of a valid edit; emulator mutations show
up in /catalog/ and /compare/; the request log filters; the token is never rendered."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from botocore.exceptions import ClientError
from flask import Flask
from flask.testing import FlaskClient

from core.catalog import AssetCatalog
from core.services import Services
from dog_flask import doubles
from dog_flask.app import create_app

from .conftest import form_csrf_token, own_embedded_services

# A region of its own: an embedded Glue resets moto's backend of its region in this process.
REGION = "ap-southeast-2"
SPACES = "/api/v1/datasphere/consumption/catalog/spaces"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Embedded services whose tenant, faults and Glue this module may change."""
    with own_embedded_services(tmp_path_factory.mktemp("dog-debug"), REGION) as services:
        yield services


@pytest.fixture(scope="module")
def app(svc: Services) -> Flask:
    return create_app(services=svc, catalog=AssetCatalog(svc))


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def csrf(client: FlaskClient) -> str:
    return form_csrf_token(client.get("/debug/").get_data(as_text=True))


@pytest.fixture(autouse=True)
def no_faults_after(svc: Services) -> Iterator[None]:
    yield
    doubles.clear_faults(svc)


def _post(client: FlaskClient, csrf: str, path: str, **form: str) -> tuple[int, str]:
    response = client.post(path, data={"csrf_token": csrf, **form}, headers={"HX-Request": "true"})
    return response.status_code, response.get_data(as_text=True)


def _toggle(client: FlaskClient, csrf: str, key: str, on: bool = True, **params: str) -> str:
    status, html = _post(client, csrf, f"/debug/faults/{key}", on="1" if on else "0", **params)
    assert status == 200, html
    row = re.search(rf'<tr class="fault-row" data-fault="{key}" data-on="(\d)"', html)
    assert row is not None and row.group(1) == ("1" if on else "0"), f"{key} does not show it is {'on' if on else 'off'}"
    return html


def _token(svc: Services) -> str:
    emu = svc.emulator
    response = httpx.post(emu.token_url, auth=(emu.client_id, emu.client_secret),
                          data={"grant_type": "client_credentials"})
    response.raise_for_status()
    return str(response.json()["access_token"])


def _get(svc: Services, path: str, token: str) -> httpx.Response:
    return httpx.get(svc.emulator.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)


# -- the page ----------------------------------------------------------------------------------


def test_the_page_shows_every_panel_and_every_form_that_posts_carries_a_csrf_token(
    client: FlaskClient,
) -> None:
    html = client.get("/debug/").get_data(as_text=True)
    for anchor in ("faults-section", "token-section", "log-section", "rules-section", "mutations-section"):
        assert f'id="{anchor}"' in html
    forms = re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S)
    posting = [f for f in forms if "hx-post" in f or 'method="post"' in f]
    assert len(posting) >= 12
    for form in posting:
        assert 'name="csrf_token"' in form, form[:200]
    assert 'href="/debug/"' in html  # in the navigation


def test_a_post_without_the_csrf_token_is_refused(client: FlaskClient, svc: Services) -> None:
    response = client.post("/debug/faults/ds_latency", data={"on": "1", "latency_ms": "50"})
    assert response.status_code == 403
    assert doubles.toggles(svc)[2].on is False


# -- faults, checked through the real HTTP emulator and Glue -----------------------------------


def test_throttle_fault_answers_429_with_retry_after_then_runs_out(
    client: FlaskClient, csrf: str, svc: Services
) -> None:
    token = _token(svc)
    _toggle(client, csrf, "ds_throttle", count="2", retry_after="7")
    first, second, third = (_get(svc, SPACES, token) for _ in range(3))
    assert (first.status_code, first.headers["Retry-After"]) == (429, "7")
    assert second.status_code == 429
    assert third.status_code == 200
    html = client.get("/debug/_faults").get_data(as_text=True)
    assert 'data-fault="ds_throttle" data-on="0"' in html and "2 served" in html


def test_server_error_burst_and_turning_a_fault_off(client: FlaskClient, csrf: str, svc: Services) -> None:
    token = _token(svc)
    _toggle(client, csrf, "ds_server_error", count="5", status="502")
    assert _get(svc, SPACES, token).status_code == 502
    _toggle(client, csrf, "ds_server_error", on=False)
    assert _get(svc, SPACES, token).status_code == 200


def test_latency_fault_slows_every_request(client: FlaskClient, csrf: str, svc: Services) -> None:
    token = _token(svc)
    _toggle(client, csrf, "ds_latency", latency_ms="1500")
    started = time.monotonic()
    assert _get(svc, SPACES, token).status_code == 200
    assert time.monotonic() - started >= 1.5
    _toggle(client, csrf, "ds_latency", on=False)
    started = time.monotonic()
    _get(svc, SPACES, token)
    # Off again: no injected wait (a generous bound: a loaded CI machine is slow, not 1.5 s slow).
    assert time.monotonic() - started < 1.5


def test_html_login_fault_answers_a_login_page(client: FlaskClient, csrf: str, svc: Services) -> None:
    token = _token(svc)
    _toggle(client, csrf, "ds_html_login", count="1")
    response = _get(svc, SPACES, token)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert "Log On" in response.text
    assert _get(svc, SPACES, token).headers["content-type"].startswith("application/json")


def test_forbidden_space_answers_403_to_every_client(client: FlaskClient, csrf: str, svc: Services) -> None:
    token = _token(svc)
    _toggle(client, csrf, "ds_forbidden_space", space="HR")
    assert _get(svc, SPACES + "('HR')/assets", token).status_code == 403
    assert _get(svc, SPACES + "('SALES')/assets", token).status_code == 200
    html = client.get("/debug/_faults").get_data(as_text=True)
    assert re.search(r'data-fault="ds_forbidden_space" data-on="1">.*?HR', html, flags=re.S)
    log = client.get("/debug/_log?status=403&path=('HR')/assets").get_data(as_text=True)
    assert 'data-status="403"' in log and "forbidden_space" in log


def test_an_unknown_space_for_the_403_fault_is_an_error_naming_the_known_ones(
    client: FlaskClient, csrf: str
) -> None:
    status, html = _post(client, csrf, "/debug/faults/ds_forbidden_space", on="1", space="NOPE")
    assert status == 400
    assert "no space &#39;NOPE&#39;" in html and "SALES" in html


def test_token_expiry_invalidates_issued_tokens_and_short_lifetime_applies_to_new_ones(
    client: FlaskClient, csrf: str, svc: Services
) -> None:
    token = _token(svc)
    assert _get(svc, SPACES, token).status_code == 200
    status, html = _post(client, csrf, "/debug/faults/expire-tokens")
    assert status == 200 and "token(s) expired" in html
    assert _get(svc, SPACES, token).status_code == 401
    _toggle(client, csrf, "ds_token_lifetime", seconds="5")
    emu = svc.emulator
    fresh = httpx.post(emu.token_url, auth=(emu.client_id, emu.client_secret),
                       data={"grant_type": "client_credentials"}).json()
    assert fresh["expires_in"] == 5


def test_token_state_counts_the_refresh_after_an_expiry(client: FlaskClient, csrf: str, svc: Services) -> None:
    ds = svc.datasphere_client()
    list(ds.iter_spaces())  # Dog holds a token
    before = ds.tokens.state()
    _post(client, csrf, "/debug/faults/expire-tokens")
    list(ds.iter_spaces())  # 401 → drop the token → a new one → retried
    html = client.get("/debug/_token").get_data(as_text=True)
    obtained = int(re.search(r'id="token-obtained">(\d+)', html).group(1))  # type: ignore[union-attr]
    dropped = int(re.search(r'id="token-invalidations">(\d+)', html).group(1))  # type: ignore[union-attr]
    assert obtained == before.tokens_obtained + 1
    assert dropped == before.invalidations + 1
    assert "held" in html and "last refresh error" in html


def test_glue_throttling_is_retried_and_counted(client: FlaskClient, csrf: str, svc: Services) -> None:
    glue = svc.glue()
    before = glue.stats.snapshot()
    _toggle(client, csrf, "glue_throttle", count="2")
    list(glue.iter_databases())
    after = glue.stats.snapshot()
    assert after.throttles - before.throttles == 2
    log = client.get("/debug/_log?source=glue&status=4xx&live=1").get_data(as_text=True)
    assert log.count("ThrottlingException") >= 2 and "GetDatabases" in log


def test_glue_concurrent_modification_fails_the_next_update_table(
    client: FlaskClient, csrf: str, svc: Services
) -> None:
    _toggle(client, csrf, "glue_conflict", count="1")
    with pytest.raises(ClientError) as caught:
        svc.glue().boto_client.update_table(DatabaseName="nope", TableInput={"Name": "nope"})
    assert caught.value.response["Error"]["Code"] == "ConcurrentModificationException"
    html = client.get("/debug/_faults").get_data(as_text=True)
    assert 'data-fault="glue_conflict" data-on="0"' in html  # consumed


def test_clear_all_faults_turns_every_switch_off(client: FlaskClient, csrf: str, svc: Services) -> None:
    token = _token(svc)
    _toggle(client, csrf, "ds_throttle", count="9")
    _toggle(client, csrf, "ds_forbidden_space", space="SALES")
    _toggle(client, csrf, "glue_throttle", count="9")
    status, html = _post(client, csrf, "/debug/faults/clear")
    assert status == 200
    assert html.count('data-on="1"') == 0 and html.count('data-on="0"') == len(doubles.TOGGLE_KEYS)
    assert _get(svc, SPACES + "('SALES')/assets", token).status_code == 200
    assert doubles.embedded_glue(svc).faults.pending() == 0


# -- the effect on the next plan ---------------------------------------------------------------


def _plan(client: FlaskClient, csrf: str, spaces: str) -> tuple[int, str]:
    return _post(client, csrf, "/plan/_rows", spaces=spaces)


def test_the_next_plan_counts_datasphere_and_glue_throttles(client: FlaskClient, csrf: str) -> None:
    _toggle(client, csrf, "ds_throttle", count="2", retry_after="0")
    _toggle(client, csrf, "glue_throttle", count="2")
    status, html = _plan(client, csrf, "SALES")
    assert status == 200, html
    assert re.search(r'data-ds="throttles">throttles 2<', html)
    assert re.search(r'data-ds="retries">retries 2<', html)
    assert re.search(r'data-glue="throttles">throttles 2<', html)
    status, html = _plan(client, csrf, "SALES")  # the faults ran out
    assert re.search(r'data-ds="throttles">throttles 0<', html)


def test_the_next_plan_skips_a_forbidden_space_with_the_403(client: FlaskClient, csrf: str) -> None:
    _toggle(client, csrf, "ds_forbidden_space", space="HR")
    _, html = _plan(client, csrf, "HR")
    text = re.sub(r"\s+", " ", html)
    assert "space <span class=\"mono\">HR</span> skipped" in text, text[:2000]
    assert "403" in text


def test_the_next_plan_shows_the_html_login_page_error(client: FlaskClient, csrf: str) -> None:
    _toggle(client, csrf, "ds_html_login", count="1")
    status, html = _plan(client, csrf, "SALES")
    assert status == 502
    assert 'role="alert"' in html and "answered 200 with an HTML page where JSON was expected" in html
    assert "hint:" in html and "DGSYNC_DATASPHERE__BASE_URL" in html
    status, html = _plan(client, csrf, "SALES")  # one login page only: the next plan works
    assert status == 200 and 'id="plan-counts"' in html


# -- the mapping rule tester -------------------------------------------------------------------


def _rules(client: FlaskClient, csrf: str, text: str, asset: str = "SALES.V_ORDERS") -> str:
    status, html = _post(client, csrf, "/debug/rules/_test", rules=text, asset=asset)
    assert status == 200, html
    return html


def test_the_prefilled_rules_map_like_the_rules_in_force(client: FlaskClient, csrf: str) -> None:
    page = client.get("/debug/").get_data(as_text=True)
    found = re.search(r'<textarea id="rules-text" name="rules"[^>]*>(.*?)</textarea>', page, flags=re.S)
    assert found
    import html as htmllib

    result = _rules(client, csrf, htmllib.unescape(found.group(1)))
    assert 'id="rules-ok"' in result and 'id="rules-diff-none"' in result
    assert 'id="rules-table">sales.v_orders<' in result
    assert "&#34;StorageDescriptor&#34;" in result or '"StorageDescriptor"' in result


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("version: 1\ndatabases:\n  template: \"{prefix}{bogus}\"\n", 3, "placeholder"),
        ("version: 1\ndecimal_float:\n  policy: string\n  precission: 4\n", 4, "precission"),
        ("version: 1\ndatabases:\n  template: [unclosed\n", None, "invalid YAML"),
    ],
)
def test_a_rules_error_shows_its_line_number(
    client: FlaskClient, csrf: str, text: str, line: int | None, words: str
) -> None:
    html = _rules(client, csrf, text)
    assert 'id="rules-errors"' in html and 'id="rules-ok"' not in html
    assert words in html
    numbers = [int(n) for n in re.findall(r'data-line="(\d+)"', html)]
    assert numbers, "no line number shown"
    if line is not None:
        assert line in numbers and f"line {line}" in html
        assert re.search(rf'<span class="marked">\s*{line} \|', html)  # the excerpt marks it


def test_a_valid_rule_edit_changes_the_shown_table_input_and_diff(client: FlaskClient, csrf: str) -> None:
    text = (
        "version: 1\n"
        "databases:\n  template: \"lab_{space}\"\n"
        "overrides:\n  - asset: SALES.V_ORDERS\n    table_name: orders_lab\n    description: Orders (lab)\n"
    )
    html = _rules(client, csrf, text)
    assert 'id="rules-table">lab_sales.orders_lab<' in html
    diff = re.search(r'<div id="rules-diff">(.*?)</div>', html, flags=re.S)
    assert diff is not None
    assert "sales.v_orders" in diff.group(1) and "lab_sales.orders_lab" in diff.group(1)
    assert "Orders (lab)" in diff.group(1)
    table_input = re.search(r'id="rules-table-input">(.*?)</pre>', html, flags=re.S)
    assert table_input is not None and "orders_lab" in table_input.group(1)


def test_the_rule_tester_names_a_missing_asset(client: FlaskClient, csrf: str) -> None:
    status, html = _post(client, csrf, "/debug/rules/_test", rules="version: 1\n", asset="SALES.NOPE")
    assert status == 404 and "SALES.NOPE" in html and "hint" in html


# -- request log -------------------------------------------------------------------------------


def test_the_request_log_shows_and_filters_emulator_requests(client: FlaskClient, svc: Services) -> None:
    token = _token(svc)
    assert _get(svc, SPACES + "('NOPE_XYZ')/assets", token).status_code == 404
    assert _get(svc, SPACES + "('SALES')", token).status_code == 200
    html = client.get("/debug/_log?path=NOPE_XYZ&status=4xx&live=1").get_data(as_text=True)
    rows = re.findall(r'<tr class="reqlog-row[^"]*" data-source="(\w+)" data-status="(\d+)"', html)
    assert rows == [("datasphere", "404")]
    assert "hx-trigger=\"every 2s\"" in html  # live: it polls
    assert "NOPE_XYZ" not in client.get("/debug/_log?path=NOPE_XYZ&status=2xx").get_data(as_text=True).split("<tbody>")[1]
    assert "reqlog-row" not in client.get("/debug/_log?path=NOPE_XYZ&method=POST").get_data(as_text=True)
    paused = client.get("/debug/_log?path=SALES&live=0").get_data(as_text=True)
    assert "every 2s" not in paused and "paused" in paused
    assert re.search(r"<td class=\"num nowrap\">\d+\.\d ms</td>", paused)


def test_the_request_log_is_a_bounded_ring_buffer(svc: Services) -> None:
    log = doubles.tenant(svc).requests
    token = _token(svc)
    for _ in range(5):
        _get(svc, SPACES, token)
    assert len(log) <= log.size
    from doubles.request_log import RequestLog

    small = RequestLog(3)
    for i in range(5):
        small.record(source="datasphere", method="get", path=f"/p{i}", status=200, latency_ms=1)
    assert [e.path for e in small.entries()] == ["/p4", "/p3", "/p2"]


# -- emulator mutations ------------------------------------------------------------------------


def _text(client: FlaskClient, path: str) -> tuple[int, str]:
    response = client.get(path)
    return response.status_code, response.get_data(as_text=True)


def test_mutations_show_up_in_the_explorer_and_compare(client: FlaskClient, csrf: str, svc: Services) -> None:
    report = svc.engine().sync(spaces=["SALES"], trigger="api", actor="test")
    assert report.status == "succeeded", report.not_in_sync
    status, html = _text(client, "/compare/SALES/V_ORDERS")
    assert status == 200 and "in sync" in html

    column = next(c for c in doubles.columns_of(svc, "SALES", "V_ORDERS") if c != "SalesOrder")
    status, html = _post(client, csrf, "/debug/mutations/change-column", asset="SALES.V_ORDERS", column=column,
                         cds_type="cds.String(99)", label="Changed in Debug")
    assert status == 200 and "cds.String(99)" in html
    status, html = _text(client, "/catalog/SALES/V_ORDERS")
    assert "cds.String(99)" in html and "Changed in Debug" in html
    status, html = _text(client, "/compare/SALES/V_ORDERS")
    assert "difference(s)" in html and "varchar(99)" in html
    status, html = _plan(client, csrf, "SALES")  # incremental: only the changed asset is re-planned
    changed = re.findall(r'<tr class="plan-item" data-action="(\w+)">\s*<td>.*?</td>\s*<td class="mono">([^<]+)</td>',
                         html, flags=re.S)
    assert changed == [("update", "sales.v_orders")], changed

    status, html = _post(client, csrf, "/debug/mutations/add-asset", space="SALES", name="DEBUG_T1")
    assert status == 200, html
    assert _text(client, "/catalog/SALES/DEBUG_T1")[0] == 200
    assert "DEBUG_T1" in _text(client, "/compare/SALES/DEBUG_T1")[1]
    status, html = _post(client, csrf, "/debug/mutations/add-asset", space="SALES", name="DEBUG_T1")
    assert status == 400 and "exists already" in html

    status, html = _post(client, csrf, "/debug/mutations/remove-asset", asset="SALES.DEBUG_T1")
    assert status == 200
    assert _text(client, "/catalog/SALES/DEBUG_T1")[0] == 404

    status, html = _post(client, csrf, "/debug/mutations/reset")
    assert status == 200 and "default tenant is back" in html
    assert "cds.String(99)" not in _text(client, "/catalog/SALES/V_ORDERS")[1]
    assert "in sync" in _text(client, "/compare/SALES/V_ORDERS")[1]


def test_a_glue_conflict_switched_on_shows_up_in_the_next_sync(
    app: Flask, client: FlaskClient, csrf: str, svc: Services
) -> None:
    assert svc.engine().sync(spaces=["SALES"], trigger="api", actor="test").status == "succeeded"
    column = next(c for c in doubles.columns_of(svc, "SALES", "V_ORDERS") if c != "SalesOrder")
    _post(client, csrf, "/debug/mutations/change-column", asset="SALES.V_ORDERS", column=column, label="Conflicted")
    _toggle(client, csrf, "glue_conflict", count="1")
    status, preview = _plan(client, csrf, "SALES")
    assert status == 200 and 'data-action="update"' in preview
    found = re.search(r'name="preview" value="([0-9a-f]+)"', preview)
    assert found
    response = client.post("/plan/apply", data={"csrf_token": csrf, "preview": found.group(1)},
                           headers={"HX-Request": "true"})
    job_id = response.headers["HX-Redirect"].rstrip("/").rsplit("/", 1)[1]
    assert app.extensions["dgsync.jobs"].wait(job_id, timeout=120)
    html = client.get(f"/plan/jobs/{job_id}/_status").get_data(as_text=True)
    rejected = html.split("Glue calls rejected", 1)[1]
    assert re.search(r"UpdateTable</td><td class=\"mono\">ConcurrentModificationException</td><td>1<", rejected)
    assert 'data-status="recovered"' in html  # re-read and re-planned once: handled
    doubles.reset_tenant(svc)
    app.extensions["dgsync.catalog"].invalidate()


def test_the_page_still_opens_when_a_fault_breaks_the_tenant(app: Flask, client: FlaskClient, csrf: str) -> None:
    _toggle(client, csrf, "ds_html_login", count="100")
    app.extensions["dgsync.catalog"].invalidate()
    response = client.get("/debug/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="tenant-error"' in html and "HTML page" in html and 'id="clear-faults"' in html
    _post(client, csrf, "/debug/faults/clear")
    assert 'id="tenant-error"' not in client.get("/debug/").get_data(as_text=True)


def test_a_bad_mutation_says_what_to_pick(client: FlaskClient, csrf: str) -> None:
    status, html = _post(client, csrf, "/debug/mutations/change-column", asset="SALES.V_ORDERS",
                         column="NOPE", cds_type="cds.String(5)")
    assert status == 400 and "has no column" in html and "hint" in html
    status, html = _post(client, csrf, "/debug/mutations/change-column", asset="SALES.V_ORDERS",
                         column="SalesOrder", cds_type="cds.Whatever")
    assert status == 400 and "unknown CDS type" in html
    status, html = _post(client, csrf, "/debug/mutations/add-asset", space="SALES", name="1bad name")
    assert status == 400 and "technical name" in html


def test_the_column_picker_follows_the_asset(client: FlaskClient) -> None:
    html = client.get("/debug/_columns?asset=SALES.V_ORDERS").get_data(as_text=True)
    assert '<option value="SalesOrder">' in html


# -- secrets -----------------------------------------------------------------------------------


def test_the_token_and_the_client_secret_are_never_rendered(client: FlaskClient, svc: Services) -> None:
    ds = svc.datasphere_client()
    list(ds.iter_spaces())
    held = ds.tokens.current()
    assert held is not None
    secret = svc.datasphere_settings().client_secret
    assert secret is not None
    for path in ("/debug/", "/debug/_token", "/debug/_log", "/debug/_faults"):
        html = client.get(path).get_data(as_text=True)
        assert held.access_token not in html, path
        assert secret.get_secret_value() not in html, path
        assert "Bearer" not in html, path
