"""End to end: the emulator (real HTTP) → sync → moto in server mode (real HTTP) → SQLite.

Every test gets its own database prefix (rules), so tests share one moto server safely.
Glue state is read back through a plain boto3 client that no dgsync counter sees.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest
from e2e_support import columns, run_sync, tables_of, versions_of

from core.services import Services, build_services
from core.specs import MANAGED_BY
from core.sync.engine import SyncEngine

pytestmark = pytest.mark.timeout(240)


def test_first_sync_lands_every_asset_with_exact_types(make_settings, raw_glue) -> None:
    settings = make_settings()
    report = run_sync(settings)
    assert report.status == "succeeded", report.model_dump_json(indent=1)[:2000]
    assert report.counts["failed"] == 0
    prefix = make_settings.prefix
    tables = tables_of(raw_glue, prefix)
    with build_services(settings) as services:
        assets = services.extractor().extract().assets
    tabled = [a for a in assets if not a.kind.is_flow]
    assert len(tables) == len(tabled)
    sources = {t["Parameters"]["dgsync.source"] for t in tables.values()}
    assert sources == {a.key for a in tabled}
    assert all(t["Parameters"][MANAGED_BY] == "dgsync" for t in tables.values())

    items = columns(tables[f"{prefix}mct_demo.mct_opportunityitems"])
    assert items["quantity"]["Type"] == "decimal(20,3)"
    assert items["value"]["Type"] == "decimal(20,2)"
    assert items["itemid"]["Type"] == "bigint"
    assert items["product"]["Type"] == "varchar(5000)"
    assert items["quantity"]["Comment"] == "Quantity"
    assert items["quantity"]["Parameters"]["dgsync.role"] == "measure"
    assert items["quantity"]["Parameters"]["dgsync.aggregation"] == "SUM"
    assert items["quantity"]["Parameters"]["dgsync.unit"]
    day = tables[f"{prefix}mct_demo.sap_time_view_dimension_day"]
    assert "YQMD" in day["Parameters"]["dgsync.hierarchies"]
    assert day["Description"] == "Time Dimension - Day"
    # Every asset kind with columns is there, and analytic models have typed columns.
    kinds = {t["Parameters"]["dgsync.source_kind"] for t in tables.values()}
    assert {"local_table", "remote_table", "view", "analytic_model"} <= kinds
    models = [t for t in tables.values() if t["Parameters"]["dgsync.source_kind"] == "analytic_model"]
    assert models and all(c["Type"] != "" for m in models for c in m["StorageDescriptor"]["Columns"])


def test_second_sync_writes_nothing_and_creates_no_version(make_settings, raw_glue) -> None:
    settings = make_settings()
    first = run_sync(settings)
    assert first.glue_writes > 0
    before = versions_of(raw_glue, tables_of(raw_glue, make_settings.prefix))
    second = run_sync(settings)
    assert second.glue_writes == 0
    assert second.counts["created"] == second.counts["updated"] == 0
    assert set(second.api_calls["glue"]) <= {"GetDatabases", "GetTables"}
    after = versions_of(raw_glue, tables_of(raw_glue, make_settings.prefix))
    assert after == before


def test_a_mutation_leads_to_exactly_the_expected_writes(make_settings, emulator, raw_glue) -> None:
    settings = make_settings()
    run_sync(settings)
    changes = httpx.post(
        f"{emulator.base_url}/_emulator/mutate",
        json={"count": 3, "seed": 11, "operations": ["add_column", "change_column", "remove_column"]},
    ).json()["changes"]
    changed = {f"{c['space']}.{c['name']}" for c in changes}
    report = run_sync(settings)
    updated = {i.asset for i in report.items if i.action.value == "update"}
    # Each changed asset is rewritten; an analytic model reading a changed column may follow.
    assert changed <= updated
    extra = updated - changed
    kinds = {
        t["Parameters"]["dgsync.source"]: t["Parameters"]["dgsync.source_kind"]
        for t in tables_of(raw_glue, make_settings.prefix).values()
    }
    assert all(kinds[k] == "analytic_model" for k in extra)
    assert report.glue_writes == len(updated)
    assert report.counts["created"] == 0


def test_plan_mutates_nothing(make_settings, raw_glue, tmp_path) -> None:
    settings = make_settings()
    with build_services(settings) as services:
        report = SyncEngine(services).dry_run()
        assert services.glue().stats.snapshot().writes == 0
    assert report.counts["created"] > 0
    assert tables_of(raw_glue, make_settings.prefix) == {}
    assert not (tmp_path / "state.db").exists()


def test_an_unmanaged_table_is_never_touched(make_settings, raw_glue) -> None:
    prefix = make_settings.prefix
    db = f"{prefix}mct_demo"
    raw_glue.create_database(DatabaseInput={"Name": db})
    mine = {"Name": "mct_products", "StorageDescriptor": {"Columns": [{"Name": "x", "Type": "int"}]},
            "Parameters": {"owner": "someone else"}}
    raw_glue.create_table(DatabaseName=db, TableInput=mine)
    settings = make_settings()
    report = run_sync(settings)
    item = next(i for i in report.items if i.object == f"{db}.mct_products")
    assert item.action.value == "conflict" and item.conflict == "unmanaged"
    table = raw_glue.get_table(DatabaseName=db, Name="mct_products")["Table"]
    assert table["StorageDescriptor"]["Columns"] == [{"Name": "x", "Type": "int"}]
    assert table["Parameters"] == {"owner": "someone else"}
    with build_services(settings) as services:
        from core.store import repo

        with services.store().session() as session:
            conflicts = repo.list_conflicts(session=session)
    assert any(c.object == f"{db}.mct_products" and c.kind.value == "unmanaged" for c in conflicts)


def test_failsafe_holds_when_most_assets_vanish(make_settings, emulator, raw_glue) -> None:
    settings = make_settings(deletion_policy="delete")
    run_sync(settings)
    before = tables_of(raw_glue, make_settings.prefix)
    inventory = httpx.get(f"{emulator.base_url}/_emulator/inventory").json()
    objects = inventory.get("objects", inventory) if isinstance(inventory, dict) else inventory
    removed = 0
    for obj in objects:
        if obj.get("space") == "SALES" or obj.get("space") == "MCT_DEMO":
            httpx.delete(f"{emulator.base_url}/_emulator/assets/{obj['space']}/{obj['name']}")
            removed += 1
    assert removed > 5
    report = run_sync(settings)
    # Per space: an emptied space trips "found nothing"; a thinned one "more than 20 %".
    assert report.failsafe and "extraction found no assets" in report.failsafe
    assert report.counts["deleted"] == 0
    assert tables_of(raw_glue, make_settings.prefix).keys() == before.keys()


def test_failsafe_holds_when_a_large_share_of_a_space_vanishes(make_settings, emulator, raw_glue) -> None:
    settings = make_settings(deletion_policy="delete")
    run_sync(settings)
    before = tables_of(raw_glue, make_settings.prefix)
    inventory = httpx.get(f"{emulator.base_url}/_emulator/inventory").json()
    objects = inventory.get("objects", inventory) if isinstance(inventory, dict) else inventory
    mct = [o for o in objects if o.get("space") == "MCT_DEMO"]
    for obj in mct[: len(mct) // 2]:
        httpx.delete(f"{emulator.base_url}/_emulator/assets/{obj['space']}/{obj['name']}")
    report = run_sync(settings)
    # The extractor reports which (space, kind) listings completed, so the drop is judged per
    # (space, kind): every deletion of the dropped kinds is held for confirmation.
    held = [i for i in report.items if "held for confirmation" in (i.reason or "")]
    assert len(held) == len(mct) // 2, [(i.object, i.reason) for i in report.items]
    assert all("more than 20%" in (i.reason or "") for i in held)
    assert report.counts["deleted"] == 0
    assert tables_of(raw_glue, make_settings.prefix).keys() == before.keys()
    assert report.status == "partial" and any("held for confirmation" in r for r in report.not_in_sync)

    # An operator approves one held deletion through the CLI; the next sync applies only it.
    from click.testing import CliRunner

    from dgsync_cli.main import cli

    env = {"DGSYNC_DATABASE_URL": settings.database_url, "DGSYNC_ENV": "dog"}
    pending = CliRunner().invoke(cli, ["deletions", "pending", "--format", "json"], env=env)
    assert pending.exit_code == 0, pending.output
    rows = json.loads(pending.stdout)
    assert sorted(r["object"] for r in rows) == sorted(i.object for i in held)
    chosen = held[0].object
    approved = CliRunner().invoke(cli, ["deletions", "approve", chosen], env=env)
    assert approved.exit_code == 0 and f"approved: {chosen}" in approved.output
    after = run_sync(settings)
    assert [i.object for i in after.items if i.action.value == "delete"] == [chosen]
    assert chosen not in tables_of(raw_glue, make_settings.prefix)
    with build_services(settings) as services, services.store().session(readonly=True) as session:
        from core.store import deletions, repo

        statuses = {p.object: p.status for p in deletions.list_pending(
            session=session, env="dog", statuses=("pending", "approved", "applied", "cancelled"))}
        audit = repo.query_audit(session=session, limit=50)
    assert statuses[chosen] == "applied"
    assert any(a.action == "approve_deletion" and a.object == chosen and a.actor.startswith("cli:") for a in audit)


def test_deletion_within_the_share_goes_ahead(make_settings, emulator, raw_glue) -> None:
    settings = make_settings(deletion_policy="delete")
    run_sync(settings)
    httpx.delete(f"{emulator.base_url}/_emulator/assets/MCT_DEMO/MCT_ProductCategories")
    report = run_sync(settings)
    assert report.failsafe is None
    assert report.counts["deleted"] == 1, [(i.object, i.reason) for i in report.items if i.action.value == "delete"]
    assert f"{make_settings.prefix}mct_demo.mct_productcategories" not in tables_of(
        raw_glue, make_settings.prefix
    )


def test_an_interrupted_sync_resumes_without_duplicate_writes(
    make_settings, raw_glue, monkeypatch
) -> None:
    from core.glue.client import GlueClient

    settings = make_settings()
    real_create = GlueClient.create_table
    calls = {"n": 0}

    def dying_create(self: GlueClient, database: str, table_input: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 20:
            raise KeyboardInterrupt  # the process dies mid-run (no finish_run, no cleanup)
        real_create(self, database, table_input)

    monkeypatch.setattr(GlueClient, "create_table", dying_create)
    services = build_services(settings)
    with pytest.raises(KeyboardInterrupt):
        SyncEngine(services).sync()
    services.close()
    monkeypatch.setattr(GlueClient, "create_table", real_create)
    half = tables_of(raw_glue, make_settings.prefix)
    assert 0 < len(half) <= 20
    settings = settings.model_copy(
        update={"schedule": settings.schedule.model_copy(update={"lease_ttl_s": 0.01})}
    )
    report = run_sync(settings, resume=True)
    assert report.resumed_from is not None
    assert report.counts["failed"] == 0
    created_tables = [i for i in report.items if i.action.value == "create" and "." in i.object]
    assert len(created_tables) + len(half) == len(tables_of(raw_glue, make_settings.prefix))
    versions = versions_of(raw_glue, tables_of(raw_glue, make_settings.prefix))
    assert set(versions.values()) == {1}


def test_services_are_closed_cleanly(make_settings) -> None:
    services: Services = build_services(make_settings())
    services.glue()
    services.close()
    services.close()


def _mutate_one(emulator: Any) -> set[str]:
    changes = httpx.post(
        f"{emulator.base_url}/_emulator/mutate",
        json={"count": 1, "seed": 5, "operations": ["change_column", "add_column"], "space": "MCT_DEMO"},
    ).json()["changes"]
    return {f"{c['space']}.{c['name']}" for c in changes}


@pytest.mark.parametrize(("losses", "expected"), [(1, "update"), (2, "conflict")])
def test_concurrent_modification_is_replanned_and_retried_once(
    make_settings, emulator, losses, expected
) -> None:
    from doubles.glue_faults import GlueFaults

    settings = make_settings()
    run_sync(settings)
    changed = _mutate_one(emulator)
    with build_services(settings) as services:
        faults = GlueFaults().install(services.glue().boto_client)
        faults.fail("UpdateTable", "ConcurrentModificationException", times=losses, status=400)
        report = SyncEngine(services).sync()
        faults.uninstall()
        from core.store import repo

        with services.store().session() as session:
            conflicts = repo.list_conflicts(session=session)
    item = next(i for i in report.items if i.asset in changed)
    assert item.action.value == expected
    if expected == "conflict":
        # A conflict left unresolved is a failure: the table was not written, the run is partial.
        assert item.status == "failed"
        assert "ConcurrentModificationException" in (item.error or "")
        assert item.hint
        assert report.counts["failed"] == 1
        assert report.status == "partial"
        assert item.conflict == "concurrent_modification"
        assert any(c.kind.value == "concurrent_modification" for c in conflicts)
        assert report.rejected["UpdateTable"]["ConcurrentModificationException"] == 2
    else:
        assert report.counts["failed"] == 0
        assert item.status == "recovered"
        assert report.counts["recovered"] == 1
        assert report.status == "succeeded"
        assert not any(c.kind.value == "concurrent_modification" for c in conflicts)


def test_plan_shows_field_diffs_and_impact_of_a_change(make_settings, emulator) -> None:
    settings = make_settings()
    run_sync(settings)
    httpx.post(
        f"{emulator.base_url}/_emulator/mutate",
        json={"count": 1, "seed": 3, "operations": ["change_column"], "space": "SALES"},
    )
    with build_services(settings) as services:
        report = SyncEngine(services).dry_run()
    updates = [i for i in report.plan.items if i.action.value == "update"]
    assert updates
    assert all(i.diffs for i in updates)
    assert all(d.field.startswith(("column.", "Parameters.", "Description")) for i in updates for d in i.diffs)


def test_another_environments_tables_are_never_judged(make_settings, raw_glue, emulator) -> None:
    """Two prefixes (environments) in one account: a sync with `delete` leaves the other's alone."""
    dog = make_settings(deletion_policy="delete")
    run_sync(dog)
    mine = tables_of(raw_glue, make_settings.prefix)
    other = f"o{secrets.token_hex(3)}_"
    raw_glue.create_database(DatabaseInput={"Name": f"{other}mct_demo", "Parameters": {MANAGED_BY: "dgsync", "dgsync.source": "MCT_DEMO"}})
    stray = {"Name": "not_in_the_source", "Parameters": {MANAGED_BY: "dgsync", "dgsync.source": "MCT_DEMO.GONE"}}
    raw_glue.create_table(DatabaseName=f"{other}mct_demo", TableInput=stray)
    report = run_sync(dog)
    assert report.counts["deleted"] == 0
    assert raw_glue.get_table(DatabaseName=f"{other}mct_demo", Name="not_in_the_source")
    assert tables_of(raw_glue, make_settings.prefix).keys() == mine.keys()


