"""Typed shapes of what :class:`core.glue.client.GlueClient` returns.

Databases, tables and partitions are returned as the Glue API shapes them (TypedDicts over
the boto3 response, ``ResponseMetadata`` removed), so the planner can hash and merge them
like any ``Table`` dict; ``dict(table)`` gives a plain ``dict[str, Any]`` where one is needed.
Batch errors are small pydantic models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict

__all__ = [
    "TABLE_INPUT_FIELDS",
    "BatchEntryError",
    "GlueColumn",
    "GlueDatabase",
    "GluePartition",
    "GlueStorageDescriptor",
    "GlueTable",
    "GlueTableVersion",
    "table_to_input",
]


class GlueColumn(TypedDict, total=False):
    Name: str
    Type: str
    Comment: str
    Parameters: dict[str, str]


class GlueStorageDescriptor(TypedDict, total=False):
    Columns: list[GlueColumn]
    Location: str
    InputFormat: str
    OutputFormat: str
    Compressed: bool
    NumberOfBuckets: int
    SerdeInfo: dict[str, Any]
    BucketColumns: list[str]
    SortColumns: list[dict[str, Any]]
    Parameters: dict[str, str]
    StoredAsSubDirectories: bool


class GlueDatabase(TypedDict, total=False):
    Name: str
    Description: str
    LocationUri: str
    Parameters: dict[str, str]
    CreateTime: datetime
    CatalogId: str
    CreateTableDefaultPermissions: list[dict[str, Any]]
    TargetDatabase: dict[str, Any]


class GlueTable(TypedDict, total=False):
    Name: str
    DatabaseName: str
    Description: str
    Owner: str
    CreateTime: datetime
    UpdateTime: datetime
    LastAccessTime: datetime
    LastAnalyzedTime: datetime
    Retention: int
    StorageDescriptor: GlueStorageDescriptor
    PartitionKeys: list[GlueColumn]
    ViewOriginalText: str
    ViewExpandedText: str
    TableType: str
    Parameters: dict[str, str]
    CreatedBy: str
    IsRegisteredWithLakeFormation: bool
    TargetTable: dict[str, Any]
    CatalogId: str
    VersionId: str


class GlueTableVersion(TypedDict, total=False):
    Table: GlueTable
    VersionId: str


class GluePartition(TypedDict, total=False):
    Values: list[str]
    DatabaseName: str
    TableName: str
    CreationTime: datetime
    LastAccessTime: datetime
    StorageDescriptor: GlueStorageDescriptor
    Parameters: dict[str, str]
    CatalogId: str


class BatchEntryError(BaseModel):
    """One entry a batch call could not process (the call itself succeeded)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Table name (BatchDeleteTable) or ``/``-joined partition values (BatchCreatePartition).
    entry: str
    code: str
    message: str


#: The members of ``TableInput`` (the writable part of a ``Table``), from the service model.
TABLE_INPUT_FIELDS: tuple[str, ...] = (
    "Name",
    "Description",
    "Owner",
    "LastAccessTime",
    "LastAnalyzedTime",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "ViewOriginalText",
    "ViewExpandedText",
    "TableType",
    "Parameters",
    "TargetTable",
    "FederatedTable",
    "ViewDefinition",
)


def table_to_input(table: GlueTable | dict[str, Any]) -> dict[str, Any]:
    """Project a live ``Table`` to a ``TableInput`` (drops read-only fields such as
    ``DatabaseName``, ``CreateTime``, ``VersionId``, ``CatalogId``)."""
    source: dict[str, Any] = dict(table)
    return {key: source[key] for key in TABLE_INPUT_FIELDS if key in source}
