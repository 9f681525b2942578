"""The Datasphere HTTP client: auth, retries, error translation, catalog and design-time reads.

Every request goes through :meth:`DatasphereClient.request`, the one place where httpx
exceptions and HTTP statuses become :mod:`core.errors` exceptions:

* 401 → the token is invalidated and the request is sent **once** more; a second 401 is an
  :class:`~core.errors.AuthError`.
* 429 / 500 / 502 / 503 / 504 and transport errors → retried up to ``max_retries`` times,
  honouring ``Retry-After`` (seconds or HTTP date) and otherwise waiting with full jitter,
  never longer than ``max_backoff_s``; then :class:`~core.errors.SourceThrottled` /
  :class:`~core.errors.SourceUnavailable`.
* 403 → :class:`~core.errors.AccessDenied`, 404 → :class:`~core.errors.NotFound`, other 4xx →
  :class:`~core.errors.SourceError` with the OData error message; a redirect or an HTML page
  where JSON was expected → :class:`~core.errors.UnexpectedResponse`.

URLs the catalog returns are followed as given (``/api/v1/dwc/`` and ``/api/v1/datasphere/``
alike), but the bearer token is only ever sent to the tenant's own host.

``client.stats`` counts requests, retries and throttles per route template (thread-safe).
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Generic, Literal, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from core.datasphere.auth import Diagnosis, TokenManager, with_diagnosis
from core.datasphere.identity import TenantFacts
from core.errors import (
    AccessDenied,
    AuthError,
    ConfigError,
    DgsyncError,
    NotFound,
    SourceError,
    SourceThrottled,
    SourceUnavailable,
    UnexpectedResponse,
)
from core.log import get_logger
from core.models import DESIGN_TIME_SEGMENTS, AssetKind, Space
from core.settings import DatasphereSettings

log = get_logger(__name__)

CATALOG_ROOT: Final = "/api/v1/datasphere/consumption/catalog"
DESIGN_TIME_ROOT: Final = "/dwaas-core/api/v1"
CSN_ACCEPT: Final = "application/vnd.sap.datasphere.object.content+json"
RETRYABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: First backoff step (seconds) before jitter; doubles per attempt up to ``max_backoff_s``.
BACKOFF_BASE_S: Final = 0.5
#: Rows per catalog page we ask for (the server caps pages at 500).
CATALOG_PAGE: Final = 500
#: Rows per design-time page we ask for (the server may return fewer: we walk to an empty page).
DESIGN_TIME_PAGE: Final = 100

T = TypeVar("T")


class _NotModified:
    """The marker a conditional read returns on ``304 Not Modified``."""

    _instance: _NotModified | None = None

    def __new__(cls) -> _NotModified:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_MODIFIED"

    def __bool__(self) -> bool:
        return False


NOT_MODIFIED: Final = _NotModified()
NotModifiedType = _NotModified


@dataclass(frozen=True)
class Versioned(Generic[T]):
    """A conditional read: the value (or :data:`NOT_MODIFIED`) and the ETag to send next time."""

    value: T | _NotModified
    etag: str | None

    @property
    def not_modified(self) -> bool:
        return self.value is NOT_MODIFIED


class CatalogAsset(BaseModel):
    """One row of the consumption catalog (``…/catalog/assets``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    space: str
    label: str | None = None
    relational_metadata_url: str | None = None
    relational_data_url: str | None = None
    analytical_metadata_url: str | None = None
    analytical_data_url: str | None = None
    supports_analytical_queries: bool = False
    has_parameters: bool = False

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> CatalogAsset:
        return cls(
            name=str(row.get("name", "")),
            space=str(row.get("spaceName", "")),
            label=row.get("label"),
            relational_metadata_url=row.get("assetRelationalMetadataUrl"),
            relational_data_url=row.get("assetRelationalDataUrl"),
            analytical_metadata_url=row.get("assetAnalyticalMetadataUrl"),
            analytical_data_url=row.get("assetAnalyticalDataUrl"),
            supports_analytical_queries=bool(row.get("supportsAnalyticalQueries", False)),
            has_parameters=bool(row.get("hasParameters", False)),
        )


class RequestStats:
    """Requests, retries and throttles per route template; safe to share between threads."""

    _FIELDS = ("requests", "retries", "throttles", "reauth", "errors")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, dict[str, int]] = {}

    def add(self, route: str, field: str, n: int = 1) -> None:
        with self._lock:
            row = self._routes.setdefault(route, dict.fromkeys(self._FIELDS, 0))
            row[field] = row.get(field, 0) + n

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{route: {"requests", "retries", "throttles", "reauth", "errors"}}`` (a copy)."""
        with self._lock:
            return {route: dict(row) for route, row in sorted(self._routes.items())}

    def requests_by_route(self) -> dict[str, int]:
        """``{route: requests}``."""
        with self._lock:
            return {route: row.get("requests", 0) for route, row in sorted(self._routes.items())}

    def total(self, field: str = "requests") -> int:
        with self._lock:
            return sum(row.get(field, 0) for row in self._routes.values())

    def __getitem__(self, route: str) -> dict[str, int]:
        with self._lock:
            return dict(self._routes.get(route, dict.fromkeys(self._FIELDS, 0)))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port
    if port is None:
        port = 443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def _odata_message(resp: httpx.Response) -> str:
    """The message of an OData / XSUAA error body, or a short excerpt of the body."""
    try:
        body = resp.json()
    except ValueError:
        text = resp.text.strip().replace("\n", " ")
        return text[:200] if text and not text.startswith("<") else ""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            if isinstance(message, dict):  # OData v2 style {"lang", "value"}
                message = message.get("value")
            return ": ".join(str(x) for x in (code, message) if x)
        if error:
            return ": ".join(str(x) for x in (error, body.get("error_description")) if x)
        if "message" in body:
            return str(body["message"])
    return ""


def _looks_html(resp: httpx.Response) -> bool:
    ctype = resp.headers.get("content-type", "").lower()
    if "html" in ctype:
        return True
    head = resp.content[:64].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; ``None`` when absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


DATASPHERE_UNAUTHORIZED_KIND = "datasphere_unauthorized"
DATASPHERE_FORBIDDEN_KIND = "datasphere_forbidden"


def _signal_denied(kind: str, url: str, **detail: Any) -> None:
    """A 401/403 is a security signal (see :mod:`core.governance.events`); the path only."""
    from core.governance.events import emit_security_signal

    emit_security_signal(kind, source="datasphere", path=urlsplit(url).path, **detail)


class DatasphereClient:
    """HTTP access to one Datasphere tenant (or the emulator)."""

    def __init__(
        self,
        settings: DatasphereSettings,
        *,
        http: httpx.Client | None = None,
        token_manager: TokenManager | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not settings.base_url:
            raise ConfigError(
                "DGSYNC_DATASPHERE__BASE_URL is not set",
                hint="Set it to the tenant URL (https://<tenant>.<region>.hcs.cloud.sap), or use "
                "--env dog for the embedded emulator.",
            )
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s),
            verify=settings.verify_tls,
            follow_redirects=False,
            headers={"User-Agent": "dgsync"},
        )
        self.tokens = token_manager or TokenManager(settings, self.http)
        self.stats = RequestStats()
        #: What this connection learned about the tenant (space contexts, kinds not offered),
        #: shared by every :class:`~core.datasphere.extract.Extractor` using it.
        self.facts = TenantFacts()
        self._sleep = sleep
        self._rand = rand
        self._origin = _origin(self.base_url)

    @classmethod
    def from_settings(
        cls,
        settings: DatasphereSettings,
        *,
        base_url: str | None = None,
        token_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        http: httpx.Client | None = None,
        **kwargs: Any,
    ) -> DatasphereClient:
        """A client for ``settings`` with some fields replaced (e.g. the emulator's URLs)."""
        update: dict[str, Any] = {}
        if base_url is not None:
            update["base_url"] = base_url.rstrip("/")
        if token_url is not None:
            update["token_url"] = token_url
        if client_id is not None:
            update["client_id"] = client_id
        if client_secret is not None:
            update["client_secret"] = SecretStr(client_secret)
        return cls(settings.model_copy(update=update), http=http, **kwargs)

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> DatasphereClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one request path -------------------------------------------------------------
    def absolute(self, url: str) -> str:
        """``url`` made absolute against the tenant; another host is refused (token leak)."""
        if url.startswith(("http://", "https://")):
            if _origin(url) != self._origin:
                raise with_diagnosis(
                    UnexpectedResponse(
                        f"refusing to send credentials to {urlsplit(url).netloc}, which is not "
                        f"the tenant host {urlsplit(self.base_url).netloc}",
                        hint="DGSYNC_DATASPHERE__BASE_URL must be the host the catalog's URLs use.",
                    ),
                    Diagnosis.UNEXPECTED,
                )
            return url
        return self.base_url + ("" if url.startswith("/") else "/") + url

    def request(
        self,
        method: str,
        url: str,
        *,
        route: str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        expect: Literal["json", "text"] = "json",
    ) -> httpx.Response:
        """Send one logical request (retries and the 401 retry included); 2xx or 304 only."""
        full = self.absolute(url)
        route = route or urlsplit(full).path
        max_retries = self.settings.max_retries
        attempt = 0
        reauthenticated = False
        while True:
            token = self.tokens.access_token()
            sent_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
            try:
                resp = self.http.request(method, full, params=params, headers=sent_headers)
            except httpx.HTTPError as exc:
                self.stats.add(route, "requests")
                self.stats.add(route, "errors")
                if attempt < max_retries and isinstance(exc, httpx.TransportError):
                    attempt += 1
                    self.stats.add(route, "retries")
                    delay = self._backoff(attempt)
                    log.warning(
                        "transport error; retrying",
                        extra={
                            "route": route,
                            "error": type(exc).__name__,
                            "attempt": attempt,
                            "delay_s": round(delay, 3),
                        },
                    )
                    self._sleep(delay)
                    continue
                raise self._transport_error(full, exc, attempt) from exc
            self.stats.add(route, "requests")
            status = resp.status_code
            if status == 401:
                _signal_denied(DATASPHERE_UNAUTHORIZED_KIND, full, retried=reauthenticated)
                if not reauthenticated:
                    reauthenticated = True
                    self.stats.add(route, "reauth")
                    self.tokens.invalidate(token)
                    continue
                raise with_diagnosis(
                    AuthError(
                        f"the API refused a fresh access token (401 twice) for {urlsplit(full).path}: "
                        f"{_odata_message(resp) or 'unauthorized'}",
                        hint="The OAuth client may lack Datasphere roles; check it in Datasphere "
                        "(System > App Integration) and run `dgsync check`.",
                    ),
                    Diagnosis.TOKEN_REJECTED,
                )
            if status in RETRYABLE_STATUSES:
                if status == 429:
                    self.stats.add(route, "throttles")
                if attempt < max_retries:
                    attempt += 1
                    self.stats.add(route, "retries")
                    delay = self._delay(resp, attempt)
                    log.info(
                        "retrying after %s",
                        status,
                        extra={
                            "route": route,
                            "status": status,
                            "attempt": attempt,
                            "delay_s": round(delay, 3),
                        },
                    )
                    self._sleep(delay)
                    continue
                self.stats.add(route, "errors")
                raise self._final_retry_error(full, resp, attempt)
            if status == 304 or 200 <= status < 300:
                if status != 304 and expect == "json" and _looks_html(resp):
                    self.stats.add(route, "errors")
                    raise with_diagnosis(
                        UnexpectedResponse(
                            f"{urlsplit(full).path} answered {status} with an HTML page where JSON "
                            "was expected (a login page or a proxy?)",
                        ),
                        Diagnosis.HTML_LOGIN_PAGE,
                    )
                return resp
            self.stats.add(route, "errors")
            raise self._status_error(full, resp)

    def _backoff(self, attempt: int) -> float:
        cap = min(self.settings.max_backoff_s, BACKOFF_BASE_S * 2.0 ** (attempt - 1))
        return float(self._rand() * cap)  # full jitter

    def _delay(self, resp: httpx.Response, attempt: int) -> float:
        retry_after = parse_retry_after(resp.headers.get("retry-after"))
        if retry_after is not None:
            return min(retry_after, self.settings.max_backoff_s)
        return self._backoff(attempt)

    def _transport_error(self, url: str, exc: httpx.HTTPError, attempt: int) -> DgsyncError:
        where = urlsplit(url).netloc
        if isinstance(exc, httpx.TimeoutException):
            return with_diagnosis(
                SourceUnavailable(
                    f"{where} did not answer within {self.settings.timeout_s:g} s "
                    f"({urlsplit(url).path}, {attempt} retries)",
                    hint="Retry later, or raise DGSYNC_DATASPHERE__TIMEOUT_S.",
                ),
                Diagnosis.TIMEOUT,
            )
        detail = "connection refused" if "refused" in str(exc).lower() else type(exc).__name__
        return with_diagnosis(
            SourceUnavailable(f"cannot reach {where} ({detail}) after {attempt} retries"),
            Diagnosis.UNREACHABLE,
        )

    def _final_retry_error(self, url: str, resp: httpx.Response, attempt: int) -> DgsyncError:
        path = urlsplit(url).path
        if resp.status_code == 429:
            return with_diagnosis(
                SourceThrottled(f"{path} is still rate-limited (429) after {attempt} retries"),
                Diagnosis.THROTTLED,
            )
        message = _odata_message(resp)
        return with_diagnosis(
            SourceUnavailable(
                f"{path} failed with {resp.status_code} after {attempt} retries"
                + (f": {message}" if message else "")
            ),
            Diagnosis.SERVER_ERROR,
        )

    def _status_error(self, url: str, resp: httpx.Response) -> DgsyncError:
        path = urlsplit(url).path
        status = resp.status_code
        message = _odata_message(resp)
        suffix = f": {message}" if message else ""
        if 300 <= status < 400:
            return with_diagnosis(
                UnexpectedResponse(
                    f"{path} redirected ({status}) to {resp.headers.get('location', '?')} — a login "
                    "page or a proxy?"
                ),
                Diagnosis.HTML_LOGIN_PAGE,
            )
        if status == 403:
            _signal_denied(DATASPHERE_FORBIDDEN_KIND, url)
            return with_diagnosis(
                AccessDenied(f"access denied (403) to {path}{suffix}"), Diagnosis.NOT_A_MEMBER
            )
        if status == 404:
            return with_diagnosis(NotFound(f"not found (404): {path}{suffix}"), Diagnosis.NOT_FOUND)
        return with_diagnosis(
            SourceError(
                f"{path} answered {status}{suffix}",
                hint="The request was refused as invalid; this is a dgsync bug or an API change.",
            ),
            Diagnosis.UNEXPECTED,
        )

    # -- payload helpers ------------------------------------------------------------------
    def get_json(
        self,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        route: str | None = None,
        accept: str = "application/json",
    ) -> Any:
        """GET and decode JSON (HTML or invalid JSON → UnexpectedResponse)."""
        resp = self.request("GET", url, params=params, route=route, headers={"Accept": accept})
        return self._decode(resp)

    def get_text(
        self,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        route: str | None = None,
        accept: str = "*/*",
    ) -> str:
        resp = self.request(
            "GET", url, params=params, route=route, headers={"Accept": accept}, expect="text"
        )
        return resp.text

    def get_conditional(
        self,
        url: str,
        *,
        etag: str | None = None,
        route: str | None = None,
        accept: str = "application/json",
        expect: Literal["json", "text"] = "json",
    ) -> Versioned[Any]:
        """GET with ``If-None-Match``: :data:`NOT_MODIFIED` on 304, else the payload + ETag."""
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        resp = self.request("GET", url, route=route, headers=headers, expect=expect)
        if resp.status_code == 304:
            return Versioned(NOT_MODIFIED, resp.headers.get("etag") or etag)
        value: Any = self._decode(resp) if expect == "json" else resp.text
        return Versioned(value, resp.headers.get("etag"))

    @staticmethod
    def _decode(resp: httpx.Response) -> Any:
        try:
            return resp.json()
        except (ValueError, UnicodeDecodeError) as exc:
            raise with_diagnosis(
                UnexpectedResponse(
                    f"{resp.request.url.path} answered {resp.status_code} with invalid JSON"
                ),
                Diagnosis.UNEXPECTED,
            ) from exc

    # -- catalog --------------------------------------------------------------------------
    def _iter_odata(self, url: str, *, route: str) -> Iterator[dict[str, Any]]:
        """Rows of an OData collection: ``@odata.nextLink`` when given, else ``$top/$skip``."""
        current = self.absolute(url)
        params: dict[str, Any] | None = {"$top": CATALOG_PAGE, "$skip": 0}
        skip = 0
        seen: set[str] = set()
        while True:
            body = self.get_json(current, params=params, route=route)
            rows = body.get("value") if isinstance(body, dict) else None
            if not isinstance(rows, list):
                raise UnexpectedResponse(
                    f"{urlsplit(current).path} did not return an OData collection ('value')"
                )
            for row in rows:
                if isinstance(row, dict):
                    yield row
            next_link = body.get("@odata.nextLink")
            if isinstance(next_link, str) and next_link:
                current = urljoin(current, next_link)
                if current in seen:
                    raise UnexpectedResponse(
                        f"{route}: the server repeated a nextLink; paging stopped"
                    )
                seen.add(current)
                params = None
                continue
            if len(rows) < CATALOG_PAGE or not rows:
                return
            skip += len(rows)
            params = {"$top": CATALOG_PAGE, "$skip": skip}

    def iter_spaces(self) -> Iterator[Space]:
        """The spaces of the consumption catalog."""
        for row in self._iter_odata(f"{CATALOG_ROOT}/spaces", route=f"{CATALOG_ROOT}/spaces"):
            yield Space(name=str(row.get("name", "")), label=row.get("label"))

    def iter_assets(self, space: str | None = None) -> Iterator[CatalogAsset]:
        """Catalog assets of one space, or of every space."""
        if space is None:
            url, route = f"{CATALOG_ROOT}/assets", f"{CATALOG_ROOT}/assets"
        else:
            url = f"{CATALOG_ROOT}/spaces('{_odata_key(space)}')/assets"
            route = f"{CATALOG_ROOT}/spaces({{space}})/assets"
        for row in self._iter_odata(url, route=route):
            yield CatalogAsset.from_json(row)

    def catalog_asset(self, space: str, name: str) -> CatalogAsset | None:
        """One catalog asset; ``None`` when it is not exposed (404)."""
        url = f"{CATALOG_ROOT}/spaces('{_odata_key(space)}')/assets('{_odata_key(name)}')"
        try:
            body = self.get_json(url, route=f"{CATALOG_ROOT}/spaces({{space}})/assets({{asset}})")
        except NotFound:
            return None
        if not isinstance(body, dict):
            raise UnexpectedResponse(f"catalog asset {space}.{name} is not a JSON object")
        return CatalogAsset.from_json(body)

    # -- design time ----------------------------------------------------------------------
    def list_objects(
        self, space: str, kind: AssetKind, *, page_size: int = DESIGN_TIME_PAGE
    ) -> list[dict[str, Any]]:
        """Every design-time object of ``kind`` in ``space`` (``[{"technicalName": …}, …]``).

        The API pages at a small default with no cursor and no count: walk ``top``/``skip``
        until an **empty** page (a full page may be the last one)."""
        segment = DESIGN_TIME_SEGMENTS[kind]
        url = f"{DESIGN_TIME_ROOT}/spaces/{quote(space, safe='')}/{segment}"
        route = f"{DESIGN_TIME_ROOT}/spaces/{{space}}/{segment}"
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        skip = 0
        while True:
            body = self.get_json(url, params={"top": page_size, "skip": skip}, route=route)
            rows = body.get("value") if isinstance(body, dict) else body
            if not isinstance(rows, list):
                raise UnexpectedResponse(f"{route}: expected a JSON array of objects")
            if not rows:
                return out
            new = 0
            for row in rows:
                item = row if isinstance(row, dict) else {"technicalName": row}
                name = item.get("technicalName")
                if isinstance(name, str) and name not in seen:
                    seen.add(name)
                    out.append(item)
                    new += 1
            if new == 0:
                # A server that ignores ``skip`` would loop forever; stop and say so.
                raise UnexpectedResponse(f"{route}: the server repeated a page (skip ignored?)")
            skip += len(rows)

    def list_names(
        self, space: str, kind: AssetKind, *, page_size: int = DESIGN_TIME_PAGE
    ) -> list[str]:
        """Technical names of every design-time object of ``kind`` in ``space``."""
        return [
            str(item["technicalName"])
            for item in self.list_objects(space, kind, page_size=page_size)
        ]

    def list_connections(self, space: str) -> list[dict[str, Any]]:
        """The connections of ``space`` (``GET …/spaces/{space}/connections``: a bare JSON
        list, one object per connection with at least ``name``). 403/404 raise
        :class:`AccessDenied` / :class:`NotFound` like every other space read."""
        url = f"{DESIGN_TIME_ROOT}/spaces/{quote(space, safe='')}/connections"
        route = f"{DESIGN_TIME_ROOT}/spaces/{{space}}/connections"
        body = self.get_json(url, route=route)
        rows = body.get("value") if isinstance(body, dict) else body
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and isinstance(r.get("name"), str) for r in rows
        ):
            raise UnexpectedResponse(f"{route}: expected a JSON array of connections with names")
        return rows

    def probe_space(self, space: str, kinds: Iterable[AssetKind]) -> str | None:
        """Whether ``space`` is a space, asked with one-row design-time lists (``kinds`` in
        order, until one is not 404): ``""`` readable, ``"not a member (403)"`` a space this
        user may not see, ``None`` no space (every list 404)."""
        for kind in kinds:
            segment = DESIGN_TIME_SEGMENTS[kind]
            url = f"{DESIGN_TIME_ROOT}/spaces/{quote(space, safe='')}/{segment}"
            route = f"{DESIGN_TIME_ROOT}/spaces/{{space}}/{segment}"
            try:
                self.get_json(url, params={"top": 1, "select": "technicalName"}, route=route)
            except NotFound:
                continue
            except AccessDenied:
                return "not a member (403)"
            return ""
        return None

    def read_csn(
        self, space: str, kind: AssetKind, name: str, etag: str | None = None
    ) -> Versioned[dict[str, Any]]:
        """The CSN of one design-time object (conditional when ``etag`` is given)."""
        segment = DESIGN_TIME_SEGMENTS[kind]
        url = f"{DESIGN_TIME_ROOT}/spaces/{quote(space, safe='')}/{segment}/{quote(name, safe='')}"
        got = self.get_conditional(
            url,
            etag=etag,
            route=f"{DESIGN_TIME_ROOT}/spaces/{{space}}/{segment}/{{name}}",
            accept=CSN_ACCEPT,
        )
        if not got.not_modified and not isinstance(got.value, dict):
            raise UnexpectedResponse(f"the CSN of {space}.{name} is not a JSON object")
        return got

    def read_metadata(self, url: str, etag: str | None = None) -> Versioned[str]:
        """A consumption ``$metadata`` document (CSDL XML), from a URL the catalog returned."""
        return self.get_conditional(
            url, etag=etag, route=_metadata_route(url), accept="application/xml", expect="text"
        )

    def read_service_document(self, url: str) -> dict[str, Any]:
        """A consumption service document (carries ``@odata.metadataEtag`` where supported)."""
        route = _metadata_route(url).replace("/$metadata", "")
        body = self.get_json(url, route=route)
        if not isinstance(body, dict):
            raise UnexpectedResponse(
                f"the service document {urlsplit(url).path} is not a JSON object"
            )
        return body


def _odata_key(value: str) -> str:
    """A string key inside ``('…')``: quotes doubled, then percent-encoded for the path."""
    return quote(value.replace("'", "''"), safe="'")


def _metadata_route(url: str) -> str:
    """Route template of a consumption URL: ``…/consumption/{relational|analytical}/{space}/{asset}``."""
    path = urlsplit(url).path
    for flavour in ("relational", "analytical"):
        marker = f"/consumption/{flavour}/"
        if marker in path:
            prefix = path.split(marker, 1)[0]
            tail = "/$metadata" if path.endswith("$metadata") else ""
            return f"{prefix}{marker}{{space}}/{{asset}}{tail}"
    return path
