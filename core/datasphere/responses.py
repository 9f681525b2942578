"""What the Datasphere client hands back and reads: conditional results, catalog rows,
request statistics and the small parsers of OData answers (error messages, keys, routes).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from core.perf import LatencyRecorder

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
    """Requests, retries and throttles per route template; safe to share between threads.

    ``latency`` holds the duration of every logical request (retries, backoff and a
    re-authentication included): see :mod:`core.perf`."""

    _FIELDS = ("requests", "retries", "throttles", "reauth", "errors")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, dict[str, int]] = {}
        self.latency = LatencyRecorder()

    def totals(self) -> dict[str, int]:
        """Every counter summed over the routes."""
        with self._lock:
            return {f: sum(row.get(f, 0) for row in self._routes.values()) for f in self._FIELDS}

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


def odata_message(resp: httpx.Response) -> str:
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


def looks_html(resp: httpx.Response) -> bool:
    """Whether an answer is an HTML page (a login page or a proxy, not the API)."""
    ctype = resp.headers.get("content-type", "").lower()
    if "html" in ctype:
        return True
    head = resp.content[:64].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def odata_key(value: str) -> str:
    """A string key inside ``('…')``: quotes doubled, then percent-encoded for the path."""
    return quote(value.replace("'", "''"), safe="'")


def metadata_route(url: str) -> str:
    """Route template of a consumption URL: ``…/consumption/{relational|analytical}/{space}/{asset}``."""
    path = urlsplit(url).path
    for flavour in ("relational", "analytical"):
        marker = f"/consumption/{flavour}/"
        if marker in path:
            prefix = path.split(marker, 1)[0]
            tail = "/$metadata" if path.endswith("$metadata") else ""
            return f"{prefix}{marker}{{space}}/{{asset}}{tail}"
    return path
