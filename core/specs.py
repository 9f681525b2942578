"""Glue-side specs: what the mapping engine wants the catalog to hold.

The mapping engine produces :class:`MappingResult` (pure); the planner compares its specs with
the live catalog; the Glue client turns specs into ``DatabaseInput`` / ``TableInput``.

Ownership markers live in ``Parameters`` (Glue tables cannot carry AWS tags), all under the
``dgsync.`` prefix; see :data:`MARKER_KEYS`. The *target hash* is a hash of the intended
``TableInput`` without the markers that change on every write (run id, the hash itself), so
``live_hash == desired_hash`` means "nothing to write".
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.models import AssetRef, Priority, canonical_json


class Action(StrEnum):
    """What happens to one Glue object: the decision of a plan item and the action a run item
    records (one enum for both; ``core.sync.plan.Action`` and ``core.store.schemas.ItemAction``
    are this enum).

    A plan holds only :data:`PLAN_ACTIONS`; ``fail`` is recorded on a run item whose write
    failed (its status is then ``failed``), never planned.
    """

    CREATE = "create"
    UPDATE = "update"
    NOOP = "noop"
    DEPRECATE = "deprecate"
    DELETE = "delete"
    CONFLICT = "conflict"
    SKIP = "skip"
    FAIL = "fail"

    @property
    def writes(self) -> bool:
        return self in {Action.CREATE, Action.UPDATE, Action.DEPRECATE, Action.DELETE}


#: The actions a plan item may carry (every action but ``fail``), in report order.
PLAN_ACTIONS: tuple[Action, ...] = tuple(a for a in Action if a is not Action.FAIL)

MANAGED_BY = "dgsync.managed_by"
MANAGED_BY_VALUE = "dgsync"
SOURCE = "dgsync.source"
SOURCE_KIND = "dgsync.source_kind"
SOURCE_FINGERPRINT = "dgsync.source_fingerprint"
TARGET_HASH = "dgsync.target_hash"
RUN_ID = "dgsync.run_id"
SYNCED_AT = "dgsync.synced_at"
DEPRECATED = "dgsync.deprecated"
DEPRECATED_AT = "dgsync.deprecated_at"

#: Parameters written on every write and therefore left out of the target hash.
VOLATILE_PARAMETERS: frozenset[str] = frozenset({TARGET_HASH, RUN_ID, SYNCED_AT})
MARKER_KEYS: frozenset[str] = frozenset(
    {MANAGED_BY, SOURCE, SOURCE_KIND, SOURCE_FINGERPRINT, TARGET_HASH, RUN_ID, SYNCED_AT}
)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColumnSpec(_Spec):
    name: str
    type: str
    comment: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)

    def to_glue(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": self.name, "Type": self.type}
        if self.comment:
            out["Comment"] = self.comment
        if self.parameters:
            out["Parameters"] = dict(sorted(self.parameters.items()))
        return out


class StorageSpec(_Spec):
    location: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    serde_library: str | None = None
    serde_parameters: dict[str, str] = Field(default_factory=dict)


class DatabaseSpec(_Spec):
    name: str
    description: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    source_space: str

    def to_database_input(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": self.name}
        if self.description:
            out["Description"] = self.description
        if self.parameters:
            out["Parameters"] = dict(sorted(self.parameters.items()))
        return out


class TableSpec(_Spec):
    """The intended Glue table for one Datasphere asset."""

    database: str
    name: str
    description: str | None = None
    table_type: Literal["EXTERNAL_TABLE", "VIRTUAL_VIEW", "GOVERNED"] = "EXTERNAL_TABLE"
    columns: list[ColumnSpec] = Field(default_factory=list)
    partition_keys: list[ColumnSpec] = Field(default_factory=list)
    parameters: dict[str, str] = Field(default_factory=dict)
    storage: StorageSpec | None = None
    view_original_text: str | None = None
    view_expanded_text: str | None = None
    source: AssetRef
    source_fingerprint: str
    priority: Priority = Priority.LOW

    @property
    def key(self) -> str:
        return f"{self.database}.{self.name}"

    def to_table_input(self, *, run_id: str | None = None) -> dict[str, Any]:
        """The Glue ``TableInput``; markers included, ``run_id``/``target_hash`` when given."""
        params = dict(self.parameters)
        if run_id is not None:
            params[RUN_ID] = run_id
            params[TARGET_HASH] = self.target_hash()
        sd: dict[str, Any] = {"Columns": [c.to_glue() for c in self.columns]}
        if self.storage is not None:
            if self.storage.location:
                sd["Location"] = self.storage.location
            if self.storage.input_format:
                sd["InputFormat"] = self.storage.input_format
            if self.storage.output_format:
                sd["OutputFormat"] = self.storage.output_format
            if self.storage.serde_library:
                sd["SerdeInfo"] = {
                    "SerializationLibrary": self.storage.serde_library,
                    "Parameters": dict(sorted(self.storage.serde_parameters.items())),
                }
        out: dict[str, Any] = {
            "Name": self.name,
            "TableType": self.table_type,
            "StorageDescriptor": sd,
            "PartitionKeys": [c.to_glue() for c in self.partition_keys],
            "Parameters": dict(sorted(params.items())),
        }
        if self.description:
            out["Description"] = self.description
        if self.view_original_text:
            out["ViewOriginalText"] = self.view_original_text
        if self.view_expanded_text:
            out["ViewExpandedText"] = self.view_expanded_text
        return out

    def target_hash(self) -> str:
        return table_input_hash(self.to_table_input())


def table_input_hash(table_input: dict[str, Any]) -> str:
    """Hash of a ``TableInput`` (or of a live ``Table`` projected to one) without volatile
    markers. Equal hashes mean an ``UpdateTable`` would change nothing."""
    # The normalised input has no volatile CSN keys: hash its canonical JSON directly.
    return hashlib.sha256(canonical_json(normalise_table_input(table_input)).encode()).hexdigest()


_TABLE_INPUT_FIELDS = (
    "Name",
    "Description",
    "TableType",
    "StorageDescriptor",
    "PartitionKeys",
    "Parameters",
    "ViewOriginalText",
    "ViewExpandedText",
)
_SD_FIELDS = ("Columns", "Location", "InputFormat", "OutputFormat", "SerdeInfo")


def normalise_table_input(table: dict[str, Any]) -> dict[str, Any]:
    """Project a live Glue ``Table`` (or a ``TableInput``) to the comparable fields."""
    out: dict[str, Any] = {}
    for key in _TABLE_INPUT_FIELDS:
        value = table.get(key)
        if value in (None, "", [], {}):
            continue
        if key == "StorageDescriptor":
            sd = {k: value.get(k) for k in _SD_FIELDS if value.get(k) not in (None, "", [], {})}
            if "SerdeInfo" in sd:
                serde = {
                    k: v
                    for k, v in sd["SerdeInfo"].items()
                    if k in ("SerializationLibrary", "Parameters") and v not in (None, {}, "")
                }
                if serde:
                    sd["SerdeInfo"] = serde
                else:
                    del sd["SerdeInfo"]
            sd["Columns"] = [_norm_column(c) for c in sd.get("Columns", [])]
            value = sd
        elif key == "PartitionKeys":
            value = [_norm_column(c) for c in value]
        elif key == "Parameters":
            value = {k: v for k, v in value.items() if k not in VOLATILE_PARAMETERS}
            if not value:
                continue
        out[key] = value
    return out


def _norm_column(col: dict[str, Any]) -> dict[str, Any]:
    return {k: col[k] for k in ("Name", "Type", "Comment", "Parameters") if col.get(k)}


class MappingIssue(_Spec):
    """Something the mapping engine decided that a user should know about."""

    severity: Literal["info", "warning", "error"]
    code: str  # e.g. "name_collision", "unknown_type", "truncated", "excluded"
    asset: str | None = None
    message: str


class LineageEdge(_Spec):
    """An upstream → downstream edge between assets (and, when known, Glue tables)."""

    upstream: AssetRef
    downstream: AssetRef
    kind: str
    via: AssetRef | None = None  # e.g. the data flow that moves the data


class MappingResult(_Spec):
    databases: list[DatabaseSpec] = Field(default_factory=list)
    tables: list[TableSpec] = Field(default_factory=list)
    issues: list[MappingIssue] = Field(default_factory=list)
    lineage: list[LineageEdge] = Field(default_factory=list)
    #: Assets excluded by rules (key → reason).
    skipped: dict[str, str] = Field(default_factory=dict)
