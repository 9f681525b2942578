"""The web security baseline shared by Dog (Flask), Wolf (FastAPI) and Bear (Lambda).

Framework-free: the frontends translate their request objects into the plain values these
functions take (a ``Host`` header, a method, a cookie value, a scheme) and turn the answers
into responses. Nothing here logs or returns a key value.

* **Key strength** — :func:`estimate_entropy_bits`, :func:`check_key_strength`: API tokens
  and signing keys need at least :data:`MIN_KEY_BITS` bits of randomness; values with
  repeats, sequences, common words or the UUID shape are estimated low and refused.
  :func:`generate_key` makes a good one (``dgsync keys create``).
* **Bind policy** — :func:`is_loopback`, :func:`web_policy`: authentication is required
  whenever an app is reachable from elsewhere than this host, whatever the profile; Dog
  refuses non-loopback binds unless a strong API token (its sign-in) and the allowed hosts are
  set (the Docker image).
* **Host allow-list** — :func:`host_allowed`: against DNS rebinding.
* **CSRF** — :class:`CsrfSigner`: per-browser-session HMAC tokens (signed double submit).
* **Headers** — :func:`security_headers`: CSP without ``unsafe-inline``, frame-ancestors
  none, nosniff, referrer policy, HSTS over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import math
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from core.errors import ConfigError, DgsyncError
from core.log import register_secret
from core.settings import Settings

AppName = Literal["dog", "wolf", "bear"]

#: Minimum estimated randomness of an API token or signing key (bits).
MIN_KEY_BITS = 128
#: Bytes of randomness of a key made by :func:`generate_key` (256 bits).
DEFAULT_KEY_BYTES = 32

KEY_HINT = "Generate one with `dgsync keys create` and set it as {name}."

#: Words that make a value guessable (placeholders, product and profile names).
_WORDS = (
    "password", "passwd", "changeme", "change", "secret", "token", "default", "example",
    "sample", "admin", "letmein", "welcome", "qwerty", "azerty", "asdf", "test", "demo",
    "dgsync", "datasphere", "glue", "wolf", "bear", "dummy", "local",
    "pass", "root", "user", "guest", "master", "hello",
)
#: Bits a recognised word costs (about a 1000-word dictionary).
_WORD_BITS = 10.0
#: A repeat, keyboard-free sequence or copy must be at least this long to be discounted
#: (shorter ones occur by chance in random keys).
_MIN_PATTERN = 6
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX = frozenset("0123456789abcdef")
_HEX_UPPER = frozenset("0123456789ABCDEF")
_B64_EXTRA = frozenset("-_+/=")


def _alphabet_size(value: str) -> int:
    chars = set(value)
    if chars <= _HEX or chars <= _HEX_UPPER:
        return 16
    size = 0
    lower, upper = any(c.islower() for c in chars), any(c.isupper() for c in chars)
    if lower and upper:
        size += 62  # mixed case: a base62/base64 alphabet (a random key may lack digits)
    else:
        size += 26 if lower or upper else 0
        size += 10 if any(c.isdigit() for c in chars) else 0
    others = {c for c in chars if not c.isalnum()}
    if others:
        size += len(_B64_EXTRA) if others <= _B64_EXTRA else 33
    return max(size, 2)


def _pattern_length(value: str, i: int) -> int:
    """Length of a repeat (``aaaa``), a sequence (``abcd``, ``4321``) or a copy of an earlier
    part starting at ``i``; 0 when shorter than :data:`_MIN_PATTERN`."""
    n = len(value)
    best = 0
    for step in (0, 1, -1):
        j = i + 1
        while j < n and ord(value[j]) - ord(value[j - 1]) == step:
            j += 1
        best = max(best, j - i)
    # A copy of something seen before (``changemechangeme``).
    for length in range(n - i, _MIN_PATTERN - 1, -1):
        if length <= best:
            break
        if value[i:i + length] in value[:i]:
            best = length
            break
    return best if best >= _MIN_PATTERN else 0


def estimate_entropy_bits(value: str) -> float:
    """A conservative estimate of the randomness of ``value`` in bits.

    Each character costs log2 of the alphabet its character classes suggest (16 for hex, 64
    for base64url, ...); repeats, sequences and copies of at least six characters cost only
    their start and length, common words (``changeme``, ``password``, ``token`` ...) about ten
    bits, and a UUID 122 bits at most. A real random key scores its true size; a made-up one
    scores far lower.
    """
    if not value:
        return 0.0
    per_char = math.log2(_alphabet_size(value))
    lowered = value.lower()
    bits = 0.0
    i = 0
    while i < len(value):
        word = next((w for w in _WORDS if lowered.startswith(w, i)), None)
        pattern = _pattern_length(value, i)
        if pattern and pattern >= len(word or ""):
            bits += per_char + math.log2(pattern + 1)
            i += pattern
        elif word is not None:
            bits += _WORD_BITS
            i += len(word)
        else:
            bits += per_char
            i += 1
    if _UUID.match(value):
        bits = min(bits, 122.0)
    return bits


def check_key_strength(value: str | None, *, name: str, min_bits: int = MIN_KEY_BITS) -> None:
    """Refuse a missing or guessable key with a one-line :class:`ConfigError` (never the value)."""
    hint = KEY_HINT.format(name=name)
    if not value or not value.strip():
        raise ConfigError(f"{name} is not set", hint=hint)
    if value != value.strip():
        raise ConfigError(f"{name} has leading or trailing white space", hint=hint)
    bits = estimate_entropy_bits(value)
    if bits < min_bits:
        raise ConfigError(
            f"{name} is too weak: about {int(bits)} bits of randomness, at least {min_bits} needed",
            hint=hint,
        )


def generate_key(nbytes: int = DEFAULT_KEY_BYTES) -> str:
    """A new random key: ``nbytes`` from the OS CSPRNG, base64url without padding."""
    if nbytes * 8 < MIN_KEY_BITS:
        raise ConfigError(
            f"a key of {nbytes} bytes has fewer than {MIN_KEY_BITS} bits",
            hint=f"Use at least {MIN_KEY_BITS // 8} bytes.",
        )
    return secrets.token_urlsafe(nbytes)


# ------------------------------------------------------------------------ addresses


def _strip_port(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end > 0 else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address or name, optionally with a port) is this machine only.

    ``0.0.0.0``, ``::`` and any name other than ``localhost`` are not: they may be reached
    from elsewhere.
    """
    if not host:
        return False
    name = _strip_port(host).strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


