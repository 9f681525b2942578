"""Dog's API console over HTTP: raw requests to the emulated Datasphere API with every token
mode, Glue operations (read-only unless toggled), copy as curl without the secret, history,
CSRF, and the errors of bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape

import pytest
from flask.testing import FlaskClient

from core.catalog import AssetCatalog
from core.governance.audit import query as audit_query
from core.services import Services
from dog_flask.app import create_app

from .conftest import form_csrf_token, own_embedded_services

REGION = "eu-north-1"  # its own moto backend in this process
SPACES = "/api/v1/datasphere/consumption/catalog/spaces"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with own_embedded_services(tmp_path_factory.mktemp("dog-console"), REGION) as services:
        yield services


@pytest.fixture(scope="module")
def client(svc: Services) -> FlaskClient:
    return create_app(services=svc, catalog=AssetCatalog(svc)).test_client()


@pytest.fixture(scope="module")
def csrf(client: FlaskClient) -> str:
    return form_csrf_token(client.get("/console/").get_data(as_text=True))


def _send(client: FlaskClient, csrf: str, **form: str) -> tuple[int, str]:
    data = {"csrf_token": csrf, "method": "GET", "path": SPACES, "token_mode": "auto", **form}
    response = client.post("/console/send", data=data)
    return response.status_code, response.get_data(as_text=True)


def _status(html: str) -> str:
    found = re.search(r'id="response-status">([^<]*)<', html)
    assert found, html[-1500:]
    return found.group(1).strip()


def _body(html: str) -> str:
    found = re.search(r'id="response-body">(.*?)</pre>', html, re.S)
    assert found
    return unescape(found.group(1))


def _copy(html: str) -> str:
    found = re.search(r'id="copy-text">(.*?)</pre>', html, re.S)
    assert found
    return unescape(found.group(1))


def test_a_request_with_the_token_handled_for_you(client: FlaskClient, csrf: str, svc: Services) -> None:
    code, html = _send(client, csrf, query="$top=2\n$count=true")
    assert code == 200 and _status(html) == "200 OK"
    body = json.loads(_body(html))
    assert len(body["value"]) == 2 and body["@odata.count"] > 2
    assert re.search(r'id="response-time">\d+\.\d ms<', html)
    copy = _copy(html)
    assert copy.startswith("curl -sS -i ") and '"Authorization: Bearer $TOKEN"' in copy
    assert "%24top=2" in copy or "$top=2" in copy
    token = svc.datasphere_client().tokens.current()
    assert token is not None and token.access_token not in html
    assert "Bearer ‹token›" in html  # the request shows that a token was sent, never which


@pytest.mark.parametrize(
    ("mode", "authorization"),
    [("none", False), ("expired", True), ("invalid", True)],
)
def test_a_missing_expired_or_invalid_token_is_refused_by_the_api(
    client: FlaskClient, csrf: str, mode: str, authorization: bool
) -> None:
    code, html = _send(client, csrf, token_mode=mode)
    assert code == 200 and _status(html).startswith("401")
    assert json.loads(_body(html))["error"] == "unauthorized"
    assert ("Bearer ‹token›" in html) is authorization
    assert ("$TOKEN" in _copy(html)) is authorization


def test_odata_options_with_spaces_and_quotes_reach_the_api(client: FlaskClient, csrf: str) -> None:
    _, html = _send(client, csrf, path="/api/v1/datasphere/consumption/catalog/assets",
                       query="$filter=spaceName eq 'SALES'&$top=3")
    assert _status(html) == "200 OK", _body(html)
    assert {row["spaceName"] for row in json.loads(_body(html))["value"]} == {"SALES"}


def test_writes_need_the_toggle_and_are_audited(client: FlaskClient, csrf: str, svc: Services) -> None:
    code, html = _send(client, csrf, method="POST", path="/oauth/token",
                       body="grant_type=client_credentials&client_id=dgsync-demo&client_secret=dgsync-demo-secret",
                       content_type="application/x-www-form-urlencoded")
    assert code == 400 and "console is read-only" in html and "allow writes" in html
    assert 'value="/oauth/token"' in html  # the form keeps what was typed, but not the secret
    assert "client_secret=***" in html and "dgsync-demo-secret" not in html
    code, html = _send(client, csrf, method="POST", path="/oauth/token", allow_writes="on",
                       body="grant_type=client_credentials&client_id=dgsync-demo&client_secret=dgsync-demo-secret",
                       content_type="application/x-www-form-urlencoded", token_mode="none")
    assert _status(html) == "200 OK"
    answer = json.loads(_body(html))
    assert answer["access_token"] == "***" and answer["token_type"] == "bearer"
    assert "dgsync-demo-secret" not in html  # not in the request shown, nor in the curl
    entries = audit_query(svc.store())
    assert any(e.object == "datasphere:POST /oauth/token" and e.action == "console_write" for e in entries)


@pytest.mark.parametrize("path", ["http://evil.example/x", "//evil.example/x", "api/v1", "/a b"])
def test_only_paths_on_the_tenant_are_sent(client: FlaskClient, csrf: str, path: str) -> None:
    code, html = _send(client, csrf, path=path)
    assert code == 400 and "not a path on the tenant" in html and "hint:" in html


def test_a_malformed_json_body_is_refused_before_sending(client: FlaskClient, csrf: str) -> None:
    code, html = _send(client, csrf, method="POST", allow_writes="on", body="{nope", content_type="application/json")
    assert code == 400 and "the body is not JSON" in html


def test_glue_reads_run_and_writes_need_the_toggle(client: FlaskClient, csrf: str, svc: Services) -> None:
    svc.glue().boto_client.create_database(DatabaseInput={"Name": "console_db"})
    response = client.post("/console/glue", data={"csrf_token": csrf, "operation": "GetDatabase",
                                                   "params": '{"Name": "console_db"}'})
    html = response.get_data(as_text=True)
    assert _status(html) == "200 OK" and json.loads(_body(html))["Database"]["Name"] == "console_db"
    copy = _copy(html)
    assert copy.startswith("aws glue get-database --endpoint-url http://127.0.0.1:")
    assert "--cli-input-json" in copy
    missing = client.post("/console/glue", data={"csrf_token": csrf, "operation": "GetTable",
                                                  "params": '{"DatabaseName": "console_db", "Name": "nope"}'})
    assert _status(missing.get_data(as_text=True)) == "400 EntityNotFoundException"
    refused = client.post("/console/glue", data={"csrf_token": csrf, "operation": "DeleteDatabase",
                                                  "params": '{"Name": "console_db"}'})
    assert refused.status_code == 400 and "writes to Glue" in refused.get_data(as_text=True)
    assert svc.glue().get_database("console_db") is not None
    done = client.post("/console/glue", data={"csrf_token": csrf, "operation": "DeleteDatabase",
                                               "params": '{"Name": "console_db"}', "glue_writes": "on"})
    assert _status(done.get_data(as_text=True)) == "200 OK"
    assert svc.glue().get_database("console_db") is None


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [("GetNothing", "{}", "Glue has no operation"), ("GetTables", "{nope", "not JSON"),
     ("GetTables", "[1]", "must be a JSON object"), ("GetTables", '{"Bogus": 1}', "Glue refuses the parameters")],
)
def test_bad_glue_input_is_a_400_with_a_hint(client: FlaskClient, csrf: str, operation: str, params: str, message: str) -> None:
    response = client.post("/console/glue", data={"csrf_token": csrf, "operation": operation, "params": params})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and "hint:" in html


def test_htmx_gets_the_result_fragment_and_the_history_out_of_band(client: FlaskClient, csrf: str) -> None:
    response = client.post("/console/send", headers={"HX-Request": "true"},
                           data={"csrf_token": csrf, "method": "GET", "path": SPACES, "token_mode": "none"})
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="console-exchange"' in html
    assert 'id="console-history" hx-swap-oob="true"' in html
    bad = client.post("/console/send", headers={"HX-Request": "true"},
                      data={"csrf_token": csrf, "method": "BREW", "path": SPACES})
    assert bad.status_code == 400 and 'class="error"' in bad.get_data(as_text=True)


def test_history_keeps_the_last_requests_and_reopens_one(client: FlaskClient, csrf: str) -> None:
    _send(client, csrf, path="/api/v1/datasphere/consumption/catalog/spaces('SALES')", token_mode="invalid")
    page = client.get("/console/").get_data(as_text=True)
    ids = re.findall(r'href="/console/\?from=(\d+)"', page)
    assert ids and len(ids) <= 20
    again = client.get(f"/console/?from={ids[0]}").get_data(as_text=True)
    assert "value=\"/api/v1/datasphere/consumption/catalog/spaces(&#39;SALES&#39;)\"" in again
    assert 'value="invalid" checked' in again and 'id="response-status"' in again
    gone = client.get("/console/?from=999999")
    assert gone.status_code == 400 and "no longer in the history" in gone.get_data(as_text=True)


def test_posts_without_the_csrf_token_are_refused(client: FlaskClient) -> None:
    response = client.post("/console/send", data={"method": "GET", "path": SPACES})
    assert response.status_code == 403
    assert client.post("/console/glue", data={"operation": "GetDatabases"}).status_code == 403


def test_example_links_fill_the_form_in_without_sending(client: FlaskClient) -> None:
    page = client.get("/console/").get_data(as_text=True)
    links = re.findall(r'href="(/console/\?path=[^"]+)"', page)
    assert len(links) >= 5
    before = len(re.findall(r'class="history-item"', page))
    filled = client.get(unescape(links[1])).get_data(as_text=True)
    assert "value=\"/api/v1/datasphere/consumption/catalog/spaces(&#39;SALES&#39;)/assets\"" in filled
    assert 'id="console-exchange"' not in filled
    assert len(re.findall(r'class="history-item"', filled)) == before
