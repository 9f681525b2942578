"""boto3 sessions and Glue clients built from :class:`core.settings.GlueSettings`.

* Region, named profile, and an optional role assumed with STS (``role_arn`` +
  ``external_id``). Assumed-role credentials are fetched lazily on the first call and
  refreshed by botocore before they expire.
* ``endpoint_url`` points Glue (and STS) at moto or localstack. An in-process embedded Glue
  (the test double ``doubles.glue_embedded``) registers its dummy credentials for its endpoint, so a client
  built for that endpoint authenticates without touching the process environment.
* botocore ``Config``: standard retries with ``max_attempts``, connect/read timeouts, a
  connection pool sized for the configured concurrency. Not botocore's ``adaptive`` mode:
  its own rate limiter collapses to 0.5 calls/s after a throttle burst and recovers slowly,
  on top of dgsync's adaptive token bucket (:mod:`core.glue.ratelimit`), which is the one
  that paces and adapts.

Credentials are never logged; assumed-role secrets are registered with
:func:`core.log.register_secret` so they are masked if they ever reach a log line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.credentials import DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from core.errors import ConfigError, TargetAccessDenied, TargetUnavailable
from core.glue.client import GlueClient
from core.glue.ratelimit import TokenBucket
from core.log import get_logger, register_secret
from core.settings import GlueSettings

log = get_logger(__name__)

__all__ = [
    "AssumeRoleSource",
    "StaticCredentials",
    "boto_config",
    "build_glue_client",
    "make_glue_client",
    "make_session",
    "register_endpoint_credentials",
    "unregister_endpoint_credentials",
]

RetryMode = Literal["adaptive", "standard", "legacy"]


@dataclass(frozen=True)
class StaticCredentials:
    """Explicit credentials (the embedded Glue's dummy keys, or a test's)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _EndpointProfile:
    credentials: StaticCredentials
    #: Called with every boto3 client built for the endpoint (e.g. a test double's layer).
    install: Callable[[Any], Any] | None


_endpoints: dict[str, _EndpointProfile] = {}
_endpoint_lock = threading.Lock()


def _norm_url(url: str) -> str:
    return url.rstrip("/")


def register_endpoint_credentials(
    endpoint_url: str, credentials: StaticCredentials, *, install: Callable[[Any], Any] | None = None
) -> None:
    """Use ``credentials`` for clients built for ``endpoint_url`` (an in-process moto).

    ``install(client)`` is called on each of those clients (the embedded Glue installs its
    fidelity layer this way: AWS behaviour moto lacks, such as pagination and ``VersionId``
    locking). Core itself knows no test double.
    """
    with _endpoint_lock:
        _endpoints[_norm_url(endpoint_url)] = _EndpointProfile(credentials, install)


def unregister_endpoint_credentials(endpoint_url: str) -> None:
    with _endpoint_lock:
        _endpoints.pop(_norm_url(endpoint_url), None)


def _endpoint_profile(endpoint_url: str | None) -> _EndpointProfile | None:
    if not endpoint_url:
        return None
    with _endpoint_lock:
        return _endpoints.get(_norm_url(endpoint_url))


def boto_config(settings: GlueSettings, *, retry_mode: RetryMode = "standard") -> Config:
    """botocore ``Config`` for Glue: retries, timeouts, pool size, user agent."""
    return Config(
        region_name=settings.region,
        # ``total_max_attempts`` counts the first attempt too (``max_attempts`` would not).
        retries={"mode": retry_mode, "total_max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        max_pool_connections=max(10, 2 * settings.concurrency),
        user_agent_extra="dgsync",
    )


def _base_session(settings: GlueSettings, credentials: StaticCredentials | None) -> boto3.Session:
    if credentials is not None:
        return boto3.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name=settings.region,
        )
    try:
        return boto3.Session(profile_name=settings.profile, region_name=settings.region)
    except ProfileNotFound as exc:
        raise ConfigError(
            f"AWS profile {settings.profile!r} not found",
            hint="Set DGSYNC_GLUE__PROFILE to a profile in ~/.aws/config, or unset it.",
        ) from exc


