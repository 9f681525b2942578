"""Settings: environment, YAML, profiles, and errors that name the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import derive_token_url, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("DGSYNC_"):
            monkeypatch.delenv(key)


def test_defaults_are_the_embedded_dog_profile() -> None:
    s = load_settings()
    assert s.env == "dog"
    assert s.embedded_datasphere and s.embedded_glue
    assert s.database_url.startswith("sqlite:///")
    assert not s.json_logs


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DGSYNC_DATASPHERE__BASE_URL", "https://ailien-test.eu20.hcs.cloud.sap/")
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("DGSYNC_GLUE__CALLS_PER_SECOND", "7.5")
    s = load_settings()
    assert s.datasphere.base_url == "https://ailien-test.eu20.hcs.cloud.sap"
    assert s.glue.calls_per_second == 7.5
    assert "s3cr3t-value" not in repr(s)


def test_yaml_file_with_environment_on_top(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "dgsync.yaml"
    cfg.write_text("glue:\n  region: us-east-1\n  burst: 5\nsync:\n  deletion_policy: deprecate\n")
    monkeypatch.setenv("DGSYNC_GLUE__BURST", "9")
    s = load_settings(config_file=cfg)
    assert s.glue.region == "us-east-1"
    assert s.glue.burst == 9
    assert s.sync.deletion_policy == "deprecate"


def test_cli_overrides_beat_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DGSYNC_GLUE__REGION", "eu-west-1")
    s = load_settings(overrides={"glue": {"region": "ap-south-1"}})
    assert s.glue.region == "ap-south-1"


def test_broken_value_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DGSYNC_GLUE__CALLS_PER_SECOND", "fast")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "DGSYNC_GLUE__CALLS_PER_SECOND" in err.value.message
    assert err.value.hint


def test_unknown_key_in_yaml_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("glue:\n  regoin: eu-west-1\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=cfg)
    assert "DGSYNC_GLUE__REGOIN" in err.value.message


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("glue:\n  region: [unclosed\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=cfg)
    assert "line" in err.value.message


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=tmp_path / "nope.yaml")
    assert "nope.yaml" in err.value.message


@pytest.mark.parametrize("env", ["wolf", "bear"])
def test_real_profiles_need_a_tenant(env: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env=env)
    assert "DGSYNC_DATASPHERE__BASE_URL" in err.value.message


def test_placeholder_secret_refused_outside_dog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DGSYNC_DATASPHERE__BASE_URL", "https://t.eu20.hcs.cloud.sap")
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_ID", "sb-client")
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_SECRET", "changeme")
    with pytest.raises(ConfigError) as err:
        load_settings(env="wolf")
    assert "placeholder" in err.value.message
    assert "changeme" not in err.value.message
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_SECRET", "a-real-looking-secret")
    assert load_settings(env="wolf").json_logs


def test_unknown_environment_name() -> None:
    with pytest.raises(ConfigError):
        load_settings(env="cat")


def test_token_url_derived_from_tenant_host() -> None:
    assert (
        derive_token_url("https://ailien-test.eu20.hcs.cloud.sap")
        == "https://ailien-test.authentication.eu20.hana.ondemand.com/oauth/token"
    )
    assert derive_token_url("http://127.0.0.1:8400") == "http://127.0.0.1:8400/oauth/token"
