"""`dgsync keys create`: a strong key on stdout, the instructions on stderr, never logged."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from core.errors import ConfigError
from core.websec import check_key_strength, estimate_entropy_bits
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
