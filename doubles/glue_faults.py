"""A thin fault and fidelity layer for boto3 Glue clients talking to moto.

moto (5.2) models the Glue catalog but not several AWS behaviours dgsync depends on
(``../shared/docs/glue-reference.md``). :class:`GlueFaults` adds them on the *client* side
through botocore's event hooks, so it works against a moto server over HTTP
(``ThreadedMotoServer``), in-process or not, and needs nothing from the server:

* **Pagination**: ``GetDatabases``/``GetTables``/``GetTableVersions``/``GetPartitions``
  honour ``MaxResults`` (by slicing moto's full answer) and return an opaque ``NextToken``;
  ``page_size`` forces even smaller pages, as AWS may return.
* **Optimistic locking**: ``UpdateTable(VersionId=…)`` fails with
  ``ConcurrentModificationException`` when the table's current ``VersionId`` differs (read
  with a probe ``GetTable`` that no counter sees).
* **SkipArchive**: ``UpdateTable(SkipArchive=True)`` drops the archived previous version.
* **Injected faults**: throttling bursts (:meth:`GlueFaults.throttle`), any error code
  (:meth:`GlueFaults.fail`), unreachable endpoint (:meth:`GlueFaults.unreachable`), for the
  next N HTTP attempts of an operation. They go through botocore's retry logic like real
  ones; with ``fast_retries`` the retries of *injected* faults happen without backoff sleeps.
* **Counting**: logical calls, HTTP attempts, injected faults and pages served per operation,
  and a history of request parameters (:meth:`GlueFaults.requests`).
* **Sharing**: several clients may share one :class:`FaultQueue` (a fault programmed once is
  consumed by whichever client sends next) and one :class:`~doubles.request_log.RequestLog`
  (every HTTP attempt: operation, status, latency, injected or not). The embedded Glue gives
  all its clients one of each (Dog's Debug page programs and shows them).

Usage::

    faults = GlueFaults(page_size=2).install(glue_client.boto_client)
    faults.throttle("GetTables", times=3)

The embedded Glue of the ``dog`` profile installs it (without faults) on its clients so dog
behaves like AWS for pagination, locking and ``SkipArchive``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import http.client
import json
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError

from doubles.request_log import RequestLog

__all__ = [
    "FAULT_HEADER",
    "PAGED_OPERATIONS",
    "FaultQueue",
    "GlueFaults",
    "InjectedConnectionError",
    "error_result",
]

#: Response header that marks an injected (not moto-made) response.
FAULT_HEADER = "x-dgsync-fault"

#: Paginated operations and the list each returns.
PAGED_OPERATIONS: dict[str, str] = {
    "GetDatabases": "DatabaseList",
    "GetTables": "TableList",
    "GetTableVersions": "TableVersions",
    "GetPartitions": "Partitions",
}

_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "InternalServiceException",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_PARAMS = "dgsync_faults_params"
_OFFSET = "dgsync_faults_offset"
_PREVIOUS = "dgsync_faults_previous_version"
_TOKEN_PREFIX = "dgsync-fault-page"


class InjectedConnectionError(EndpointConnectionError):  # type: ignore[misc]
    """An :class:`EndpointConnectionError` raised by the fault layer."""


@dataclass(frozen=True)
class _Fault:
    code: str
    message: str
    status: int
    unreachable: bool = False


class FaultQueue:
    """Faults programmed for the next HTTP attempts, per operation (``"*"``: any); shareable
    between clients; thread-safe. ``injected`` counts the faults served, per operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, deque[_Fault]] = {}
        self.injected: Counter[str] = Counter()

    def push(self, operation: str, fault: _Fault, times: int) -> None:
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._pending.setdefault(operation, deque()).extend([fault] * times)

    def next(self, operation: str) -> _Fault | None:
        with self._lock:
            for key in (operation, "*"):
                queue = self._pending.get(key)
                if queue:
                    self.injected[operation] += 1
                    return queue.popleft()
        return None

    def pending(self, operation: str | None = None) -> int:
        with self._lock:
            if operation is not None:
                return len(self._pending.get(operation, ()))
            return sum(len(q) for q in self._pending.values())

    def pending_by_code(self) -> dict[tuple[str, str], int]:
        """``{(operation, error code): faults left}``."""
        with self._lock:
            out: Counter[tuple[str, str]] = Counter()
            for op, queue in self._pending.items():
                for fault in queue:
                    out[(op, fault.code)] += 1
            return dict(out)

    def throttle(self, operation: str = "*", times: int = 1) -> None:
        """Throttle the next ``times`` attempts of ``operation`` (``"*"``: any)."""
        self.push(operation, _Fault("ThrottlingException", "Rate exceeded", 400), times)

    def fail(self, operation: str, code: str, message: str = "", *, times: int = 1, status: int = 400) -> None:
        """Answer the next ``times`` attempts of ``operation`` with error ``code``."""
        self.push(operation, _Fault(code, message or code, status), times)

    def clear(self, code: str | None = None) -> None:
        """Drop the pending faults (only those of error ``code`` when given); the ``injected``
        counts stay."""
        with self._lock:
            if code is None:
                self._pending.clear()
                return
            for op, queue in list(self._pending.items()):
                self._pending[op] = deque(f for f in queue if f.code != code)


