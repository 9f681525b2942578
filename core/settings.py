"""Settings: one pydantic-settings model, nested sections, three environment profiles.

Sources, highest priority first: explicit overrides (CLI flags), environment variables
(``DGSYNC_`` prefix, ``__`` for nesting: ``DGSYNC_DATASPHERE__CLIENT_ID``), the YAML config
file (``--config`` or ``DGSYNC_CONFIG_FILE``), then the profile defaults.

Profiles (``--env`` / ``DGSYNC_ENV``):

* ``dog``  — the embedded default: in-process Datasphere emulator, in-process moto Glue,
  SQLite. Works offline with no configuration.
* ``wolf`` — a real tenant and a real AWS account (QA). Credentials are required.
* ``bear`` — the same as wolf, run on AWS Lambda; JSON logs.

Settings are built on demand by :func:`load_settings`, never at import time.
"""

from __future__ import annotations

import contextvars
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from core.errors import ConfigError

EnvName = Literal["dog", "wolf", "bear"]
ENV_NAMES: tuple[str, ...] = ("dog", "wolf", "bear")

#: What botocore accepts as a region name (a DNS label).
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")

#: Secrets that are obviously not real; refused outside dog.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "demo-secret", "xxx"})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasphereSettings(_Section):
    """SAP Datasphere tenant (or emulator) and its OAuth client."""

    #: Tenant URL, e.g. ``https://ailien-test.eu20.hcs.cloud.sap``. Empty in dog: the
    #: embedded emulator is started in-process.
    base_url: str | None = None
    #: XSUAA token URL; derived from the tenant host when empty.
    token_url: str | None = None
    authorize_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    #: Where to read the client secret when ``client_secret`` is not set: ``env:VAR``,
    #: ``file:/path[#key]``, ``secretsmanager:ID[#key]`` or ``ssm:/name`` (core/credentials.py).
    client_secret_source: str | None = None
    #: ``client_credentials`` (technical user) or ``authorization_code`` (interactive user,
    #: after ``dgsync login``).
    grant: Literal["client_credentials", "authorization_code"] = "client_credentials"
    redirect_uri: str = "http://localhost:8080/"
    #: Where ``dgsync login`` keeps the refresh token (file mode 0600).
    token_cache: Path | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=5, ge=0, le=20)
    max_backoff_s: float = Field(default=30.0, gt=0)
    #: Seconds before expiry at which a token is refreshed proactively.
    refresh_margin_s: float = Field(default=10.0, ge=0)
    concurrency: int = Field(default=4, ge=1, le=64)
    #: Only these spaces (empty: every space the client can see).
    spaces: list[str] = Field(default_factory=list)
    verify_tls: bool = True

    @field_validator("base_url", "token_url", "authorize_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class GlueSettings(_Section):
    """AWS Glue Data Catalog target."""

    region: str = "eu-central-1"
    profile: str | None = None
    #: Assumed with STS before any Glue call (cross-account catalogs).
    role_arn: str | None = None
    external_id: str | None = None
    #: The AWS account id that owns the catalog (``CatalogId``); default: the caller's.
    catalog_id: str | None = None
    #: moto / localstack style endpoint. Empty in dog: an in-process moto server is used.
    endpoint_url: str | None = None
    #: Client-side token bucket: sustained calls per second and burst size.
    calls_per_second: float = Field(default=20.0, gt=0)
    burst: int = Field(default=20, ge=1)
    max_attempts: int = Field(default=8, ge=1, le=20)
    concurrency: int = Field(default=4, ge=1, le=64)
    #: botocore socket timeouts (seconds).
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    #: Assumed-role session length (seconds); credentials are refreshed before they expire.
    role_session_duration_s: int = Field(default=3600, ge=900, le=43200)
    #: Pass ``SkipArchive=True`` on updates (no table version kept).
    skip_archive: bool = False

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        # botocore's own rule (a DNS label); checked here so a typo stops at start, named.
        if not _REGION.fullmatch(value):
            raise ValueError(f"{value!r} is not an AWS region name (e.g. eu-central-1)")
        return value


class SyncSettings(_Section):
    """How a sync decides and applies."""

    #: Mapping rules (YAML). Empty: built-in defaults.
    rules_file: Path | None = None
    deletion_policy: Literal["log", "deprecate", "delete"] = "log"
    #: Fail-safe: skip deletions that would remove more than this share of managed objects.
    max_delete_share: float = Field(default=0.2, ge=0, le=1)
    #: Absolute cap: at most this many deletions/deprecations per run; the rest are held for
    #: confirmation (``dgsync deletions approve``).
    max_deletes_per_run: int = Field(default=50, ge=0)
    #: What to do with an unmanaged Glue table in the way.
    unmanaged_policy: Literal["skip_and_flag", "adopt"] = "skip_and_flag"


class CredentialsSettings(_Section):
    """AWS options of the Secrets Manager / SSM credential sources (default: Glue's)."""

    region: str | None = None
    profile: str | None = None
    #: moto / localstack style endpoint for Secrets Manager and SSM.
    endpoint_url: str | None = None


class ScheduleSettings(_Section):
    """Frequency per priority class: ``realtime``, ``hourly``, ``daily`` or a cron expression."""

    critical: str = "realtime"
    high: str = "hourly"
    medium: str = "hourly"
    low: str = "daily"
    realtime_interval_s: float = Field(default=60.0, gt=0)
    max_concurrency: int = Field(default=2, ge=1, le=32)
    lease_ttl_s: float = Field(default=300.0, gt=0)
    #: A running sync renews its scope lease and run heartbeat this often (background
    #: thread); a run silent for 3× this long is taken for dead (``interrupted``).
    heartbeat_interval_s: float = Field(default=5.0, gt=0, le=300)


class EmulatorSettings(_Section):
    """The embedded Datasphere emulator (dog)."""

    seed: int = 42
    #: Extra synthetic assets (benchmarks); 0 = only the realistic tenant and the fixtures.
    synthetic_assets: int = Field(default=0, ge=0)
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)


