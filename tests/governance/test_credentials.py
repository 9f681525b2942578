"""Credential sources behind one interface: env, file, Secrets Manager and SSM (moto, offline);
the Datasphere client secret from any of them; failures name the source and never the secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core.credentials import (
    AwsOptions,
    EnvSource,
    FileSource,
    SecretsManagerSource,
    SsmSource,
    parse_source,
    resolve_secret,
)
from core.errors import ConfigError, CredentialError
from core.log import redact
from core.services import build_services
from core.settings import load_settings

SECRET = "s3cr3t-Value-9f2"
REGION = "eu-central-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name=REGION)
        ssm = boto3.client("ssm", region_name=REGION)
        sm.create_secret(Name="dgsync/wolf/datasphere", SecretString=json.dumps({"client_secret": SECRET}))
        sm.create_secret(Name="dgsync/plain", SecretString=SECRET)
        ssm.put_parameter(Name="/dgsync/wolf/client-secret", Value=SECRET, Type="SecureString")
        yield {"sm": sm, "ssm": ssm}


OPTS = AwsOptions(region=REGION)


def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("DS_SECRET", SECRET)
    plain = tmp_path / "secret.txt"
    plain.write_text(SECRET + "\n", encoding="utf-8")
    mapping = tmp_path / "secrets.yaml"
    mapping.write_text(f"other: x\nclient_secret: {SECRET}\n", encoding="utf-8")
    return [
        "env:DS_SECRET",
        f"file:{plain}",
        f"file:{mapping}#client_secret",
        "secretsmanager:dgsync/wolf/datasphere#client_secret",
        "secretsmanager:dgsync/plain",
        "ssm:/dgsync/wolf/client-secret",
    ]


def test_every_source_gives_the_secret_through_one_interface(
    aws: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = sources(tmp_path, monkeypatch)
    kinds = {type(parse_source(r, aws=OPTS)) for r in refs}
    assert kinds == {EnvSource, FileSource, SecretsManagerSource, SsmSource}
    for ref in refs:
        assert resolve_secret(ref, aws=OPTS).get_secret_value() == SECRET, ref


@pytest.mark.parametrize(
    ("ref", "says", "hint"),
    [
        ("env:DS_MISSING", "env:DS_MISSING", "Export DS_MISSING"),
        ("file:/nonexistent/secret", "file:/nonexistent/secret", "path"),
        ("secretsmanager:dgsync/nope", "secretsmanager:dgsync/nope: not found", "region"),
        ("secretsmanager:dgsync/plain#client_secret", "not a JSON/YAML mapping", "#key"),
        ("secretsmanager:dgsync/wolf/datasphere#wrong", "no key 'wrong'", "#key"),
        ("ssm:/dgsync/nope", "ssm:/dgsync/nope: not found", "region"),
        ("vault:kv/x", "not a credential reference", "ssm:/name"),
    ],
)
def test_failures_name_the_source_and_the_fix_without_the_secret(
    aws: dict[str, Any], ref: str, says: str, hint: str
) -> None:
    with pytest.raises(CredentialError) as err:
        resolve_secret(ref, aws=OPTS)
    assert says in err.value.message
    assert hint in err.value.hint
    assert SECRET not in err.value.message + err.value.hint
    assert isinstance(err.value, ConfigError)


def test_access_denied_names_the_permission(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    def deny(*args: Any, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": SECRET}}, "GetParameter")

    class Denying:
        get_parameter = staticmethod(deny)

    monkeypatch.setattr("core.credentials._aws_client", lambda service, options: Denying())
    with pytest.raises(CredentialError) as err:
        resolve_secret("ssm:/dgsync/wolf/client-secret", aws=OPTS)
    assert "access denied" in err.value.message
    assert "ssm:GetParameter" in err.value.hint
    assert SECRET not in str(err.value) + err.value.hint


@pytest.mark.parametrize("which", [0, 3, 5])
def test_the_datasphere_client_secret_comes_from_the_configured_source(
    aws: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: int,
) -> None:
    ref = sources(tmp_path, monkeypatch)[which]
    monkeypatch.setenv("DGSYNC_DATASPHERE__BASE_URL", "https://t1.eu10.hcs.cloud.sap")
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_ID", "sb-client")
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_SECRET_SOURCE", ref)
    monkeypatch.setenv("DGSYNC_CREDENTIALS__REGION", REGION)
    monkeypatch.setenv("DGSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 's.db'}")
    settings = load_settings(env="wolf")  # no client secret set: the source is enough
    assert settings.datasphere.client_secret is None
    services = build_services(settings)
    try:
        ds = services.datasphere_settings()
        assert ds.client_secret is not None and ds.client_secret.get_secret_value() == SECRET
        # Registered with the log redactor: a log line that would carry it does not.
        assert SECRET not in redact(f"token request failed for secret {SECRET}")
    finally:
        services.close()


def test_a_wolf_profile_without_secret_or_source_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DGSYNC_DATASPHERE__BASE_URL", "https://t1.eu10.hcs.cloud.sap")
    monkeypatch.setenv("DGSYNC_DATASPHERE__CLIENT_ID", "sb-client")
    monkeypatch.delenv("DGSYNC_DATASPHERE__CLIENT_SECRET", raising=False)
    monkeypatch.delenv("DGSYNC_DATASPHERE__CLIENT_SECRET_SOURCE", raising=False)
    with pytest.raises(ConfigError, match="CLIENT_SECRET"):
        load_settings(env="wolf")
