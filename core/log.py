"""Structured logging: JSON outside dog, a run id bound to every line, secrets redacted.

Use ``get_logger(__name__)`` and pass structured fields with ``extra``::

    log.info("asset extracted", extra={"space": "SALES", "asset": "V_ORDERS"})

``bind_run(run_id)`` (a context manager) binds the run id to every line logged inside it,
including lines from worker threads started with :func:`copy_context`.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("dgsync_run_id", default=None)

#: Field names whose values are never logged.
SECRET_KEYS = re.compile(
    r"(secret|password|passwd|token|authorization|api[_-]?key|credential|refresh)", re.I
)
_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1***"),
    (re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/]+=*"), r"\1***"),
    (
        re.compile(
            r"(?i)((?:client_secret|access_token|refresh_token|password|code)=)[^&\s\"']+"
        ),
        r"\1***",
    ),
    (
        re.compile(r"(?i)(\"(?:client_secret|access_token|refresh_token|password)\"\s*:\s*\")[^\"]*"),
        r"\1***",
    ),
    (re.compile(r"(?i)(aws_secret_access_key\s*[=:]\s*)\S+"), r"\1***"),
]
_known_secrets: set[str] = set()

_STD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is masked wherever it appears in a log line."""
    if value and len(value) >= 4:
        _known_secrets.add(value)


def redact(text: str) -> str:
    """Mask credentials in free text: known secrets, bearer/basic tokens, ``secret=`` pairs."""
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "***")
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    """Redact a structured field: secret-named keys are masked whole."""
    if SECRET_KEYS.search(key) and value not in (None, ""):
        return "***"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    return value


def current_run_id() -> str | None:
    return _run_id.get()


@contextlib.contextmanager
def bind_run(run_id: str) -> Iterator[None]:
    """Bind ``run_id`` to every log line emitted in this context."""
    token = _run_id.set(run_id)
    try:
        yield
    finally:
        _run_id.reset(token)


def copy_context() -> Callable[..., Any]:
    """A runner that executes a callable in a copy of the current context (for threads)."""
    ctx = contextvars.copy_context()
    return ctx.run


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: redact_value(k, v)
        for k, v in record.__dict__.items()
        if k not in _STD_ATTRS and not k.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, run_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        run_id = getattr(record, "run_id", None) or _run_id.get()
        if run_id:
            body["run_id"] = run_id
        body.update({k: v for k, v in _extras(record).items() if k != "run_id"})
        if record.exc_info:
            body["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(body, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """Human-readable single lines for dog: ``12:00:01 INFO  msg key=value [run=...]``."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items() if k != "run_id")
        run_id = getattr(record, "run_id", None) or _run_id.get()
        line = f"{ts} {record.levelname:<7} {redact(record.getMessage())}"
        if extras:
            line += f"  {extras}"
        if run_id:
            line += f"  [run={run_id}]"
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def configure_logging(*, level: str = "INFO", json_format: bool = False) -> None:
    """Install one stderr handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_dgsync", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else ConsoleFormatter())
    handler._dgsync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "httpx", "httpcore", "werkzeug", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