class OidcSettings(_Section):
    """OIDC/JWT bearer tokens accepted by the web and MCP frontends (``core/oidc.py``).

    A token must be signed by a key of the JWKS (``jwks_url``, or ``jwks_file`` for an
    air-gapped copy), carry this ``issuer`` and ``audience`` and not be expired; its role is
    taken from ``role_claim`` (a string or a list; a dotted path such as
    ``realm_access.roles`` reaches into objects), each value mapped through ``role_map``
    (empty: the values are role names); the highest role wins, none is a failed login."""

    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    jwks_url: str | None = None
    jwks_file: Path | None = None
    role_claim: str = "dgsync_role"
    role_map: dict[str, Literal["viewer", "operator", "admin"]] = Field(default_factory=dict)
    #: The claim naming the caller in the audit actor (``oidc:<value>/<role>``).
    name_claim: str = "sub"
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    leeway_s: float = Field(default=30.0, ge=0, le=600)
    #: How long fetched signing keys are reused before the JWKS URL is read again.
    jwks_cache_s: float = Field(default=300.0, ge=0)

    @model_validator(mode="after")
    def _one_jwks(self) -> OidcSettings:
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise ValueError("set exactly one of web.oidc.jwks_url and web.oidc.jwks_file")
        if any(a.lower() == "none" or a.upper().startswith("HS") for a in self.algorithms):
            raise ValueError("web.oidc.algorithms must be asymmetric (e.g. RS256, ES256), never none/HS*")
        return self


