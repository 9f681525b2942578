"""Sessions and clients from GlueSettings: config, endpoint credentials, STS assume-role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from core.errors import ConfigError, TargetAccessDenied
from core.glue.client import GlueClient
from core.glue.session import (
    AssumeRoleSource,
    StaticCredentials,
    boto_config,
    build_glue_client,
    make_glue_client,
    make_session,
    refreshable_credentials,
    register_endpoint_credentials,
    unregister_endpoint_credentials,
)
from core.log import redact
from core.settings import GlueSettings
from core.specs import DatabaseSpec

ROLE_ACCOUNT = "111111111111"
ROLE_ARN = f"arn:aws:iam::{ROLE_ACCOUNT}:role/dgsync-writer"


@pytest.fixture
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS credentials from the environment or ~/.aws: only explicit ones can work."""
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _base_session(region: str = "eu-central-1") -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )


def test_boto_config_uses_standard_retries_attempts_and_timeouts() -> None:
    settings = GlueSettings(max_attempts=5, connect_timeout_s=3, read_timeout_s=7, concurrency=16)
    config = boto_config(settings)
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert (config.connect_timeout, config.read_timeout) == (3, 7)
    assert config.max_pool_connections == 32
    assert config.region_name == settings.region


def test_client_counts_max_attempts_including_the_first(moto_endpoint: str) -> None:
    settings = GlueSettings(endpoint_url=moto_endpoint, max_attempts=4)
    client = make_glue_client(settings, credentials=StaticCredentials("testing", "testing"))
    assert client.meta.config.retries["total_max_attempts"] == 4
    assert client.meta.region_name == "eu-central-1"
    assert client.meta.endpoint_url == moto_endpoint


def test_unknown_profile_is_a_config_error(no_ambient_credentials: None) -> None:
    with pytest.raises(ConfigError, match="profile 'nope' not found") as err:
        make_session(GlueSettings(profile="nope"))
    assert "DGSYNC_GLUE__PROFILE" in err.value.hint


def test_registered_endpoint_credentials_are_used_without_environment(
    moto_endpoint: str, no_ambient_credentials: None, unique_name: Any
) -> None:
    settings = GlueSettings(endpoint_url=moto_endpoint + "/")
    register_endpoint_credentials(moto_endpoint, StaticCredentials("testing", "testing"))
    try:
        glue = build_glue_client(settings)
        name = unique_name("db")
        glue.create_database(DatabaseSpec(name=name, source_space="S"))
        assert glue.get_database(name) is not None
        glue.delete_database(name)
    finally:
        unregister_endpoint_credentials(moto_endpoint)


def test_build_glue_client_configures_catalog_and_token_bucket(moto_endpoint: str) -> None:
    settings = GlueSettings(
        endpoint_url=moto_endpoint, catalog_id="123456789012", calls_per_second=7, burst=3
    )
    glue = build_glue_client(settings, credentials=StaticCredentials("testing", "testing"))
    assert isinstance(glue, GlueClient)
    assert glue.catalog_id == "123456789012"
    assert glue.limiter is not None
    assert (glue.limiter.rate, glue.limiter.burst) == (7.0, 3.0)  # type: ignore[attr-defined]


def test_static_credentials_do_not_show_secrets_in_repr() -> None:
    creds = StaticCredentials("AKIDEXAMPLE", "topsecretvalue", "sessiontokenvalue")
    assert "topsecret" not in repr(creds)
    assert "sessiontoken" not in repr(creds)


# -- STS assume-role through moto --------------------------------------------------------------


def test_assume_role_with_external_id_writes_into_the_roles_account(
    moto_endpoint: str, no_ambient_credentials: None, unique_name: Any
) -> None:
    settings = GlueSettings(
        endpoint_url=moto_endpoint, role_arn=ROLE_ARN, external_id="ext-42", max_attempts=2
    )
    source = AssumeRoleSource(
        _base_session(),
        role_arn=ROLE_ARN,
        external_id="ext-42",
        region=settings.region,
        endpoint_url=moto_endpoint,
    )
    sent: list[dict[str, Any]] = []
    source.sts_client.meta.events.register(
        "before-parameter-build.sts.AssumeRole", lambda params, **_: sent.append(dict(params))
    )
    session = make_session(settings, role_source=source)
    glue = GlueClient(make_glue_client(settings, session=session))
    assert source.fetches == 0  # lazy: no STS call before the first Glue call

    name = unique_name("db")
    glue.create_database(DatabaseSpec(name=name, source_space="S"))
    db = glue.get_database(name)

    assert db is not None and db["CatalogId"] == ROLE_ACCOUNT
    assert source.fetches == 1  # hour-long session: no refresh on every call
    assert sent == [
        {
            "RoleArn": ROLE_ARN,
            "RoleSessionName": "dgsync",
            "DurationSeconds": 3600,
            "ExternalId": "ext-42",
        }
    ]
    glue.delete_database(name)


def test_make_session_assumes_role_from_settings(
    moto_endpoint: str, no_ambient_credentials: None
) -> None:
    settings = GlueSettings(endpoint_url=moto_endpoint, role_arn=ROLE_ARN)
    register_endpoint_credentials(moto_endpoint, StaticCredentials("testing", "testing"))
    try:
        session = make_session(settings)
        frozen = session.get_credentials().get_frozen_credentials()
    finally:
        unregister_endpoint_credentials(moto_endpoint)
    assert frozen.access_key != "testing"
    assert frozen.token
    # the assumed secret is masked should it ever reach a log line
    assert frozen.secret_key not in redact(f"key={frozen.secret_key}")


def test_assumed_credentials_are_refreshed_before_expiry(moto_endpoint: str) -> None:
    source = AssumeRoleSource(
        _base_session(),
        role_arn=ROLE_ARN,
        region="eu-central-1",
        endpoint_url=moto_endpoint,
        duration_s=900,
    )
    # refresh when less than 2000 s are left: a 900 s session is always due
    creds = refreshable_credentials(source, advisory_s=2000, mandatory_s=1)
    first = creds.get_frozen_credentials()
    second = creds.get_frozen_credentials()
    assert source.fetches == 2
    assert first.access_key != second.access_key


def test_default_refresh_margins_scale_with_session_length(moto_endpoint: str) -> None:
    source = AssumeRoleSource(
        _base_session(),
        role_arn=ROLE_ARN,
        region="eu-central-1",
        endpoint_url=moto_endpoint,
        duration_s=900,
    )
    creds = refreshable_credentials(source)
    for _ in range(3):
        creds.get_frozen_credentials()
    assert source.fetches == 1  # a 15-minute session is not refreshed on every use


def test_refused_assume_role_becomes_target_access_denied(moto_endpoint: str) -> None:
    settings = GlueSettings(endpoint_url=moto_endpoint, role_arn=ROLE_ARN, max_attempts=1)
    source = AssumeRoleSource(
        _base_session(), role_arn=ROLE_ARN, region=settings.region, endpoint_url=moto_endpoint
    )

    def deny(**_: Any) -> Any:
        from doubles.glue_faults import error_result

        return error_result("AccessDenied", "not authorized to perform sts:AssumeRole")

    source.sts_client.meta.events.register("before-call.sts.AssumeRole", deny)
    glue = GlueClient(
        make_glue_client(settings, session=make_session(settings, role_source=source))
    )
    with pytest.raises(TargetAccessDenied, match=f"cannot assume role {ROLE_ARN}") as err:
        glue.get_database("x")
    assert "trust policy" in err.value.hint
    assert glue.stats.snapshot().errors == 1