def test_a_source_change_made_during_a_run_is_picked_up_by_the_next_run(
    make_settings, emulator, raw_glue, monkeypatch
) -> None:
    """The ETag stored is the one of the version read and written, so a change made while the
    run is in flight is seen as a change next time (no lost in-flight change)."""
    from core.glue.client import GlueClient

    settings = make_settings()
    real_create = GlueClient.create_table
    changed: dict[str, Any] = {}

    def create_and_change_the_source(self: GlueClient, database: str, table_input: Any) -> None:
        real_create(self, database, table_input)
        if not changed and table_input["Name"] == "mct_products":
            # The run has read MCT_Products already; change it in the source right now.
            body = httpx.post(
                f"{emulator.base_url}/_emulator/mutate",
                json={"count": 1, "seed": 1, "operations": ["add_column"], "space": "MCT_DEMO"},
            ).json()
            changed.update(body["changes"][0])

    monkeypatch.setattr(GlueClient, "create_table", create_and_change_the_source)
    first = run_sync(settings)
    assert first.counts["failed"] == 0 and changed
    monkeypatch.setattr(GlueClient, "create_table", real_create)
    key = f"{changed['space']}.{changed['name']}"
    second = run_sync(settings)
    updated = {i.asset for i in second.items if i.action.value == "update"}
    assert key in updated
    third = run_sync(settings)
    assert third.glue_writes == 0
