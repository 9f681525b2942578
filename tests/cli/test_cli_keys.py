"""`dgsync keys create`: a strong key on stdout, the instructions on stderr, never logged."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from core.apikeys import ApiKeys
from core.errors import ConfigError
from core.settings import Settings, load_settings
from core.store import repo
from core.store.db import Store
from core.store.schemas import AuditFilter
from core.websec import check_key_strength, estimate_entropy_bits, generate_key
from dgsync_cli.main import cli


def test_keys_create_prints_a_strong_key_and_how_to_configure_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = CliRunner().invoke(cli, ["keys", "create"], catch_exceptions=False)
    assert result.exit_code == 0
    key = result.stdout.strip()
    assert "\n" not in key
    check_key_strength(key, name="DGSYNC_API_TOKEN")
    assert estimate_entropy_bits(key) >= 250
    assert "DGSYNC_API_TOKEN" in result.stderr and "256-bit" in result.stderr
    assert key not in result.stderr
    assert key not in caplog.text


def test_keys_create_quiet_prints_only_the_key_and_each_call_differs() -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["keys", "create", "-q", "--for", "secret-key", "--bytes", "16"])
    second = runner.invoke(cli, ["keys", "create", "-q"])
    assert first.exit_code == second.exit_code == 0
    assert first.stderr == ""
    assert len(first.stdout.strip()) == 22  # 16 bytes, base64url
    assert first.stdout != second.stdout


def test_keys_create_refuses_fewer_than_128_bits() -> None:
    result = CliRunner().invoke(cli, ["keys", "create", "--bytes", "8"])
    assert result.exit_code == 2
    assert "16<=x" in result.stderr


def test_a_weak_value_names_the_command() -> None:
    with pytest.raises(ConfigError) as caught:
        check_key_strength("changemechangeme", name="DGSYNC_API_TOKEN")
    assert "dgsync keys create" in caught.value.hint


# --------------------------------------------------------------------- named keys with roles


@pytest.fixture
def key_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os

    for name in list(os.environ):
        if name.startswith("DGSYNC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DGSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DGSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'state' / 'state.db'}")
    return tmp_path


def _settings() -> Settings:
    return load_settings()


def test_keys_create_stores_a_named_key_and_prints_it_as_the_last_word(key_env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["keys", "create", "--name", "qa-bot", "--role", "operator"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    key = result.stdout.split()[-1]
    assert key.startswith("dgk_") and "role operator" in result.stdout
    settings = _settings()
    store = Store.from_url(settings.database_url, auto_upgrade=True)
    try:
        principal = ApiKeys(store, settings).authenticate(key, "127.0.0.1")
        assert principal is not None and principal.actor == "key:qa-bot/operator"
        with store.session(readonly=True) as s:
            rows = s.execute(text("SELECT * FROM api_keys")).mappings().all()
            assert len(rows) == 1 and key not in str(dict(rows[0]))
            assert rows[0]["key_hash"] != hashlib.sha256(key.encode()).hexdigest()  # peppered HMAC
            events = repo.list_security_events(session=s, kind="key_created")
            audits = repo.query_audit(session=s, filters=AuditFilter(action="key_created"))
        assert events[0].actor is not None and events[0].actor.startswith("cli:")
        assert events[0].detail == {"key": "qa-bot", "role": "operator", "action": "created"}
        assert audits[0].object == "key:qa-bot" and audits[0].actor == events[0].actor
        assert key not in str(events[0].model_dump()) + str(audits[0].model_dump())
    finally:
        store.dispose()


def test_keys_create_quiet_list_and_revoke(key_env: Path) -> None:
    runner = CliRunner()
    key = runner.invoke(cli, ["keys", "create", "--name", "viewer-1", "--role", "viewer", "-q"]).stdout.strip()
    assert key.startswith("dgk_") and " " not in key
    listed = runner.invoke(cli, ["keys", "list", "--format", "json"])
    assert listed.exit_code == 0
    keys = json.loads(listed.stdout)["keys"]
    assert [(k["name"], k["role"], k["active"]) for k in keys] == [("viewer-1", "viewer", True)]
    assert key not in listed.stdout and "hash" not in listed.stdout
    table = runner.invoke(cli, ["keys", "list"])
    assert "viewer-1" in table.stdout and "active" in table.stdout
    revoked = runner.invoke(cli, ["keys", "revoke", "viewer-1"])
    assert revoked.exit_code == 0 and "Revoked" in revoked.stdout
    again = runner.invoke(cli, ["keys", "revoke", "viewer-1"])
    assert again.exit_code != 0 and "revoked already" in again.output
    after = json.loads(runner.invoke(cli, ["keys", "list", "--format", "json"]).stdout)["keys"]
    assert after[0]["active"] is False and after[0]["revoked_by"].startswith("cli:")
    settings = _settings()
    store = Store.from_url(settings.database_url, auto_upgrade=True)
    try:
        assert ApiKeys(store, settings).authenticate(key, "127.0.0.1") is None
    finally:
        store.dispose()


def test_keys_create_refuses_bad_names_roles_and_duplicates(key_env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["keys", "create", "--name", "x", "--role", "root"]).exit_code == 2
    no_role = runner.invoke(cli, ["keys", "create", "--name", "x"])
    assert no_role.exit_code == 2 and "--role" in no_role.output
    bad = runner.invoke(cli, ["keys", "create", "--name", "has space", "--role", "viewer"])
    assert bad.exit_code != 0 and "invalid key name" in bad.output
    reserved = runner.invoke(cli, ["keys", "create", "--name", "bootstrap", "--role", "admin"])
    assert reserved.exit_code != 0 and "reserved" in reserved.output
    assert runner.invoke(cli, ["keys", "create", "--name", "dup", "--role", "viewer"]).exit_code == 0
    dup = runner.invoke(cli, ["keys", "create", "--name", "dup", "--role", "admin"])
    assert dup.exit_code != 0 and "exists already" in dup.output


def test_keys_outside_dog_need_the_pepper(key_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_dir = key_env / "state"
    Store.from_url(f"sqlite:///{settings_dir / 'state.db'}", auto_upgrade=True).dispose()
    monkeypatch.setenv("DGSYNC_ENV", "wolf")
    monkeypatch.setenv("DGSYNC_DATASPHERE__BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_ID", "qa-client")
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_SECRET", "qa-client-secret-value")
    monkeypatch.setenv("DGSYNC_GLUE__ENDPOINT_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(cli, ["keys", "create", "--name", "w", "--role", "viewer"])
    assert result.exit_code != 0
    assert "DGSYNC_WEB__API_KEY_PEPPER" in result.output and "keys create --for pepper" in result.output
    monkeypatch.setenv("DGSYNC_WEB__API_KEY_PEPPER", generate_key())
    ok = CliRunner().invoke(cli, ["keys", "create", "--name", "w", "--role", "viewer"])
    assert ok.exit_code == 0, ok.output
