"""API keys with roles, and the one ``authenticate`` every frontend calls (framework-free).

Roles, lowest first: ``viewer`` (reads), ``operator`` (plan, sync, validate), ``admin``
(keys and configuration). A key is a random string (``dgk_`` + 256 bits, base64url) shown
once at creation; the state store keeps only its HMAC-SHA256 with a *pepper*
(``DGSYNC_WEB__API_KEY_PEPPER``), so a stolen database yields no usable key. In ``dog`` the
pepper may be left unset: a random one is kept in ``state_dir/api_key_pepper``.

``DGSYNC_API_TOKEN`` (the single shared token of old) stays as the *bootstrap* admin key:
use it to create named keys, then stop handing it out.

:meth:`ApiKeys.authenticate` turns a presented token (an API key, the bootstrap token or,
when configured, an OIDC JWT, see :mod:`core.oidc`) into a :class:`Principal`, or ``None``;
it records every failure as an ``auth_failure`` security event (with the source, never the
token) and every key use from a new source (the detection rule of
:meth:`core.governance.security.SecurityMonitor.record_key_use`). Wolf, Bear, Dog and the MCP
HTTP transport call it; :meth:`ApiKeys.deny` records a request refused for its role.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from core.errors import ConfigError, DgsyncError, InputError, PermissionDenied
from core.log import get_logger, register_secret
from core.websec import check_key_strength

if TYPE_CHECKING:
    from core.governance.security import SecurityMonitor
    from core.settings import Settings
    from core.store.db import Store

log = get_logger(__name__)

Role = Literal["viewer", "operator", "admin"]
#: The roles, lowest first: a role may do everything the ones before it may.
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
PrincipalKind = Literal["key", "bootstrap", "oidc", "local"]

#: Prefix of the keys made here (lets secret scanners recognise a leaked one).
KEY_PREFIX = "dgk_"
#: The name the bootstrap token authenticates as (reserved: no stored key may take it).
BOOTSTRAP_NAME = "bootstrap"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
#: A key's last-use time is written at most this often (unless the source changes).
LAST_USED_EVERY = timedelta(seconds=60)
PEPPER_FILE = "api_key_pepper"
PEPPER_HINT = "Set DGSYNC_WEB__API_KEY_PEPPER to the output of `dgsync keys create --for pepper -q` " \
    "(the same value for the CLI and every frontend sharing the state store)."


class RoleDenied(PermissionDenied):
    """The caller's role is below what the request needs (HTTP 403)."""


def role_rank(role: str) -> int:
    """0 for viewer, 1 operator, 2 admin; -1 for anything else."""
    return ROLES.index(role) if role in ROLES else -1


def role_allows(have: str, need: str) -> bool:
    """Whether role ``have`` may do what needs role ``need``."""
    return role_rank(have) >= role_rank(need) >= 0


def parse_role(value: str) -> Role:
    if value not in ROLES:
        raise InputError(f"unknown role {value!r}", hint="Use viewer, operator or admin.")
    return value


@dataclass(frozen=True)
class Principal:
    """Who made a request: a stored key, the bootstrap token, an OIDC subject, or (a
    frontend serving loopback without authentication) the local user."""

    kind: PrincipalKind
    name: str
    role: Role
    #: Stored key id (``kind="key"``) — a session stays valid only while this key is active.
    key_id: int | None = None
    #: When the credential itself expires (an OIDC token's ``exp``, epoch seconds): a
    #: session made from it ends then too.
    expires_at: float | None = None

    @property
    def actor(self) -> str:
        """The audit actor: ``key:<name>/<role>`` (bootstrap: ``key:bootstrap/admin``),
        ``oidc:<subject>/<role>``, ``local:<name>/<role>``."""
        prefix = "key" if self.kind in ("key", "bootstrap") else self.kind
        return f"{prefix}:{self.name}/{self.role}"

    def allows(self, need: str) -> bool:
        return role_allows(self.role, need)


def local_principal(name: str = "loopback") -> Principal:
    """The principal of a request a frontend serves without authentication (dog, loopback)."""
    return Principal(kind="local", name=name, role="admin")