class WebSettings(_Section):
    """The web frontends (Dog, Wolf, Bear): see ``core/websec.py`` and docs/operations.md."""

    #: Host names a request's ``Host`` header may carry (DNS rebinding). Empty: localhost,
    #: 127.0.0.1 and [::1] on a loopback bind; required on any other bind; any host in Bear.
    #: ``*`` allows every host, ``.example.com`` a domain and its subdomains.
    allowed_hosts: list[str] = Field(default_factory=list)
    #: Signing key of the CSRF tokens (>= 128 bits). Empty: derived from the API token, else
    #: random per process.
    secret_key: SecretStr | None = None
    #: Pepper of the stored API-key hashes (HMAC-SHA256 key, >= 128 bits; ``dgsync keys
    #: create --for pepper``). Required outside dog to create or check stored keys; in dog a
    #: random one is kept in ``state_dir/api_key_pepper``. Changing it invalidates every key.
    api_key_pepper: SecretStr | None = None
    #: Accept OIDC/JWT bearer tokens too (empty: API keys only).
    oidc: OidcSettings | None = None
    #: How long the browsing catalog (asset pages, search, lineage) is served before it is
    #: read again in the background — conditionally: an unchanged object costs one ``304``.
    catalog_ttl_s: float = Field(default=300.0, ge=5.0, le=86_400.0)


AlertKind = Literal[
    "run_failed",
    "run_partial",
    "throttling",
    "drift",
    "deletions_held",
    "failsafe",
    "token_expiring",
    "dlq_not_empty",
    "security",
]
ALERT_KINDS: tuple[str, ...] = (
    "run_failed", "run_partial", "throttling", "drift", "deletions_held", "failsafe",
    "token_expiring", "dlq_not_empty", "security",
)


class AlertChannelSettings(_Section):
    """Where alerts go. ``webhook``: JSON POST; ``slack``: a Slack-compatible incoming webhook
    (``{"text": ...}``); ``sns``: an SNS topic (JSON message); ``email``: an SNS topic with
    e-mail subscriptions (subject + plain-text body)."""

    name: str = Field(min_length=1, max_length=64)
    type: Literal["webhook", "slack", "sns", "email"]
    #: Webhook URL (a secret: Slack webhook URLs carry their token in the path).
    url: SecretStr | None = None
    topic_arn: str | None = None
    region: str | None = None
    #: SNS endpoint override (tests, VPC endpoints).
    endpoint_url: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class AlertRuleSettings(_Section):
    """One alert rule: a condition kind, its threshold and the escalation chain of channels."""

    name: str = Field(min_length=1, max_length=64)
    kind: AlertKind
    #: Channel names, in escalation order: the first is notified at once, the next one when
    #: the alert is not acknowledged within ``escalate_after_s``.
    channels: list[str] = Field(default_factory=list)
    escalate_after_s: float = Field(default=900.0, gt=0)
    #: ``run_partial``: N runs in a row; ``throttling``: throttled calls per minute of run
    #: time; ``token_expiring``: seconds before expiry. Empty: the kind's default.
    threshold: float | None = Field(default=None, ge=0)
    severity: Literal["info", "warning", "critical"] = "warning"
    enabled: bool = True


class AlertSettings(_Section):
    """Alert rules, channels and the detection thresholds of suspicious activity."""

    enabled: bool = True
    channels: list[AlertChannelSettings] = Field(default_factory=list)
    rules: list[AlertRuleSettings] = Field(default_factory=list)
    #: An alert whose condition has not fired again for this long is resolved (a condition
    #: that fires again before then is the same alert: a flapping check alerts once).
    resolve_after_s: float = Field(default=3600.0, gt=0)
    #: Failed API-key logins from one source within the window that make a burst.
    failed_auth_burst: int = Field(default=5, ge=1)
    failed_auth_window_s: float = Field(default=300.0, gt=0)
    #: Datasphere 401/403 answers within the window that make a burst.
    denied_burst: int = Field(default=5, ge=1)
    denied_window_s: float = Field(default=300.0, gt=0)
    #: A run deleting/deprecating more than ``factor`` × the median of the last runs (and at
    #: least ``min``) is suspicious.
    deletion_spike_factor: float = Field(default=5.0, gt=1)
    deletion_spike_min: int = Field(default=10, ge=1)
    #: Hours (UTC) in which writes are expected, ``HH:MM-HH:MM`` (may wrap midnight).
    #: Empty: any time. Writes outside it raise a security alert.
    write_window_utc: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    #: When the OAuth client secret (or the refresh token) expires, if known: the
    #: ``token_expiring`` rule warns ahead of it.
    credentials_expire_at: datetime | None = None
    #: The SQS dead-letter queue of the Bear worker; the ``dlq_not_empty`` rule watches it.
    dlq_url: str | None = None
    dlq_region: str | None = None
    dlq_endpoint_url: str | None = None


