"""The embedded Glue of dog: moto on loopback, its catalog persisted between starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConcurrentModification, ConfigError
from core.glue.client import GlueClient
from core.glue.session import build_glue_client, make_glue_client
from core.settings import GlueSettings
from core.specs import DatabaseSpec
from doubles.glue_embedded import SNAPSHOT_FORMAT, EmbeddedGlue, start_embedded_glue

# A region no other test uses: starting an embedded Glue resets moto's backend of its region.
REGION = "eu-west-3"
REPO = Path(__file__).resolve().parents[2]


def _client(emb: EmbeddedGlue, session: Any = None) -> GlueClient:
    """A client for ``emb``: credentials from the endpoint registry, or from ``session``
    (a shared one is faster: the Glue service model is loaded once)."""
    settings = GlueSettings(endpoint_url=emb.endpoint_url, region=emb.region)
    if session is None:
        return build_glue_client(settings)
    return GlueClient(make_glue_client(settings, session=session))


def _table(name: str, **params: str) -> dict[str, object]:
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {"Columns": [{"Name": "c", "Type": "int", "Comment": "Größe €"}]},
        "PartitionKeys": [{"Name": "day", "Type": "string"}],
        "Parameters": dict(params),
    }


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    return tmp_path / ".dgsync" / "dog-glue.json"


@pytest.fixture
def no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield
    assert "AWS_ACCESS_KEY_ID" not in os.environ  # dummy credentials never set globally


def _populate(glue: GlueClient) -> None:
    glue.create_database(
        DatabaseSpec(
            name="sales",
            description="Space SALES",
            parameters={"dgsync.managed_by": "dgsync"},
            tags={"owner": "dgsync"},
            source_space="SALES",
        )
    )
    glue.create_table("sales", _table("orders", v="1"))
    glue.update_table("sales", _table("orders", v="2"), version_id="1", skip_archive=False)
    glue.update_table("sales", _table("orders", v="3"), version_id="2", skip_archive=False)
    glue.create_table("sales", _table("customers"))
    assert (
        glue.batch_create_partitions(
            "sales", "orders", [{"Values": ["2024-01-01"]}, {"Values": ["2024-01-02"]}]
        )
        == []
    )


def test_snapshot_round_trip_across_two_starts(snapshot: Path, no_aws_env: None) -> None:
    with start_embedded_glue(snapshot, REGION) as first:
        assert first.endpoint_url.startswith("http://127.0.0.1:")
        glue = _client(first)
        _populate(glue)
        before = glue.get_table("sales", "orders")
    assert not first.running
    data = json.loads(snapshot.read_text(encoding="utf-8"))
    assert data["format"] == SNAPSHOT_FORMAT
    assert [d["name"] for d in data["databases"]] == ["sales"]

    with start_embedded_glue(snapshot, REGION) as second:
        glue = _client(second)
        db = glue.get_database("sales")
        assert db is not None
        assert (db["Description"], db["Parameters"]) == (
            "Space SALES",
            {"dgsync.managed_by": "dgsync"},
        )
        assert glue.get_tags("sales") == {"owner": "dgsync"}
        assert sorted(t["Name"] for t in glue.iter_tables("sales")) == ["customers", "orders"]

        after = glue.get_table("sales", "orders")
        assert before is not None and after is not None
        # restored in place: same version, same timestamps, same content
        assert after["VersionId"] == "3"
        assert after["CreateTime"] == before["CreateTime"]
        assert after["UpdateTime"] == before["UpdateTime"]
        assert after["Parameters"] == {"v": "3"}
        assert after["StorageDescriptor"]["Columns"][0]["Comment"] == "Größe €"
        versions = glue.get_table_versions("sales", "orders")
        assert sorted(v["VersionId"] for v in versions) == ["1", "2", "3"]
        assert {v["VersionId"]: v["Table"]["Parameters"]["v"] for v in versions}["1"] == "1"
        assert sorted(p["Values"][0] for p in glue.get_partitions("sales", "orders")) == [
            "2024-01-01",
            "2024-01-02",
        ]

        # restoration made no request: the new client has only seen the reads above
        assert glue.stats.snapshot().writes == 0

        # update semantics continue: the next update is version 4, stale versions conflict
        glue.update_table("sales", _table("orders", v="4"), version_id="3", skip_archive=False)
        assert (glue.get_table("sales", "orders") or {}).get("VersionId") == "4"
        with pytest.raises(ConcurrentModification):
            glue.update_table("sales", _table("orders", v="5"), version_id="3", skip_archive=False)


def test_embedded_clients_page_like_aws(snapshot: Path, glue_boto_session: Any) -> None:
    with start_embedded_glue(snapshot, REGION) as emb:
        glue = _client(emb, glue_boto_session)
        glue.create_database(DatabaseSpec(name="paged", source_space="S"))
        for i in range(5):
            glue.create_table("paged", _table(f"t{i}"))
        assert len(list(glue.iter_tables("paged", page_size=2))) == 5
        assert glue.stats.snapshot().by_operation["GetTables"].calls == 3


def test_start_without_snapshot_file_is_empty_and_creates_it_on_stop(
    snapshot: Path, glue_boto_session: Any
) -> None:
    assert not snapshot.exists()
    emb = start_embedded_glue(snapshot, REGION)
    try:
        assert list(_client(emb, glue_boto_session).iter_databases()) == []
    finally:
        emb.stop()
    emb.stop()  # idempotent
    assert json.loads(snapshot.read_text(encoding="utf-8"))["databases"] == []
    assert [p.name for p in snapshot.parent.iterdir()] == [snapshot.name]  # no temp files left


def test_start_resets_what_a_previous_start_left_in_this_process(
    snapshot: Path, glue_boto_session: Any
) -> None:
    with start_embedded_glue(snapshot, REGION) as emb:
        _client(emb, glue_boto_session).create_database(
            DatabaseSpec(name="left_over", source_space="S")
        )
    snapshot.unlink()
    with start_embedded_glue(snapshot, REGION) as emb:
        assert _client(emb, glue_boto_session).get_database("left_over") is None


def test_no_snapshot_path_means_nothing_is_written(tmp_path: Path, glue_boto_session: Any) -> None:
    with start_embedded_glue(None, REGION) as emb:
        _client(emb, glue_boto_session).create_database(
            DatabaseSpec(name="volatile", source_space="S")
        )
        emb.save()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "cannot read"),
        ('{"format": "something-else"}', "not an embedded Glue snapshot"),
        (json.dumps({"format": SNAPSHOT_FORMAT, "version": 99}), "newer dgsync"),
    ],
)
def test_unreadable_snapshot_is_a_config_error(snapshot: Path, content: str, fragment: str) -> None:
    snapshot.parent.mkdir(parents=True)
    snapshot.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=fragment) as err:
        start_embedded_glue(snapshot, REGION)
    assert "Delete the file" in err.value.hint or "Upgrade" in err.value.hint


def test_catalog_survives_into_a_new_process(snapshot: Path, no_aws_env: None) -> None:
    # What dog really does: every CLI call is a new process.
    with start_embedded_glue(snapshot, REGION) as emb:
        _populate(_client(emb))
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from doubles.glue_embedded import start_embedded_glue
        from core.glue.session import build_glue_client, make_glue_client
        from core.settings import GlueSettings

        with start_embedded_glue(Path({str(snapshot)!r}), {REGION!r}) as emb:
            glue = build_glue_client(GlueSettings(endpoint_url=emb.endpoint_url, region={REGION!r}))
            table = glue.get_table("sales", "orders")
            glue.update_table("sales", {{"Name": "orders"}}, version_id=table["VersionId"],
                              skip_archive=False)
            print(table["VersionId"], sorted(t["Name"] for t in glue.iter_tables("sales")))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_SHARED_CREDENTIALS_FILE"] = env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "3 ['customers', 'orders']"
    # and the child's update was saved for the next process
    saved = json.loads(snapshot.read_text(encoding="utf-8"))
    orders = next(t for t in saved["databases"][0]["tables"] if t["name"] == "orders")
    assert orders["current_version"] == 4


def test_clients_share_the_fault_queue_and_the_request_log(snapshot: Path, glue_boto_session: Any) -> None:
    from doubles.glue_embedded import running_glue

    with start_embedded_glue(snapshot, REGION) as emb:
        assert running_glue(emb.endpoint_url + "/") is emb
        first, second = _client(emb, glue_boto_session), _client(emb, glue_boto_session)
        emb.faults.throttle("*", times=2)
        list(first.iter_databases())  # consumes both throttles (retried at once)
        assert emb.faults.pending() == 0
        assert first.stats.snapshot().throttles == 2
        list(second.iter_databases())
        assert second.stats.snapshot().throttles == 0
        attempts = emb.requests.entries(path="GetDatabases")
        assert [(e.status, e.fault) for e in attempts] == [
            (200, None), (200, None), (400, "ThrottlingException"), (400, "ThrottlingException")]
        assert all(e.source == "glue" and e.latency_ms >= 0 for e in attempts)
        assert second.get_table("nope", "orders") is None
        (missing,) = emb.requests.entries(path="GetTable")
        assert (missing.path, missing.status) == ("GetTable nope.orders", 400)
        emb.faults.fail("UpdateTable", "ConcurrentModificationException", times=3)
        emb.faults.throttle("*", times=1)
        emb.faults.clear("ConcurrentModificationException")
        assert emb.faults.pending_by_code() == {("*", "ThrottlingException"): 1}
    assert running_glue(emb.endpoint_url) is None