class ApiKeyOut(BaseModel):
    """A stored key as listed (never the key, never its hash)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    name: str
    role: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None
    last_used_source: str | None
    comment: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > datetime.now(UTC))


# ------------------------------------------------------------------------------ pepper


def _dog_pepper(settings: Settings) -> str:
    path = settings.state_dir / PEPPER_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def pepper_of(settings: Settings) -> bytes | None:
    """The HMAC key of the stored key hashes; ``None`` outside dog when it is not set."""
    configured = settings.web.api_key_pepper.get_secret_value() if settings.web.api_key_pepper else ""
    if configured:
        check_key_strength(configured, name="DGSYNC_WEB__API_KEY_PEPPER")
        value = configured
    elif settings.env == "dog":
        value = _dog_pepper(settings)
    else:
        return None
    register_secret(value)
    return value.encode()


def hash_key(pepper: bytes, key: str) -> str:
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    return len(parts) == 3 and all(parts[:2]) and token.startswith("eyJ")


def bearer_of(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value (any framework)."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------ service


class ApiKeys:
    """Create, list, revoke and check API keys of one state store."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        monitor: SecurityMonitor | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or _utcnow
        self._monitor = monitor
        self._pepper: bytes | None = None
        self._pepper_loaded = False

    @property
    def monitor(self) -> SecurityMonitor:
        if self._monitor is None:
            from core.governance.security import SecurityMonitor

            self._monitor = SecurityMonitor(self.store, self.settings)
        return self._monitor

    def pepper(self, *, required: bool = True) -> bytes | None:
        if not self._pepper_loaded:
            self._pepper = pepper_of(self.settings)
            self._pepper_loaded = True
        if self._pepper is None and required:
            raise ConfigError(f"API keys need a pepper in profile {self.settings.env!r}: "
                              "DGSYNC_WEB__API_KEY_PEPPER is not set", hint=PEPPER_HINT)
        return self._pepper

    # -- management ----------------------------------------------------------------------
    def create(
        self,
        name: str,
        role: str,
        *,
        created_by: str,
        comment: str | None = None,
        expires_in: timedelta | None = None,
    ) -> tuple[ApiKeyOut, str]:
        """Store a new key; return it (listing form) and the key itself — shown only now."""
        from core.store.tables import ApiKeyRow

        if not _NAME.match(name):
            raise InputError(f"invalid key name {name!r}",
                             hint="Use 1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit.")
        if name == BOOTSTRAP_NAME:
            raise InputError(f"the key name {BOOTSTRAP_NAME!r} is reserved for DGSYNC_API_TOKEN",
                             hint="Choose another name.")
        checked = parse_role(role)
        pepper = self.pepper()
        assert pepper is not None
        key = new_key()
        now = self.clock()
        with self.store.session() as s:
            if s.scalars(select(ApiKeyRow.id).where(ApiKeyRow.name == name)).first() is not None:
                raise InputError(f"a key named {name!r} exists already (revoked keys keep their name)",
                                 hint="Choose another name; `dgsync keys list` shows the names in use.")
            row = ApiKeyRow(name=name, role=checked, key_hash=hash_key(pepper, key), created_at=now,
                            created_by=created_by, comment=comment,
                            expires_at=now + expires_in if expires_in else None)
            s.add(row)
            s.flush()
            out = ApiKeyOut.model_validate(row)
        self.monitor.record_key_change(key_name=name, action="created", actor=created_by, role=checked)
        return out, key

    def list(self, *, include_revoked: bool = True) -> list[ApiKeyOut]:
        from core.store.tables import ApiKeyRow

        stmt = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        if not include_revoked:
            stmt = stmt.where(ApiKeyRow.revoked_at.is_(None))
        with self.store.session(readonly=True) as s:
            return [ApiKeyOut.model_validate(r) for r in s.scalars(stmt)]

    def get(self, name: str) -> ApiKeyOut:
        for key in self.list():
            if key.name == name:
                return key
        raise InputError(f"no API key named {name!r}", hint="`dgsync keys list` shows the keys.")

    def revoke(self, name: str, *, actor: str) -> ApiKeyOut:
        """Revoke a key at once (its sessions end with it); revoking twice is an error."""
        from core.store.tables import ApiKeyRow

        with self.store.session() as s:
            row = s.scalars(select(ApiKeyRow).where(ApiKeyRow.name == name)).first()
            if row is None:
                raise InputError(f"no API key named {name!r}", hint="`dgsync keys list` shows the keys.")
            if row.revoked_at is not None:
                raise InputError(f"the API key {name!r} was revoked already", hint="Nothing to do.")
            row.revoked_at = self.clock()
            row.revoked_by = actor
            s.flush()
            out = ApiKeyOut.model_validate(row)
        self.monitor.record_key_change(key_name=name, action="revoked", actor=actor, role=out.role)
        return out

    # -- authentication ------------------------------------------------------------------
    def authenticate(self, token: str | None, source: str, *, frontend: str | None = None) -> Principal | None:
        """The principal of a presented token, or ``None`` (recorded as a failed login).

        Order: the bootstrap token (constant time), an OIDC JWT when ``web.oidc`` is set, a
        stored key (by its HMAC). A missing token returns ``None`` without an event."""
        if not token:
            return None
        token = token.strip()
        bootstrap = self.settings.api_token.get_secret_value() if self.settings.api_token else ""
        if bootstrap and hmac.compare_digest(token.encode(), bootstrap.encode()):
            return Principal(kind="bootstrap", name=BOOTSTRAP_NAME, role="admin")
        if looks_like_jwt(token) and getattr(self.settings.web, "oidc", None) is not None:
            return self._authenticate_oidc(token, source, frontend=frontend)
        principal, reason = self._authenticate_key(token, source, frontend=frontend)
        if principal is None:
            self.monitor.record_failed_auth(source=source, presented_key=token, reason=reason, frontend=frontend)
        return principal

    def _authenticate_oidc(self, token: str, source: str, *, frontend: str | None) -> Principal | None:
        from core.oidc import OidcError, validate_bearer

        try:
            return validate_bearer(self.settings, token)
        except OidcError as exc:
            self.monitor.record_failed_auth(source=source, presented_key=token, reason=f"OIDC: {exc.message}",
                                            frontend=frontend)
            return None

    def _authenticate_key(self, token: str, source: str, *, frontend: str | None) -> tuple[Principal | None, str]:
        from core.store.tables import ApiKeyRow

        pepper = self.pepper(required=False)
        if pepper is None:
            return None, "invalid API key (no pepper configured: stored keys cannot be checked)"
        digest = hash_key(pepper, token)
        now = self.clock()
        with self.store.session(readonly=True) as s:
            row = s.scalars(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest)).first()
            found = None if row is None else ApiKeyOut.model_validate(row)
            key_id = None if row is None else row.id
        if found is None or key_id is None:
            return None, "invalid API key"
        if found.revoked_at is not None:
            return None, f"revoked API key {found.name}"
        if found.expires_at is not None and found.expires_at <= now:
            return None, f"expired API key {found.name}"
        principal = Principal(kind="key", name=found.name, role=parse_role(found.role), key_id=key_id)
        self._note_use(found, key_id, source, now, frontend=frontend)
        return principal, ""

    def _note_use(self, key: ApiKeyOut, key_id: int, source: str, now: datetime, *, frontend: str | None) -> None:
        from core.store.tables import ApiKeyRow

        new_source = key.last_used_source != source
        if not new_source and key.last_used_at is not None and now - key.last_used_at < LAST_USED_EVERY:
            return
        if self.store.read_only:
            return
        try:
            with self.store.session() as s:
                row = s.get(ApiKeyRow, key_id)
                if row is not None:
                    row.last_used_at = now
                    row.last_used_source = source
            if new_source:
                self.monitor.record_key_use(key_name=key.name, role=key.role, source=source, frontend=frontend)
        except DgsyncError as exc:  # bookkeeping must never lock a valid key out
            log.warning("could not record an API key's use", extra={"key": key.name, "error": exc.message})

    def still_valid(self, principal: Principal) -> Principal | None:
        """Re-check a principal restored from a session cookie: a stored key must still be
        active (revocation ends its sessions), with its stored role."""
        from core.store.tables import ApiKeyRow

        if principal.kind != "key":
            return principal
        with self.store.session(readonly=True) as s:
            row = s.get(ApiKeyRow, principal.key_id) if principal.key_id is not None else None
            if row is None or row.name != principal.name or row.revoked_at is not None:
                return None
            if row.expires_at is not None and row.expires_at <= self.clock():
                return None
            return Principal(kind="key", name=row.name, role=parse_role(row.role), key_id=row.id)

    def authorize(self, principal: Principal, need: str, *, source: str, object: str,
                  frontend: str | None = None) -> Principal:
        """``principal`` if its role allows ``need``; else record the denial and raise
        :class:`RoleDenied` (HTTP 403). ``object`` names what was asked (``POST /api/plan``,
        ``tool sync``)."""
        if principal.allows(need):
            return principal
        self.deny(principal, need, source=source, object=object, frontend=frontend)
        raise RoleDenied(f"{principal.actor} may not {object}: it needs the {need} role")

    def deny(self, principal: Principal, need: str, *, source: str, object: str, frontend: str | None = None) -> None:
        """Record a request refused because ``principal``'s role is below ``need``."""
        self.monitor.record_denied(actor=principal.actor, role=principal.role, need=need, source=source,
                                   object=object, frontend=frontend)


__all__ = [
    "BOOTSTRAP_NAME",
    "KEY_PREFIX",
    "PEPPER_HINT",
    "ROLES",
    "ApiKeyOut",
    "ApiKeys",
    "Principal",
    "Role",
    "RoleDenied",
    "bearer_of",
    "hash_key",
    "local_principal",
    "looks_like_jwt",
    "parse_role",
    "pepper_of",
    "role_allows",
    "role_rank",
]
