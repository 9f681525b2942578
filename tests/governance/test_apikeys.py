"""core/apikeys.py: keys hashed with a pepper, roles, revocation, expiry, last use, and the
framework-free authenticate/authorize every frontend (Wolf, Bear, Dog, MCP HTTP) calls."""

from __future__ import annotations

import logging
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from core.apikeys import ApiKeys, Principal, RoleDenied, bearer_of, hash_key, role_allows
from core.errors import ConfigError
from core.settings import Settings, WebSettings
from core.store import repo
from core.store.db import Store

PEPPER = "pepper-Xk2s9QmZ4vLr7TbN0aYc5Wd8Ue1Hf3Gj"
BOOTSTRAP = "8dXb9fQ4m_auTV605WIS9tjJcnWQ-Q1BGUpElXuXLf4"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _settings(store: Store, tmp_path: Path, *, env: str = "dog", pepper: str | None = PEPPER) -> Settings:
    url = store.engine.url.render_as_string(hide_password=False)
    web = WebSettings(api_key_pepper=SecretStr(pepper) if pepper else None)
    return Settings(env=env, database_url=url, state_dir=tmp_path / "state", web=web,  # type: ignore[arg-type]
                    api_token=SecretStr(BOOTSTRAP))


def _events(store: Store, kind: str) -> list[Any]:
    with store.session(readonly=True) as s:
        return repo.list_security_events(session=s, kind=kind)


def test_roles_are_ordered() -> None:
    assert role_allows("admin", "operator") and role_allows("operator", "operator")
    assert not role_allows("viewer", "operator") and not role_allows("root", "viewer")
    assert not role_allows("admin", "superuser")


def test_only_a_peppered_hmac_is_stored_and_a_new_pepper_invalidates_every_key(store: Store, tmp_path: Path) -> None:
    keys = ApiKeys(store, _settings(store, tmp_path))
    out, key = keys.create("ci", "operator", created_by="cli:alice", comment="CI pipeline")
    assert out.role == "operator" and out.created_by == "cli:alice" and out.active
    with store.session(readonly=True) as s:
        stored = s.execute(text("SELECT key_hash FROM api_keys")).scalar_one()
    assert stored == hash_key(PEPPER.encode(), key) and key not in stored
    principal = keys.authenticate(key, "10.0.0.1")
    assert principal is not None and (principal.kind, principal.name, principal.role) == ("key", "ci", "operator")
    assert principal.actor == "key:ci/operator"
    other = ApiKeys(store, _settings(store, tmp_path, pepper="another-Pepper-Zq8vN2xLr4Kc9Ws1Tb7"))
    assert other.authenticate(key, "10.0.0.1") is None


def test_the_bootstrap_token_is_admin_and_not_stored(store: Store, tmp_path: Path) -> None:
    keys = ApiKeys(store, _settings(store, tmp_path))
    principal = keys.authenticate(BOOTSTRAP, "10.0.0.1")
    assert principal is not None and (principal.kind, principal.role, principal.actor) == (
        "bootstrap", "admin", "key:bootstrap/admin")
    assert keys.list() == []


def test_outside_dog_keys_need_the_pepper_but_the_bootstrap_token_still_works(store: Store, tmp_path: Path) -> None:
    keys = ApiKeys(store, _settings(store, tmp_path, env="wolf", pepper=None))
    with pytest.raises(ConfigError) as caught:
        keys.create("ci", "viewer", created_by="cli:alice")
    assert "DGSYNC_WEB__API_KEY_PEPPER" in caught.value.message and "--for pepper" in caught.value.hint
    assert keys.authenticate(BOOTSTRAP, "10.0.0.1") is not None
    assert keys.authenticate("dgk_anything-anything-anything-any", "10.0.0.1") is None
    assert "no pepper configured" in _events(store, "auth_failure")[0].detail["reason"]


