"""Plan & sync in Dog: the scope is validated against the tenant, the dry run shows diffs, and
Apply runs the sync as a background job that ends on a page listing every object."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.catalog import AssetCatalog
from core.services import Services
from core.store import repo
from dog_flask import doubles
from dog_flask.app import create_app
from dog_flask.jobs import Job, JobRunner
from dog_flask.scope import Scope

from .conftest import form_csrf_token, own_embedded_services

# A region of its own: an embedded Glue resets moto's backend of its region in this process.
REGION = "ap-northeast-2"


@pytest.fixture(scope="module")
def sync_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Embedded services whose Glue this module may write (not the shared ones)."""
    with own_embedded_services(tmp_path_factory.mktemp("dog-plan"), REGION) as services:
        yield services


@pytest.fixture(scope="module")
def app(sync_services: Services) -> Flask:
    return create_app(services=sync_services, catalog=AssetCatalog(sync_services))


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _csrf(client: FlaskClient) -> str:
    return form_csrf_token(client.get("/plan/").get_data(as_text=True))


def _preview(client: FlaskClient, **form: str | list[str]) -> tuple[int, str]:
    response = client.post("/plan/_rows", data={"csrf_token": _csrf(client), **form})
    return response.status_code, response.get_data(as_text=True)


def _apply(app: Flask, client: FlaskClient, preview_html: str) -> str:
    found = re.search(r'name="preview" value="([0-9a-f]+)"', preview_html)
    assert found, "the preview offers no Apply form"
    response = client.post(
        "/plan/apply", data={"csrf_token": _csrf(client), "preview": found.group(1)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 204
    target = response.headers["HX-Redirect"]
    job_id = target.rstrip("/").rsplit("/", 1)[1]
    assert app.extensions["dgsync.jobs"].wait(job_id, timeout=120)
    return target


def test_plan_page_lists_the_known_spaces(client: FlaskClient) -> None:
    html = client.get("/plan/").get_data(as_text=True)
    assert '<option value="SALES">' in html and '<option value="HR">' in html
    assert 'name="priority"' in html


def test_an_unknown_space_is_an_error_naming_the_known_ones_never_nothing_to_change(
    client: FlaskClient,
) -> None:
    status, html = _preview(client, spaces="sales")
    assert status == 404
    assert "no space &#39;sales&#39; in the tenant" in html
    assert "did you mean SALES?" in html and "FINANCE" in html and "HR" in html
    assert "Nothing to change" not in html and 'id="plan-counts"' not in html


def test_an_unknown_priority_is_refused(client: FlaskClient) -> None:
    status, html = _preview(client, spaces="HR", priority="urgent")
    assert status == 422
    assert "unknown priority" in html and "critical" in html


def test_preview_then_apply_syncs_in_the_background_and_lists_every_object(
    app: Flask, client: FlaskClient, sync_services: Services
) -> None:
    status, html = _preview(client, spaces="HR")
    assert status == 200
    creates = re.findall(r'<tr class="plan-item" data-action="create">', html)
    assert creates, "a first sync of HR creates its database and tables"
    assert "Apply: sync HR" in html
    page = client.get(_apply(app, client, html)).get_data(as_text=True)
    assert 'data-state="finished"' in page
    assert "hx-trigger" not in page.split('id="job"', 1)[1]  # polling stopped
    run_id = re.search(r'href="/runs/([A-Za-z0-9_-]+)"', page)
    assert run_id
    created = re.findall(r'<tr class="run-item" data-action="create" data-status="done">', page)
    assert len(created) == len(creates)
    assert "retries 0" in page and "throttles 0" in page
    with sync_services.store().session(readonly=True) as session:
        run = repo.get_run(session=session, run_id=run_id.group(1))
    assert run is not None and run.counts.created == len(creates)
    # The same scope again: nothing left to do.
    status, again = _preview(client, spaces="HR")
    assert 'data-action="create"' not in again and "Nothing to change" in again


def test_a_changed_asset_shows_its_field_diff_in_the_preview_and_on_the_run_page(
    app: Flask, client: FlaskClient, sync_services: Services
) -> None:
    status, html = _preview(client, spaces="FINANCE")
    _apply(app, client, html)
    changes = doubles.mutate(sync_services, count=1, seed=7, space="FINANCE", operations=("add_column",))
    assert changes and changes[0]["change"] == "add_column"
    app.extensions["dgsync.catalog"].snapshot(refresh=True)
    status, html = _preview(client, spaces="FINANCE")
    assert status == 200
    assert 'data-action="update"' in html
    column = changes[0]["column"]
    assert column.lower() in html.lower() and 'class="added"' in html
    page = client.get(_apply(app, client, html)).get_data(as_text=True)
    assert '<tr class="run-item" data-action="update" data-status="done">' in page
    assert column.lower() in page.lower()


def test_a_running_job_polls_and_shows_its_phase_and_progress(app: Flask, client: FlaskClient) -> None:
    runner: JobRunner = app.extensions["dgsync.jobs"]
    job = Job(id="f00d", scope=Scope(spaces=["HR"]))
    job.on_progress("apply", 3, 10)
    runner._jobs[job.id] = job
    html = client.get("/plan/jobs/f00d").get_data(as_text=True)
    assert 'hx-get="/plan/jobs/f00d/_status" hx-trigger="load delay:700ms"' in html
    assert "3 / 10" in html and 'value="30" max="100"' in html
    fragment = client.get("/plan/jobs/f00d/_status").get_data(as_text=True)
    assert "<html" not in fragment and 'data-state="running"' in fragment


def test_unknown_job_and_preview_are_404_with_a_hint(client: FlaskClient) -> None:
    page = client.get("/plan/jobs/nope")
    assert page.status_code == 404 and "hint:" in page.get_data(as_text=True)
    response = client.post("/plan/apply", data={"csrf_token": _csrf(client), "preview": "gone"})
    assert response.status_code == 404 and "Preview the sync again" in response.get_data(as_text=True)


def test_apply_needs_the_csrf_token(client: FlaskClient) -> None:
    assert client.post("/plan/apply", data={"preview": "x"}).status_code == 403


def test_doubles_adapter_refuses_an_unknown_space(sync_services: Services) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown space"):
        doubles.mutate(sync_services, space="NOPE")

