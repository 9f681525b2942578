"""Fault injection (admin API ``/_emulator/faults``): throttling, 5xx, latency, login pages.

``POST`` merges a :class:`FaultConfig` into the current state: every section present replaces
that section. Counts are consumed one per affected request; probabilities draw from a seeded
generator, so a run with the same seed sees the same faults. Faults apply to API requests
(catalog, consumption, design-time); ``include_token_endpoint`` extends them to
``POST /oauth/token``; ``match`` limits them to paths containing a substring.
``not_offered`` makes whole design-time kinds (e.g. ``taskchains``) answer 404, as on a
tenant without that API; ``forbidden_spaces`` makes spaces answer 403 to every client (as
for a user who is not a member).

:func:`configure`, :func:`clear` and :func:`state` are what the admin endpoints do, for
callers in the same process (Dog's Debug page).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.models import DESIGN_TIME_SEGMENTS

if TYPE_CHECKING:
    from .tenant import Tenant


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ThrottleFault(_Strict):
    """429 Too Many Requests for the next ``count`` requests and/or with ``probability``."""

    count: int = Field(default=0, ge=0)
    probability: float = Field(default=0.0, ge=0, le=1)
    #: Seconds for the ``Retry-After`` header; None = no header.
    retry_after: int | None = Field(default=1, ge=0)


class ServerErrorFault(_Strict):
    """A burst of 5xx responses."""

    status: int = Field(default=503, ge=500, le=599)
    count: int = Field(default=0, ge=0)
    probability: float = Field(default=0.0, ge=0, le=1)


class HtmlLoginFault(_Strict):
    """200 OK with an HTML login page (a proxy in the way)."""

    count: int = Field(default=0, ge=0)
    probability: float = Field(default=0.0, ge=0, le=1)


class FaultConfig(_Strict):
    """Body of ``POST /_emulator/faults``."""

    throttle: ThrottleFault | None = None
    server_error: ServerErrorFault | None = None
    html_login: HtmlLoginFault | None = None
    latency_ms: int | None = Field(default=None, ge=0, le=60_000)
    #: One-shot: invalidate every access token issued so far.
    expire_tokens: bool = False
    #: One-shot: invalidate every refresh token issued so far.
    expire_refresh_tokens: bool = False
    #: Lifetime of access / refresh tokens issued from now on (0 clears the override).
    token_lifetime_s: int | None = Field(default=None, ge=0)
    refresh_token_lifetime_s: int | None = Field(default=None, ge=0)
    match: str | None = None
    include_token_endpoint: bool | None = None
    seed: int | None = None
    #: Design-time list segments (``taskchains``, ``views``...) this tenant does not offer:
    #: their list and read endpoints answer 404 (``[]`` clears). Not affected by ``match``.
    not_offered: list[str] | None = None
    #: Spaces that answer 403 (not a member) to every client (``[]`` clears). Not affected
    #: by ``match``.
    forbidden_spaces: list[str] | None = None

    @field_validator("not_offered")
    @classmethod
    def _known_segments(cls, value: list[str] | None) -> list[str] | None:
        unknown = sorted(set(value or ()) - set(DESIGN_TIME_SEGMENTS.values()))
        if unknown:
            raise ValueError(
                f"unknown design-time segment(s) {', '.join(unknown)}; use "
                + ", ".join(DESIGN_TIME_SEGMENTS.values())
            )
        return value


@dataclass(frozen=True)
class FaultDecision:
    latency_ms: int = 0
    #: None, "html_login", "throttle" or "server_error".
    kind: str | None = None
    status: int = 200
    retry_after: int | None = None


class FaultState:
    """Current faults; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.throttle = ThrottleFault()
            self.server_error = ServerErrorFault()
            self.html_login = HtmlLoginFault()
            self.latency_ms = 0
            self.match: str | None = None
            self.include_token_endpoint = False
            self.not_offered: frozenset[str] = frozenset()
            self.forbidden_spaces: frozenset[str] = frozenset()
            self._rng = random.Random(0)
            self.injected = {"throttle": 0, "server_error": 0, "html_login": 0}

    def apply(self, config: FaultConfig) -> None:
        with self._lock:
            if config.throttle is not None:
                self.throttle = config.throttle.model_copy()
            if config.server_error is not None:
                self.server_error = config.server_error.model_copy()
            if config.html_login is not None:
                self.html_login = config.html_login.model_copy()
            if config.latency_ms is not None:
                self.latency_ms = config.latency_ms
            if "match" in config.model_fields_set:
                self.match = config.match or None
            if config.include_token_endpoint is not None:
                self.include_token_endpoint = config.include_token_endpoint
            if config.seed is not None:
                self._rng = random.Random(config.seed)
            if config.not_offered is not None:
                self.not_offered = frozenset(config.not_offered)
            if config.forbidden_spaces is not None:
                self.forbidden_spaces = frozenset(config.forbidden_spaces)

    def offers(self, segment: str) -> bool:
        """False for a design-time segment configured as not offered (404)."""
        with self._lock:
            return segment not in self.not_offered

    def forbids(self, space: str) -> bool:
        """True for a space configured to answer 403 to every client."""
        with self._lock:
            return space in self.forbidden_spaces

    def _fires(self, count: int, probability: float) -> tuple[bool, int]:
        if count > 0:
            return True, count - 1
        if probability > 0 and self._rng.random() < probability:
            return True, count
        return False, count

    def decide(self, path: str, *, token_endpoint: bool = False) -> FaultDecision:
        """Consume and return the fault for one request (latency is always returned)."""
        with self._lock:
            if token_endpoint and not self.include_token_endpoint:
                return FaultDecision()
            if self.match and self.match not in path:
                return FaultDecision()
            latency = self.latency_ms
            fired, self.html_login.count = self._fires(self.html_login.count, self.html_login.probability)
            if fired:
                self.injected["html_login"] += 1
                return FaultDecision(latency, "html_login", 200)
            fired, self.throttle.count = self._fires(self.throttle.count, self.throttle.probability)
            if fired:
                self.injected["throttle"] += 1
                return FaultDecision(latency, "throttle", 429, self.throttle.retry_after)
            fired, self.server_error.count = self._fires(self.server_error.count, self.server_error.probability)
            if fired:
                self.injected["server_error"] += 1
                return FaultDecision(latency, "server_error", self.server_error.status)
            return FaultDecision(latency)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "throttle": self.throttle.model_dump(),
                "server_error": self.server_error.model_dump(),
                "html_login": self.html_login.model_dump(),
                "latency_ms": self.latency_ms,
                "match": self.match,
                "include_token_endpoint": self.include_token_endpoint,
                "not_offered": sorted(self.not_offered),
                "forbidden_spaces": sorted(self.forbidden_spaces),
                "injected": dict(self.injected),
            }