def test_in_dog_a_random_pepper_is_kept_private_in_the_state_dir(store: Store, tmp_path: Path) -> None:
    keys = ApiKeys(store, _settings(store, tmp_path, pepper=None))
    _, key = keys.create("local", "viewer", created_by="cli:alice")
    path = tmp_path / "state" / "api_key_pepper"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(path.read_text()) >= 40
    again = ApiKeys(store, _settings(store, tmp_path, pepper=None))  # another process, same state dir
    assert again.authenticate(key, "127.0.0.1") is not None


def test_revoked_and_expired_keys_fail_with_their_reason(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    keys = ApiKeys(store, _settings(store, tmp_path), clock=clock)
    _, short = keys.create("short", "viewer", created_by="cli:alice", expires_in=timedelta(days=1))
    _, gone = keys.create("gone", "viewer", created_by="cli:alice")
    keys.revoke("gone", actor="cli:bob")
    assert keys.authenticate(short, "10.0.0.1") is not None
    clock.now += timedelta(days=2)
    assert keys.authenticate(short, "10.0.0.1") is None
    assert keys.authenticate(gone, "10.0.0.1") is None
    reasons = [e.detail["reason"] for e in reversed(_events(store, "auth_failure"))]
    assert reasons == ["expired API key short", "revoked API key gone"]
    listed = {k.name: k for k in keys.list()}
    assert listed["gone"].revoked_by == "cli:bob" and not listed["gone"].active


def test_last_use_is_written_at_most_once_a_minute_per_source(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    keys = ApiKeys(store, _settings(store, tmp_path), clock=clock)
    _, key = keys.create("ci", "operator", created_by="cli:alice")
    first = clock.now
    keys.authenticate(key, "10.0.0.1")
    clock.now += timedelta(seconds=10)
    keys.authenticate(key, "10.0.0.1")
    assert keys.get("ci").last_used_at == first
    clock.now += timedelta(seconds=61)
    keys.authenticate(key, "10.0.0.1")
    assert keys.get("ci").last_used_at == clock.now
    keys.authenticate(key, "10.0.0.2")
    assert keys.get("ci").last_used_source == "10.0.0.2"
    sources = sorted(e.source for e in _events(store, "auth_success"))
    assert sources == ["10.0.0.1", "10.0.0.2"]  # first use of each source, once


def test_authorize_lets_higher_roles_through_and_records_denials(store: Store, tmp_path: Path) -> None:
    keys = ApiKeys(store, _settings(store, tmp_path))
    viewer = Principal(kind="oidc", name="carol", role="viewer")
    assert keys.authorize(Principal(kind="key", name="x", role="admin"), "operator", source="s", object="tool sync") \
        .role == "admin"
    with pytest.raises(RoleDenied) as caught:
        keys.authorize(viewer, "operator", source="10.9.9.9", object="tool sync", frontend="mcp")
    assert "needs the operator role" in caught.value.message
    denied = _events(store, "permission_denied")
    assert denied[0].actor == "oidc:carol/viewer" and denied[0].source == "10.9.9.9"
    assert denied[0].detail == {"role": "viewer", "needed": "operator", "object": "tool sync", "frontend": "mcp"}


def test_no_key_reaches_a_log_line_or_an_event(store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    keys = ApiKeys(store, _settings(store, tmp_path))
    _, key = keys.create("ci", "operator", created_by="cli:alice")
    keys.authenticate(key, "10.0.0.1", frontend="mcp")
    wrong = key[:-4] + "AAAA"
    keys.authenticate(wrong, "10.0.0.1", frontend="mcp")
    keys.revoke("ci", actor="cli:alice")
    everything = caplog.text + str([e.model_dump() for kind in ("auth_failure", "auth_success", "key_created",
                                                                 "key_revoked") for e in _events(store, kind)])
    assert key not in everything and wrong not in everything


def test_bearer_of_reads_an_authorization_header() -> None:
    assert bearer_of("Bearer abc") == "abc" and bearer_of("bearer  abc ") == "abc"
    assert bearer_of("Basic abc") is None and bearer_of(None) is None and bearer_of("Bearer ") is None
