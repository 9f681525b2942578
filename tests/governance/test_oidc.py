"""OIDC/JWT bearer validation (core/oidc.py) with a locally generated RSA key: the JWKS from
a file and from a loopback HTTP server; through ApiKeys.authenticate and through Wolf."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from core import oidc
from core.apikeys import ApiKeys
from core.settings import OidcSettings, Settings, load_settings
from core.store import repo
from core.store.db import Store

ISSUER = "https://idp.example.test/realms/dgsync"
AUDIENCE = "dgsync-wolf"


def _rsa() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signing_key() -> Any:
    return _rsa()


@pytest.fixture(scope="module")
def other_key() -> Any:
    return _rsa()


def _jwks(private: Any, kid: str = "k1") -> dict[str, Any]:
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    public.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return {"keys": [public]}


def _token(private: Any, *, kid: str = "k1", alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": now + 300, "iat": now, "dgsync_role": "operator"}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, private, algorithm=alg, headers={"kid": kid})


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    oidc.clear_caches()
    yield
    oidc.clear_caches()


@pytest.fixture
def jwks_file(tmp_path: Path, signing_key: Any) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(_jwks(signing_key)))
    return path


def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **oidc_cfg: Any) -> Settings:
    import os

    for name in list(os.environ):
        if name.startswith("DGSYNC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DGSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DGSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'state' / 'state.db'}")
    cfg = {"issuer": ISSUER, "audience": AUDIENCE} | oidc_cfg
    monkeypatch.setenv("DGSYNC_WEB__OIDC", json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in cfg.items()}))
    return load_settings(env="dog")


def test_a_valid_token_gives_an_oidc_principal_with_the_claimed_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jwks_file: Path, signing_key: Any
) -> None:
    settings = _settings(tmp_path, monkeypatch, jwks_file=jwks_file)
    principal = oidc.validate_bearer(settings, _token(signing_key))
    assert (principal.kind, principal.name, principal.role) == ("oidc", "alice", "operator")
    assert principal.actor == "oidc:alice/operator"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"aud": "someone-else"}, "another audience"),
        ({"iss": "https://evil.example.test"}, "another issuer"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"dgsync_role": "root"}, "no dgsync role"),
        ({"dgsync_role": None}, "no dgsync role"),
        ({"exp": None}, "invalid JWT"),
    ],
    ids=["audience", "issuer", "expired", "unknown-role", "no-role", "no-exp"],
)
def test_bad_tokens_are_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jwks_file: Path, signing_key: Any,
    claims: dict[str, Any], message: str,
) -> None:
    settings = _settings(tmp_path, monkeypatch, jwks_file=jwks_file)
    token = _token(signing_key, **claims)
    with pytest.raises(oidc.OidcError) as caught:
        oidc.validate_bearer(settings, token)
    assert message in caught.value.message
    assert token not in caught.value.message


def test_a_token_signed_by_another_key_or_with_hs256_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jwks_file: Path, other_key: Any
) -> None:
    settings = _settings(tmp_path, monkeypatch, jwks_file=jwks_file)
    with pytest.raises(oidc.OidcError, match="invalid JWT"):
        oidc.validate_bearer(settings, _token(other_key))
    with pytest.raises(oidc.OidcError, match="kid"):
        oidc.validate_bearer(settings, _token(other_key, kid="k2"))
    # Algorithm confusion: HS256 "signed" with the public JWK's modulus as the secret.
    public_n = json.loads(jwks_file.read_text())["keys"][0]["n"]
    forged = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "exp": int(time.time()) + 60,
                         "dgsync_role": "admin"}, public_n.encode() * 2, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(oidc.OidcError):
        oidc.validate_bearer(settings, forged)


def test_role_map_over_a_list_claim_takes_the_highest_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jwks_file: Path, signing_key: Any
) -> None:
    settings = _settings(tmp_path, monkeypatch, jwks_file=jwks_file, role_claim="realm_access.roles",
                         role_map={"dgsync-read": "viewer", "dgsync-admins": "admin"}, name_claim="preferred_username")
    token = _token(signing_key, realm_access={"roles": ["offline", "dgsync-read", "dgsync-admins"]},
                   preferred_username="alice@example.test")
    principal = oidc.validate_bearer(settings, token)
    assert principal.role == "admin" and principal.name == "alice@example.test"
    unmapped = _token(signing_key, realm_access={"roles": ["operator"]}, preferred_username="bob")
    with pytest.raises(oidc.OidcError, match="no dgsync role"):
        oidc.validate_bearer(settings, unmapped)


def test_settings_refuse_two_or_no_jwks_sources_and_symmetric_algorithms() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        OidcSettings(issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ValueError, match="exactly one"):
        OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url="http://127.0.0.1:1/", jwks_file=Path("x"))
    with pytest.raises(ValueError, match="asymmetric"):
        OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=Path("x"), algorithms=["HS256"])


class _JwksServer:
    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                body = json.dumps(outer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_server(signing_key: Any) -> Iterator[_JwksServer]:
    server = _JwksServer(_jwks(signing_key))
    yield server
    server.close()


def test_jwks_from_a_loopback_url_is_fetched_once_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jwks_server: _JwksServer, signing_key: Any
) -> None:
    settings = _settings(tmp_path, monkeypatch, jwks_url=jwks_server.url)
    for _ in range(3):
        assert oidc.validate_bearer(settings, _token(signing_key)).role == "operator"
    assert jwks_server.hits == 1


def test_an_unreachable_jwks_url_is_a_clear_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signing_key: Any) -> None:
    settings = _settings(tmp_path, monkeypatch, jwks_url="http://127.0.0.1:9/certs")
    with pytest.raises(oidc.OidcError, match="JWKS URL could not be read") as caught:
        oidc.validate_bearer(settings, _token(signing_key))
    assert "web.oidc.jwks_url" in caught.value.hint


def test_api_keys_authenticate_accepts_jwts_and_records_bad_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jwks_file: Path, signing_key: Any
) -> None:
    settings = _settings(tmp_path, monkeypatch, jwks_file=jwks_file)
    store = Store.from_url(settings.database_url, auto_upgrade=True)
    try:
        keys = ApiKeys(store, settings)
        good = keys.authenticate(_token(signing_key, sub="carol", dgsync_role="viewer"), "10.1.2.3", frontend="mcp")
        assert good is not None and good.actor == "oidc:carol/viewer"
        bad_token = _token(signing_key, aud="other")
        assert keys.authenticate(bad_token, "10.1.2.3", frontend="mcp") is None
        with store.session(readonly=True) as s:
            events = repo.list_security_events(session=s, kind="auth_failure")
        assert len(events) == 1 and events[0].source == "10.1.2.3"
        assert events[0].detail["reason"] == "OIDC: the JWT is for another audience"
        assert bad_token not in json.dumps(events[0].detail)
    finally:
        store.dispose()


def test_wolf_accepts_an_oidc_bearer_with_its_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jwks_server: _JwksServer, signing_key: Any
) -> None:
    from fastapi.testclient import TestClient

    from wolf_fastapi.app import create_app

    settings = _settings(tmp_path, monkeypatch, jwks_url=jwks_server.url)
    settings = settings.model_copy(update={"api_token": None})
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1", client=("203.0.113.9", 5000)) as client:
        viewer = {"Authorization": f"Bearer {_token(signing_key, sub='dave', dgsync_role='viewer')}"}
        assert client.get("/api/v1/whoami", headers=viewer).json()["actor"] == "oidc:dave/viewer"
        denied = client.post("/api/plan", headers=viewer, json={})
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "role_denied"


def test_a_dashboard_session_from_a_jwt_ends_when_the_jwt_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jwks_file: Path, signing_key: Any
) -> None:
    import base64
    import re

    from fastapi.testclient import TestClient

    from wolf_fastapi.app import create_app

    settings = _settings(tmp_path, monkeypatch, jwks_file=jwks_file)
    web = settings.web.model_copy(update={"allowed_hosts": ["wolf.example.test"]})
    settings = settings.model_copy(update={"api_token": None, "web": web})
    exp = int(time.time()) + 120
    token = _token(signing_key, sub="erin", dgsync_role="operator", exp=exp)
    # A non-loopback Host: authentication is required, the JWT is the only credential.
    with TestClient(create_app(settings), base_url="http://wolf.example.test") as client:
        assert client.get("/api/runs").status_code == 401
        page = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None
        response = client.post("/login", data={"token": token, "csrf_token": csrf.group(1)}, follow_redirects=False)
        assert response.status_code == 303
        value = client.cookies.get("dgsync_session")
        assert value is not None and token not in value
        body = value.partition(".")[0]
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        assert payload["k"] == "oidc" and payload["n"] == "erin" and payload["e"] == exp
        assert client.get("/api/v1/whoami").json()["actor"] == "oidc:erin/operator"
