"""``dgsync check``: can we get a token, read the catalog, and read each space?

Each step reports its latency, and each failure a diagnosis a user can act on: bad
credentials, wrong token URL, not a member of a space, unreachable host, an HTML login page
(a proxy), expired refresh token. Checking never raises for a failed step; it reports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field

from core.datasphere.auth import Diagnosis, TokenManager, diagnosis_of
from core.datasphere.client import DESIGN_TIME_ROOT, DatasphereClient
from core.errors import DgsyncError
from core.settings import DatasphereSettings

T = TypeVar("T")

#: What each diagnosis means, in one line.
DIAGNOSIS_TEXT: dict[Diagnosis, str] = {
    Diagnosis.BAD_CREDENTIALS: "bad credentials: the token endpoint refused the client id/secret",
    Diagnosis.WRONG_TOKEN_URL: "wrong token URL: it does not point at the tenant's XSUAA /oauth/token",
    Diagnosis.EXPIRED_REFRESH_TOKEN: "the refresh token expired: run `dgsync login`",
    Diagnosis.NO_REFRESH_TOKEN: "no refresh token yet: run `dgsync login`",
    Diagnosis.UNREACHABLE: "unreachable host: DNS, proxy, firewall or a wrong URL",
    Diagnosis.TIMEOUT: "the host did not answer in time",
    Diagnosis.HTML_LOGIN_PAGE: "an HTML login page answered (a proxy or SSO in between)",
    Diagnosis.NOT_A_MEMBER: "not a member of the space (403): add the user to the space",
    Diagnosis.NOT_FOUND: "not found (404): the space or path does not exist",
    Diagnosis.THROTTLED: "rate-limited (429)",
    Diagnosis.SERVER_ERROR: "the server failed (5xx)",
    Diagnosis.TOKEN_REJECTED: "the API refused the token: the client lacks Datasphere roles",
    Diagnosis.UNEXPECTED: "unexpected answer",
}


class CheckStep(BaseModel):
    """One step of a connection check."""

    model_config = ConfigDict(extra="forbid")

    name: str
    ok: bool
    latency_ms: float | None = None
    detail: str = ""
    diagnosis: str | None = None
    explanation: str | None = None
    hint: str | None = None


class SpaceAccess(CheckStep):
    """Access to one space's design-time objects."""

    space: str = ""


class CheckReport(BaseModel):
    """Result of :func:`check_connection`."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None
    token_url: str | None
    grant: str
    token: CheckStep
    catalog: CheckStep | None = None
    spaces: list[SpaceAccess] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        steps: list[CheckStep] = [
            self.token,
            *([self.catalog] if self.catalog else []),
            *self.spaces,
        ]
        return all(s.ok for s in steps)

    @property
    def diagnoses(self) -> list[str]:
        steps: list[CheckStep] = [
            self.token,
            *([self.catalog] if self.catalog else []),
            *self.spaces,
        ]
        return [s.diagnosis for s in steps if s.diagnosis]


def _timed(func: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = func()
    return value, (time.perf_counter() - started) * 1000


def _failed(name: str, exc: DgsyncError, latency_ms: float | None, **extra: Any) -> dict[str, Any]:
    diagnosis = diagnosis_of(exc)
    return {
        "name": name,
        "ok": False,
        "latency_ms": latency_ms,
        "detail": exc.message,
        "diagnosis": diagnosis.value,
        "explanation": DIAGNOSIS_TEXT[diagnosis],
        "hint": exc.hint,
        **extra,
    }


def check_connection(
    settings: DatasphereSettings,
    http: httpx.Client | None = None,
    *,
    spaces: Iterable[str] | None = None,
) -> CheckReport:
    """Check token, catalog and per-space access; never raises for a failed step."""
    # A check answers quickly: one retry at most, short waits.
    quick = settings.model_copy(
        update={
            "max_retries": min(settings.max_retries, 1),
            "max_backoff_s": min(settings.max_backoff_s, 2.0),
        }
    )
    own = http is None
    http = http or httpx.Client(timeout=httpx.Timeout(quick.timeout_s), verify=quick.verify_tls)
    try:
        return _check(quick, http, spaces)
    finally:
        if own:
            http.close()


def _check(
    settings: DatasphereSettings, http: httpx.Client, spaces: Iterable[str] | None
) -> CheckReport:
    try:
        tokens = TokenManager(settings, http)
    except DgsyncError as exc:
        return CheckReport(
            base_url=settings.base_url,
            token_url=settings.token_url,
            grant=settings.grant,
            token=CheckStep(**_failed("token", exc, None)),
        )
    report = CheckReport(
        base_url=settings.base_url,
        token_url=tokens.token_url,
        grant=settings.grant,
        token=CheckStep(name="token", ok=False),
    )
    started = time.perf_counter()
    try:
        token = tokens.fetch()
    except DgsyncError as exc:
        report.token = CheckStep(**_failed("token", exc, (time.perf_counter() - started) * 1000))
        return report
    expiry = f", expires in {token.expires_in:g} s" if token.expires_in is not None else ""
    report.token = CheckStep(
        name="token",
        ok=True,
        latency_ms=token.latency_s * 1000,
        detail=f"grant {token.grant}{expiry}",
    )
    try:
        client = DatasphereClient(settings, http=http, token_manager=tokens)
    except DgsyncError as exc:
        report.catalog = CheckStep(**_failed("catalog", exc, None))
        return report

    started = time.perf_counter()
    try:
        catalog_spaces, latency = _timed(lambda: list(client.iter_spaces()))
    except DgsyncError as exc:
        report.catalog = CheckStep(
            **_failed("catalog", exc, (time.perf_counter() - started) * 1000)
        )
        return report
    report.catalog = CheckStep(
        name="catalog", ok=True, latency_ms=latency, detail=f"{len(catalog_spaces)} space(s)"
    )
    names = list(spaces) if spaces else [s.name for s in catalog_spaces]
    for space in names:
        url = f"{DESIGN_TIME_ROOT}/spaces/{quote(space, safe='')}/views"
        started = time.perf_counter()
        try:
            client.get_json(
                url,
                params={"top": 1, "skip": 0},
                route=f"{DESIGN_TIME_ROOT}/spaces/{{space}}/views",
            )
            latency = (time.perf_counter() - started) * 1000
        except DgsyncError as exc:
            report.spaces.append(
                SpaceAccess(
                    **_failed(
                        f"space {space}", exc, (time.perf_counter() - started) * 1000, space=space
                    )
                )
            )
            continue
        report.spaces.append(
            SpaceAccess(
                name=f"space {space}", space=space, ok=True, latency_ms=latency, detail="member"
            )
        )
    return report