class _RawBody:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _error_response(url: str, code: str, message: str, status: int) -> AWSResponse:
    body = json.dumps({"__type": code, "message": message}).encode("utf-8")
    headers = {
        "x-amzn-errortype": f"{code}:",
        "x-amzn-requestid": uuid.uuid4().hex,
        "content-type": "application/x-amz-json-1.1",
        "content-length": str(len(body)),
        FAULT_HEADER: "1",
    }
    return AWSResponse(url, status, headers, _RawBody(body))


def error_result(code: str, message: str, status: int = 400) -> tuple[AWSResponse, dict[str, Any]]:
    """An error as a ``before-call`` handler returns it: the client raises it as if AWS had
    answered (use it to fake errors of other services, e.g. STS)."""
    http = _error_response("", code, message, status)
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {
            "HTTPStatusCode": status,
            "HTTPHeaders": dict(http.headers),
            "RetryAttempts": 0,
        },
    }
    return http, parsed


def _encode_token(operation: str, offset: int) -> str:
    raw = f"{_TOKEN_PREFIX}:{operation}:{offset}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_token(operation: str, token: str) -> int | None:
    try:
        prefix, op, offset = base64.urlsafe_b64decode(token.encode("ascii")).decode().split(":")
    except (ValueError, binascii.Error, UnicodeError):
        return None
    if prefix != _TOKEN_PREFIX or op != operation or not offset.isdigit():
        return None
    return int(offset)


def _table_name(params: dict[str, Any]) -> str | None:
    name = params.get("Name") or params.get("TableName") or (params.get("TableInput") or {}).get("Name")
    return str(name) if name else None


def _operation_of(event_name: str) -> str:
    return event_name.rsplit(".", 1)[-1]


