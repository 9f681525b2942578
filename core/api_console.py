"""The API console: one raw request to the Datasphere API or one Glue operation, recorded as
an :class:`Exchange` a page can show (request, status, headers, pretty body, timing) and copy
(``curl`` / ``aws`` with the token as ``$TOKEN``).

Framework-free; the frontend passes the HTTP client, the tenant URL, the token (or none) and
the boto3 Glue client. Safety:

* Only paths on the tenant's own host: a path must start with ``/`` (no scheme, no ``//``).
* Read-only by default: Datasphere methods other than GET/HEAD/OPTIONS and Glue operations
  other than ``Get*``/``List*``/``Search*``/``BatchGet*`` need ``allow_writes``.
* No secret is ever put into an exchange: the bearer token is shown as ``‹token›``, copied as
  ``$TOKEN``, and token-looking values in answers (``access_token``, ``refresh_token``,
  ``id_token``, ``client_secret``, the token sent) are replaced by ``***``; so are registered
  secrets and ``client_secret=…`` pairs in what the user typed, when it is shown again.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shlex
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode

import httpx

from core.errors import InputError
from core.log import redact as redact_known
from core.log import register_secret

TokenMode = Literal["auto", "none", "expired", "invalid"]
TOKEN_MODES: tuple[TokenMode, ...] = ("auto", "none", "expired", "invalid")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
READ_PREFIXES = ("Get", "List", "Search", "BatchGet")
#: Answers longer than this are cut (the page stays usable).
MAX_BODY_CHARS = 200_000
REDACTED = "***"  # as in the logs (core.log.redact)
TOKEN_SHOWN = "‹token›"
_SECRET_KEYS = frozenset({"access_token", "refresh_token", "id_token", "client_secret", "password"})
_ids = itertools.count(1)


@dataclass
class Exchange:
    """One console request and its answer, as the page shows it (no secret inside)."""

    target: Literal["datasphere", "glue"]
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: str
    status: int | None
    reason: str
    headers: list[tuple[str, str]]
    body: str
    body_kind: str
    elapsed_ms: float
    copy: str
    copy_kind: str
    token_mode: str = ""
    note: str = ""
    id: int = field(default_factory=lambda: next(_ids))
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400

    @property
    def title(self) -> str:
        return f"{self.method} {self.url}"


class History:
    """The last ``size`` exchanges, newest first (thread-safe, in memory)."""

    def __init__(self, size: int = 20) -> None:
        self._items: deque[Exchange] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self._items.appendleft(exchange)

    def items(self) -> list[Exchange]:
        with self._lock:
            return list(self._items)

    def get(self, exchange_id: int) -> Exchange | None:
        with self._lock:
            return next((x for x in self._items if x.id == exchange_id), None)


# -------------------------------------------------------------------------- helpers


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` (parsed JSON) with secret-named fields and the given secrets replaced."""
    known = [s for s in secrets if s]
    if isinstance(value, Mapping):
        return {k: REDACTED if str(k).lower() in _SECRET_KEYS and v else redact(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, known) for v in value]
    if isinstance(value, str):
        for secret in known:
            value = value.replace(secret, REDACTED)
    return value


def redact_typed(text: str) -> str:
    """What the user typed, fit to be shown again (registered secrets, credential pairs masked)."""
    return _redact_text(text, [])