class AuditSettings(_Section):
    """Audit trail retention."""

    #: Audit records (and security events) older than this are pruned by
    #: ``dgsync audit prune`` and ``dgsync alerts tick``. 0: keep forever.
    retention_days: int = Field(default=400, ge=0)


class Settings(BaseSettings):
    """All dgsync settings."""

    model_config = SettingsConfigDict(
        env_prefix="DGSYNC_",
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    env: EnvName = "dog"
    #: Base name of the tenant, used in messages and dashboards (e.g. ``ailien-test``).
    tenant_name: str | None = None
    database_url: str = "sqlite:///.dgsync/state.db"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: ``auto``: console in dog, JSON elsewhere.
    log_format: Literal["auto", "json", "console"] = "auto"
    #: Directory for local state (SQLite, dog Glue snapshot, token cache).
    state_dir: Path = Path(".dgsync")
    datasphere: DatasphereSettings = Field(default_factory=DatasphereSettings)
    glue: GlueSettings = Field(default_factory=GlueSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    emulator: EmulatorSettings = Field(default_factory=EmulatorSettings)
    credentials: CredentialsSettings = Field(default_factory=CredentialsSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    #: Shared secret for the web/API frontends outside dog (Bearer token).
    api_token: SecretStr | None = None

    @property
    def embedded_datasphere(self) -> bool:
        """True when the in-process emulator stands in for the tenant."""
        return self.datasphere.base_url is None

    @property
    def embedded_glue(self) -> bool:
        """True when an in-process moto server stands in for Glue."""
        return self.glue.endpoint_url is None and self.env == "dog"

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.env != "dog"
        return self.log_format == "json"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest first: explicit overrides (CLI flags), environment, then init kwargs (YAML).
        return (_OverrideSource(settings_cls), env_settings, init_settings)


_overrides: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "dgsync_settings_overrides", default=None
)


class _OverrideSource(PydanticBaseSettingsSource):
    """Explicit overrides given to :func:`load_settings` (they beat the environment)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_overrides.get() or {})


def _env_var_for(loc: tuple[Any, ...]) -> str:
    return "DGSYNC_" + "__".join(str(p).upper() for p in loc)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror}",
            hint="Pass an existing file with --config or DGSYNC_CONFIG_FILE.",
        ) from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"config file {path} is not valid YAML{where}",
            hint="Fix the YAML syntax at the position shown.",
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of settings, not {type(data).__name__}",
            hint="Start the file with keys such as `datasphere:` and `glue:`.",
        )
    return data


#: Names a JSON secret whose keys are settings' environment variable names (Bear on Lambda:
#: ``secretsmanager:<arn>``); its values are read once per process, never from plain env vars.
SECRETS_SOURCE_ENV = "DGSYNC_SECRETS_SOURCE"
_secret_cache: dict[str, dict[str, Any]] = {}


def secret_settings(ref: str) -> dict[str, Any]:
    """Settings read from the JSON secret ``ref`` names (``{"DGSYNC_DATABASE_URL": ...}``),
    as nested overrides. Fetched once per process (a Lambda container: at cold start) and
    cached; every value is registered with the log redactor."""
    import json

    from core.credentials import AwsOptions, resolve_secret
    from core.log import register_secret

    if ref not in _secret_cache:
        endpoint = os.environ.get("DGSYNC_CREDENTIALS__ENDPOINT_URL") or None
        text = resolve_secret(ref, aws=AwsOptions(endpoint_url=endpoint)).get_secret_value()
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and k.upper().startswith("DGSYNC_") for k in data
        ):
            raise ConfigError(
                f"{SECRETS_SOURCE_ENV}: the secret is not a JSON object of DGSYNC_* settings",
                hint='Store e.g. {"DGSYNC_DATABASE_URL": "...", "DGSYNC_DATASPHERE__CLIENT_SECRET": "..."}.',
            )
        nested: dict[str, Any] = {}
        for name, value in data.items():
            register_secret(str(value))
            parts = name[len("DGSYNC_"):].lower().split("__")
            node = nested
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        _secret_cache[ref] = nested
    return _secret_cache[ref]


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(
    *,
    env: str | None = None,
    config_file: Path | str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Build and validate the settings; a broken config raises :class:`ConfigError`.

    The error names the offending field (as its environment variable) and the fix.
    """
    if env is not None and env not in ENV_NAMES:
        raise ConfigError(
            f"unknown environment {env!r}",
            hint=f"Use --env with one of: {', '.join(ENV_NAMES)}.",
        )
    init: dict[str, Any] = {}
    path = config_file or os.environ.get("DGSYNC_CONFIG_FILE")
    if path:
        init = _read_yaml(Path(path))
    secret_ref = os.environ.get(SECRETS_SOURCE_ENV)
    if secret_ref:
        overrides = _deep_merge(secret_settings(secret_ref), overrides or {})
    token = _overrides.set(overrides or None)
    try:
        settings = Settings(**init)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not isinstance(p, int))
            problems.append(f"{_env_var_for(loc)}: {err['msg']}")
        raise ConfigError(
            "invalid configuration: " + "; ".join(problems),
            hint="Fix the named setting in the environment or the YAML config file.",
        ) from None
    finally:
        _overrides.reset(token)
    if env is not None and settings.env != env:
        # An explicit --env beats DGSYNC_ENV.
        settings = settings.model_copy(update={"env": env})
    enforce_profile(settings)
    return settings


def enforce_profile(settings: Settings) -> None:
    """Refuse settings that make no sense for the chosen environment."""
    if settings.env == "dog":
        return
    ds = settings.datasphere
    missing = [
        name
        for name, value in (
            ("DGSYNC_DATASPHERE__BASE_URL", ds.base_url),
            ("DGSYNC_DATASPHERE__CLIENT_ID", ds.client_id),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            f"environment {settings.env!r} needs a real tenant: {', '.join(missing)} not set",
            hint="Set them (or use --env dog for the embedded emulator).",
        )
    secret = ds.client_secret.get_secret_value() if ds.client_secret else ""
    if ds.client_secret is None and ds.client_secret_source:
        return  # read from its source when the services are built (core/credentials.py)
    if ds.grant == "client_credentials" and secret.strip().lower() in PLACEHOLDER_SECRETS:
        raise ConfigError(
            f"environment {settings.env!r} refuses an empty or placeholder "
            "DGSYNC_DATASPHERE__CLIENT_SECRET",
            hint="Set the technical user's real client secret.",
        )


def derive_token_url(base_url: str) -> str:
    """XSUAA token URL from a tenant URL: ``<t>.<r>.hcs.cloud.sap`` →
    ``<t>.authentication.<r>.hana.ondemand.com/oauth/token``; else ``{base}/oauth/token``."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    host = parts.hostname or ""
    labels = host.split(".")
    if len(labels) >= 4 and host.endswith(".hcs.cloud.sap"):
        tenant, region = labels[0], labels[1]
        return f"https://{tenant}.authentication.{region}.hana.ondemand.com/oauth/token"
    return f"{base_url.rstrip('/')}/oauth/token"
