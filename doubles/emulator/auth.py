"""XSUAA-style OAuth 2.0 for the emulator: clients, grants, tokens, authorization codes.

Grants: ``client_credentials`` (technical user), ``authorization_code`` and ``refresh_token``
(interactive user). Client credentials come as HTTP Basic or as form fields; ``grant_type``
in the body or the query string. Access tokens are JWT-shaped (HS256 with a per-process key)
but validated by lookup, so they can be revoked (fault injection: "expire all tokens now").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

TECHNICAL_ACCESS_LIFETIME_S = 86_400
INTERACTIVE_ACCESS_LIFETIME_S = 3_600
REFRESH_LIFETIME_S = 30 * 86_400
CODE_LIFETIME_S = 600
DEMO_USER = "dgsync.demo@example.com"


@dataclass(frozen=True)
class OAuthClient:
    """A registered OAuth client and what it may do."""

    client_id: str
    client_secret: str
    grants: frozenset[str]
    description: str = ""
    #: Spaces this client is *not* a member of (403); every other space is visible.
    excluded_spaces: frozenset[str] = frozenset()
    #: Interactive clients accept any ``http://localhost:<port>/…`` or ``http://127.0.0.1:<port>/…``
    #: redirect URI.
    interactive: bool = False

    def is_member(self, space: str) -> bool:
        return space not in self.excluded_spaces


DEMO_CLIENTS: tuple[OAuthClient, ...] = (
    OAuthClient(
        "dgsync-demo", "dgsync-demo-secret", frozenset({"client_credentials"}),
        "technical user (client_credentials), member of every space",
    ),
    OAuthClient(
        "dgsync-interactive", "dgsync-interactive-secret", frozenset({"authorization_code", "refresh_token"}),
        "interactive user (authorization_code + refresh_token), redirect to any http://localhost or 127.0.0.1 port",
        interactive=True,
    ),
    OAuthClient(
        "dgsync-restricted", "dgsync-restricted-secret", frozenset({"client_credentials"}),
        "technical user that is NOT a member of space HR (403 there)",
        excluded_spaces=frozenset({"HR"}),
    ),
)


class OAuthError(Exception):
    """An OAuth error response: status plus RFC 6749 ``error`` / ``error_description``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class AccessToken:
    token: str
    jti: str
    client: OAuthClient
    expires_at: float
    user: str | None = None


@dataclass
class RefreshToken:
    token: str
    client: OAuthClient
    expires_at: float
    user: str


@dataclass
class AuthCode:
    code: str
    client: OAuthClient
    redirect_uri: str | None
    expires_at: float
    user: str


