"""Dog's audit page: filters (run, object, action, actor, system, time) and JSON/CSV export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.settings import Settings
from core.store import repo
from core.store.schemas import AuditIn, AuditSystem
from dog_flask.app import create_app
from dog_flask.extension import close_app


@pytest.fixture
def app(dog_settings: Settings) -> Iterator[Flask]:
    app = create_app(dog_settings)
    svc = app.extensions["dgsync"]
    old = datetime.now(UTC) - timedelta(days=2)
    with svc.store().session() as session:
        for i, (obj, action, actor) in enumerate(
            [("sales.orders", "create", "cli:ann"), ("sales.items", "update", "dog"), ("hr.staff", "create", "dog")]
        ):
            repo.record_audit(session=session, entry=AuditIn(
                ts=old if i == 0 else datetime.now(UTC), actor=actor, system=AuditSystem.GLUE,
                object=obj, action=action, details={"version": str(i), "client_secret": "s3cr3t-value"},
            ))
    yield app
    close_app(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _objects(html: str) -> list[str]:
    import re

    return re.findall(r'<td class="mono">([a-z_.]+)</td>', html)


def test_audit_lists_newest_first_and_filters(client: FlaskClient) -> None:
    html = client.get("/audit/").get_data(as_text=True)
    assert _objects(html) == ["hr.staff", "sales.items", "sales.orders"]
    assert _objects(client.get("/audit/?object=SALES").get_data(as_text=True)) == ["sales.items", "sales.orders"]
    assert _objects(client.get("/audit/?action=create&actor=dog").get_data(as_text=True)) == ["hr.staff"]
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert "sales.orders" not in _objects(client.get(f"/audit/?since={since}").get_data(as_text=True))
    assert "No audit record matches" in client.get("/audit/?system=datasphere").get_data(as_text=True)


def test_audit_never_renders_a_secret(client: FlaskClient) -> None:
    assert "s3cr3t-value" not in client.get("/audit/").get_data(as_text=True)


def test_a_bad_time_filter_is_an_error_with_a_hint_and_the_form_kept(client: FlaskClient) -> None:
    page = client.get("/audit/?since=yesterday")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "not a date or time" in html and "ISO 8601" in html


def test_audit_export_json_and_csv_follow_the_filters(client: FlaskClient) -> None:
    response = client.get("/audit/export.json?actor=dog")
    assert response.mimetype == "application/json"
    records = json.loads(response.get_data(as_text=True))
    assert sorted(r["object"] for r in records) == ["hr.staff", "sales.items"]
    rows = list(csv.DictReader(io.StringIO(client.get("/audit/export.csv").get_data(as_text=True))))
    assert [r["object"] for r in rows] == ["sales.orders", "sales.items", "hr.staff"]  # oldest first
    assert client.get("/audit/export.xml").status_code == 400
