"""Helpers of the end-to-end sync tests (fixtures are in conftest.py)."""

from __future__ import annotations

from typing import Any

from core.services import build_services
from core.settings import Settings
from core.sync.engine import SyncEngine


def tables_of(raw_glue: Any, prefix: str) -> dict[str, dict[str, Any]]:
    """Every table in the test's databases: ``db.table`` → Glue Table."""
    out: dict[str, dict[str, Any]] = {}
    for page in raw_glue.get_paginator("get_databases").paginate():
        for db in page["DatabaseList"]:
            if not db["Name"].startswith(prefix):
                continue
            for tpage in raw_glue.get_paginator("get_tables").paginate(DatabaseName=db["Name"]):
                for table in tpage["TableList"]:
                    out[f"{db['Name']}.{table['Name']}"] = table
    return out


def versions_of(raw_glue: Any, tables: dict[str, dict[str, Any]]) -> dict[str, int]:
    out = {}
    for key in tables:
        db, name = key.split(".", 1)
        out[key] = len(raw_glue.get_table_versions(DatabaseName=db, TableName=name)["TableVersions"])
    return out


def run_sync(settings: Settings, **kwargs: Any) -> Any:
    with build_services(settings) as services:
        return SyncEngine(services).sync(**kwargs)


def columns(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["Name"]: c for c in table["StorageDescriptor"]["Columns"]}