class GlueFaults:
    """Client-side emulation of what moto lacks, plus injectable faults. Thread-safe."""

    def __init__(
        self,
        *,
        page_size: int | None = None,
        optimistic_locking: bool = True,
        emulate_skip_archive: bool = True,
        fast_retries: bool = True,
        history_size: int = 10_000,
        queue: FaultQueue | None = None,
        log: RequestLog | None = None,
    ) -> None:
        if page_size is not None and page_size < 1:
            raise ValueError("page_size must be >= 1")
        self.page_size = page_size
        self.optimistic_locking = optimistic_locking
        self.emulate_skip_archive = emulate_skip_archive
        self.fast_retries = fast_retries
        self._lock = threading.Lock()
        self._local = threading.local()
        self.queue = queue or FaultQueue()
        self.log = log
        self._client: Any = None
        self._uid = f"dgsync-faults-{id(self)}"
        self.calls: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.pages: Counter[str] = Counter()
        self.conflicts = 0
        #: ``(operation, params)`` of the latest logical calls, oldest first.
        self.history: deque[tuple[str, dict[str, Any]]] = deque(maxlen=history_size)

    # -- installation ------------------------------------------------------------------------
    def _handlers(self) -> list[tuple[str, Any]]:
        return [
            ("before-parameter-build.glue", self._on_params),
            ("before-call.glue", self._on_before_call),
            ("before-send.glue", self._on_before_send),
            ("after-call.glue", self._on_after_call),
        ]

    def install(self, boto_client: Any) -> GlueFaults:
        """Hook into ``boto_client`` (a boto3 ``glue`` client); returns ``self``."""
        if self._client is not None:
            raise RuntimeError("this GlueFaults is already installed on a client")
        events = boto_client.meta.events
        for event, handler in self._handlers():
            events.register(event, handler, unique_id=f"{self._uid}-{event}")
        events.register_first(
            "needs-retry.glue", self._on_needs_retry, unique_id=f"{self._uid}-needs-retry"
        )
        if self.log is not None:
            events.register("needs-retry.glue", self._on_attempt, unique_id=f"{self._uid}-log")
        self._client = boto_client
        return self

    def uninstall(self) -> None:
        """Remove every hook from the client."""
        if self._client is None:
            return
        events = self._client.meta.events
        for event, handler in self._handlers():
            events.unregister(event, handler, unique_id=f"{self._uid}-{event}")
        events.unregister(
            "needs-retry.glue", self._on_needs_retry, unique_id=f"{self._uid}-needs-retry"
        )
        if self.log is not None:
            events.unregister("needs-retry.glue", self._on_attempt, unique_id=f"{self._uid}-log")
        self._client = None

    # -- fault programming -------------------------------------------------------------------
    def _push(self, operation: str, fault: _Fault, times: int) -> None:
        self.queue.push(operation, fault, times)

    def throttle(
        self,
        operation: str,
        times: int = 1,
        *,
        code: str = "ThrottlingException",
        message: str = "Rate exceeded",
    ) -> None:
        """Answer the next ``times`` HTTP attempts of ``operation`` (``"*"``: any) with a
        throttling error (botocore retries them like real throttles)."""
        self._push(operation, _Fault(code, message, 400), times)

    def fail(
        self, operation: str, code: str, message: str = "", *, times: int = 1, status: int = 400
    ) -> None:
        """Answer the next ``times`` attempts of ``operation`` with error ``code``
        (e.g. ``AccessDeniedException``, ``ConcurrentModificationException``)."""
        self._push(operation, _Fault(code, message or code, status), times)

    def unreachable(self, operation: str, times: int = 1) -> None:
        """Make the next ``times`` attempts of ``operation`` fail to connect."""
        self._push(operation, _Fault("EndpointConnectionError", "", 0, unreachable=True), times)

    def pending(self, operation: str | None = None) -> int:
        """Injected faults not yet consumed (for ``operation``, or all)."""
        return self.queue.pending(operation)

    def clear(self) -> None:
        """Drop pending faults and zero the counters."""
        self.queue.clear()
        with self._lock:
            self.calls.clear()
            self.attempts.clear()
            self.injected.clear()
            self.pages.clear()
            self.history.clear()
            self.conflicts = 0

    def requests(self, operation: str) -> list[dict[str, Any]]:
        """The parameters of every recorded call of ``operation``, oldest first."""
        with self._lock:
            return [params for op, params in self.history if op == operation]

    def _next_fault(self, operation: str) -> _Fault | None:
        return self.queue.next(operation)

    # -- probes (invisible to every counter) -------------------------------------------------
    @property
    def _probing(self) -> bool:
        return bool(getattr(self._local, "probing", False))

    def _probe(self, method: str, **params: Any) -> dict[str, Any] | None:
        self._local.probing = True
        try:
            result: dict[str, Any] = getattr(self._client, method)(**params)
            return result
        except ClientError:
            return None
        finally:
            self._local.probing = False

    def _current_version(self, params: dict[str, Any]) -> str | None:
        name = (params.get("TableInput") or {}).get("Name") or params.get("Name")
        probe: dict[str, Any] = {"DatabaseName": params.get("DatabaseName"), "Name": name}
        if params.get("CatalogId"):
            probe["CatalogId"] = params["CatalogId"]
        response = self._probe("get_table", **probe)
        if response is None:
            return None
        version = response.get("Table", {}).get("VersionId")
        return str(version) if version is not None else None

    # -- hooks -------------------------------------------------------------------------------
    def _on_params(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        if self._probing:
            return
        context[_PARAMS] = dict(params)
        with self._lock:
            self.calls[model.name] += 1
            if self.history.maxlen:
                self.history.append((model.name, copy.deepcopy(params)))

    def _on_before_call(
        self, model: Any, context: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        if self._probing:
            return None
        operation = model.name
        params: dict[str, Any] = context.get(_PARAMS) or {}
        if operation in PAGED_OPERATIONS:
            token = params.get("NextToken")
            if token:
                offset = _decode_token(operation, str(token))
                if offset is None:
                    return error_result("InvalidInputException", "Invalid pagination token")
                context[_OFFSET] = offset
        if operation == "UpdateTable":
            wants_lock = self.optimistic_locking and params.get("VersionId") is not None
            wants_skip = self.emulate_skip_archive and bool(params.get("SkipArchive"))
            if wants_lock or wants_skip:
                current = self._current_version(params)
                if current is not None:
                    context[_PREVIOUS] = current
                    if wants_lock and str(params["VersionId"]) != current:
                        with self._lock:
                            self.conflicts += 1
                        return error_result(
                            "ConcurrentModificationException",
                            f"Update table failed due to concurrent modifications: "
                            f"VersionId {params['VersionId']} is not the current version",
                        )
        return None

    def _on_before_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        if self._probing:
            return None
        operation = _operation_of(event_name)
        with self._lock:
            self.attempts[operation] += 1
        self._local.sent_at = time.perf_counter()
        fault = self._next_fault(operation)
        self._local.fault = fault.code if fault is not None else None
        if fault is None:
            return None
        with self._lock:
            self.injected[operation] += 1
        if fault.unreachable:
            raise InjectedConnectionError(endpoint_url=str(request.url))
        return _error_response(str(request.url), fault.code, fault.message, fault.status)

    def _on_attempt(
        self,
        *,
        response: Any = None,
        operation: Any = None,
        request_dict: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        """botocore ``needs-retry`` observer: log one HTTP attempt (never decides anything) as
        ``Operation database.table`` (what the call names)."""
        sent_at = getattr(self._local, "sent_at", None)
        if self._probing or self.log is None or sent_at is None:
            return None
        self._local.sent_at = None
        status = 0
        if response is not None and response[0] is not None:
            status = int(response[0].status_code)
        params: dict[str, Any] = ((request_dict or {}).get("context") or {}).get(_PARAMS) or {}
        path = str(getattr(operation, "name", "?"))
        target = ".".join(str(p) for p in (params.get("DatabaseName"), _table_name(params)) if p)
        self.log.record(
            source="glue", method="POST", path=f"{path} {target}" if target else path, status=status,
            latency_ms=(time.perf_counter() - sent_at) * 1000, fault=getattr(self._local, "fault", None),
        )
        return None

    def _on_needs_retry(
        self,
        *,
        response: Any = None,
        caught_exception: Any = None,
        attempts: int = 1,
        **_: Any,
    ) -> float | bool | None:
        """Retry *injected* faults without backoff (when ``fast_retries``)."""
        if self._probing or not self.fast_retries:
            return None
        if isinstance(caught_exception, InjectedConnectionError):
            retryable = True
        elif (
            response is not None
            and response[0] is not None
            and response[0].headers.get(FAULT_HEADER)
        ):
            http, parsed = response
            code = str((parsed.get("Error") or {}).get("Code", ""))
            retryable = code in _RETRYABLE_CODES or http.status_code >= 500
        else:
            return None
        retries = self._client.meta.config.retries or {}
        max_attempts = int(
            retries.get("total_max_attempts") or (retries.get("max_attempts", 4) + 1)
        )
        if retryable and attempts < max_attempts:
            return 0.0  # retry now: botocore sleeps 0 s
        return False

    def _on_after_call(
        self,
        http_response: Any,
        parsed: dict[str, Any],
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        if self._probing or http_response is None or http_response.status_code >= 300:
            return
        operation = model.name
        params: dict[str, Any] = context.get(_PARAMS) or {}
        key = PAGED_OPERATIONS.get(operation)
        if key is not None:
            self._slice_page(operation, key, params, parsed, int(context.get(_OFFSET, 0)))
        elif operation == "UpdateTable" and self.emulate_skip_archive and params.get("SkipArchive"):
            previous = context.get(_PREVIOUS)
            if previous is not None:
                probe: dict[str, Any] = {
                    "DatabaseName": params.get("DatabaseName"),
                    "TableName": (params.get("TableInput") or {}).get("Name"),
                    "VersionId": previous,
                }
                if params.get("CatalogId"):
                    probe["CatalogId"] = params["CatalogId"]
                self._probe("delete_table_version", **probe)

    def _slice_page(
        self,
        operation: str,
        key: str,
        params: dict[str, Any],
        parsed: dict[str, Any],
        offset: int,
    ) -> None:
        sizes = [s for s in (params.get("MaxResults"), self.page_size) if s]
        items = parsed.get(key) or []
        with self._lock:
            self.pages[operation] += 1
        if not sizes:
            return
        size = min(int(s) for s in sizes)
        parsed[key] = items[offset : offset + size]
        if offset + size < len(items):
            parsed["NextToken"] = _encode_token(operation, offset + size)
        else:
            parsed.pop("NextToken", None)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CountingProxy:
    """Forwards Glue/STS HTTP calls to a moto_server and counts them per operation, and the
    calls the server rejected (HTTP status >= 400) — counted outside dgsync, so no client-side
    counter can hide a call."""

    def __init__(self, upstream_port: int) -> None:
        self.counts: Counter[str] = Counter()
        #: Calls the upstream answered with an error status, per operation.
        self.rejected: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.paused = False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                target = self.headers.get("X-Amz-Target", "")
                op = target.rsplit(".", 1)[-1] if target else "other"
                if not proxy.paused:
                    with proxy.lock:
                        proxy.counts[op] += 1
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request("POST", self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status >= 400 and not proxy.paused:
                    with proxy.lock:
                        proxy.rejected[op] += 1
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a killed client resets its connections: expected here

        self.port = _free_port()
        self.server = QuietServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.counts)

    def stop(self) -> None:
        self.server.shutdown()
