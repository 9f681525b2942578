"""OIDC/JWT bearer validation (framework-free; optional, ``web.oidc`` in the settings).

:func:`validate_bearer` checks a JWT's signature against the provider's JWKS (fetched from
``jwks_url`` and cached ``jwks_cache_s``, or read from ``jwks_file``), its issuer, audience
and expiry, and returns a :class:`core.apikeys.Principal` of kind ``oidc`` whose role comes
from ``role_claim`` (mapped through ``role_map``). It raises :class:`OidcError` (never with
the token in it) otherwise. Needs PyJWT with cryptography (the ``oidc`` extra, part of the
``wolf`` and ``bear`` extras); :meth:`core.apikeys.ApiKeys.authenticate` calls it for
bearer tokens that look like a JWT.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.apikeys import ROLES, Principal, Role, role_rank
from core.errors import DgsyncError

if TYPE_CHECKING:
    from core.settings import OidcSettings, Settings


class OidcError(DgsyncError):
    """A bearer JWT that does not pass validation (answered as a failed login, 401)."""

    default_hint = "Get a fresh token from the identity provider for this API's audience."


_lock = threading.Lock()
_url_clients: dict[str, Any] = {}
_file_sets: dict[Path, tuple[float, Any]] = {}


def _jwt() -> Any:
    try:
        import jwt
    except ImportError as exc:  # pragma: no cover - the extra is part of wolf/bear
        raise OidcError("OIDC is configured but PyJWT is not installed",
                        hint="Install dgsync with the `oidc` extra (pip install 'dgsync[oidc]').") from exc
    return jwt


def _signing_key(cfg: OidcSettings, token: str) -> Any:
    jwt = _jwt()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise OidcError(f"malformed JWT header ({type(exc).__name__})") from None
    kid = header.get("kid")
    if cfg.jwks_url:
        with _lock:
            client = _url_clients.get(cfg.jwks_url)
            if client is None:
                client = jwt.PyJWKClient(cfg.jwks_url, cache_keys=True, lifespan=max(cfg.jwks_cache_s, 1), timeout=5)
                _url_clients[cfg.jwks_url] = client
        try:
            return client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError:
            raise OidcError("the JWKS URL could not be read",
                            hint="Check web.oidc.jwks_url and that the identity provider is reachable.") from None
        except jwt.PyJWTError as exc:
            raise OidcError(f"no signing key for this token ({type(exc).__name__})") from None
    assert cfg.jwks_file is not None
    path = cfg.jwks_file
    try:
        mtime = path.stat().st_mtime
        with _lock:
            cached = _file_sets.get(path)
            if cached is None or cached[0] != mtime:
                cached = (mtime, jwt.PyJWKSet.from_dict(json.loads(path.read_text())))
                _file_sets[path] = cached
    except (OSError, ValueError, jwt.PyJWTError) as exc:
        raise OidcError(f"the JWKS file {path} cannot be read ({type(exc).__name__})",
                        hint="Point web.oidc.jwks_file at the provider's JWKS JSON.") from None
    keys = [k for k in cached[1].keys if kid is None or k.key_id == kid]
    if not keys:
        raise OidcError("no key of the JWKS file matches the token's kid")
    return keys[0].key


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def role_from_claims(cfg: OidcSettings, claims: dict[str, Any]) -> Role | None:
    """The highest role the ``role_claim`` values map to, or ``None``."""
    raw = _claim(claims, cfg.role_claim)
    values = [raw] if isinstance(raw, str) else [v for v in raw if isinstance(v, str)] if isinstance(raw, list) else []
    best: Role | None = None
    for value in values:
        role = cfg.role_map.get(value) if cfg.role_map else (value if value in ROLES else None)
        if role is not None and (best is None or role_rank(role) > role_rank(best)):
            best = role
    return best


def validate_bearer(settings: Settings, token: str, *, now: float | None = None) -> Principal:
    """The principal of a valid OIDC JWT; :class:`OidcError` otherwise."""
    cfg = settings.web.oidc
    if cfg is None:
        raise OidcError("OIDC tokens are not accepted here", hint="Use an API key (`dgsync keys create`).")
    jwt = _jwt()
    key = _signing_key(cfg, token)
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=cfg.algorithms, audience=cfg.audience, issuer=cfg.issuer,
            leeway=cfg.leeway_s, options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise OidcError("the JWT has expired") from None
    except jwt.InvalidAudienceError:
        raise OidcError("the JWT is for another audience") from None
    except jwt.InvalidIssuerError:
        raise OidcError("the JWT is from another issuer") from None
    except jwt.PyJWTError as exc:
        raise OidcError(f"invalid JWT ({type(exc).__name__})") from None
    if now is not None and int(claims.get("exp", 0)) < now:
        raise OidcError("the JWT has expired")
    role = role_from_claims(cfg, claims)
    name = _claim(claims, cfg.name_claim)
    if role is None:
        raise OidcError(f"the JWT carries no dgsync role in claim {cfg.role_claim!r}",
                        hint="Grant the user a role the web.oidc.role_map maps (viewer, operator, admin).")
    if not isinstance(name, str) or not name:
        raise OidcError(f"the JWT has no {cfg.name_claim!r} claim")
    return Principal(kind="oidc", name=name[:128], role=role, expires_at=float(claims["exp"]))


def clear_caches() -> None:
    """Forget fetched JWKS (tests, key rotation)."""
    with _lock:
        _url_clients.clear()
        _file_sets.clear()


__all__ = ["OidcError", "clear_caches", "role_from_claims", "validate_bearer"]
