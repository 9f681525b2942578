"""GlueClient against moto over HTTP: round trips, paging, chunking, errors, statistics."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest

from core.errors import (
    AlreadyExists,
    ConcurrentModification,
    LimitExceeded,
    TargetAccessDenied,
    TargetError,
    TargetNotFound,
    TargetThrottled,
    TargetUnavailable,
)
from core.glue.client import GlueClient
from core.glue.results import TABLE_INPUT_FIELDS, table_to_input
from core.glue.stats import is_write
from core.log import register_secret
from core.models import AssetRef
from core.specs import (
    MANAGED_BY,
    MANAGED_BY_VALUE,
    ColumnSpec,
    DatabaseSpec,
    StorageSpec,
    TableSpec,
    normalise_table_input,
    table_input_hash,
)
from doubles.glue_faults import GlueFaults


def _spec(database: str, name: str = "orders", **overrides: Any) -> TableSpec:
    values: dict[str, Any] = {
        "database": database,
        "name": name,
        "description": "Sales orders — état «final» ✓",
        "columns": [
            ColumnSpec(name="order_id", type="bigint", comment="Primärschlüssel"),
            ColumnSpec(name="amount", type="decimal(15,2)", comment="Betrag in €"),
            ColumnSpec(
                name="items",
                type="array<struct<sku:string,qty:int>>",
                parameters={"sap.type": "cds.Composition"},
            ),
            ColumnSpec(name="created_at", type="timestamp"),
        ],
        "partition_keys": [ColumnSpec(name="year", type="int", comment="Jahr")],
        "parameters": {
            MANAGED_BY: MANAGED_BY_VALUE,
            "dgsync.source": "SALES.ORDERS",
            "classification": "parquet",
        },
        "storage": StorageSpec(
            location="s3://bucket/sales/orders/",
            input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            serde_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            serde_parameters={"serialization.format": "1"},
        ),
        "source": AssetRef(space="SALES", name="ORDERS"),
        "source_fingerprint": "abc",
    }
    values.update(overrides)
    return TableSpec(**values)


def _simple(name: str, **params: str) -> dict[str, Any]:
    return {
        "Name": name,
        "StorageDescriptor": {"Columns": [{"Name": "c", "Type": "int"}]},
        "Parameters": dict(params),
    }


# -- round trips -------------------------------------------------------------------------------


def test_create_get_round_trip_preserves_types_comments_and_parameters(
    glue: GlueClient, glue_database: str
) -> None:
    spec = _spec(glue_database)
    table_input = spec.to_table_input(run_id="run-1")
    glue.create_table(glue_database, table_input)

    live = glue.get_table(glue_database, "orders")
    assert live is not None
    assert live["DatabaseName"] == glue_database
    assert live["VersionId"] == "1"
    assert normalise_table_input(dict(live)) == normalise_table_input(table_input)
    assert table_input_hash(dict(live)) == spec.target_hash()
    cols = live["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"], c.get("Comment")) for c in cols] == [
        ("order_id", "bigint", "Primärschlüssel"),
        ("amount", "decimal(15,2)", "Betrag in €"),
        ("items", "array<struct<sku:string,qty:int>>", None),
        ("created_at", "timestamp", None),
    ]
    assert cols[2]["Parameters"] == {"sap.type": "cds.Composition"}
    assert live["PartitionKeys"] == [{"Name": "year", "Type": "int", "Comment": "Jahr"}]
    assert live["Parameters"]["dgsync.run_id"] == "run-1"
    assert live["Description"] == spec.description


def test_update_with_current_version_id_succeeds_and_bumps_version(
    glue: GlueClient, glue_database: str
) -> None:
    spec = _spec(glue_database)
    glue.create_table(glue_database, spec.to_table_input())
    live = glue.get_table(glue_database, "orders")
    assert live is not None

    changed = _spec(glue_database, description="changed").to_table_input()
    glue.update_table(glue_database, changed, version_id=live["VersionId"], skip_archive=False)

    after = glue.get_table(glue_database, "orders")
    assert after is not None
    assert after["Description"] == "changed"
    assert after["VersionId"] == "2"
    versions = glue.get_table_versions(glue_database, "orders")
    assert sorted(v["VersionId"] for v in versions) == ["1", "2"]


def test_update_with_stale_version_id_raises_concurrent_modification(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str, raw_glue: Any
) -> None:
    glue.create_table(glue_database, _simple("t", a="1"))
    read = glue.get_table(glue_database, "t")
    assert read is not None
    # someone else updates the table after we read it
    raw_glue.update_table(DatabaseName=glue_database, TableInput=_simple("t", a="user"))

    with pytest.raises(ConcurrentModification, match=rf"{glue_database}.t was changed"):
        glue.update_table(
            glue_database, _simple("t", a="2"), version_id=read["VersionId"], skip_archive=False
        )
    live = glue.get_table(glue_database, "t")
    assert live is not None and live["Parameters"] == {"a": "user"}  # not clobbered
    assert glue_faults.conflicts == 1
    snap = glue.stats.snapshot()
    assert snap.errors_by_code == {"ConcurrentModificationException": 1}


def test_update_without_version_id_is_unconditional(glue: GlueClient, glue_database: str) -> None:
    glue.create_table(glue_database, _simple("t"))
    glue.update_table(glue_database, _simple("t", a="1"), version_id=None, skip_archive=False)
    glue.update_table(glue_database, _simple("t", a="2"), version_id=None, skip_archive=False)
    live = glue.get_table(glue_database, "t")
    assert live is not None and live["VersionId"] == "3"


def test_skip_archive_keeps_no_version_of_the_previous_state(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str
) -> None:
    glue.create_table(glue_database, _simple("t"))
    glue.update_table(glue_database, _simple("t", a="1"), version_id="1", skip_archive=True)
    glue.update_table(glue_database, _simple("t", a="2"), version_id="2", skip_archive=False)
    versions = {v["VersionId"] for v in glue.get_table_versions(glue_database, "t")}
    assert versions == {"2", "3"}  # version 1 was not archived by the SkipArchive update
    assert glue_faults.requests("UpdateTable")[0]["SkipArchive"] is True


def test_update_of_missing_table_raises_target_not_found(
    glue: GlueClient, glue_database: str
) -> None:
    with pytest.raises(TargetNotFound, match=rf"UpdateTable on {glue_database}.nope"):
        glue.update_table(glue_database, _simple("nope"), version_id=None, skip_archive=False)


def test_create_existing_table_raises_already_exists(glue: GlueClient, glue_database: str) -> None:
    glue.create_table(glue_database, _simple("t"))
    with pytest.raises(AlreadyExists) as err:
        glue.create_table(glue_database, _simple("t"))
    assert err.value.hint


def test_get_missing_objects_returns_none_without_counting_errors(
    glue: GlueClient, glue_database: str, unique_name: Callable[[str], str]
) -> None:
    assert glue.get_table(glue_database, "missing") is None
    assert glue.get_table(unique_name("nodb"), "missing") is None
    assert glue.get_database(unique_name("nodb")) is None
    assert glue.delete_database(unique_name("nodb")) is False
    assert glue.delete_table(glue_database, "missing") is False
    snap = glue.stats.snapshot()
    assert snap.calls == 5
    assert snap.errors == 0


def test_iter_tables_of_missing_database_raises(
    glue: GlueClient, unique_name: Callable[[str], str]
) -> None:
    with pytest.raises(TargetNotFound):
        list(glue.iter_tables(unique_name("nodb")))


def test_database_lifecycle_with_tags(
    glue: GlueClient, glue_faults: GlueFaults, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("db")
    spec = DatabaseSpec(
        name=name,
        description="Space SALES",
        parameters={MANAGED_BY: MANAGED_BY_VALUE},
        tags={"owner": "data-team", "source": "datasphere"},
        source_space="SALES",
    )
    glue.create_database(spec)
    db = glue.get_database(name)
    assert db is not None
    assert db["Description"] == "Space SALES"
    assert db["Parameters"] == {MANAGED_BY: MANAGED_BY_VALUE}
    assert glue.get_tags(name) == {"owner": "data-team", "source": "datasphere"}
    assert glue.database_arn(name) == f"arn:aws:glue:eu-central-1:{db['CatalogId']}:database/{name}"

    glue.update_database(spec.model_copy(update={"description": "renamed"}))
    db = glue.get_database(name)
    assert db is not None and db["Description"] == "renamed"

    glue.tag_database(name, {"owner": "bi-team", "tier": "gold"})
    assert glue.get_tags(name) == {"owner": "bi-team", "source": "datasphere", "tier": "gold"}

    assert name in {d["Name"] for d in glue.iter_databases()}
    assert glue.delete_database(name) is True
    assert glue.get_database(name) is None


def test_tag_database_refuses_to_exceed_fifty_tags_in_total(
    glue: GlueClient, glue_faults: GlueFaults, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("db")
    glue.create_database(
        DatabaseSpec(name=name, source_space="S", tags={f"k{i}": "v" for i in range(49)})
    )
    glue.tag_database(name, {"k0": "overwrite", "k49": "v"})  # 50 in total
    with pytest.raises(LimitExceeded, match="51 tags"):
        glue.tag_database(name, {"k50": "v"})
    assert len(glue_faults.requests("TagResource")) == 1
    glue.delete_database(name)


def test_catalog_id_is_sent_where_the_operation_accepts_it(
    boto_glue: Any, glue_faults: GlueFaults, glue_database: str
) -> None:
    client = GlueClient(boto_glue, catalog_id="123456789012")
    client.create_table(glue_database, _simple("t"))
    assert client.get_table(glue_database, "t") is not None
    assert client.get_tags(glue_database) == {}
    assert glue_faults.requests("GetTable")[0]["CatalogId"] == "123456789012"
    assert glue_faults.requests("CreateTable")[0]["CatalogId"] == "123456789012"
    assert "CatalogId" not in glue_faults.requests("GetTags")[0]
    # the account of the ARN comes from the catalog id: no GetDatabase lookup
    assert glue_faults.requests("GetDatabase") == []


# -- pagination --------------------------------------------------------------------------------


def test_iter_tables_follows_next_token_across_pages(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str, raw_glue: Any
) -> None:
    names = [f"t{i:02d}" for i in range(10)]
    for name in names:
        raw_glue.create_table(DatabaseName=glue_database, TableInput=_simple(name))
    glue_faults.page_size = 3

    assert [t["Name"] for t in glue.iter_tables(glue_database)] == names

    requests = glue_faults.requests("GetTables")
    assert len(requests) == 4  # 3 + 3 + 3 + 1
    assert all(r["MaxResults"] == 100 for r in requests)  # always explicit
    assert "NextToken" not in requests[0]
    assert all(r.get("NextToken") for r in requests[1:])
    assert glue.stats.snapshot().by_operation["GetTables"].calls == 4


def test_max_results_is_honoured_by_the_fault_layer(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str, raw_glue: Any
) -> None:
    for i in range(5):
        raw_glue.create_table(DatabaseName=glue_database, TableInput=_simple(f"t{i}"))
    assert len(list(glue.iter_tables(glue_database, page_size=2))) == 5
    assert glue_faults.pages["GetTables"] == 3


def test_iter_databases_pages(
    glue: GlueClient, glue_faults: GlueFaults, raw_glue: Any, unique_name: Callable[[str], str]
) -> None:
    mine = [unique_name("pdb") for _ in range(4)]
    for name in mine:
        raw_glue.create_database(DatabaseInput={"Name": name})
    glue_faults.page_size = 2
    seen = [d["Name"] for d in glue.iter_databases()]
    assert set(mine) <= set(seen)
    assert len(seen) == len(set(seen))  # no duplicates across pages
    assert glue_faults.pages["GetDatabases"] >= 2
    for name in mine:
        raw_glue.delete_database(Name=name)


def test_table_versions_are_paged(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str, raw_glue: Any
) -> None:
    raw_glue.create_table(DatabaseName=glue_database, TableInput=_simple("t"))
    for i in range(4):
        raw_glue.update_table(DatabaseName=glue_database, TableInput=_simple("t", v=str(i)))
    glue_faults.page_size = 2
    versions = glue.get_table_versions(glue_database, "t")
    assert sorted(int(v["VersionId"]) for v in versions) == [1, 2, 3, 4, 5]
    assert glue_faults.pages["GetTableVersions"] == 3


def test_partitions_batch_created_in_chunks_and_paged(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str
) -> None:
    table = _simple("events")
    table["PartitionKeys"] = [{"Name": "day", "Type": "string"}]
    glue.create_table(glue_database, table)
    partitions = [{"Values": [f"2024-01-{i:03d}"]} for i in range(150)]

    errors = glue.batch_create_partitions(glue_database, "events", partitions)

    assert errors == []
    sizes = [len(r["PartitionInputList"]) for r in glue_faults.requests("BatchCreatePartition")]
    assert sizes == [100, 50]

    glue_faults.page_size = 40
    got = glue.get_partitions(glue_database, "events")
    assert len(got) == 150
    assert glue_faults.requests("GetPartitions")[0]["MaxResults"] == 1000
    assert glue_faults.pages["GetPartitions"] == 4

    again = glue.batch_create_partitions(glue_database, "events", partitions[:2])
    assert [(e.entry, e.code) for e in again] == [
        ("2024-01-000", "AlreadyExistsException"),
        ("2024-01-001", "AlreadyExistsException"),
    ]


def test_invalid_next_token_is_refused_by_the_fault_layer(
    boto_glue: Any, glue_faults: GlueFaults, glue_database: str
) -> None:
    with pytest.raises(boto_glue.exceptions.InvalidInputException):
        boto_glue.get_tables(DatabaseName=glue_database, MaxResults=10, NextToken="bogus")


# -- batch delete ------------------------------------------------------------------------------


def test_batch_delete_of_250_names_makes_three_calls_and_reports_per_name_errors(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str, raw_glue: Any
) -> None:
    existing = [f"keep{i}" for i in range(3)] + [f"del{i}" for i in range(5)]
    for name in existing:
        raw_glue.create_table(DatabaseName=glue_database, TableInput=_simple(name))
    doomed = [f"del{i}" for i in range(5)] + [f"ghost{i:03d}" for i in range(245)]
    assert len(doomed) == 250

    errors = glue.batch_delete_tables(glue_database, [*doomed, "del0"])  # duplicate ignored

    sizes = [len(r["TablesToDelete"]) for r in glue_faults.requests("BatchDeleteTable")]
    assert sizes == [100, 100, 50]
    assert set(errors) == {f"ghost{i:03d}" for i in range(245)}
    assert {e.code for e in errors.values()} == {"EntityNotFoundException"}
    left = {t["Name"] for t in glue.iter_tables(glue_database)}
    assert left == {"keep0", "keep1", "keep2"}
    snap = glue.stats.snapshot()
    assert snap.by_operation["BatchDeleteTable"].calls == 3
    assert snap.writes == 3


def test_batch_delete_of_nothing_makes_no_call(glue: GlueClient, glue_faults: GlueFaults) -> None:
    assert glue.batch_delete_tables("db", []) == {}
    assert glue_faults.calls == {}


# -- throttling and error translation ----------------------------------------------------------


def test_throttles_retried_by_botocore_are_counted(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str
) -> None:
    glue_faults.throttle("GetDatabase", times=2)  # 3 attempts allowed: the third succeeds
    assert glue.get_database(glue_database) is not None
    snap = glue.stats.snapshot()
    assert snap.calls == 1
    assert snap.throttles == 2
    assert snap.retries == 2
    assert snap.throttled_calls == 0
    assert snap.errors == 0
    assert glue_faults.attempts["GetDatabase"] == 3


def test_throttling_beyond_retries_raises_target_throttled(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str
) -> None:
    glue_faults.throttle("GetTables", times=3)
    with pytest.raises(TargetThrottled, match="after 3 attempt") as err:
        list(glue.iter_tables(glue_database))
    assert "DGSYNC_GLUE__CALLS_PER_SECOND" in err.value.hint
    snap = glue.stats.snapshot()
    assert (snap.throttles, snap.retries, snap.throttled_calls) == (3, 2, 1)
    assert snap.errors_by_code == {"ThrottlingException": 1}
    assert snap.by_operation["GetTables"].errors == 1


def test_rate_exceeded_message_is_throttling_whatever_the_code(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str
) -> None:
    glue_faults.fail("GetTable", "GlueException", "Rate exceeded")
    with pytest.raises(TargetThrottled):
        glue.get_table(glue_database, "t")


@pytest.mark.parametrize(
    ("code", "message", "status", "times", "expected", "hint_fragment"),
    [
        (
            "AccessDeniedException",
            "User is not authorized",
            400,
            1,
            TargetAccessDenied,
            "iam-policy",
        ),
        (
            "AccessDeniedException",
            "Insufficient Lake Formation permission(s) on orders",
            400,
            1,
            TargetAccessDenied,
            "Lake Formation",
        ),
        ("UnrecognizedClientException", "bad token", 400, 1, TargetAccessDenied, "credentials"),
        ("InternalServiceException", "boom", 500, 3, TargetUnavailable, "retry later"),
        ("ResourceNumberLimitExceededException", "too many", 400, 1, LimitExceeded, "quota"),
        ("InvalidInputException", "bad", 400, 1, TargetError, "report it"),
        ("GlueEncryptionException", "kms", 400, 1, TargetError, "IAM"),
    ],
)
def test_aws_errors_are_translated(
    glue: GlueClient,
    glue_faults: GlueFaults,
    glue_database: str,
    code: str,
    message: str,
    status: int,
    times: int,
    expected: type[Exception],
    hint_fragment: str,
) -> None:
    glue_faults.fail("CreateTable", code, message, times=times, status=status)
    with pytest.raises(expected) as err:
        glue.create_table(glue_database, _simple("t"))
    assert type(err.value) is expected
    assert code in str(err.value)
    assert f"{glue_database}.t" in str(err.value)
    assert hint_fragment in err.value.hint  # type: ignore[attr-defined]
    assert glue.stats.snapshot().errors_by_code == {code: 1}


def test_unreachable_endpoint_raises_target_unavailable(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str
) -> None:
    glue_faults.unreachable("GetTable", times=3)
    with pytest.raises(TargetUnavailable, match="cannot reach Glue"):
        glue.get_table(glue_database, "t")
    assert glue.stats.snapshot().retries == 2


def test_real_connection_refused_raises_target_unavailable(
    glue_boto_session: Any,
) -> None:
    from core.glue.session import make_glue_client
    from core.settings import GlueSettings

    settings = GlueSettings(endpoint_url="http://127.0.0.1:9", max_attempts=1, connect_timeout_s=1)
    client = GlueClient(make_glue_client(settings, session=glue_boto_session))
    with pytest.raises(TargetUnavailable) as err:
        client.get_database("x")
    assert "DGSYNC_GLUE__ENDPOINT_URL" in err.value.hint


def test_error_messages_never_carry_registered_secrets(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str
) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRET"
    register_secret(secret)
    glue_faults.fail("GetTable", "AccessDeniedException", f"denied for key {secret}")
    with pytest.raises(TargetAccessDenied) as err:
        glue.get_table(glue_database, "t")
    assert secret not in str(err.value)


# -- statistics --------------------------------------------------------------------------------


def test_stats_split_reads_and_writes_and_reset(glue: GlueClient, glue_database: str) -> None:
    glue.create_table(glue_database, _simple("t"))
    glue.get_table(glue_database, "t")
    glue.update_table(glue_database, _simple("t", a="1"), version_id=None, skip_archive=False)
    list(glue.iter_tables(glue_database))
    glue.batch_delete_tables(glue_database, ["t"])
    snap = glue.stats.snapshot()
    assert (snap.calls, snap.reads, snap.writes) == (5, 2, 3)
    assert snap.by_operation["CreateTable"].calls == 1

    previous = glue.stats.reset()
    assert previous == snap
    assert glue.stats.snapshot().calls == 0


def test_stats_are_thread_safe(glue: GlueClient, glue_database: str) -> None:
    barrier = threading.Barrier(6)

    def worker() -> None:
        barrier.wait()
        for _ in range(5):
            glue.get_database(glue_database)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert glue.stats.snapshot().by_operation["GetDatabase"].calls == 30


@pytest.mark.parametrize(
    ("operation", "write"),
    [
        ("CreateTable", True),
        ("UpdateTable", True),
        ("DeleteDatabase", True),
        ("BatchDeleteTable", True),
        ("BatchCreatePartition", True),
        ("TagResource", True),
        ("UntagResource", True),
        ("GetTables", False),
        ("GetTags", False),
        ("BatchGetPartition", False),
    ],
)
def test_write_classification(operation: str, write: bool) -> None:
    assert is_write(operation) is write


# -- result helpers ----------------------------------------------------------------------------


def test_table_input_fields_match_the_service_model() -> None:
    model = botocore.session.get_session().get_service_model("glue")
    assert set(TABLE_INPUT_FIELDS) == set(model.shape_for("TableInput").members)


def test_live_table_projects_to_a_table_input_accepted_by_update(
    glue: GlueClient, glue_database: str
) -> None:
    glue.create_table(glue_database, _spec(glue_database).to_table_input())
    live = glue.get_table(glue_database, "orders")
    assert live is not None
    body = table_to_input(live)
    assert not {"DatabaseName", "CreateTime", "VersionId", "CatalogId"} & set(body)
    glue.update_table(glue_database, body, version_id=live["VersionId"], skip_archive=False)