class AssumeRoleSource:
    """Fetches credentials for ``role_arn`` with STS; botocore calls :meth:`fetch` to refresh."""

    def __init__(
        self,
        source: boto3.Session,
        *,
        role_arn: str,
        external_id: str | None = None,
        region: str,
        endpoint_url: str | None = None,
        duration_s: int = 3600,
        session_name: str = "dgsync",
    ) -> None:
        self.role_arn = role_arn
        self.external_id = external_id
        self.duration_s = duration_s
        self.session_name = session_name
        self.fetches = 0
        #: The STS client used for AssumeRole (tests hook into it).
        self.sts_client = source.client("sts", region_name=region, endpoint_url=endpoint_url)

    def fetch(self) -> dict[str, Any]:
        """Call ``sts:AssumeRole``; return botocore credential metadata."""
        params: dict[str, Any] = {
            "RoleArn": self.role_arn,
            "RoleSessionName": self.session_name,
            "DurationSeconds": self.duration_s,
        }
        if self.external_id:
            params["ExternalId"] = self.external_id
        try:
            response = self.sts_client.assume_role(**params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise TargetAccessDenied(
                f"cannot assume role {self.role_arn}: {code}",
                hint=(
                    "Check DGSYNC_GLUE__ROLE_ARN, DGSYNC_GLUE__EXTERNAL_ID and the role's trust "
                    "policy (it must trust the caller and require that external id)."
                ),
            ) from exc
        except BotoCoreError as exc:
            raise TargetUnavailable(
                f"cannot reach STS to assume role {self.role_arn}: {type(exc).__name__}"
            ) from exc
        creds = response["Credentials"]
        register_secret(creds["SecretAccessKey"])
        register_secret(creds["SessionToken"])
        expiry: datetime = creds["Expiration"]
        self.fetches += 1
        log.info(
            "assumed role",
            extra={"role_arn": self.role_arn, "expires_at": expiry.isoformat()},
        )
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiry.isoformat(),
        }


def refreshable_credentials(
    source: AssumeRoleSource,
    *,
    advisory_s: float | None = None,
    mandatory_s: float | None = None,
) -> DeferredRefreshableCredentials:
    """Credentials fetched on first use and refreshed ``advisory_s`` before expiry
    (``mandatory_s`` before expiry every caller waits for the refresh)."""
    duration = source.duration_s
    creds = DeferredRefreshableCredentials(refresh_using=source.fetch, method="assume-role")
    # botocore's defaults (15 / 10 minutes) assume hour-long sessions; scale them down for
    # short ones so a 15-minute session is not refreshed on every call.
    creds._advisory_refresh_timeout = (
        advisory_s if advisory_s is not None else min(15 * 60, duration / 4)
    )
    creds._mandatory_refresh_timeout = (
        mandatory_s if mandatory_s is not None else min(10 * 60, duration / 8)
    )
    return creds


def make_session(
    settings: GlueSettings,
    *,
    credentials: StaticCredentials | None = None,
    role_source: AssumeRoleSource | None = None,
) -> boto3.Session:
    """A boto3 session for ``settings``; with ``role_arn`` it carries assumed-role credentials.

    ``credentials`` overrides the default chain (else: registered endpoint credentials, then
    ``profile`` / environment / instance role).
    """
    if credentials is None:
        profile = _endpoint_profile(settings.endpoint_url)
        credentials = profile.credentials if profile is not None else None
    base = _base_session(settings, credentials)
    if not settings.role_arn and role_source is None:
        return base
    source = role_source or AssumeRoleSource(
        base,
        role_arn=settings.role_arn or "",
        external_id=settings.external_id,
        region=settings.region,
        endpoint_url=settings.endpoint_url,
        duration_s=settings.role_session_duration_s,
    )
    botocore_session = base._session  # the documented way to hand botocore credentials
    botocore_session._credentials = refreshable_credentials(source)
    return boto3.Session(botocore_session=botocore_session, region_name=settings.region)


def make_glue_client(
    settings: GlueSettings,
    *,
    credentials: StaticCredentials | None = None,
    session: boto3.Session | None = None,
    retry_mode: RetryMode = "standard",
) -> Any:
    """A boto3 Glue client for ``settings`` (region, profile/role, endpoint, retries)."""
    session = session or make_session(settings, credentials=credentials)
    client = session.client(
        "glue",
        endpoint_url=settings.endpoint_url,
        config=boto_config(settings, retry_mode=retry_mode),
    )
    profile = _endpoint_profile(settings.endpoint_url)
    if profile is not None and profile.install is not None:
        profile.install(client)
    return client


def build_glue_client(
    settings: GlueSettings,
    *,
    credentials: StaticCredentials | None = None,
    retry_mode: RetryMode = "standard",
) -> GlueClient:
    """A ready :class:`~core.glue.client.GlueClient`: boto3 client, catalog id, token bucket."""
    boto_client = make_glue_client(settings, credentials=credentials, retry_mode=retry_mode)
    return GlueClient(
        boto_client,
        catalog_id=settings.catalog_id,
        limiter=TokenBucket(rate=settings.calls_per_second, burst=settings.burst),
    )
