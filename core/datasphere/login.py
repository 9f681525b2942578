"""``dgsync login``: the interactive OAuth flow on a loopback port.

1. Build the XSUAA authorize URL (``response_type=code``, a random ``state``).
2. Listen on the ``redirect_uri`` port (loopback only) for the browser's redirect.
3. Open the browser when possible, and print the URL either way.
4. Catch ``?code=…&state=…``, check the state, exchange the code for tokens, and save the
   refresh token in the token cache (mode 0600). Later runs refresh from it silently.
"""

from __future__ import annotations

import secrets
import threading
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from core.datasphere.auth import TokenManager
from core.errors import AuthError, ConfigError
from core.log import get_logger
from core.settings import DatasphereSettings

log = get_logger(__name__)

_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>dgsync</title></head>"
    "<body><h1>{title}</h1><p>{text}</p></body></html>"
)


class LoginResult(BaseModel):
    """What ``dgsync login`` achieved."""

    model_config = ConfigDict(extra="forbid")

    token_cache: Path
    expires_in: float | None
    scope: str | None = None


class _Callback:
    def __init__(self, path: str) -> None:
        self.path = path
        self.event = threading.Event()
        self.params: dict[str, str] = {}


def _handler(callback: _Callback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path.rstrip("/") != callback.path.rstrip("/") or not (
                {"code", "error"} & params.keys()
            ):
                self.send_response(404)
                self.end_headers()
                return
            ok = "code" in params
            body = _PAGE.format(
                title="Signed in" if ok else "Sign-in failed",
                text="dgsync has what it needs; you can close this window."
                if ok
                else "See the terminal for details.",
            ).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if not callback.event.is_set():
                callback.params = params
                callback.event.set()

        def log_message(self, format: str, *args: object) -> None:
            return  # the query string carries the code: never log it

    return Handler


def _loopback(redirect_uri: str) -> tuple[str, int, str]:
    parts = urlsplit(redirect_uri)
    host = parts.hostname or ""
    if parts.scheme != "http" or host not in ("localhost", "127.0.0.1", "::1"):
        raise ConfigError(
            f"the redirect URI {redirect_uri!r} is not a loopback http:// URL",
            hint="Set DGSYNC_DATASPHERE__REDIRECT_URI to e.g. http://localhost:8080/ (and register it "
            "on the OAuth client).",
        )
    if parts.port is None:
        raise ConfigError(
            f"the redirect URI {redirect_uri!r} has no port",
            hint="Use e.g. http://localhost:8080/.",
        )
    return ("::1" if host == "::1" else "127.0.0.1"), parts.port, parts.path or "/"


def login(
    settings: DatasphereSettings,
    *,
    http: httpx.Client | None = None,
    open_browser: Callable[[str], bool] | None = webbrowser.open,
    echo: Callable[[str], None] = print,
    timeout_s: float = 300.0,
) -> LoginResult:
    """Run the interactive login and store the refresh token; raises AuthError on failure."""
    if not settings.client_id:
        raise ConfigError(
            "DGSYNC_DATASPHERE__CLIENT_ID is not set",
            hint="Set the id of an OAuth client of purpose Interactive Usage.",
        )
    host, port, path = _loopback(settings.redirect_uri)
    own = http is None
    http = http or httpx.Client(
        timeout=httpx.Timeout(settings.timeout_s), verify=settings.verify_tls
    )
    tokens = TokenManager(settings.model_copy(update={"grant": "authorization_code"}), http)
    callback = _Callback(path)
    try:
        server = HTTPServer((host, port), _handler(callback))
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port} for the login redirect ({exc.strerror})",
            hint="Free the port or change DGSYNC_DATASPHERE__REDIRECT_URI (and the OAuth client).",
        ) from exc
    thread = threading.Thread(target=server.serve_forever, name="dgsync-login", daemon=True)
    thread.start()
    try:
        state = secrets.token_urlsafe(24)
        url = tokens.authorize_url(state=state)
        opened = False
        if open_browser is not None:
            try:
                opened = bool(open_browser(url))
            except Exception:  # a missing browser is not an error: the URL is printed below
                opened = False
        echo(
            (
                "Opened your browser. If it did not open, visit:\n"
                if opened
                else "Open this URL to sign in:\n"
            )
            + url
        )
        if not callback.event.wait(timeout_s):
            raise AuthError(
                f"no login redirect arrived within {timeout_s:g} s",
                hint="Run `dgsync login` again and complete the sign-in in the browser.",
            )
        params = callback.params
        if "error" in params:
            raise AuthError(
                f"the sign-in was refused: {params.get('error')} {params.get('error_description', '')}".strip(),
                hint="Check that the OAuth client allows the authorization_code grant and this redirect URI.",
            )
        if not secrets.compare_digest(params.get("state", ""), state):
            raise AuthError(
                "the login redirect carried a wrong state (possible CSRF); nothing was saved",
                hint="Run `dgsync login` again.",
            )
        token = tokens.exchange_code(params["code"], redirect_uri=settings.redirect_uri)
        if tokens.load_refresh_token() is None:
            raise AuthError(
                "the token endpoint returned no refresh token",
                hint="Use an OAuth client of purpose Interactive Usage (it issues refresh tokens).",
            )
        log.info("login complete", extra={"token_cache": str(tokens.token_cache)})
        return LoginResult(
            token_cache=tokens.token_cache, expires_in=token.expires_in, scope=token.scope
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if own:
            http.close()
