"""The fault layer itself: what it emulates on top of moto, and that it stays invisible."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from core.glue.client import GlueClient
from doubles.glue_faults import GlueFaults


def _table(name: str, **params: str) -> dict[str, Any]:
    return {"Name": name, "Parameters": dict(params)}


@pytest.fixture
def tables(raw_glue: Any, glue_database: str) -> list[str]:
    names = [f"t{i}" for i in range(7)]
    for name in names:
        raw_glue.create_table(DatabaseName=glue_database, TableInput=_table(name))
    return names


def test_moto_alone_ignores_max_results(
    raw_glue: Any, glue_database: str, tables: list[str]
) -> None:
    # the gap the layer exists for (if moto starts paging, this test tells us)
    page = raw_glue.get_tables(DatabaseName=glue_database, MaxResults=2)
    assert len(page["TableList"]) == 7
    assert "NextToken" not in page


def test_raw_boto_client_pages_with_opaque_tokens(
    boto_glue: Any, glue_faults: GlueFaults, glue_database: str, tables: list[str]
) -> None:
    seen: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"DatabaseName": glue_database, "MaxResults": 3}
        if token:
            kwargs["NextToken"] = token
        page = boto_glue.get_tables(**kwargs)
        seen += [t["Name"] for t in page["TableList"]]
        token = page.get("NextToken")
        if not token:
            break
        assert glue_database not in token and token != "3"  # opaque
    assert seen == tables
    assert glue_faults.pages["GetTables"] == 3


def test_page_token_is_bound_to_its_operation(
    boto_glue: Any, glue_faults: GlueFaults, glue_database: str, tables: list[str]
) -> None:
    token = boto_glue.get_tables(DatabaseName=glue_database, MaxResults=2)["NextToken"]
    with pytest.raises(ClientError, match="InvalidInputException"):
        boto_glue.get_databases(MaxResults=2, NextToken=token)


def test_forced_page_size_is_smaller_than_max_results(
    boto_glue: Any, glue_faults: GlueFaults, glue_database: str, tables: list[str]
) -> None:
    glue_faults.page_size = 4
    page = boto_glue.get_tables(DatabaseName=glue_database, MaxResults=100)
    assert len(page["TableList"]) == 4 and page["NextToken"]


def test_probes_for_version_checks_are_invisible(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str, tables: list[str]
) -> None:
    glue.update_table(glue_database, _table("t0", a="1"), version_id="1", skip_archive=True)
    assert glue_faults.calls == {"UpdateTable": 1}
    assert glue_faults.attempts == {"UpdateTable": 1}
    assert set(glue.stats.snapshot().by_operation) == {"UpdateTable"}


def test_locking_can_be_switched_off_to_get_moto_behaviour(
    boto_glue: Any, glue_database: str, tables: list[str]
) -> None:
    faults = GlueFaults(optimistic_locking=False).install(boto_glue)
    try:
        boto_glue.update_table(DatabaseName=glue_database, TableInput=_table("t0"), VersionId="999")
    finally:
        faults.uninstall()
    assert faults.conflicts == 0


def test_stale_version_conflicts_on_a_raw_client(
    boto_glue: Any, glue_faults: GlueFaults, glue_database: str, tables: list[str]
) -> None:
    with pytest.raises(boto_glue.exceptions.ConcurrentModificationException):
        boto_glue.update_table(DatabaseName=glue_database, TableInput=_table("t0"), VersionId="7")


def test_wildcard_faults_hit_any_operation_in_order(
    glue: GlueClient, glue_faults: GlueFaults, glue_database: str
) -> None:
    glue_faults.throttle("*", times=2)
    assert glue_faults.pending() == 2
    assert glue.get_database(glue_database) is not None
    assert glue_faults.pending() == 0
    assert glue_faults.injected == {"GetDatabase": 2}


def test_specific_faults_are_consumed_before_wildcards(
    boto_glue: Any, glue_faults: GlueFaults, glue_database: str
) -> None:
    glue_faults.fail("GetDatabase", "AccessDeniedException", times=1)
    glue_faults.throttle("*", times=1)
    with pytest.raises(boto_glue.exceptions.AccessDeniedException):
        boto_glue.get_database(Name=glue_database)
    assert glue_faults.pending("*") == 1
    glue_faults.clear()
    assert glue_faults.pending() == 0 and glue_faults.calls == {}


def test_unreachable_raises_endpoint_connection_error_after_retries(
    boto_glue: Any, glue_faults: GlueFaults
) -> None:
    glue_faults.unreachable("GetDatabases", times=3)
    with pytest.raises(EndpointConnectionError):
        boto_glue.get_databases(MaxResults=1)
    assert glue_faults.attempts["GetDatabases"] == 3


def test_non_retryable_injected_error_is_not_retried(
    boto_glue: Any, glue_faults: GlueFaults
) -> None:
    glue_faults.fail("GetDatabases", "AccessDeniedException", times=5)
    with pytest.raises(ClientError):
        boto_glue.get_databases(MaxResults=1)
    assert glue_faults.attempts["GetDatabases"] == 1
    assert glue_faults.pending("GetDatabases") == 4


def test_uninstall_restores_plain_moto(
    boto_glue: Any, glue_database: str, tables: list[str]
) -> None:
    faults = GlueFaults(page_size=1).install(boto_glue)
    with pytest.raises(RuntimeError):
        faults.install(boto_glue)
    faults.uninstall()
    faults.throttle("GetTables", times=5)
    page = boto_glue.get_tables(DatabaseName=glue_database, MaxResults=2)
    assert len(page["TableList"]) == 7
    assert faults.pending() == 5


def test_request_history_records_parameters(
    glue: GlueClient, glue_faults: GlueFaults, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("nodb")
    glue.get_database(name)
    assert glue_faults.requests("GetDatabase") == [{"Name": name}]


def test_invalid_page_size_refused() -> None:
    with pytest.raises(ValueError):
        GlueFaults(page_size=0)
    with pytest.raises(ValueError):
        GlueFaults().throttle("GetTables", times=0)
