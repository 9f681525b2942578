"""Credential sources behind one interface: environment, file, AWS Secrets Manager, SSM.

A secret is named by a *reference*::

    env:VARIABLE                      an environment variable
    file:/path/to/secret[#key]        a file (its whole text, stripped; or one key of a JSON
                                      or YAML mapping)
    secretsmanager:SECRET_ID[#key]    AWS Secrets Manager (SecretString; or one key of it as JSON)
    ssm:/parameter/name               AWS Systems Manager Parameter Store (decrypted)

``DGSYNC_DATASPHERE__CLIENT_SECRET_SOURCE`` takes such a reference, per environment (each
environment has its own settings), so the Datasphere client secret can come from any of them;
the AWS sources use ``DGSYNC_CREDENTIALS__REGION`` / ``__PROFILE`` / ``__ENDPOINT_URL``
(default: the Glue region and profile). :func:`resolve_secret` reads it, registers the value
with the log redactor and returns it as a ``SecretStr``. Every failure raises
:class:`CredentialError` naming the source (never the secret) and the fix. OAuth token
refresh is untouched: the secret is read once when the services are built.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import SecretStr

from core.errors import CredentialError
from core.log import register_secret

SCHEMES = ("env", "file", "secretsmanager", "ssm")


class CredentialSource(Protocol):
    """Where one secret comes from. ``describe()`` is safe to show (never the value)."""

    def describe(self) -> str: ...

    def fetch(self) -> str: ...


def _pick(text: str, key: str | None, where: str) -> str:
    """The whole ``text``, or ``key`` of it read as a JSON (or YAML) mapping."""
    if key is None:
        return text
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            data = None
    if not isinstance(data, dict):
        raise CredentialError(
            f"{where} is not a JSON/YAML mapping, so key {key!r} cannot be read from it",
            hint="Store the secret as a mapping, or drop the #key from the reference.",
        )
    if key not in data:
        raise CredentialError(
            f"{where} has no key {key!r} (keys: {', '.join(sorted(map(str, data))) or 'none'})",
            hint="Fix the #key in the reference or add the key to the secret.",
        )
    return str(data[key])


@dataclass(frozen=True)
class EnvSource:
    variable: str

    def describe(self) -> str:
        return f"env:{self.variable}"

    def fetch(self) -> str:
        value = os.environ.get(self.variable)
        if value is None or not value.strip():
            raise CredentialError(
                f"credential source {self.describe()}: the variable is not set or empty",
                hint=f"Export {self.variable} in the environment of the dgsync process.",
            )
        return value.strip()


@dataclass(frozen=True)
class FileSource:
    path: Path
    key: str | None = None

    def describe(self) -> str:
        return f"file:{self.path}" + (f"#{self.key}" if self.key else "")

    def fetch(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CredentialError(
                f"credential source {self.describe()}: cannot read the file ({exc.strerror})",
                hint="Check the path and that the dgsync user may read it (mode 0600 is enough).",
            ) from exc
        value = _pick(text, self.key, f"credential source {self.describe()}").strip()
        if not value:
            raise CredentialError(f"credential source {self.describe()}: the secret is empty",
                                  hint="Write the secret into the file.")
        return value


@dataclass(frozen=True)
class AwsOptions:
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None


def _aws_client(service: str, options: AwsOptions) -> Any:
    import boto3

    session = boto3.Session(profile_name=options.profile) if options.profile else boto3.Session()
    return session.client(service, region_name=options.region, endpoint_url=options.endpoint_url)


def _aws_error(source: str, exc: Exception, permission: str) -> CredentialError:
    from botocore.exceptions import ClientError

    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    if code in ("ResourceNotFoundException", "ParameterNotFound"):
        return CredentialError(f"credential source {source}: not found",
                               hint="Check the name and the region (DGSYNC_CREDENTIALS__REGION).")
    if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException"):
        return CredentialError(f"credential source {source}: access denied ({code})",
                               hint=f"Grant the dgsync role {permission} on it (and kms:Decrypt "
                                    "for a customer-managed key).")
    return CredentialError(
        f"credential source {source}: {code or type(exc).__name__}",
        hint="Check the AWS credentials, region and endpoint of the credential source.",
    )


@dataclass(frozen=True)
class SecretsManagerSource:
    secret_id: str
    key: str | None = None
    aws: AwsOptions = field(default_factory=AwsOptions)

    def describe(self) -> str:
        return f"secretsmanager:{self.secret_id}" + (f"#{self.key}" if self.key else "")

    def fetch(self) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = _aws_client("secretsmanager", self.aws).get_secret_value(SecretId=self.secret_id)
        except (ClientError, BotoCoreError) as exc:
            raise _aws_error(self.describe(), exc, "secretsmanager:GetSecretValue") from exc
        text = answer.get("SecretString")
        if text is None:
            raise CredentialError(f"credential source {self.describe()}: the secret is binary",
                                  hint="Store the client secret as a SecretString.")
        value = _pick(str(text), self.key, f"credential source {self.describe()}").strip()
        if not value:
            raise CredentialError(f"credential source {self.describe()}: the secret is empty",
                                  hint="Put a value into the secret.")
        return value


@dataclass(frozen=True)
class SsmSource:
    name: str
    aws: AwsOptions = field(default_factory=AwsOptions)

    def describe(self) -> str:
        return f"ssm:{self.name}"

    def fetch(self) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = _aws_client("ssm", self.aws).get_parameter(Name=self.name, WithDecryption=True)
        except (ClientError, BotoCoreError) as exc:
            raise _aws_error(self.describe(), exc, "ssm:GetParameter") from exc
        value = str(answer.get("Parameter", {}).get("Value", "")).strip()
        if not value:
            raise CredentialError(f"credential source {self.describe()}: the parameter is empty",
                                  hint="Put the secret into the parameter (type SecureString).")
        return value


def parse_source(ref: str, *, aws: AwsOptions | None = None) -> CredentialSource:
    """The source a reference names (see the module doc); :class:`CredentialError` if none."""
    scheme, sep, rest = ref.partition(":")
    scheme = scheme.strip().lower()
    if not sep or scheme not in SCHEMES or not rest.strip():
        raise CredentialError(
            f"not a credential reference: {ref.split(':', 1)[0]!r}...",
            hint="Use env:VAR, file:/path[#key], secretsmanager:ID[#key] or ssm:/name.",
        )
    rest = rest.strip()
    aws = aws or AwsOptions()
    if scheme == "env":
        return EnvSource(rest)
    name, _, key = rest.partition("#")
    if scheme == "file":
        return FileSource(Path(name).expanduser(), key or None)
    if scheme == "secretsmanager":
        return SecretsManagerSource(name, key or None, aws)
    return SsmSource(rest, aws)


def resolve_secret(ref: str, *, aws: AwsOptions | None = None) -> SecretStr:
    """Read the secret ``ref`` names; registered with the log redactor before it is returned."""
    value = parse_source(ref, aws=aws).fetch()
    register_secret(value)
    return SecretStr(value)


def aws_options(settings: Any) -> AwsOptions:
    """AWS options of the credential sources from the settings (credentials section, falling
    back to the Glue region and profile)."""
    creds = getattr(settings, "credentials", None)
    return AwsOptions(
        region=(creds.region if creds and creds.region else settings.glue.region),
        profile=(creds.profile if creds and creds.profile else settings.glue.profile),
        endpoint_url=creds.endpoint_url if creds else None,
    )
