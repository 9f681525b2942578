"""AWS Glue request limits, checked before a request leaves the process.

Neither boto3 nor moto enforce most of these (see ``../shared/docs/glue-reference.md``), so a
request that AWS would refuse must be caught here, with a message that names the object
(``database.table.column``) and the limit it breaks. :func:`validate_request` is called by
:class:`core.glue.client.GlueClient` for every operation; the field validators are public so
the mapping engine can check a spec early.

Units: names, texts and ``Parameters`` are measured in UTF-8 bytes (the conservative reading
of the service model); tag keys and values in characters, as AWS tagging documents them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from core.errors import LimitExceeded
from core.textutil import truncate_utf8, utf8_len

__all__ = [
    "BATCH_LIMITS",
    "PAGE_LIMITS",
    "check_batch_size",
    "check_max_results",
    "check_tags",
    "truncate_utf8",
    "utf8_len",
    "validate_database_input",
    "validate_name",
    "validate_partition_input",
    "validate_request",
    "validate_table_input",
]

MAX_NAME_BYTES = 255
MAX_DESCRIPTION_BYTES = 2048
MAX_COMMENT_BYTES = 255
MAX_COLUMN_TYPE_BYTES = 131_072
MAX_PARAMETER_KEY_BYTES = 255
MAX_PARAMETER_VALUE_BYTES = 512_000
MAX_VIEW_TEXT_BYTES = 409_600
MAX_LOCATION_BYTES = 2056
MAX_PARTITION_VALUE_BYTES = 1024
MAX_EXPRESSION_BYTES = 2048
MAX_VERSION_ID_BYTES = 255
MAX_TAGS_PER_RESOURCE = 50
MAX_TAG_KEY_CHARS = 128
MAX_TAG_VALUE_CHARS = 256

#: Maximum list length per batch operation (and the list parameter that carries it).
BATCH_LIMITS: dict[str, tuple[str, int]] = {
    "BatchDeleteTable": ("TablesToDelete", 100),
    "BatchCreatePartition": ("PartitionInputList", 100),
    "BatchUpdatePartition": ("Entries", 100),
    "BatchDeletePartition": ("PartitionsToDelete", 25),
    "BatchGetPartition": ("PartitionsToGet", 1000),
    "BatchDeleteTableVersion": ("VersionIds", 100),
}

#: Allowed ``MaxResults`` range per paginated operation.
PAGE_LIMITS: dict[str, tuple[int, int]] = {
    "GetDatabases": (1, 100),
    "GetTables": (1, 100),
    "GetTableVersions": (1, 100),
    "GetPartitions": (1, 1000),
}

_ATHENA_NAME = re.compile(r"[a-z0-9_]+")
# The service model's pattern for names and single-line texts: no control characters but tab.
_SINGLE_LINE = re.compile(r"[\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff\t]*")
_MULTI_LINE = re.compile(r"[\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff\t\r\n]*")

_HINT_BUG = "This is a dgsync defect (the client must chunk or page requests); please report it."
_HINT_TAGS = "Reduce or shorten the tags in the mapping rules; keys must not start with 'aws:'."


def _fail(obj: str, message: str, *, hint: str | None = None) -> LimitExceeded:
    return LimitExceeded(f"{obj}: {message}", hint=hint)


def _check_bytes(
    obj: str, what: str, value: str, limit: int, *, minimum: int = 0, multiline: bool = False
) -> None:
    size = utf8_len(value)
    if size > limit:
        raise _fail(obj, f"{what} is {size} bytes; the Glue limit is {limit} bytes")
    if size < minimum:
        raise _fail(obj, f"{what} is empty; Glue needs at least {minimum} byte(s)")
    pattern = _MULTI_LINE if multiline else _SINGLE_LINE
    if pattern.fullmatch(value) is None:
        raise _fail(obj, f"{what} contains control characters, which Glue refuses")


def _check_str(obj: str, what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(obj, f"{what} must be a string, not {type(value).__name__}")
    return value


def validate_name(kind: str, name: Any, *, obj: str | None = None, athena: bool = True) -> None:
    """Check a database, table or column name: 1–255 bytes, Hive lowercase, Athena charset.

    ``athena=False`` keeps the length and lowercase rules only (for names dgsync reads or
    deletes but did not choose).
    """
    where = obj or (name if isinstance(name, str) else "?")
    name = _check_str(where, f"{kind} name", name)
    _check_bytes(where, f"{kind} name {name!r}", name, MAX_NAME_BYTES, minimum=1)
    if athena:
        if _ATHENA_NAME.fullmatch(name) is None:
            raise _fail(
                where,
                f"{kind} name {name!r} must use only a-z, 0-9 and _ (Athena); Glue stores "
                "names lowercase",
                hint="Rename it with a mapping rule (the default rules normalise names).",
            )
    elif name != name.lower():
        raise _fail(
            where,
            f"{kind} name {name!r} has upper-case letters; Glue stores names lowercase",
            hint="Rename it with a mapping rule (the default rules normalise names).",
        )


def _lenient_name(kind: str, name: Any, obj: str | None = None) -> None:
    where = obj or (name if isinstance(name, str) else "?")
    name = _check_str(where, f"{kind} name", name)
    _check_bytes(where, f"{kind} name {name!r}", name, MAX_NAME_BYTES, minimum=1)


def validate_parameters(obj: str, parameters: Any, *, what: str = "Parameters") -> None:
    """Check a ``Parameters`` map: keys 1–255 bytes, values ≤ 512,000 bytes, strings only."""
    if parameters is None:
        return
    if not isinstance(parameters, Mapping):
        raise _fail(obj, f"{what} must be a mapping of strings")
    for key, value in parameters.items():
        key = _check_str(obj, f"{what} key", key)
        _check_bytes(obj, f"{what} key {key[:40]!r}", key, MAX_PARAMETER_KEY_BYTES, minimum=1)
        value = _check_str(obj, f"{what}[{key!r}]", value)
        size = utf8_len(value)
        if size > MAX_PARAMETER_VALUE_BYTES:
            raise _fail(
                obj,
                f"{what}[{key!r}] is {size} bytes; the Glue limit is "
                f"{MAX_PARAMETER_VALUE_BYTES} bytes",
            )


def _validate_columns(obj: str, columns: Any, *, kind: str, athena: bool) -> None:
    if columns is None:
        return
    if not isinstance(columns, list):
        raise _fail(obj, f"{kind}s must be a list")
    for col in columns:
        if not isinstance(col, Mapping):
            raise _fail(obj, f"each {kind} must be a mapping")
        name = col.get("Name")
        where = f"{obj}.{name}" if isinstance(name, str) else obj
        validate_name(kind, name, obj=where, athena=athena)
        col_type = col.get("Type")
        if col_type is not None:
            _check_bytes(
                where, f"{kind} Type", _check_str(where, "Type", col_type), MAX_COLUMN_TYPE_BYTES
            )
        comment = col.get("Comment")
        if comment is not None:
            _check_bytes(
                where,
                f"{kind} Comment",
                _check_str(where, "Comment", comment),
                MAX_COMMENT_BYTES,
            )
        validate_parameters(where, col.get("Parameters"), what=f"{kind} Parameters")


def _validate_storage(obj: str, sd: Any, *, athena: bool) -> None:
    if sd is None:
        return
    if not isinstance(sd, Mapping):
        raise _fail(obj, "StorageDescriptor must be a mapping")
    _validate_columns(obj, sd.get("Columns"), kind="column", athena=athena)
    location = sd.get("Location")
    if location is not None:
        _check_bytes(
            obj,
            "StorageDescriptor.Location",
            _check_str(obj, "Location", location),
            MAX_LOCATION_BYTES,
            multiline=True,
        )
    validate_parameters(obj, sd.get("Parameters"), what="StorageDescriptor.Parameters")
    serde = sd.get("SerdeInfo")
    if isinstance(serde, Mapping):
        validate_parameters(obj, serde.get("Parameters"), what="SerdeInfo.Parameters")


def _check_description(obj: str, description: Any) -> None:
    if description is not None:
        _check_bytes(
            obj,
            "Description",
            _check_str(obj, "Description", description),
            MAX_DESCRIPTION_BYTES,
            multiline=True,
        )


def validate_database_input(database_input: Any, *, athena: bool = True) -> None:
    """Check a ``DatabaseInput`` (name, Description, LocationUri, Parameters)."""
    if not isinstance(database_input, Mapping):
        raise _fail("?", "DatabaseInput must be a mapping")
    name = database_input.get("Name")
    validate_name("database", name, athena=athena)
    obj = str(name)
    _check_description(obj, database_input.get("Description"))
    location = database_input.get("LocationUri")
    if location is not None:
        _check_bytes(obj, "LocationUri", _check_str(obj, "LocationUri", location), 1024, minimum=1)
    validate_parameters(obj, database_input.get("Parameters"))


def validate_table_input(database: str, table_input: Any, *, athena: bool = True) -> None:
    """Check a ``TableInput``: names, texts, columns, partition keys, Parameters, view text."""
    if not isinstance(table_input, Mapping):
        raise _fail(database, "TableInput must be a mapping")
    name = table_input.get("Name")
    validate_name("table", name, obj=f"{database}.{name}", athena=athena)
    obj = f"{database}.{name}"
    _check_description(obj, table_input.get("Description"))
    _validate_storage(obj, table_input.get("StorageDescriptor"), athena=athena)
    _validate_columns(obj, table_input.get("PartitionKeys"), kind="partition key", athena=athena)
    validate_parameters(obj, table_input.get("Parameters"))
    for key in ("ViewOriginalText", "ViewExpandedText"):
        text = table_input.get(key)
        if text is not None:
            text = _check_str(obj, key, text)
            size = utf8_len(text)
            if size > MAX_VIEW_TEXT_BYTES:
                raise _fail(
                    obj, f"{key} is {size} bytes; the Glue limit is {MAX_VIEW_TEXT_BYTES} bytes"
                )


def validate_partition_input(obj: str, partition_input: Any) -> None:
    """Check a ``PartitionInput``: values ≤ 1024 bytes, storage and Parameters limits."""
    if not isinstance(partition_input, Mapping):
        raise _fail(obj, "PartitionInput must be a mapping")
    values = partition_input.get("Values")
    if not isinstance(values, list):
        raise _fail(obj, "PartitionInput.Values must be a list of strings")
    where = f"{obj}[{'/'.join(str(v) for v in values)}]"
    for value in values:
        value = _check_str(where, "partition value", value)
        size = utf8_len(value)
        if size > MAX_PARTITION_VALUE_BYTES:
            raise _fail(
                where,
                f"partition value is {size} bytes; the Glue limit is "
                f"{MAX_PARTITION_VALUE_BYTES} bytes",
            )
    _validate_storage(where, partition_input.get("StorageDescriptor"), athena=False)
    validate_parameters(where, partition_input.get("Parameters"))


def check_tags(obj: str, tags: Any, *, existing: Iterable[str] = ()) -> None:
    """Check tags: ≤ 50 per resource (counting ``existing`` keys), key 1–128 characters,
    value ≤ 256 characters, no key with the reserved ``aws:`` prefix."""
    if tags is None:
        return
    if not isinstance(tags, Mapping):
        raise _fail(obj, "tags must be a mapping of strings", hint=_HINT_TAGS)
    total = len(set(existing) | set(tags))
    if total > MAX_TAGS_PER_RESOURCE:
        raise _fail(
            obj,
            f"{total} tags; Glue allows at most {MAX_TAGS_PER_RESOURCE} per resource",
            hint=_HINT_TAGS,
        )
    for key, value in tags.items():
        key = _check_str(obj, "tag key", key)
        if not 1 <= len(key) <= MAX_TAG_KEY_CHARS:
            raise _fail(
                obj,
                f"tag key {key[:40]!r} is {len(key)} characters; Glue allows 1–{MAX_TAG_KEY_CHARS}",
                hint=_HINT_TAGS,
            )
        if key.lower().startswith("aws:"):
            raise _fail(obj, f"tag key {key!r} uses the reserved 'aws:' prefix", hint=_HINT_TAGS)
        value = _check_str(obj, f"tag {key!r}", value)
        if len(value) > MAX_TAG_VALUE_CHARS:
            raise _fail(
                obj,
                f"tag {key!r} value is {len(value)} characters; Glue allows at most "
                f"{MAX_TAG_VALUE_CHARS}",
                hint=_HINT_TAGS,
            )


def check_batch_size(operation: str, size: int) -> None:
    """Refuse a batch request longer than the operation allows."""
    limit = BATCH_LIMITS[operation][1]
    if size > limit:
        raise _fail(
            operation,
            f"{size} entries in one request; Glue allows at most {limit}",
            hint=_HINT_BUG,
        )


def check_max_results(operation: str, max_results: Any) -> None:
    """Refuse a ``MaxResults`` outside the operation's range."""
    low, high = PAGE_LIMITS[operation]
    if not isinstance(max_results, int) or isinstance(max_results, bool):
        raise _fail(operation, "MaxResults must be an integer", hint=_HINT_BUG)
    if not low <= max_results <= high:
        raise _fail(
            operation,
            f"MaxResults={max_results}; Glue allows {low}–{high}",
            hint=_HINT_BUG,
        )


