"""OAuth 2.0 against the tenant's XSUAA: one valid access token, shared by every thread.

* ``client_credentials`` (technical user): the client id and secret are sent as HTTP Basic.
* ``authorization_code`` (interactive user): ``dgsync login`` exchanges a code once
  (:meth:`TokenManager.exchange_code`); the refresh token is kept in ``token_cache`` (file mode
  0600) and every later run refreshes from it.

The token is refreshed ``refresh_margin_s`` before it expires. Under concurrency only one
request is in flight (a lock with a double check); :meth:`TokenManager.invalidate` after a 401
drops the token only if it is still the one that failed, so twenty threads hitting a 401 at
once cause one new token, not twenty.

Token requests are retried with the one Datasphere policy (:mod:`core.datasphere.retry`: 429/5xx
and transport errors, ``Retry-After`` honoured, else full jitter, never longer than
``max_backoff_s``), at most ``max_attempts`` tries; a refused connection fails at once.

Token-endpoint failures become :class:`~core.errors.AuthError` (bad credentials, expired refresh
token, wrong token URL) or :class:`~core.errors.SourceUnavailable` (unreachable host), each with
a ``diagnosis`` attribute (see :class:`Diagnosis`) that ``dgsync check`` shows.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from core.datasphere.retry import RetryPolicy, send_with_retries
from core.errors import AuthError, DgsyncError, SourceThrottled, SourceUnavailable
from core.log import get_logger, register_secret
from core.settings import DatasphereSettings, derive_token_url

log = get_logger(__name__)

#: Where the refresh token is kept when ``DGSYNC_DATASPHERE__TOKEN_CACHE`` is not set.
DEFAULT_TOKEN_CACHE = Path(".dgsync") / "datasphere-token.json"


class Diagnosis(StrEnum):
    """Why a connection step failed, in words a user acts on."""

    BAD_CREDENTIALS = "bad_credentials"
    WRONG_TOKEN_URL = "wrong_token_url"
    EXPIRED_REFRESH_TOKEN = "expired_refresh_token"
    NO_REFRESH_TOKEN = "no_refresh_token"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    HTML_LOGIN_PAGE = "html_login_page"
    NOT_A_MEMBER = "not_a_member"
    NOT_FOUND = "not_found"
    THROTTLED = "throttled"
    SERVER_ERROR = "server_error"
    TOKEN_REJECTED = "token_rejected"
    UNEXPECTED = "unexpected"


def with_diagnosis(exc: DgsyncError, diagnosis: Diagnosis) -> DgsyncError:
    """Attach a :class:`Diagnosis` to an error (read back with :func:`diagnosis_of`)."""
    exc.diagnosis = diagnosis  # type: ignore[attr-defined]
    return exc


def diagnosis_of(exc: BaseException) -> Diagnosis:
    value = getattr(exc, "diagnosis", None)
    return value if isinstance(value, Diagnosis) else Diagnosis.UNEXPECTED


@dataclass(frozen=True)
class TokenState:
    """What a :class:`TokenManager` holds, for people (never the token itself).

    Ages and remaining times are seconds on the manager's clock; ``None`` when there is no
    token (or it never expires). ``refreshes`` are tokens obtained after the first one.
    """

    grant: str
    held: bool
    age_s: float | None
    expires_in_s: float | None
    remaining_s: float | None
    refresh_in_s: float | None
    tokens_obtained: int
    refreshes: int
    token_requests: int
    invalidations: int
    last_error: str | None
    last_error_diagnosis: str | None
    last_error_age_s: float | None


@dataclass(frozen=True)
class Token:
    """An access token and when (``time.monotonic`` clock) it must be refreshed."""

    access_token: str
    grant: str
    expires_in: float | None
    obtained_at: float
    refresh_at: float
    latency_s: float
    scope: str | None = None

    def fresh(self, now: float) -> bool:
        return now < self.refresh_at


def _transport_error(url: str, exc: httpx.HTTPError) -> DgsyncError:
    if isinstance(exc, httpx.TimeoutException):
        return with_diagnosis(
            SourceUnavailable(
                f"the token endpoint {url} did not answer in time",
                hint="Check DGSYNC_DATASPHERE__TOKEN_URL and the network (proxy, firewall).",
            ),
            Diagnosis.TIMEOUT,
        )
    detail = "connection refused" if "refused" in str(exc).lower() else type(exc).__name__
    return with_diagnosis(
        SourceUnavailable(
            f"cannot reach the token endpoint {url} ({detail})",
            hint="Check DGSYNC_DATASPHERE__TOKEN_URL (https://<tenant>.authentication.<region>"
            ".hana.ondemand.com/oauth/token) and the network.",
        ),
        Diagnosis.UNREACHABLE,
    )


def _error_body(resp: httpx.Response) -> tuple[str, str]:
    try:
        body = resp.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error")
    if isinstance(error, dict):  # OData-style
        return str(error.get("code", "")), str(error.get("message", ""))
    return str(error or ""), str(body.get("error_description", ""))


def _is_html(resp: httpx.Response) -> bool:
    ctype = resp.headers.get("content-type", "").lower()
    return "html" in ctype or resp.text.lstrip()[:1] == "<"


class TokenManager:
    """Holds one access token for a Datasphere OAuth client; thread-safe."""

    def __init__(
        self,
        settings: DatasphereSettings,
        http: httpx.Client,
        *,
        token_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 3,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.http = http
        if token_url is None:
            token_url = settings.token_url
        if token_url is None and settings.base_url:
            token_url = derive_token_url(settings.base_url)
        if not token_url:
            raise with_diagnosis(
                AuthError(
                    "no token URL: neither DGSYNC_DATASPHERE__TOKEN_URL nor "
                    "DGSYNC_DATASPHERE__BASE_URL is set",
                    hint="Set DGSYNC_DATASPHERE__TOKEN_URL to the XSUAA token URL of the tenant.",
                ),
                Diagnosis.WRONG_TOKEN_URL,
            )
        self.token_url = token_url
        self.grant = settings.grant
        self.token_cache = settings.token_cache or DEFAULT_TOKEN_CACHE
        self._clock = clock
        self._sleep = sleep
        #: The Datasphere retry policy (:mod:`core.datasphere.retry`), with at most
        #: ``max_attempts`` tries; a refused connection is not retried (a wrong token URL).
        self.retry_policy = RetryPolicy.from_settings(
            settings, rand=rand, max_retries=max(1, max_attempts) - 1, retry_connect_errors=False
        )
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._refresh_token: str | None = None
        self._count_lock = threading.Lock()
        #: Token requests sent (for ``client.stats`` and the stampede tests).
        self.requests = 0
        #: Tokens obtained, tokens dropped after a 401, and the last failure (for :meth:`state`).
        self.obtained = 0
        self.invalidations = 0
        self._last_error: tuple[str, str, float] | None = None
        secret = settings.client_secret.get_secret_value() if settings.client_secret else None
        register_secret(secret)

    # -- public API -----------------------------------------------------------------------
    def access_token(self) -> str:
        """A valid access token, fetched or refreshed when needed (one request in flight)."""
        token = self._token
        if token is not None and token.fresh(self._clock()):
            return token.access_token
        with self._lock:
            token = self._token
            if token is not None and token.fresh(self._clock()):
                return token.access_token
            self._token = self._obtain_signalled()
            return self._token.access_token

    def current(self) -> Token | None:
        """The token held now (possibly stale), without fetching."""
        return self._token

    def fetch(self) -> Token:
        """Fetch a new token now, whatever the state (``dgsync check``)."""
        with self._lock:
            self._token = self._obtain_signalled()
            return self._token

    def invalidate(self, access_token: str | None = None) -> None:
        """Forget the token after a 401. With ``access_token``, only if it is still current
        (another thread may already have replaced it)."""
        with self._lock:
            if self._token is None:
                return
            if access_token is None or self._token.access_token == access_token:
                log.info("access token invalidated after 401", extra={"grant": self.grant})
                self._token = None
                self.invalidations += 1

    def state(self) -> TokenState:
        """Age, expiry and refresh counts of the token held now (no token text)."""
        now = self._clock()
        token = self._token
        error = self._last_error
        expires_in = token.expires_in if token is not None else None
        started = token.obtained_at - token.latency_s if token is not None else None
        finite = token is not None and token.refresh_at != float("inf")
        return TokenState(
            grant=self.grant,
            held=token is not None,
            age_s=now - token.obtained_at if token is not None else None,
            expires_in_s=expires_in,
            remaining_s=started + expires_in - now if started is not None and expires_in is not None else None,
            refresh_in_s=token.refresh_at - now if token is not None and finite else None,
            tokens_obtained=self.obtained,
            refreshes=max(0, self.obtained - 1),
            token_requests=self.requests,
            invalidations=self.invalidations,
            last_error=error[0] if error else None,
            last_error_diagnosis=error[1] if error else None,
            last_error_age_s=now - error[2] if error else None,
        )

    def authorize_url(self, *, state: str, redirect_uri: str | None = None) -> str:
        """The XSUAA ``/oauth/authorize`` URL that starts an interactive login."""
        base = self.settings.authorize_url
        if not base:
            root = self.token_url
            base = root[: -len("/token")] + "/authorize" if root.endswith("/token") else root
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id or "",
                "redirect_uri": redirect_uri or self.settings.redirect_uri,
                "state": state,
            }
        )
        return f"{base}?{query}"

    def exchange_code(self, code: str, *, redirect_uri: str | None = None) -> Token:
        """Exchange an authorization code (``dgsync login``); keeps the refresh token."""
        register_secret(code)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri or self.settings.redirect_uri,
        }
        with self._lock:
            self._token = self._request(form, grant="authorization_code")
            return self._token

    def load_refresh_token(self) -> str | None:
        """The refresh token saved by ``dgsync login`` (``None`` when there is none)."""
        try:
            data = json.loads(self.token_cache.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise with_diagnosis(
                AuthError(
                    f"the token cache {self.token_cache} is unreadable ({type(exc).__name__})",
                    hint="Delete it and run `dgsync login` again.",
                ),
                Diagnosis.NO_REFRESH_TOKEN,
            ) from exc
        token = data.get("refresh_token") if isinstance(data, dict) else None
        if isinstance(token, str) and token:
            register_secret(token)
            return token
        return None

    def save_refresh_token(self, refresh_token: str) -> None:
        """Write the refresh token to ``token_cache`` atomically, readable by the owner only."""
        register_secret(refresh_token)
        path = self.token_cache
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps(
            {
                "refresh_token": refresh_token,
                "client_id": self.settings.client_id,
                "token_url": self.token_url,
                "saved_at": time.time(),
            }
        )
        fd, tmp = tempfile.mkstemp(prefix=".token-", dir=str(path.parent))
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        os.chmod(path, 0o600)

    # -- internals ------------------------------------------------------------------------
    def _obtain_signalled(self) -> Token:
        """:meth:`_obtain`; a refused token request is also a security signal."""
        try:
            token = self._obtain()
        except DgsyncError as exc:
            self._last_error = (exc.message, str(diagnosis_of(exc)), self._clock())
            if not isinstance(exc, AuthError):
                raise
            from core.governance.events import TOKEN_REFRESH_FAILED, emit_security_signal

            emit_security_signal(
                TOKEN_REFRESH_FAILED, source="datasphere", grant=self.grant,
                client_id=self.settings.client_id, diagnosis=str(diagnosis_of(exc)),
                message=exc.message,
            )
            raise
        self.obtained += 1
        return token

    def _obtain(self) -> Token:
        if self.grant == "client_credentials":
            return self._request({"grant_type": "client_credentials"}, grant="client_credentials")
        refresh = self._refresh_token or self.load_refresh_token()
        if not refresh:
            raise with_diagnosis(
                AuthError(
                    "no refresh token for the interactive (authorization_code) client",
                    hint="Run `dgsync login` once; it stores a refresh token in the token cache.",
                ),
                Diagnosis.NO_REFRESH_TOKEN,
            )
        return self._request(
            {"grant_type": "refresh_token", "refresh_token": refresh}, grant="refresh_token"
        )

    def _request(self, form: dict[str, str], *, grant: str) -> Token:
        client_id = self.settings.client_id or ""
        secret = (
            self.settings.client_secret.get_secret_value() if self.settings.client_secret else ""
        )
        started = self._clock()

        def send() -> httpx.Response:
            nonlocal started
            started = self._clock()
            with self._count_lock:
                self.requests += 1
            return self.http.post(
                self.token_url,
                data=form,
                auth=(client_id, secret),
                headers={"Accept": "application/json"},
            )

        try:
            resp = send_with_retries(send, policy=self.retry_policy, sleep=self._sleep)
        except httpx.HTTPError as exc:
            raise _transport_error(self.token_url, exc) from exc
        latency = self._clock() - started
        return self._token_from(resp, grant=grant, started=started, latency=latency)

    def _token_from(
        self, resp: httpx.Response, *, grant: str, started: float, latency: float
    ) -> Token:
        status = resp.status_code
        url = self.token_url
        if status == 200 and not _is_html(resp):
            try:
                body: Any = resp.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("access_token"), str):
                return self._accept(body, grant=grant, started=started, latency=latency)
            raise with_diagnosis(
                AuthError(
                    f"the token endpoint {url} answered 200 without an access token",
                    hint="Check DGSYNC_DATASPHERE__TOKEN_URL: it must be the XSUAA /oauth/token URL.",
                ),
                Diagnosis.WRONG_TOKEN_URL,
            )
        if _is_html(resp):
            raise with_diagnosis(
                AuthError(
                    f"the token endpoint {url} answered {status} with an HTML page "
                    "(a login page or proxy, not XSUAA)",
                    hint="Check DGSYNC_DATASPHERE__TOKEN_URL (…authentication.<region>.hana.ondemand.com"
                    "/oauth/token) and any proxy between dgsync and SAP.",
                ),
                Diagnosis.HTML_LOGIN_PAGE if status == 200 else Diagnosis.WRONG_TOKEN_URL,
            )
        code, description = _error_body(resp)
        if status == 401 or code == "invalid_client":
            raise with_diagnosis(
                AuthError(
                    f"bad credentials: the token endpoint refused client id "
                    f"{self.settings.client_id!r} ({description or code or status})",
                    hint="Check DGSYNC_DATASPHERE__CLIENT_ID and DGSYNC_DATASPHERE__CLIENT_SECRET "
                    "(an OAuth client of purpose Technical User or Interactive Usage).",
                ),
                Diagnosis.BAD_CREDENTIALS,
            )
        if status == 400 and code == "invalid_grant":
            if grant == "refresh_token":
                self._refresh_token = None
                raise with_diagnosis(
                    AuthError(
                        "the refresh token is expired or revoked",
                        hint="Run `dgsync login` to sign in again.",
                    ),
                    Diagnosis.EXPIRED_REFRESH_TOKEN,
                )
            raise with_diagnosis(
                AuthError(
                    f"the token endpoint refused the {grant} grant ({description or code})",
                    hint="Run `dgsync login` again; an authorization code is valid once and briefly."
                    if grant == "authorization_code"
                    else "Check that the OAuth client allows this grant type.",
                ),
                Diagnosis.BAD_CREDENTIALS,
            )
        if status == 404 or status == 405:
            raise with_diagnosis(
                AuthError(
                    f"wrong token URL: {url} answered {status}",
                    hint="Set DGSYNC_DATASPHERE__TOKEN_URL to https://<tenant>.authentication."
                    "<region>.hana.ondemand.com/oauth/token.",
                ),
                Diagnosis.WRONG_TOKEN_URL,
            )
        if status == 429:
            raise with_diagnosis(
                SourceThrottled(f"the token endpoint {url} is rate-limiting this client"),
                Diagnosis.THROTTLED,
            )
        if status >= 500:
            raise with_diagnosis(
                SourceUnavailable(f"the token endpoint {url} failed with {status}"),
                Diagnosis.SERVER_ERROR,
            )
        raise with_diagnosis(
            AuthError(
                f"the token endpoint {url} refused the request: {status} {description or code}".strip()
            ),
            Diagnosis.UNEXPECTED,
        )

    def _accept(self, body: dict[str, Any], *, grant: str, started: float, latency: float) -> Token:
        access = str(body["access_token"])
        register_secret(access)
        refresh = body.get("refresh_token")
        if isinstance(refresh, str) and refresh and self.grant == "authorization_code":
            self._refresh_token = refresh
            self.save_refresh_token(refresh)
        raw = body.get("expires_in")
        expires_in: float | None
        try:
            expires_in = float(raw) if raw is not None else None
        except (TypeError, ValueError):
            expires_in = None
        now = started + latency
        if expires_in is None:
            refresh_at = float("inf")  # refreshed after a 401 only
        else:
            # Never refresh on every call when a token lives shorter than the margin.
            margin = min(self.settings.refresh_margin_s, expires_in / 2)
            refresh_at = started + expires_in - margin
        log.info(
            "access token obtained",
            extra={"grant": grant, "expires_in": expires_in, "latency_ms": round(latency * 1000)},
        )
        scope = body.get("scope")
        return Token(
            access_token=access,
            grant=grant,
            expires_in=expires_in,
            obtained_at=now,
            refresh_at=refresh_at,
            latency_s=latency,
            scope=scope if isinstance(scope, str) else None,
        )
