"""Jinja2 filters of the Wolf pages: values for people (times, durations, compact JSON)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment


def pretty(value: object, limit: int = 160) -> str:
    """Strings as they are, lists/dicts compact JSON, long ones cut (the same as Dog's)."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when(value: datetime | str | None) -> str:
    """``2026-11-27 10:03:12`` (UTC), or ``—``."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def ago(value: datetime | str | None, now: datetime | None = None) -> str:
    """``3 min ago`` / ``in 2 h`` relative to now."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = ((now or datetime.now(UTC)) - value).total_seconds()
    text = seconds(abs(delta))
    return f"{text} ago" if delta >= 0 else f"in {text}"


def seconds(value: float | None) -> str:
    """A duration: ``850 ms``, ``12.3 s``, ``4 min``, ``2.5 h``."""
    if value is None:
        return "—"
    v = float(value)
    if v < 1:
        return f"{v * 1000:.0f} ms"
    if v < 120:
        return f"{v:.1f} s"
    if v < 7200:
        return f"{v / 60:.0f} min"
    if v < 172800:
        return f"{v / 3600:.1f} h"
    return f"{v / 86400:.0f} d"


def millis(value: float | None) -> str:
    return "—" if value is None else f"{float(value):.0f} ms"


def install_filters(env: Environment) -> None:
    from wolf_fastapi.jobs_ui import report_of, validation_of

    filters: dict[str, Any] = {"pretty": pretty, "when": when, "ago": ago, "seconds": seconds, "millis": millis,
                               "flow_report": report_of, "flow_validation": validation_of}
    env.filters.update(filters)