@dataclass
class LifetimeOverrides:
    access_s: int | None = None
    refresh_s: int | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class AuthState:
    """Clients and every issued token; thread-safe."""

    clients: Mapping[str, OAuthClient]
    clock: Callable[[], float]
    #: Access-token lifetime for every client (``--token-lifetime``); None = SAP defaults.
    access_lifetime_s: int | None = None
    refresh_lifetime_s: int = REFRESH_LIFETIME_S
    issuer: str = "http://localhost/oauth/token"
    #: Temporary overrides set through fault injection.
    overrides: LifetimeOverrides = field(default_factory=LifetimeOverrides)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _access: dict[str, AccessToken] = field(default_factory=dict)
    _refresh: dict[str, RefreshToken] = field(default_factory=dict)
    _codes: dict[str, AuthCode] = field(default_factory=dict)
    issued: int = 0

    # -- clients --------------------------------------------------------------------------

    def client(self, client_id: str) -> OAuthClient | None:
        return self.clients.get(client_id)

    def authenticate(self, client_id: str | None, client_secret: str | None) -> OAuthClient:
        if not client_id:
            raise OAuthError(401, "unauthorized", "Full authentication is required to access this resource")
        client = self.clients.get(client_id)
        if client is None or not hmac.compare_digest(client.client_secret, client_secret or ""):
            raise OAuthError(401, "invalid_client", "Bad credentials")
        return client

    @staticmethod
    def redirect_allowed(client: OAuthClient, redirect_uri: str) -> bool:
        if not client.interactive:
            return False
        parts = urlsplit(redirect_uri)
        return parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1")

    # -- lifetimes ------------------------------------------------------------------------

    def access_lifetime(self, client: OAuthClient) -> int:
        if self.overrides.access_s is not None:
            return self.overrides.access_s
        if self.access_lifetime_s is not None:
            return self.access_lifetime_s
        return INTERACTIVE_ACCESS_LIFETIME_S if client.interactive else TECHNICAL_ACCESS_LIFETIME_S

    def refresh_lifetime(self) -> int:
        return self.overrides.refresh_s if self.overrides.refresh_s is not None else self.refresh_lifetime_s

    # -- grants ---------------------------------------------------------------------------

    def grant(self, client: OAuthClient, params: Mapping[str, str]) -> dict[str, object]:
        """Run one token request; raises :class:`OAuthError` with the XSUAA error body."""
        grant_type = params.get("grant_type")
        if not grant_type:
            raise OAuthError(400, "invalid_request", "Missing grant type")
        if grant_type not in ("client_credentials", "authorization_code", "refresh_token", "password"):
            raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
        if grant_type not in client.grants:
            raise OAuthError(400, "unauthorized_client", f"Unauthorized grant type: {grant_type}")
        with self._lock:
            now = self.clock()
            if grant_type == "client_credentials":
                return self._issue(client, None, now, with_refresh=False)
            if grant_type == "authorization_code":
                code = params.get("code")
                if not code:
                    raise OAuthError(400, "invalid_request", "An authorization code must be supplied.")
                entry = self._codes.pop(code, None)
                if entry is None or entry.client.client_id != client.client_id:
                    raise OAuthError(400, "invalid_grant", f"Invalid authorization code: {code[:6]}…")
                if entry.expires_at <= now:
                    raise OAuthError(400, "invalid_grant", "Authorization code has expired")
                redirect = params.get("redirect_uri")
                if entry.redirect_uri is not None and redirect != entry.redirect_uri:
                    raise OAuthError(400, "invalid_grant", "Redirect URI mismatch.")
                return self._issue(client, entry.user, now, with_refresh=True)
            # refresh_token
            token = params.get("refresh_token")
            if not token:
                raise OAuthError(400, "invalid_request", "A refresh token must be supplied.")
            rt = self._refresh.get(token)
            if rt is None or rt.client.client_id != client.client_id:
                raise OAuthError(400, "invalid_grant", "Invalid refresh token: unknown")
            if rt.expires_at <= now:
                del self._refresh[token]
                raise OAuthError(400, "invalid_grant", "Invalid refresh token (expired)")
            return self._issue(client, rt.user, now, with_refresh=True, refresh=rt)

    def _issue(
        self, client: OAuthClient, user: str | None, now: float, *, with_refresh: bool,
        refresh: RefreshToken | None = None,
    ) -> dict[str, object]:
        lifetime = self.access_lifetime(client)
        jti = secrets.token_hex(16)
        scope = ["openid", "uaa.user"] if user else ["uaa.resource"]
        claims: dict[str, object] = {
            "jti": jti, "iss": self.issuer, "iat": int(now), "exp": int(now + lifetime),
            "client_id": client.client_id, "cid": client.client_id, "azp": client.client_id,
            "grant_type": "authorization_code" if user else "client_credentials",
            "sub": user or client.client_id, "scope": scope, "zid": "dgsync-emulator",
        }
        if user:
            claims["user_name"] = user
            claims["email"] = user
        token = self._jwt(claims)
        self._access[token] = AccessToken(token, jti, client, now + lifetime, user)
        self.issued += 1
        body: dict[str, object] = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": lifetime,
            "scope": " ".join(scope),
            "jti": jti,
        }
        if with_refresh and user:
            if refresh is None:
                rt_token = secrets.token_hex(16) + "-r"
                refresh = RefreshToken(rt_token, client, now + self.refresh_lifetime(), user)
                self._refresh[rt_token] = refresh
            # XSUAA's default: the refresh token is not rotated; the same one comes back.
            body["refresh_token"] = refresh.token
            body["id_token"] = self._jwt({"iss": self.issuer, "sub": user, "aud": [client.client_id],
                                          "iat": int(now), "exp": int(now + lifetime), "email": user})
        self._prune(now)
        return body

    def _jwt(self, claims: Mapping[str, object]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "emulator-key-1"}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode("ascii")
        signature = _b64(hmac.new(self._key, signing_input, hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}"

    def _prune(self, now: float) -> None:
        if len(self._access) > 10_000:
            for token in [t for t, a in self._access.items() if a.expires_at <= now]:
                del self._access[token]

    def issue_code(self, client: OAuthClient, redirect_uri: str | None, user: str = DEMO_USER) -> str:
        code = secrets.token_urlsafe(12)
        with self._lock:
            self._codes[code] = AuthCode(code, client, redirect_uri, self.clock() + CODE_LIFETIME_S, user)
        return code

    # -- validation -----------------------------------------------------------------------

    def validate(self, authorization: str | None) -> AccessToken | None:
        """The live access token behind an ``Authorization: Bearer …`` header, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        with self._lock:
            entry = self._access.get(token.strip())
            if entry is None:
                return None
            if entry.expires_at <= self.clock():
                return None
            return entry

    def issue_expired(self, client_id: str) -> str:
        """An access token of ``client_id`` that expired a second ago (Dog's API console)."""
        with self._lock:
            client = self.clients[client_id]
            now = self.clock()
            token = str(self._issue(client, None, now, with_refresh=False)["access_token"])
            self._access[token].expires_at = now - 1
            return token

    def expire_access_tokens(self) -> int:
        with self._lock:
            n = len(self._access)
            self._access.clear()
            return n

    def expire_refresh_tokens(self) -> int:
        with self._lock:
            n = len(self._refresh)
            self._refresh.clear()
            return n

    def counts(self) -> dict[str, int]:
        with self._lock:
            now = self.clock()
            return {
                "issued": self.issued,
                "live_access_tokens": sum(1 for a in self._access.values() if a.expires_at > now),
                "refresh_tokens": sum(1 for r in self._refresh.values() if r.expires_at > now),
                "pending_codes": len(self._codes),
            }
