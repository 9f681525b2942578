"""Live connectivity of the three systems dgsync depends on, with a bounded history.

:class:`ConnectivityMonitor` ``.check()`` answers, in one report:

* **datasphere** — the access token (grant, age, seconds until it expires, how long a fetch
  took), the catalog's latency (listing the spaces), and per space whether this client may
  read it: a 403 is named (``denied``) with the fix, so "not a member of SALES" is visible
  without a terminal. Retries and throttles of the shared client since the process started.
* **glue** — latency of a one-page database listing, the caller identity and account
  (``sts:GetCallerIdentity``, when STS answers: moto does), throttles/retries/errors so far.
* **store** — latency of ``SELECT 1``, the schema revision against the migration head.

Checks never raise for a failed system: its section says ``ok: false`` with the error's
code, message and hint. Each check is appended to the ``connectivity_samples`` table (the
newest ``keep`` per environment are kept), so any process — a Bear Lambda included — can draw
the history. Checks are cached for ``min_interval_s`` (a page polling every few seconds, in
several tabs, costs the tenant one check); an older result is answered at once while the next
check runs in the background.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, Field
from sqlalchemy import text

from core import heap
from core.errors import AccessDenied, DgsyncError
from core.log import get_logger
from core.store import jobs as samples
from core.store.schemas import utcnow

if TYPE_CHECKING:
    from core.services import Services

log = get_logger(__name__)

T = TypeVar("T")

#: Samples kept per environment.
DEFAULT_KEEP = 500
#: At most this many spaces are probed per check (the rest are reported as not checked).
DEFAULT_MAX_SPACES = 25


class CheckError(BaseModel):
    code: str
    message: str
    hint: str


class TokenInfo(BaseModel):
    ok: bool
    grant: str | None = None
    age_s: float | None = Field(default=None, description="Seconds since the token was obtained.")
    expires_in_s: float | None = Field(default=None, description="Seconds until it expires (None: unknown).")
    fetch_latency_ms: float | None = Field(default=None, description="How long the last token request took.")
    error: CheckError | None = None


class SpaceAccessInfo(BaseModel):
    space: str
    ok: bool
    #: ``member``, ``denied (403)``, or the error's code.
    access: str
    latency_ms: float | None = None
    error: CheckError | None = None


class SystemSection(BaseModel):
    ok: bool
    latency_ms: float | None = Field(default=None, description="The main probe's latency.")
    error: CheckError | None = None


class DatasphereSection(SystemSection):
    base_url: str | None = None
    token: TokenInfo | None = None
    catalog_latency_ms: float | None = None
    spaces: list[SpaceAccessInfo] = Field(default_factory=list)
    denied_spaces: list[str] = Field(default_factory=list, description="Spaces that answered 403.")
    spaces_not_checked: int = 0
    requests: int = 0
    retries: int = 0
    throttles: int = 0


class GlueSection(SystemSection):
    region: str | None = None
    account: str | None = None
    identity_arn: str | None = None
    identity_error: str | None = None
    calls: int = 0
    errors: int = 0
    retries: int = 0
    throttles: int = 0


class StoreSection(SystemSection):
    dialect: str | None = None
    url: str | None = Field(default=None, description="The database URL, password masked.")
    revision: str | None = None
    head: str | None = None
    at_head: bool = False


class HistoryPoint(BaseModel):
    checked_at: datetime
    ok: bool
    datasphere_ok: bool | None = None
    glue_ok: bool | None = None
    store_ok: bool | None = None
    datasphere_ms: float | None = None
    glue_ms: float | None = None
    store_ms: float | None = None


class ConnectivityReport(BaseModel):
    env: str
    checked_at: datetime
    ok: bool
    duration_ms: float
    datasphere: DatasphereSection
    glue: GlueSection
    store: StoreSection
    history: list[HistoryPoint] = Field(default_factory=list, description="Earlier checks, oldest first.")


def _error(exc: BaseException) -> CheckError:
    if isinstance(exc, DgsyncError):
        return CheckError(code=exc.code, message=exc.message, hint=exc.hint)
    return CheckError(code="unexpected", message=f"unexpected {type(exc).__name__}",
                      hint="See the server log for details.")


def _timed(func: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = func()
    return value, round((time.perf_counter() - started) * 1000, 2)


class ConnectivityMonitor:
    """Checks for one ``Services`` (one per app); thread-safe."""

    def __init__(
        self,
        services: Services,
        *,
        keep: int = DEFAULT_KEEP,
        min_interval_s: float = 5.0,
        max_spaces: int = DEFAULT_MAX_SPACES,
    ) -> None:
        self.services = services
        self.keep = keep
        self.min_interval_s = min_interval_s
        self.max_spaces = max_spaces
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._refreshing: threading.Thread | None = None
        self._last: ConnectivityReport | None = None
        self._last_at = 0.0
        self._sts: Any = None

    # -- the check -------------------------------------------------------------------------
    def check(self, *, fresh: bool = False) -> ConnectivityReport:
        """The three sections, recorded. The last check is returned while it is younger than
        ``min_interval_s``; an older one is returned too while a new check runs in the
        background (a page polling never waits for the tenant). The first check, and
        ``fresh``, check now."""
        with self._lock:
            last = self._last
            age = time.monotonic() - self._last_at
            if last is not None and not fresh:
                if age >= self.min_interval_s and (self._refreshing is None or not self._refreshing.is_alive()):
                    self._refreshing = threading.Thread(target=self._check_now, name="dgsync-connectivity-check",
                                                        daemon=True)
                    self._refreshing.start()
                return last
        return self._check_now()

    def _check_now(self) -> ConnectivityReport:
        with self._check_lock:  # one check at a time
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=3, thread_name_prefix="dgsync-connectivity") as pool:
                ds = pool.submit(self._guard, self.datasphere, DatasphereSection)
                glue = pool.submit(self._guard, self.glue, GlueSection)
                store = pool.submit(self._guard, self.store, StoreSection)
                report = ConnectivityReport(
                    env=self.services.settings.env, checked_at=utcnow(),
                    ok=False, duration_ms=0.0, datasphere=ds.result(), glue=glue.result(), store=store.result(),
                )
            report.ok = report.datasphere.ok and report.glue.ok and report.store.ok
            report.duration_ms = round((time.perf_counter() - started) * 1000, 2)
            self._record(report)
            with self._lock:
                self._last, self._last_at = report, time.monotonic()
            return report

    @staticmethod
    def _guard(check: Callable[[], T], section: type[T]) -> T:
        try:
            return check()
        except Exception as exc:  # a check reports its failure, it never raises
            if not isinstance(exc, DgsyncError):
                log.warning("connectivity check failed unexpectedly", exc_info=True)
            return section(ok=False, error=_error(exc))  # type: ignore[call-arg]

    def datasphere(self) -> DatasphereSection:
        """Token, catalog latency and per-space access (quick retries: at most one)."""
        from core.datasphere.client import DESIGN_TIME_ROOT, DatasphereClient

        shared = self.services.datasphere_client()
        quick = shared.settings.model_copy(update={
            "max_retries": min(shared.settings.max_retries, 1),
            "max_backoff_s": min(shared.settings.max_backoff_s, 2.0),
        })
        client = DatasphereClient(quick, http=shared.http, token_manager=shared.tokens)
        section = DatasphereSection(ok=False, base_url=shared.base_url)
        try:
            section.token = self._token(shared)
            if not section.token.ok:
                section.error = section.token.error
                return section
            spaces, section.catalog_latency_ms = _timed(lambda: list(client.iter_spaces()))
        except DgsyncError as exc:
            section.error = _error(exc)
            return section
        finally:
            stats = shared.stats
            section.requests, section.retries = stats.total("requests"), stats.total("retries")
            section.throttles = stats.total("throttles")
        section.latency_ms = section.catalog_latency_ms
        names = list(shared.settings.spaces) or [s.name for s in spaces]
        section.spaces_not_checked = max(0, len(names) - self.max_spaces)
        for space in names[: self.max_spaces]:
            url = f"{DESIGN_TIME_ROOT}/spaces/{quote(space, safe='')}/views"
            started = time.perf_counter()
            try:
                client.get_json(url, params={"top": 1, "skip": 0}, route=f"{DESIGN_TIME_ROOT}/spaces/{{space}}/views")
                section.spaces.append(SpaceAccessInfo(
                    space=space, ok=True, access="member",
                    latency_ms=round((time.perf_counter() - started) * 1000, 2)))
            except DgsyncError as exc:
                denied = isinstance(exc, AccessDenied)
                section.spaces.append(SpaceAccessInfo(
                    space=space, ok=False, access="denied (403)" if denied else exc.code,
                    latency_ms=round((time.perf_counter() - started) * 1000, 2), error=_error(exc)))
                if denied:
                    section.denied_spaces.append(space)
        section.ok = all(s.ok for s in section.spaces)
        if section.denied_spaces:
            section.error = CheckError(
                code="access_denied",
                message=f"no access (403) to space(s): {', '.join(section.denied_spaces)}",
                hint="Add the technical user to these spaces in Datasphere (Space Management → Members), "
                "or remove them from DGSYNC_DATASPHERE__SPACES.")
        elif not section.ok:
            section.error = next(s.error for s in section.spaces if s.error is not None)
        return section

    @staticmethod
    def _token(shared: Any) -> TokenInfo:
        tokens = shared.tokens
        try:
            tokens.access_token()
        except DgsyncError as exc:
            return TokenInfo(ok=False, grant=tokens.grant, error=_error(exc))
        token = tokens.current()
        if token is None:  # pragma: no cover - access_token() always leaves one
            return TokenInfo(ok=False, grant=tokens.grant)
        now = time.monotonic()
        expires = token.obtained_at + token.expires_in - now if token.expires_in is not None else None
        return TokenInfo(
            ok=True, grant=token.grant, age_s=round(now - token.obtained_at, 1),
            expires_in_s=round(expires, 1) if expires is not None else None,
            fetch_latency_ms=round(token.latency_s * 1000, 2),
        )

    def glue(self) -> GlueSection:
        """A one-page database listing, the caller identity (STS), the client's counters."""
        glue = self.services.glue()
        section = GlueSection(ok=False, region=glue.region)
        try:
            _, section.latency_ms = _timed(lambda: next(iter(glue.iter_databases(page_size=1)), None))
            section.ok = True
        except DgsyncError as exc:
            section.error = _error(exc)
        try:
            identity = self._sts_client().get_caller_identity()
            section.account, section.identity_arn = identity.get("Account"), identity.get("Arn")
        except Exception as exc:  # STS is optional: a private endpoint may not offer it
            section.identity_error = f"sts:GetCallerIdentity failed: {type(exc).__name__}"
        snap = glue.stats.snapshot()
        section.calls, section.errors = snap.calls, snap.errors
        section.retries, section.throttles = snap.retries, snap.throttles
        return section

    def _sts_client(self) -> Any:
        if self._sts is None:
            from core.glue.session import boto_config, make_session

            settings = self.services.settings.glue.model_copy(
                update={"endpoint_url": self.services.glue_endpoint_url()})
            self._sts = make_session(settings).client(
                "sts", endpoint_url=settings.endpoint_url, config=boto_config(settings))
            heap.settle()  # its service model lives as long as the process (core/heap.py)
        return self._sts

    def store(self) -> StoreSection:
        """``SELECT 1`` and the schema revision against the head."""
        from core.store.db import head_revision

        store = self.services.store()
        section = StoreSection(ok=False, dialect=store.dialect, url=store.url)

        def ping() -> None:
            with store.session(readonly=True) as session:
                session.execute(text("SELECT 1"))

        _, section.latency_ms = _timed(ping)
        section.revision, section.head = store.current_revision(), head_revision()
        section.at_head = section.revision == section.head
        section.ok = section.at_head
        if not section.at_head:
            section.error = CheckError(
                code="store_error",
                message=f"the store is at revision {section.revision or 'none'}, not at head {section.head}",
                hint="Run `dgsync db upgrade`.")
        return section

    # -- history ---------------------------------------------------------------------------
    def _record(self, report: ConnectivityReport) -> None:
        if not report.store.ok:
            return  # nowhere to write it
        try:
            with self.services.store().session() as session:
                samples.add_sample(
                    session=session, env=report.env, ok=report.ok, keep=self.keep, checked_at=report.checked_at,
                    report=report.model_dump(mode="json", exclude={"history"}),
                    datasphere_ms=report.datasphere.latency_ms, glue_ms=report.glue.latency_ms,
                    store_ms=report.store.latency_ms,
                )
        except DgsyncError as exc:
            log.warning("could not record a connectivity sample", extra={"error": exc.message})

    def history(self, limit: int = 60) -> list[HistoryPoint]:
        """The newest ``limit`` checks of this environment, oldest first."""
        if limit <= 0:
            return []
        with self.services.store().session(readonly=True) as session:
            rows = samples.list_samples(session=session, env=self.services.settings.env, limit=limit)
        return [
            HistoryPoint(
                checked_at=r.checked_at, ok=r.ok, datasphere_ms=r.datasphere_ms, glue_ms=r.glue_ms,
                store_ms=r.store_ms,
                datasphere_ok=(r.report.get("datasphere") or {}).get("ok"),
                glue_ok=(r.report.get("glue") or {}).get("ok"),
                store_ok=(r.report.get("store") or {}).get("ok"),
            )
            for r in rows
        ]


__all__ = [
    "ConnectivityMonitor",
    "ConnectivityReport",
    "DatasphereSection",
    "GlueSection",
    "HistoryPoint",
    "SpaceAccessInfo",
    "StoreSection",
    "TokenInfo",
]
