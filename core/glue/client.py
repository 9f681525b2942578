"""The one place in dgsync that talks to the boto3 Glue client.

Every request goes through :meth:`GlueClient._call`, which

1. validates it against the documented Glue limits (:mod:`core.glue.limits`) — AWS would
   refuse it, moto would silently accept it;
2. adds ``CatalogId`` when one is configured;
3. waits for the client-side token bucket (:mod:`core.glue.ratelimit`);
4. calls boto3 (botocore's retries run inside that call; throttled attempts feed the
   adaptive token bucket, which lowers its rate and paces their retries, and successful
   attempts raise the rate back — see :meth:`GlueClient._on_pacing`);
5. counts it in :attr:`GlueClient.stats` (attempts and throttled attempts are observed on
   botocore's ``needs-retry`` event, so retries botocore hides are counted too);
6. translates botocore exceptions into the :class:`core.errors.TargetError` family
   (:mod:`core.glue.translate`).

Pagination always passes an explicit ``MaxResults`` and follows ``NextToken``; batch calls
are chunked to their limits and return per-entry errors instead of raising.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from botocore import xform_name
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)

from core.errors import (
    DgsyncError,
    TargetAccessDenied,
    TargetError,
    TargetNotFound,
    TargetThrottled,
)
from core.glue import limits
from core.glue.ratelimit import AdaptiveRateLimiter, RateLimiter
from core.glue.results import (
    BatchEntryError,
    GlueDatabase,
    GluePartition,
    GlueTable,
    GlueTableVersion,
)
from core.glue.stats import CallStats
from core.glue.translate import (
    THROTTLE_STATUS,
    THROTTLING_CODES,
    describe,
    is_throttle,
    translate_botocore,
    translate_client_error,
)
from core.log import get_logger, redact
from core.specs import DatabaseSpec

log = get_logger(__name__)

__all__ = ["THROTTLE_ATTEMPTS_FACTOR", "THROTTLING_CODES", "GlueClient"]

#: A throttled call paced by an adaptive limiter may take this many times
#: ``DGSYNC_GLUE__MAX_ATTEMPTS`` attempts before it fails with TargetThrottled.
THROTTLE_ATTEMPTS_FACTOR = 3
_PAGE_SIZE = 100
_PARTITION_PAGE_SIZE = 1000


@dataclass
class _CallState:
    operation: str
    attempts: int = 0
    throttles: int = 0


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class GlueClient:
    """Validated, rate-limited, counted access to the Glue Data Catalog.

    ``boto_client`` is a boto3 ``glue`` client (see :func:`core.glue.session.make_glue_client`);
    ``catalog_id`` the owning account for cross-account catalogs; ``limiter`` a token bucket;
    ``athena_names`` enforces ``[a-z0-9_]`` on names dgsync writes.
    """

    def __init__(
        self,
        boto_client: Any,
        *,
        catalog_id: str | None = None,
        limiter: RateLimiter | None = None,
        athena_names: bool = True,
    ) -> None:
        self._boto = boto_client
        self.catalog_id = catalog_id
        self.limiter = limiter
        self.athena_names = athena_names
        self.stats = CallStats()
        self._local = threading.local()
        self._account_id: str | None = catalog_id
        self._catalog_id_ops: dict[str, bool] = {}
        boto_client.meta.events.register(
            "needs-retry.glue", self._on_attempt, unique_id=f"dgsync-glue-stats-{id(self)}"
        )
        # Throttle feedback into the limiter, and throttled attempts retried at its pace.
        boto_client.meta.events.register_first(
            "needs-retry.glue", self._on_pacing, unique_id=f"dgsync-glue-pacing-{id(self)}"
        )
        retries = getattr(boto_client.meta.config, "retries", None) or {}
        self._max_attempts = int(
            retries.get("total_max_attempts") or (retries.get("max_attempts", 4) + 1)
        )

    @property
    def boto_client(self) -> Any:
        """The wrapped boto3 client (for test fault layers; dgsync code must not call it)."""
        return self._boto

    @property
    def region(self) -> str:
        return str(self._boto.meta.region_name)

    # -- the one call path -----------------------------------------------------------------
    def _on_attempt(
        self,
        *,
        response: Any = None,
        caught_exception: Any = None,
        operation: Any = None,
        attempts: int = 1,
        **_: Any,
    ) -> None:
        """botocore ``needs-retry`` hook: observe every HTTP attempt of the current call."""
        state: _CallState | None = getattr(self._local, "call", None)
        if state is None or getattr(operation, "name", None) != state.operation:
            return None
        state.attempts = max(state.attempts, attempts)
        if response is not None:
            error = (response[1] or {}).get("Error") or {}
            if is_throttle(str(error.get("Code", "")), str(error.get("Message", ""))):
                state.throttles += 1
        return None

    def _on_pacing(
        self, *, response: Any = None, attempts: int = 1, **_: Any
    ) -> float | None:
        """botocore ``needs-retry`` hook (runs first): tell an adaptive limiter about each
        attempt's outcome; retry a throttled attempt after the limiter's (lowered) interval
        instead of botocore's exponential backoff, up to ``THROTTLE_ATTEMPTS_FACTOR`` times
        the configured attempts (paced retries add no load: the rate is already lowered).
        ``None`` leaves the decision to botocore (other errors, last attempt)."""
        limiter = self.limiter
        if not isinstance(limiter, AdaptiveRateLimiter) or response is None:
            return None
        http, parsed = response
        status = int(getattr(http, "status_code", 0) or 0)
        error = (parsed or {}).get("Error") or {}
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        if status < 300 and not code:
            limiter.on_success()
            return None
        if not (is_throttle(code, message) or status in THROTTLE_STATUS):
            return None
        limiter.on_throttle()
        if attempts >= THROTTLE_ATTEMPTS_FACTOR * self._max_attempts:
            return None
        return limiter.reserve()

    def _accepts_catalog_id(self, operation: str) -> bool:
        known = self._catalog_id_ops.get(operation)
        if known is None:
            model = self._boto.meta.service_model.operation_model(operation)
            known = "CatalogId" in model.input_shape.members
            self._catalog_id_ops[operation] = known
        return known

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Validate, rate-limit, send, count and translate one Glue request."""
        response = self._execute(operation, params, missing_ok=False)
        assert response is not None
        return response

    def _call_or_none(self, operation: str, **params: Any) -> dict[str, Any] | None:
        """Like :meth:`_call`, but ``EntityNotFoundException`` gives ``None``."""
        return self._execute(operation, params, missing_ok=True)

    def _execute(
        self, operation: str, params: dict[str, Any], *, missing_ok: bool
    ) -> dict[str, Any] | None:
        limits.validate_request(operation, params, athena=self.athena_names)
        if self.catalog_id and "CatalogId" not in params and self._accepts_catalog_id(operation):
            params["CatalogId"] = self.catalog_id
        waited = self.limiter.acquire() if self.limiter is not None else 0.0
        state = _CallState(operation)
        previous = getattr(self._local, "call", None)
        self._local.call = state
        error_code: str | None = None
        throttled = False
        started = time.perf_counter()
        try:
            method = getattr(self._boto, xform_name(operation))
            response = cast(dict[str, Any], method(**params))
        except ClientError as exc:
            error = exc.response.get("Error") or {}
            code = str(error.get("Code") or "Unknown")
            message = str(error.get("Message") or "")
            if missing_ok and code == "EntityNotFoundException":
                return None
            error_code = code
            translated = translate_client_error(operation, params, code, message, attempts=state.attempts)
            throttled = isinstance(translated, TargetThrottled)
            if isinstance(translated, TargetAccessDenied):
                from core.governance.events import GLUE_ACCESS_DENIED, emit_security_signal

                emit_security_signal(GLUE_ACCESS_DENIED, source="glue", operation=operation,
                                     object=describe(params), code=code)
            raise translated from exc
        except DgsyncError as exc:  # e.g. assume-role failure during request signing
            error_code = type(exc).__name__
            raise
        except BotoCoreError as exc:
            error_code = type(exc).__name__
            raise translate_botocore(operation, params, exc) from exc
        finally:
            self._local.call = previous
            self.stats.record(
                operation,
                attempts=max(1, state.attempts),
                throttles=state.throttles,
                error_code=error_code,
                throttled=throttled,
                waited_s=waited,
                latency_s=time.perf_counter() - started,
            )
            if state.throttles:
                log.warning(
                    "Glue throttled a call",
                    extra={
                        "operation": operation,
                        "throttled_attempts": state.throttles,
                        "attempts": state.attempts,
                    },
                )
        response.pop("ResponseMetadata", None)
        return response

    def _paginate(
        self, operation: str, key: str, *, page_size: int, **params: Any
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        seen: set[str] = set()
        while True:
            request = dict(params, MaxResults=page_size)
            if token:
                request["NextToken"] = token
            page = self._call(operation, **request)
            yield from page.get(key) or []
            token = page.get("NextToken") or None
            if token is None:
                return
            if token in seen:
                raise TargetError(
                    f"Glue {operation} returned the same NextToken twice",
                    hint="Retry later; report it if it persists.",
                )
            seen.add(token)

    # -- databases ---------------------------------------------------------------------------
    def iter_databases(self, *, page_size: int = _PAGE_SIZE) -> Iterator[GlueDatabase]:
        """Every database of the catalog, page by page."""
        for item in self._paginate("GetDatabases", "DatabaseList", page_size=page_size):
            yield cast(GlueDatabase, item)

    def get_database(self, name: str) -> GlueDatabase | None:
        """The database, or ``None`` if it does not exist."""
        response = self._call_or_none("GetDatabase", Name=name)
        return cast(GlueDatabase, response["Database"]) if response else None

    def create_database(self, spec: DatabaseSpec) -> None:
        """Create the database with its Parameters and tags (``AlreadyExists`` if taken)."""
        params: dict[str, Any] = {"DatabaseInput": spec.to_database_input()}
        if spec.tags:
            params["Tags"] = dict(spec.tags)
        self._call("CreateDatabase", **params)

    def update_database(self, spec: DatabaseSpec) -> None:
        """Replace the database's description and Parameters (tags: :meth:`tag_database`)."""
        self._call("UpdateDatabase", Name=spec.name, DatabaseInput=spec.to_database_input())

    def delete_database(self, name: str) -> bool:
        """Delete the database and its tables; ``False`` if it did not exist."""
        return self._call_or_none("DeleteDatabase", Name=name) is not None

    def database_arn(self, name: str) -> str:
        """``arn:<partition>:glue:<region>:<account>:database/<name>`` (the account is the
        catalog id, or read from the database itself)."""
        account = self._account_id
        if account is None:
            database = self.get_database(name)
            if database is None:
                raise TargetNotFound(f"Glue database {name} does not exist")
            account = database.get("CatalogId")
            if not account:
                raise TargetError(f"Glue did not return the catalog id of database {name}")
            self._account_id = account
        partition = getattr(self._boto.meta, "partition", None) or "aws"
        return f"arn:{partition}:glue:{self.region}:{account}:database/{name}"

    def get_tags(self, database: str) -> dict[str, str]:
        """The AWS tags of a database (tables cannot carry tags in Glue)."""
        response = self._call("GetTags", ResourceArn=self.database_arn(database))
        return dict(response.get("Tags") or {})

    def tag_database(self, name: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite tags on a database; the result must stay within 50 tags."""
        if not tags:
            return
        existing = self.get_tags(name)
        limits.check_tags(name, dict(tags), existing=existing.keys())
        self._call("TagResource", ResourceArn=self.database_arn(name), TagsToAdd=dict(tags))

    def untag_database(self, name: str, keys: Iterable[str]) -> None:
        """Remove tags (by key) from a database."""
        keys = list(keys)
        if keys:
            self._call("UntagResource", ResourceArn=self.database_arn(name), TagsToRemove=keys)

    # -- tables ------------------------------------------------------------------------------
    def iter_tables(
        self, database: str, *, expression: str | None = None, page_size: int = _PAGE_SIZE
    ) -> Iterator[GlueTable]:
        """Every table of ``database`` (``TargetNotFound`` if the database is missing)."""
        params: dict[str, Any] = {"DatabaseName": database}
        if expression is not None:
            params["Expression"] = expression
        for item in self._paginate("GetTables", "TableList", page_size=page_size, **params):
            yield cast(GlueTable, item)

    def get_table(self, database: str, name: str) -> GlueTable | None:
        """The table (with its ``VersionId``), or ``None`` if it or its database is missing."""
        response = self._call_or_none("GetTable", DatabaseName=database, Name=name)
        return cast(GlueTable, response["Table"]) if response else None

    def create_table(self, database: str, table_input: Mapping[str, Any]) -> None:
        """Create a table (``AlreadyExists`` if the name is taken)."""
        self._call("CreateTable", DatabaseName=database, TableInput=dict(table_input))

    def update_table(
        self,
        database: str,
        table_input: Mapping[str, Any],
        *,
        version_id: str | None,
        skip_archive: bool,
    ) -> None:
        """Replace a table's definition.

        With ``version_id`` (the ``VersionId`` read before) Glue refuses the update if the
        table changed since (:class:`ConcurrentModification`). ``skip_archive`` keeps no
        table version of the previous state.
        """
        params: dict[str, Any] = {
            "DatabaseName": database,
            "TableInput": dict(table_input),
            "SkipArchive": skip_archive,
        }
        if version_id is not None:
            params["VersionId"] = version_id
        self._call("UpdateTable", **params)

    def delete_table(self, database: str, name: str) -> bool:
        """Delete one table; ``False`` if it did not exist."""
        return self._call_or_none("DeleteTable", DatabaseName=database, Name=name) is not None

    def batch_delete_tables(
        self, database: str, names: Iterable[str]
    ) -> dict[str, BatchEntryError]:
        """Delete tables in chunks of 100; return the per-name errors (empty: all deleted)."""
        unique = list(dict.fromkeys(names))
        size = limits.BATCH_LIMITS["BatchDeleteTable"][1]
        errors: dict[str, BatchEntryError] = {}
        for chunk in _chunks(unique, size):
            response = self._call(
                "BatchDeleteTable", DatabaseName=database, TablesToDelete=list(chunk)
            )
            for err in response.get("Errors") or []:
                detail = err.get("ErrorDetail") or {}
                name = str(err.get("TableName"))
                errors[name] = BatchEntryError(
                    entry=name,
                    code=str(detail.get("ErrorCode") or "Unknown"),
                    message=redact(str(detail.get("ErrorMessage") or "")),
                )
        return errors

    def iter_table_versions(
        self, database: str, name: str, *, page_size: int = _PAGE_SIZE
    ) -> Iterator[GlueTableVersion]:
        """The archived versions of a table (the current one included), page by page."""
        for item in self._paginate(
            "GetTableVersions",
            "TableVersions",
            page_size=page_size,
            DatabaseName=database,
            TableName=name,
        ):
            yield cast(GlueTableVersion, item)

    def get_table_versions(
        self, database: str, name: str, *, page_size: int = _PAGE_SIZE
    ) -> list[GlueTableVersion]:
        """All versions of a table (every page)."""
        return list(self.iter_table_versions(database, name, page_size=page_size))

    # -- partitions --------------------------------------------------------------------------
    def batch_create_partitions(
        self, database: str, table: str, partitions: Sequence[Mapping[str, Any]]
    ) -> list[BatchEntryError]:
        """Register partitions (``PartitionInput`` dicts) in chunks of 100; return the
        per-partition errors (e.g. ``AlreadyExistsException``)."""
        size = limits.BATCH_LIMITS["BatchCreatePartition"][1]
        errors: list[BatchEntryError] = []
        items = [dict(p) for p in partitions]
        for chunk in _chunks(items, size):
            response = self._call(
                "BatchCreatePartition",
                DatabaseName=database,
                TableName=table,
                PartitionInputList=list(chunk),
            )
            for err in response.get("Errors") or []:
                detail = err.get("ErrorDetail") or {}
                errors.append(
                    BatchEntryError(
                        entry="/".join(str(v) for v in err.get("PartitionValues") or []),
                        code=str(detail.get("ErrorCode") or "Unknown"),
                        message=redact(str(detail.get("ErrorMessage") or "")),
                    )
                )
        return errors

    def iter_partitions(
        self,
        database: str,
        table: str,
        *,
        expression: str | None = None,
        page_size: int = _PARTITION_PAGE_SIZE,
    ) -> Iterator[GluePartition]:
        """The partitions of a table, page by page (``MaxResults`` ≤ 1000)."""
        params: dict[str, Any] = {"DatabaseName": database, "TableName": table}
        if expression is not None:
            params["Expression"] = expression
        for item in self._paginate("GetPartitions", "Partitions", page_size=page_size, **params):
            yield cast(GluePartition, item)

    def get_partitions(
        self,
        database: str,
        table: str,
        *,
        expression: str | None = None,
        page_size: int = _PARTITION_PAGE_SIZE,
    ) -> list[GluePartition]:
        """All partitions of a table (every page)."""
        return list(
            self.iter_partitions(database, table, expression=expression, page_size=page_size)
        )