def _redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` without the given secrets, any registered one (``core.log``) or credential
    pair (``secret=…``, ``Bearer …``)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return redact_known(text)


def pretty_body(raw: bytes, content_type: str, secrets: Iterable[str] = ()) -> tuple[str, str]:
    """``(text, kind)``: JSON pretty-printed (``json``), else the text (``xml``/``html``/``text``),
    secrets redacted, cut at :data:`MAX_BODY_CHARS`."""
    text = raw.decode("utf-8", "replace")
    kind = "text"
    ctype = content_type.lower()
    if "json" in ctype or text.lstrip()[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            text, kind = json.dumps(redact(json.loads(text), secrets), indent=2, ensure_ascii=False), "json"
    if kind == "text":
        kind = "xml" if "xml" in ctype else "html" if "html" in ctype else "text"
    text = _redact_text(text, secrets)
    if len(text) > MAX_BODY_CHARS:
        text = text[:MAX_BODY_CHARS] + f"\n… cut: {len(text) - MAX_BODY_CHARS} more characters"
    return text, kind


def parse_query(text: str) -> list[tuple[str, str]]:
    """``a=1&b=2`` or one ``name=value`` per line → pairs (values may hold ``=``)."""
    pairs: list[tuple[str, str]] = []
    for line in text.replace("\r", "").split("\n"):
        line = line.strip().lstrip("?")
        if line:
            pairs.extend(parse_qsl(line, keep_blank_values=True))
    return pairs


def check_path(path: str) -> str:
    """A path on the tenant's host (``/api/...``); anything else is an :class:`InputError`."""
    path = path.strip()
    if not path.startswith("/") or path.startswith("//") or "://" in path or any(c in path for c in " \t\r\n\\"):
        raise InputError(
            f"not a path on the tenant: {path[:80]!r}",
            hint="Type a path that starts with one /, e.g. /api/v1/datasphere/consumption/catalog/spaces.",
        )
    return path


def curl(method: str, url: str, headers: Iterable[tuple[str, str]], body: str) -> str:
    """A copyable ``curl`` command (the token as ``$TOKEN``: export it first)."""
    parts = ["curl", "-sS", "-i"]
    if method != "GET":
        parts += ["-X", method]
    parts.append(shlex.quote(url))
    for name, value in headers:
        if name.lower() == "authorization" and value == f"Bearer {TOKEN_SHOWN}":
            parts += ["-H", '"Authorization: Bearer $TOKEN"']
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        parts += ["--data-raw", shlex.quote(body)]
    return " ".join(parts)


# ----------------------------------------------------------------------- Datasphere


@dataclass(frozen=True)
class ApiRequest:
    """What the form asks for."""

    method: str = "GET"
    path: str = "/"
    query: str = ""
    body: str = ""
    content_type: str = ""
    token_mode: TokenMode = "auto"
    allow_writes: bool = False


def check_api_request(req: ApiRequest) -> ApiRequest:
    """Validate the form (method, path, token mode, write toggle, JSON body)."""
    method = req.method.strip().upper()
    if method not in METHODS:
        raise InputError(f"unknown method {req.method!r}", hint=f"Use one of {', '.join(METHODS)}.")
    if req.token_mode not in TOKEN_MODES:
        raise InputError(f"unknown token mode {req.token_mode!r}", hint=f"Use one of {', '.join(TOKEN_MODES)}.")
    if method not in SAFE_METHODS and not req.allow_writes:
        raise InputError(
            f"{method} may change the tenant and the console is read-only",
            hint="Tick “allow writes” to send it on purpose.",
        )
    if req.body and "json" in req.content_type:
        try:
            json.loads(req.body)
        except ValueError as exc:
            raise InputError(f"the body is not JSON: {exc}", hint="Fix the JSON or pick another content type.") from exc
    return ApiRequest(method, check_path(req.path), req.query, req.body, req.content_type,
                      req.token_mode, req.allow_writes)


def send_api_request(
    http: httpx.Client, base_url: str, req: ApiRequest, *, token: str | None, note: str = ""
) -> Exchange:
    """Send ``req`` to the tenant at ``base_url`` with ``token`` (None: no Authorization)."""
    req = check_api_request(req)
    path, _, inline = req.path.partition("?")
    pairs = parse_query(inline) + parse_query(req.query)
    url = base_url.rstrip("/") + path + ("?" + urlencode(pairs, safe="$'(),:/", quote_via=quote) if pairs else "")
    headers: list[tuple[str, str]] = [("Accept", "application/json")]
    if req.body and req.content_type:
        headers.append(("Content-Type", req.content_type))
    shown = list(headers)
    if token is not None:
        register_secret(token)
        headers.append(("Authorization", f"Bearer {token}"))
        shown.append(("Authorization", f"Bearer {TOKEN_SHOWN}"))
    body_shown = _redact_text(req.body, [token or ""])
    shown_url = _redact_text(url, [token or ""])
    copy = _redact_text(curl(req.method, shown_url, shown, body_shown), [token or ""])
    started = time.perf_counter()
    try:
        response = http.request(req.method, url, headers=headers, content=req.body.encode() if req.body else None)
    except httpx.HTTPError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return Exchange("datasphere", req.method, shown_url, shown, body_shown, None, type(exc).__name__, [],
                        f"no answer: {type(exc).__name__}", "text", elapsed, copy, "curl", req.token_mode, note)
    elapsed = (time.perf_counter() - started) * 1000
    secrets = [token] if token else []
    body, kind = pretty_body(response.content, response.headers.get("content-type", ""), secrets)
    answer = [(k, _redact_text(v, secrets)) for k, v in response.headers.items()]
    return Exchange(
        "datasphere", req.method, shown_url, shown, body_shown, response.status_code, response.reason_phrase,
        answer, body, kind, elapsed, copy, "curl", req.token_mode, note,
    )


# ----------------------------------------------------------------------------- Glue


def is_read_only(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


def glue_operations(client: Any) -> list[str]:
    """Every operation of the Glue API (read-only ones first)."""
    names = list(client.meta.service_model.operation_names)
    return sorted(names, key=lambda n: (not is_read_only(n), n))


def _snake(name: str) -> str:
    from botocore import xform_name

    return str(xform_name(name))


def call_glue(
    client: Any, operation: str, params_text: str, *, allow_writes: bool, endpoint_url: str | None = None,
    region: str | None = None,
) -> Exchange:
    """Call one Glue ``operation`` with JSON ``params_text`` on the boto3 ``client``."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    operation = operation.strip()
    if operation not in client.meta.service_model.operation_names:
        raise InputError(f"Glue has no operation {operation!r}", hint="Pick one from the list (e.g. GetTables).")
    if not is_read_only(operation) and not allow_writes:
        raise InputError(
            f"{operation} writes to Glue and the console is read-only",
            hint="Tick “allow writes” to call it on purpose (Get*, List*, Search* need no toggle).",
        )
    try:
        params = json.loads(params_text or "{}")
    except ValueError as exc:
        raise InputError(f"the parameters are not JSON: {exc}", hint='Write a JSON object, e.g. {"DatabaseName": "sales"}.') from exc
    if not isinstance(params, dict):
        raise InputError("the parameters must be a JSON object", hint='Write e.g. {"DatabaseName": "sales"}.')
    cli = ["aws", "glue", _snake(operation).replace("_", "-")]
    if endpoint_url:
        cli += ["--endpoint-url", endpoint_url]
    if region:
        cli += ["--region", region]
    if params:
        cli += ["--cli-input-json", shlex.quote(json.dumps(params))]
    copy = _redact_text(" ".join(cli), [])
    shown_params = _redact_text(json.dumps(params, indent=2), [])
    started = time.perf_counter()
    try:
        answer = getattr(client, _snake(operation))(**params)
    except ParamValidationError as exc:
        raise InputError(f"Glue refuses the parameters: {exc}", hint="Fix the parameters (names are case-sensitive).") from exc
    except ClientError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        meta = exc.response.get("ResponseMetadata", {})
        body = json.dumps({"Error": exc.response.get("Error", {})}, indent=2, default=str)
        return Exchange("glue", operation, endpoint_url or "glue", [], shown_params, meta.get("HTTPStatusCode"),
                        exc.response.get("Error", {}).get("Code", "error"), sorted(meta.get("HTTPHeaders", {}).items()),
                        body, "json", elapsed, copy, "aws")
    except BotoCoreError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return Exchange("glue", operation, endpoint_url or "glue", [], shown_params, None, type(exc).__name__, [],
                        f"no answer: {exc}", "text", elapsed, copy, "aws")
    elapsed = (time.perf_counter() - started) * 1000
    meta = answer.pop("ResponseMetadata", {})
    body = _redact_text(json.dumps(redact(answer), indent=2, default=str, ensure_ascii=False), [])
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS] + f"\n… cut: {len(body) - MAX_BODY_CHARS} more characters"
    return Exchange("glue", operation, endpoint_url or "glue", [], shown_params, meta.get("HTTPStatusCode"),
                    "OK", sorted(meta.get("HTTPHeaders", {}).items()), body, "json", elapsed, copy, "aws")