def validate_request(operation: str, params: Mapping[str, Any], *, athena: bool = True) -> None:
    """Check one Glue request against every documented limit; raise :class:`LimitExceeded`.

    ``athena`` applies the Athena name rule (``[a-z0-9_]``) to names dgsync writes.
    Operations without known limits pass unchecked.
    """
    if operation in PAGE_LIMITS and "MaxResults" in params:
        check_max_results(operation, params["MaxResults"])
    if operation in BATCH_LIMITS:
        key = BATCH_LIMITS[operation][0]
        entries = params.get(key) or []
        check_batch_size(operation, len(entries))
    database = params.get("DatabaseName")
    if database is not None:
        _lenient_name("database", database)
    db = str(database)
    if "Expression" in params and params["Expression"] is not None:
        _check_bytes(
            operation,
            "Expression",
            _check_str(operation, "Expression", params["Expression"]),
            MAX_EXPRESSION_BYTES,
            multiline=True,
        )
    if "VersionId" in params and params["VersionId"] is not None:
        _check_bytes(
            operation,
            "VersionId",
            _check_str(operation, "VersionId", params["VersionId"]),
            MAX_VERSION_ID_BYTES,
            minimum=1,
        )

    if operation == "CreateDatabase":
        validate_database_input(params.get("DatabaseInput"), athena=athena)
        name = (params.get("DatabaseInput") or {}).get("Name")
        check_tags(str(name), params.get("Tags"))
    elif operation == "UpdateDatabase":
        _lenient_name("database", params.get("Name"))
        validate_database_input(params.get("DatabaseInput"), athena=athena)
    elif operation in ("GetDatabase", "DeleteDatabase"):
        _lenient_name("database", params.get("Name"))
    elif operation in ("CreateTable", "UpdateTable"):
        validate_table_input(db, params.get("TableInput"), athena=athena)
        if operation == "UpdateTable" and params.get("Name") is not None:
            _lenient_name("table", params["Name"], obj=f"{db}.{params['Name']}")
    elif operation in ("GetTable", "DeleteTable"):
        _lenient_name("table", params.get("Name"), obj=f"{db}.{params.get('Name')}")
    elif operation == "BatchDeleteTable":
        for name in params.get("TablesToDelete") or []:
            _lenient_name("table", name, obj=f"{db}.{name}")
    elif operation in ("GetTableVersions", "GetPartitions", "BatchCreatePartition"):
        table = params.get("TableName")
        _lenient_name("table", table, obj=f"{db}.{table}")
        if operation == "BatchCreatePartition":
            for part in params.get("PartitionInputList") or []:
                validate_partition_input(f"{db}.{table}", part)
    elif operation == "TagResource":
        check_tags(str(params.get("ResourceArn")), params.get("TagsToAdd"))
    elif operation == "UntagResource":
        keys = params.get("TagsToRemove") or []
        if len(keys) > MAX_TAGS_PER_RESOURCE:
            raise _fail(
                str(params.get("ResourceArn")),
                f"{len(keys)} tag keys to remove; Glue allows at most {MAX_TAGS_PER_RESOURCE}",
                hint=_HINT_BUG,
            )
