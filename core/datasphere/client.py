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

import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Literal
from urllib.parse import quote, urljoin, urlsplit

import httpx
from pydantic import SecretStr

from core.datasphere.auth import Diagnosis, TokenManager, with_diagnosis
from core.datasphere.identity import TenantFacts
from core.datasphere.responses import (
    NOT_MODIFIED,
    CatalogAsset,
    NotModifiedType,
    RequestStats,
    Versioned,
    looks_html,
    metadata_route,
    odata_key,
    odata_message,
)
from core.datasphere.retry import (
    BACKOFF_BASE_S,
    RETRYABLE_STATUSES,
    RetryCount,
    RetryPolicy,
    parse_retry_after,
    send_with_retries,
)
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

#: Names that moved to :mod:`core.datasphere.responses` / :mod:`core.datasphere.retry`, still
#: importable from here.
__all__ = [
    "BACKOFF_BASE_S",
    "CATALOG_PAGE",
    "CATALOG_ROOT",
    "CSN_ACCEPT",
    "DESIGN_TIME_PAGE",
    "DESIGN_TIME_ROOT",
    "NOT_MODIFIED",
    "RETRYABLE_STATUSES",
    "CatalogAsset",
    "DatasphereClient",
    "NotModifiedType",
    "RequestStats",
    "Versioned",
    "parse_retry_after",
]

CATALOG_ROOT: Final = "/api/v1/datasphere/consumption/catalog"
DESIGN_TIME_ROOT: Final = "/dwaas-core/api/v1"
CSN_ACCEPT: Final = "application/vnd.sap.datasphere.object.content+json"
#: Rows per catalog page we ask for (the server caps pages at 500).
CATALOG_PAGE: Final = 500
#: Rows per design-time page we ask for (the server may return fewer: we walk to an empty page).
DESIGN_TIME_PAGE: Final = 100

def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port
    if port is None:
        port = 443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


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
        #: The retry policy shared with the token manager (:mod:`core.datasphere.retry`).
        self.retry_policy = RetryPolicy.from_settings(settings, rand=rand)
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
        """Send one logical request (retries, 401 retry included; timed in ``stats.latency``)."""
        started = time.perf_counter()
        try:
            return self._request(method, url, route=route, params=params, headers=headers, expect=expect)
        finally:
            self.stats.latency.observe(time.perf_counter() - started)

    def _request(self, method: str, url: str, *, route: str | None, params: dict[str, Any] | None,
                 headers: dict[str, str] | None, expect: Literal["json", "text"]) -> httpx.Response:
        full = self.absolute(url)
        route = route or urlsplit(full).path
        retries = RetryCount()
        reauthenticated = False
        sent_token = [""]

        def send() -> httpx.Response:
            # A fresh look at the token for every attempt (it may expire during a backoff).
            sent_token[0] = self.tokens.access_token()
            sent_headers = {"Authorization": f"Bearer {sent_token[0]}", **(headers or {})}
            return self.http.request(method, full, params=params, headers=sent_headers)

        while True:
            try:
                resp = send_with_retries(
                    send,
                    policy=self.retry_policy,
                    sleep=self._sleep,
                    retries=retries,
                    on_response=lambda r: self._count_response(route, r),
                    on_transport_error=lambda _exc: self._count_transport_error(route),
                    on_retry=lambda n, delay, cause: self._log_retry(route, n, delay, cause),
                )
            except httpx.HTTPError as exc:
                raise self._transport_error(full, exc, retries.count) from exc
            status = resp.status_code
            if status == 401:
                _signal_denied(DATASPHERE_UNAUTHORIZED_KIND, full, retried=reauthenticated)
                if not reauthenticated:
                    reauthenticated = True
                    self.stats.add(route, "reauth")
                    self.tokens.invalidate(sent_token[0])
                    continue
                raise with_diagnosis(
                    AuthError(
                        f"the API refused a fresh access token (401 twice) for {urlsplit(full).path}: "
                        f"{odata_message(resp) or 'unauthorized'}",
                        hint="The OAuth client may lack Datasphere roles; check it in Datasphere "
                        "(System > App Integration) and run `dgsync check`.",
                    ),
                    Diagnosis.TOKEN_REJECTED,
                )
            if status in RETRYABLE_STATUSES:
                self.stats.add(route, "errors")
                raise self._final_retry_error(full, resp, retries.count)
            if status == 304 or 200 <= status < 300:
                if status != 304 and expect == "json" and looks_html(resp):
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

    def _count_response(self, route: str, resp: httpx.Response) -> None:
        self.stats.add(route, "requests")
        if resp.status_code == 429:
            self.stats.add(route, "throttles")

    def _count_transport_error(self, route: str) -> None:
        self.stats.add(route, "requests")
        self.stats.add(route, "errors")

    def _log_retry(
        self, route: str, attempt: int, delay: float, cause: httpx.Response | httpx.HTTPError
    ) -> None:
        self.stats.add(route, "retries")
        if isinstance(cause, httpx.Response):
            log.info(
                "retrying after %s",
                cause.status_code,
                extra={
                    "route": route,
                    "status": cause.status_code,
                    "attempt": attempt,
                    "delay_s": round(delay, 3),
                },
            )
            return
        log.warning(
            "transport error; retrying",
            extra={
                "route": route,
                "error": type(cause).__name__,
                "attempt": attempt,
                "delay_s": round(delay, 3),
            },
        )

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
        message = odata_message(resp)
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
        message = odata_message(resp)
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
            url = f"{CATALOG_ROOT}/spaces('{odata_key(space)}')/assets"
            route = f"{CATALOG_ROOT}/spaces({{space}})/assets"
        for row in self._iter_odata(url, route=route):
            yield CatalogAsset.from_json(row)

    def catalog_asset(self, space: str, name: str) -> CatalogAsset | None:
        """One catalog asset; ``None`` when it is not exposed (404)."""
        url = f"{CATALOG_ROOT}/spaces('{odata_key(space)}')/assets('{odata_key(name)}')"
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
            url, etag=etag, route=metadata_route(url), accept="application/xml", expect="text"
        )

    def read_service_document(self, url: str) -> dict[str, Any]:
        """A consumption service document (carries ``@odata.metadataEtag`` where supported)."""
        route = metadata_route(url).replace("/$metadata", "")
        body = self.get_json(url, route=route)
        if not isinstance(body, dict):
            raise UnexpectedResponse(
                f"the service document {urlsplit(url).path} is not a JSON object"
            )
        return body
