"""Alert channels: a JSON webhook, a Slack-compatible webhook, an SNS topic, e-mail through
SNS. Each turns a :class:`Notification` into one delivery and raises
:class:`~core.errors.AlertDeliveryError` (with a hint) when it fails.

A notification carries the alert, never secrets: its text is redacted
(:func:`core.log.redact`) when it is built, and channel URLs (Slack webhook URLs hold a
token) never appear in errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from core.errors import AlertDeliveryError, ConfigError
from core.log import redact, redact_value
from core.settings import AlertChannelSettings

#: SNS subjects: at most 100 printable ASCII characters, no line breaks.
SNS_SUBJECT_MAX = 100


@dataclass(frozen=True)
class Notification:
    """What a channel sends about an alert (already redacted)."""

    alert_id: int
    env: str
    rule: str
    kind: str
    severity: str
    title: str
    message: str
    hint: str | None
    status: str
    level: int
    occurrences: int
    first_seen_at: datetime
    run_id: str | None = None
    escalated: bool = False
    test: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, **values: Any) -> Notification:
        for key in ("title", "message", "hint"):
            if isinstance(values.get(key), str):
                values[key] = redact(values[key])
        values["details"] = {
            k: redact_value(str(k), v) for k, v in dict(values.get("details") or {}).items()
        }
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["first_seen_at"] = self.first_seen_at.isoformat()
        body["details"] = dict(self.details)
        return body

    def subject(self) -> str:
        prefix = "[TEST] " if self.test else ("[ESCALATED] " if self.escalated else "")
        text = f"{prefix}[dgsync {self.env}] {self.severity.upper()}: {self.title}"
        text = " ".join(text.split()).encode("ascii", "replace").decode("ascii")
        return text[:SNS_SUBJECT_MAX]

    def text(self) -> str:
        lines = [self.subject(), "", self.message]
        if self.hint:
            lines += ["", f"What to do: {self.hint}"]
        lines += [
            "",
            f"alert {self.alert_id} · rule {self.rule} · seen {self.occurrences}× since "
            f"{self.first_seen_at.isoformat(timespec='seconds')}"
            + (f" · run {self.run_id}" if self.run_id else ""),
            f"Acknowledge: dgsync --env {self.env} alerts ack {self.alert_id}",
        ]
        return "\n".join(lines)


class Channel(Protocol):
    name: str

    def send(self, notification: Notification) -> None: ...


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")


class WebhookChannel:
    """POST the notification as JSON (``{"alert": {...}, "text": ...}``)."""

    def __init__(self, name: str, url: str, *, timeout_s: float = 5.0,
                 http: httpx.Client | None = None) -> None:
        self.name = name
        self._url = url
        self._timeout = timeout_s
        self._http = http

    def payload(self, notification: Notification) -> dict[str, Any]:
        return {"alert": notification.as_dict(), "text": notification.text()}

    def send(self, notification: Notification) -> None:
        body = self.payload(notification)
        where = _host(self._url)
        try:
            if self._http is not None:
                resp = self._http.post(self._url, json=body, timeout=self._timeout)
            else:
                with httpx.Client(timeout=self._timeout) as client:
                    resp = client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise AlertDeliveryError(
                f"alert channel {self.name!r}: {where} unreachable ({type(exc).__name__})"
            ) from exc
        if resp.status_code >= 300:
            raise AlertDeliveryError(
                f"alert channel {self.name!r}: {where} answered {resp.status_code}"
            )


class SlackChannel(WebhookChannel):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): ``{"text"}``."""

    def payload(self, notification: Notification) -> dict[str, Any]:
        return {"text": notification.text()}


class SnsChannel:
    """Publish the notification as JSON to an SNS topic (``Subject`` = the alert title)."""

    def __init__(self, name: str, topic_arn: str, *, client: Any | None = None,
                 region: str | None = None, endpoint_url: str | None = None) -> None:
        self.name = name
        self.topic_arn = topic_arn
        self._client = client
        self._region = region
        self._endpoint_url = endpoint_url

    def _sns(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client(
                "sns", region_name=self._region or _region_of(self.topic_arn),
                endpoint_url=self._endpoint_url,
            )
        return self._client

    def message(self, notification: Notification) -> str:
        return json.dumps(
            {"alert": notification.as_dict(), "text": notification.text()}, ensure_ascii=False
        )

    def send(self, notification: Notification) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._sns().publish(
                TopicArn=self.topic_arn,
                Subject=notification.subject(),
                Message=self.message(notification),
            )
        except ClientError as exc:
            code = (exc.response.get("Error") or {}).get("Code", "Unknown")
            raise AlertDeliveryError(
                f"alert channel {self.name!r}: SNS refused the publish to {self.topic_arn} ({code})",
                hint="Check the topic ARN and that the role may sns:Publish to it.",
            ) from exc
        except BotoCoreError as exc:
            raise AlertDeliveryError(
                f"alert channel {self.name!r}: SNS unreachable ({type(exc).__name__})"
            ) from exc


class EmailChannel(SnsChannel):
    """E-mail through SNS: a topic with e-mail subscriptions gets a plain-text body."""

    def message(self, notification: Notification) -> str:
        return notification.text()


def _region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 4 and parts[3] else None


def build_channel(spec: AlertChannelSettings, *, sns_client: Any | None = None,
                  http: httpx.Client | None = None) -> Channel:
    """The channel a settings entry describes; :class:`ConfigError` when incomplete."""
    if spec.type in ("webhook", "slack"):
        if spec.url is None or not spec.url.get_secret_value():
            raise ConfigError(
                f"alert channel {spec.name!r} ({spec.type}) has no url",
                hint=f"Set alerts.channels[].url of {spec.name!r} in the config file.",
            )
        cls = SlackChannel if spec.type == "slack" else WebhookChannel
        return cls(spec.name, spec.url.get_secret_value(), timeout_s=spec.timeout_s, http=http)
    if not spec.topic_arn:
        raise ConfigError(
            f"alert channel {spec.name!r} ({spec.type}) has no topic_arn",
            hint=f"Set alerts.channels[].topic_arn of {spec.name!r} (an SNS topic ARN).",
        )
    sns_cls = EmailChannel if spec.type == "email" else SnsChannel
    return sns_cls(spec.name, spec.topic_arn, client=sns_client, region=spec.region,
                   endpoint_url=spec.endpoint_url)


__all__ = [
    "Channel",
    "EmailChannel",
    "Notification",
    "SlackChannel",
    "SnsChannel",
    "WebhookChannel",
    "build_channel",
]