def state(tenant: Tenant) -> dict[str, Any]:
    """The fault state as ``GET /_emulator/faults`` answers it (token lifetimes included)."""
    snapshot: dict[str, Any] = tenant.faults.snapshot()
    snapshot["token_lifetime_s"] = tenant.auth.overrides.access_s
    snapshot["refresh_token_lifetime_s"] = tenant.auth.overrides.refresh_s
    return snapshot


def configure(tenant: Tenant, config: FaultConfig) -> dict[str, Any]:
    """Merge ``config`` into the tenant's faults (``POST /_emulator/faults``); the new state,
    with ``expired``: how many tokens the one-shot expiries invalidated."""
    auth = tenant.auth
    tenant.faults.apply(config)
    if config.token_lifetime_s is not None:
        auth.overrides.access_s = config.token_lifetime_s or None
    if config.refresh_token_lifetime_s is not None:
        auth.overrides.refresh_s = config.refresh_token_lifetime_s or None
    expired: dict[str, int] = {}
    if config.expire_tokens:
        expired["access_tokens"] = auth.expire_access_tokens()
    if config.expire_refresh_tokens:
        expired["refresh_tokens"] = auth.expire_refresh_tokens()
    result = state(tenant)
    result["expired"] = expired
    return result


def clear(tenant: Tenant) -> dict[str, Any]:
    """No faults, default token lifetimes (``DELETE /_emulator/faults``); the new state."""
    tenant.faults.clear()
    tenant.auth.overrides.access_s = None
    tenant.auth.overrides.refresh_s = None
    return state(tenant)
