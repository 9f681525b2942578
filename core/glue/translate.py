"""Glue and botocore errors as :mod:`core.errors` exceptions: the codes, what they mean, the hints.

:class:`core.glue.client.GlueClient` calls :func:`translate_client_error` for an AWS error
response and :func:`translate_botocore` for a client-side botocore failure; both name the
object the request was about (:func:`describe`) and never include secrets (messages redacted).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from core.errors import (
    AlreadyExists,
    ConcurrentModification,
    LimitExceeded,
    TargetAccessDenied,
    TargetError,
    TargetNotFound,
    TargetThrottled,
    TargetUnavailable,
)
from core.log import redact

__all__ = [
    "THROTTLE_STATUS",
    "THROTTLING_CODES",
    "describe",
    "is_throttle",
    "translate_botocore",
    "translate_client_error",
]

#: Error codes botocore and AWS use for throttling.
THROTTLING_CODES: frozenset[str] = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredTokenException",
        "ExpiredToken",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "MissingAuthenticationTokenException",
    }
)
_ACCESS_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
_UNAVAILABLE_CODES = frozenset(
    {
        "InternalServiceException",
        "InternalFailure",
        "ServiceUnavailable",
        "OperationTimeoutException",
    }
)
#: HTTP statuses that mean "slow down" whatever the error code (429 Too Many Requests, 503).
THROTTLE_STATUS = frozenset({429, 503})


def is_throttle(code: str, message: str = "") -> bool:
    """Whether an AWS error code (or its message) means throttling."""
    return code in THROTTLING_CODES or "rate exceeded" in message.lower()


def describe(params: Mapping[str, Any]) -> str:
    """The object a request is about, for messages: ``db``, ``db.table`` or an ARN."""
    database = params.get("DatabaseName")
    table = (
        params.get("TableName")
        or (params.get("TableInput") or {}).get("Name")
        or (params.get("Name") if database else None)
    )
    if database and table:
        return f"{database}.{table}"
    if database:
        return str(database)
    name = params.get("Name") or (params.get("DatabaseInput") or {}).get("Name")
    if name:
        return str(name)
    return str(params.get("ResourceArn") or "the catalog")


def translate_client_error(
    operation: str, params: Mapping[str, Any], code: str, message: str, *, attempts: int
) -> TargetError:
    """A Glue error response (``code``, ``message``) as a :class:`~core.errors.TargetError`."""
    obj = describe(params)
    detail = redact(message)[:300]
    text = f"Glue {operation} on {obj} failed: {code}" + (f" ({detail})" if detail else "")
    if is_throttle(code, message):
        return TargetThrottled(
            f"Glue throttled {operation} on {obj} after {max(1, attempts)} attempt(s)"
        )
    if code == "ConcurrentModificationException":
        return ConcurrentModification(
            f"{obj} was changed by someone else since it was read (Glue {operation})"
        )
    if code in _ACCESS_CODES:
        if "lake formation" in message.lower():
            return TargetAccessDenied(
                text,
                hint=(
                    "Lake Formation governs this catalog: grant the dgsync role Lake "
                    "Formation permissions (CREATE_TABLE, ALTER, DROP, DESCRIBE) on the "
                    "database, in addition to the IAM policy `dgsync iam-policy` prints."
                ),
            )
        return TargetAccessDenied(text)
    if code in _CREDENTIAL_CODES:
        return TargetAccessDenied(
            text,
            hint=(
                "The AWS credentials are invalid or expired: check DGSYNC_GLUE__PROFILE / "
                "DGSYNC_GLUE__ROLE_ARN or the environment's AWS credentials."
            ),
        )
    if code == "EntityNotFoundException":
        return TargetNotFound(text)
    if code == "AlreadyExistsException":
        return AlreadyExists(text)
    if code == "ResourceNumberLimitExceededException":
        return LimitExceeded(
            text,
            hint="An account quota of Glue is reached; ask AWS for a higher quota.",
        )
    if code in _UNAVAILABLE_CODES:
        return TargetUnavailable(text, hint="Glue had an internal error; retry later.")
    if code in ("InvalidInputException", "ValidationException"):
        return TargetError(
            text,
            hint=(
                "Glue refused the request although it passed dgsync's limit checks; "
                "report it with this message."
            ),
        )
    return TargetError(text)

def translate_botocore(operation: str, params: Mapping[str, Any], exc: BotoCoreError) -> TargetError:
    """A botocore client-side failure (no credentials, no network…) as a TargetError."""
    obj = describe(params)
    name = type(exc).__name__
    if isinstance(exc, (HTTPClientError, BotoConnectionError)):
        return TargetUnavailable(f"cannot reach Glue for {operation} on {obj}: {name}")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)):
        return TargetAccessDenied(
            f"no usable AWS credentials for Glue {operation}: {name}",
            hint=(
                "Configure AWS credentials (environment, DGSYNC_GLUE__PROFILE or an "
                "instance role), or use --env dog for the embedded Glue."
            ),
        )
    if isinstance(exc, NoRegionError):
        return TargetError(
            f"no AWS region for Glue {operation}", hint="Set DGSYNC_GLUE__REGION."
        )
    if isinstance(exc, ParamValidationError):
        return TargetError(
            f"invalid Glue {operation} request for {obj}: {redact(str(exc))[:300]}",
            hint="This is a dgsync defect; please report it with this message.",
        )
    return TargetError(f"Glue {operation} on {obj} failed: {name}")
