"""The one exception tree of dgsync.

Every error a frontend can see is a :class:`DgsyncError`. Third-party exceptions
(httpx, botocore, SQLAlchemy, YAML, pydantic) are translated at the edge where they
happen, with ``raise ... from exc``, and never leak upward. Each error carries a
``hint``: one sentence telling the user what to do about it. Messages never contain
secrets.

::

    DgsyncError
    ├── ConfigError                 settings, YAML config or mapping rules are invalid
    │   └── RulesError              a mapping-rules file is invalid (with line numbers)
    ├── SourceError                 anything on the SAP Datasphere side
    │   ├── AuthError               token request refused, bad credentials, expired refresh
    │   ├── SourceUnavailable       unreachable host, timeout, 5xx after retries
    │   ├── SourceThrottled         429 after all retries
    │   ├── AccessDenied            403 (e.g. not a member of the space)
    │   ├── NotFound                404 (not exposed / no such object)
    │   └── UnexpectedResponse      HTML where JSON was expected, malformed payload
    ├── ExtractionError             one asset could not be turned into the domain model
    │   ├── CsnError                malformed CSN document
    │   └── IncompleteAsset         an input of the asset failed this run: not produced degraded
    ├── TargetError                 anything on the AWS Glue side
    │   ├── LimitExceeded           a request would break a documented Glue limit
    │   ├── TargetThrottled         throttled after all retries
    │   ├── ConcurrentModification  VersionId optimistic lock lost
    │   ├── TargetAccessDenied      IAM / Lake Formation refused
    │   ├── TargetUnavailable       endpoint unreachable
    │   ├── AlreadyExists           create of a database/table that exists (race with a user)
    │   └── TargetNotFound          write to a database/table that no longer exists
    ├── MappingError                an asset cannot be mapped (e.g. no columns)
    ├── OwnershipError              an object is not managed by dgsync
    ├── StoreError                  the state store failed or is not migrated
    │   └── LeaseHeld               another worker holds the lease of a slice
    ├── AlertDeliveryError          an alert channel (webhook, Slack, SNS) refused or failed
    └── SyncAborted                 a run was stopped (fail-safe, shutdown)
"""

from __future__ import annotations


class DgsyncError(Exception):
    """Base of every dgsync error: a message plus a remediation ``hint``."""

    default_hint = "See the log for details."

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint or self.default_hint

    @property
    def code(self) -> str:
        """Stable machine-readable name of the error class (e.g. ``auth_error``)."""
        name = type(self).__name__
        out = [name[0].lower()]
        for ch in name[1:]:
            if ch.isupper():
                out.append("_")
            out.append(ch.lower())
        return "".join(out)

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "hint": self.hint}

    def __str__(self) -> str:
        return self.message


class ConfigError(DgsyncError):
    default_hint = "Fix the named setting (environment variable DGSYNC_..., or the YAML file)."


class InputError(DgsyncError):
    """The caller named something that does not exist or cannot be used (an unknown alert,
    a deletion that is not pending, ...): fix the command's arguments."""

    default_hint = "Check the command's arguments; the listing commands show what exists."


class RulesError(ConfigError):
    default_hint = "Fix the mapping-rules file at the line shown; `dgsync rules test` validates it."


class CredentialError(ConfigError):
    """A credential source (env, file, Secrets Manager, SSM) could not give its secret."""

    default_hint = "Check the credential reference (env:, file:, secretsmanager:, ssm:) and its access."


class SourceError(DgsyncError):
    default_hint = "Check the Datasphere settings and run `dgsync check`."


class AuthError(SourceError):
    default_hint = (
        "Check DGSYNC_DATASPHERE__CLIENT_ID / CLIENT_SECRET and DGSYNC_DATASPHERE__TOKEN_URL; "
        "`dgsync check` tests them."
    )


class SourceUnavailable(SourceError):
    default_hint = "Check DGSYNC_DATASPHERE__BASE_URL and the network; retry later."


class SourceThrottled(SourceError):
    default_hint = "Datasphere is rate-limiting this client; lower concurrency or retry later."


class AccessDenied(SourceError):
    default_hint = "Add the technical user to the space in Datasphere, or exclude the space."


class NotFound(SourceError):
    default_hint = "The object is not deployed or not exposed for consumption."


class UnexpectedResponse(SourceError):
    default_hint = (
        "The server did not answer with the Datasphere API (a proxy or login page?); "
        "check DGSYNC_DATASPHERE__BASE_URL."
    )


class ExtractionError(DgsyncError):
    default_hint = "The asset is skipped; the rest of the run goes on."


class CsnError(ExtractionError):
    default_hint = "The CSN document is malformed; check the object in the Datasphere editor."


class IncompleteAsset(ExtractionError):
    """An input of the asset (a source's CSN, its analytical ``$metadata``) failed this run.

    The asset is not produced at all rather than produced degraded: the sync keeps its table
    as is and the next run reads it again. ``key`` is ``SPACE.NAME``; ``reason`` says which
    input failed."""

    default_hint = "The table is kept as is; the next run reads the object again."

    def __init__(self, key: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{key}: incomplete, not produced: {reason}", hint=hint)
        self.key = key
        self.reason = reason


class TargetError(DgsyncError):
    default_hint = "Check the Glue settings (region, role, endpoint) and IAM permissions."


class LimitExceeded(TargetError):
    default_hint = "Shorten the name or text with a mapping rule (override), or exclude the asset."


class TargetThrottled(TargetError):
    default_hint = "Lower DGSYNC_GLUE__CALLS_PER_SECOND or ask AWS for a higher quota."


class ConcurrentModification(TargetError):
    default_hint = "Someone else changed the table during the run; the next run re-plans it."


class TargetAccessDenied(TargetError):
    default_hint = "Grant the Glue (and Lake Formation) permissions `dgsync iam-policy` prints for these rules."


class TargetUnavailable(TargetError):
    default_hint = "Check DGSYNC_GLUE__REGION / DGSYNC_GLUE__ENDPOINT_URL and the network."


class AlreadyExists(TargetError):
    default_hint = "The object appeared in Glue after planning; the next run re-plans it."


class TargetNotFound(TargetError):
    default_hint = "The database or table was removed from Glue during the run; the next run re-plans it."


class MappingError(DgsyncError):
    default_hint = "Add an override for this asset in the mapping rules, or exclude it."


class OwnershipError(DgsyncError):
    default_hint = "dgsync only changes objects it manages; set `adopt` in the rules to take it over."


class StoreError(DgsyncError):
    default_hint = "Check DGSYNC_DATABASE_URL and run `dgsync db upgrade`."


class LeaseHeld(StoreError):
    default_hint = "Another worker is running this slice; it will be picked up when the lease ends."


class ScopeHeld(LeaseHeld):
    """Another run (e.g. a manual `dgsync sync`) holds an overlapping scope: this work is not
    being done by anyone else, it must wait and be retried."""

    default_hint = "Wait for the other run to finish (`dgsync sync --wait`), or narrow the scope."


class SyncAborted(DgsyncError):
    default_hint = "Nothing was lost; the next run resumes where this one stopped."


class AlertDeliveryError(DgsyncError):
    default_hint = (
        "Check the channel's URL or SNS topic in the alerts settings and that it is reachable; "
        "`dgsync alerts test CHANNEL` sends a test alert."
    )


class PermissionDenied(DgsyncError):
    """The caller is authenticated but its role does not allow the request (HTTP 403)."""

    default_hint = "Use a key with a higher role (`dgsync keys create --role operator|admin`)."