LOOPBACK_HOSTS: frozenset[str] = frozenset({"localhost", "127.0.0.1", "[::1]"})


def host_allowed(host_header: str | None, allowed: Iterable[str]) -> bool:
    """Whether a request's ``Host`` header names one of ``allowed`` (any port).

    ``*`` allows every host; ``.example.com`` allows the domain and its subdomains.
    """
    if not host_header:
        return False
    host = _strip_port(host_header)
    if not host or any(c in host for c in "/@ \t\\"):
        return False
    for entry in allowed:
        entry = entry.strip().lower()
        if entry == "*":
            return True
        if entry.startswith("."):
            if host == entry[1:] or host.endswith(entry):
                return True
        elif host == _strip_port(entry):
            return True
    return False


# ----------------------------------------------------------------------------- CSRF

#: Cookie holding the browser session id the CSRF tokens are bound to.
CSRF_COOKIE = "dgsync_csrf"
#: Form field and request header carrying the CSRF token.
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CsrfSigner:
    """Per-session CSRF tokens: ``HMAC(key, session id)``, the session id in a cookie.

    A cross-site page can make the browser send the cookie but can neither read it nor
    compute the token, so it cannot forge the form field or header.
    """

    _PURPOSE = b"dgsync-csrf-v1|"

    def __init__(self, key: bytes) -> None:
        if len(key) * 8 < MIN_KEY_BITS:
            raise ConfigError("the CSRF signing key is too short", hint="Use a key of at least 16 bytes.")
        self._key = key

    @staticmethod
    def new_session_id() -> str:
        return secrets.token_urlsafe(24)

    @staticmethod
    def valid_session_id(session_id: str | None) -> bool:
        return bool(session_id) and re.fullmatch(r"[A-Za-z0-9_-]{32}", session_id or "") is not None

    def token_for(self, session_id: str) -> str:
        mac = hmac.new(self._key, self._PURPOSE + session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def verify(self, session_id: str | None, token: str | None) -> bool:
        if not self.valid_session_id(session_id) or not token:
            return False
        assert session_id is not None
        return hmac.compare_digest(self.token_for(session_id).encode(), token.strip().encode())


def csrf_key(settings: Settings) -> bytes:
    """The CSRF signing key: ``DGSYNC_WEB__SECRET_KEY``, else derived from the API token (the
    same on every Lambda container), else random for this process."""
    configured = settings.web.secret_key.get_secret_value() if settings.web.secret_key else ""
    if configured:
        return hashlib.sha256(b"dgsync-web-key|" + configured.encode()).digest()
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if token:
        return hmac.new(token.encode(), b"dgsync-csrf-key-v1", hashlib.sha256).digest()
    return secrets.token_bytes(32)


# -------------------------------------------------------------------------- headers

#: Content Security Policy of every page: our own scripts and styles only (no inline code,
#: no eval), no framing, forms post only to us.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(*, https: bool, csp: str = DEFAULT_CSP) -> dict[str, str]:
    """The headers every response carries (HSTS only when served over HTTPS)."""
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def csp_with_script_hashes(scripts: Iterable[str], *, extra_sources: str = "") -> str:
    """A CSP that also allows the given inline scripts by hash (e.g. Swagger UI's bootstrap)."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in scripts
    )
    src = f"'self' {extra_sources} {hashes}".replace("  ", " ").strip()
    return DEFAULT_CSP.replace("script-src 'self'", f"script-src {src}").replace(
        "style-src 'self'", f"style-src 'self' {extra_sources}".strip()
    )


def is_https(scheme: str | None, headers: Mapping[str, str]) -> bool:
    """Whether the client reached us over HTTPS (directly or through a TLS-terminating proxy).

    ``headers`` must have lower-case names; ``X-Forwarded-Proto`` is what API Gateway, ALB and
    most proxies set.
    """
    forwarded = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return (scheme or "").lower() == "https" or forwarded == "https"


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class WebPolicy:
    """What an app enforces, decided once at start by :func:`web_policy`."""

    app: AppName
    #: Authentication required on every request (but health/login/static).
    auth_required: bool
    #: Hosts a request's ``Host`` header may name.
    allowed_hosts: frozenset[str]
    csrf: CsrfSigner = field(repr=False)
    #: Whether an API token is configured (and strong).
    has_token: bool = False

    def needs_auth(self, server_host: str | None) -> bool:
        """Auth for a request that arrived on local address ``server_host``: always when the
        policy says so, and whenever the request did not come in over loopback (an app
        started some other way than its ``__main__`` still fails closed)."""
        return self.auth_required or (server_host is not None and not is_loopback(server_host))

    def host_ok(self, host_header: str | None) -> bool:
        return host_allowed(host_header, self.allowed_hosts)


def web_policy(settings: Settings, *, app: AppName, bind_host: str | None = None) -> WebPolicy:
    """Check the settings (and the bind address) for ``app`` and return its policy.

    Raises :class:`ConfigError` (one line, with the fix) when Dog is asked to bind to a
    non-loopback address without an API token, when authentication is needed but ``DGSYNC_API_TOKEN`` is missing
    or weak, or when a non-loopback Wolf names no allowed hosts.
    """
    loopback = bind_host is None or is_loopback(bind_host)
    for secret in (settings.api_token, settings.web.secret_key):
        if secret is not None and secret.get_secret_value():
            register_secret(secret.get_secret_value())  # redacted from every log line
    if app == "dog":
        if settings.env != "dog":
            raise ConfigError(
                f"Dog serves only the dog profile, not {settings.env!r}",
                hint="Unset DGSYNC_ENV (or set it to dog); for wolf/bear serve `python -m wolf_fastapi`.",
            )
        token_set = settings.api_token is not None and bool(settings.api_token.get_secret_value())
        if not loopback and not token_set:
            raise ConfigError(
                f"Dog refuses to listen on {bind_host!r} without DGSYNC_API_TOKEN: it serves local use, "
                "and anywhere else only behind its sign-in",
                hint="Use --host 127.0.0.1 (and an SSH tunnel to reach it), or set DGSYNC_API_TOKEN "
                "(`dgsync keys create`) and DGSYNC_WEB__ALLOWED_HOSTS as deploy/dog/compose.yaml does.",
            )
    auth_required = app == "bear" or settings.env != "dog" or not loopback
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if auth_required:
        reason = {
            "bear": "Bear (AWS Lambda) always requires DGSYNC_API_TOKEN",
        }.get(app) or (
            f"profile {settings.env!r} requires DGSYNC_API_TOKEN"
            if settings.env != "dog"
            else f"listening on {bind_host!r} (not loopback) requires DGSYNC_API_TOKEN"
        )
        if not token:
            raise ConfigError(reason, hint=KEY_HINT.format(name="DGSYNC_API_TOKEN"))
        check_key_strength(token, name="DGSYNC_API_TOKEN")
    elif token:
        check_key_strength(token, name="DGSYNC_API_TOKEN")
    if settings.web.secret_key is not None:
        check_key_strength(settings.web.secret_key.get_secret_value(), name="DGSYNC_WEB__SECRET_KEY")
    configured = frozenset(h.strip().lower() for h in settings.web.allowed_hosts if h.strip())
    if configured:
        hosts = configured
    elif app == "bear":
        # API Gateway routes only requests for its own domains: no rebinding possible.
        hosts = frozenset({"*"})
    elif loopback:
        hosts = LOOPBACK_HOSTS
    else:
        raise ConfigError(
            f"listening on {bind_host!r} needs the host names clients use: DGSYNC_WEB__ALLOWED_HOSTS is empty",
            hint='Set DGSYNC_WEB__ALLOWED_HOSTS, e.g. \'["dgsync.example.com"]\' (or \'["*"]\' behind a proxy that checks Host).',
        )
    return WebPolicy(
        app=app, auth_required=auth_required, allowed_hosts=hosts, csrf=CsrfSigner(csrf_key(settings)),
        has_token=bool(token),
    )


class RequestRejected(DgsyncError):
    """A request the baseline refuses (the frontends answer with :attr:`status`)."""

    status = 400
    default_hint = "Check the request."


class BadHost(RequestRejected):
    status = 400
    default_hint = "Use a host name this deployment allows (DGSYNC_WEB__ALLOWED_HOSTS)."


class CsrfFailed(RequestRejected):
    status = 403
    default_hint = "Reload the page and submit again (the form's CSRF token is missing or stale)."


class NotLoopback(RequestRejected):
    status = 403
    default_hint = "Dog serves only this machine: open it on http://127.0.0.1 (an SSH tunnel from elsewhere)."


def check_request(
    policy: WebPolicy,
    *,
    method: str,
    host: str | None,
    csrf_session: str | None,
    csrf_token: str | None,
    authenticated: bool = False,
) -> None:
    """The checks every request passes before a route runs (auth itself is the adapter's).

    Raises :class:`BadHost` for a ``Host`` outside the allow-list and :class:`CsrfFailed` for
    a state-changing request without the token of its session. A request authenticated by
    an ``Authorization`` header (which browsers never add on their own) needs no CSRF token.
    """
    if not policy.host_ok(host):
        raise BadHost("the Host header names a host this deployment does not serve")
    if method.upper() in SAFE_METHODS or authenticated:
        return
    if not policy.csrf.verify(csrf_session, csrf_token):
        raise CsrfFailed("missing or invalid CSRF token")


def one_line(exc: DgsyncError) -> str:
    """A start-up error as the single line the entry points print."""
    return f"error: {exc.message} (hint: {exc.hint})"
