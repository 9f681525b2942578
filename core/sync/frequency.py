"""Slice frequencies: parse ``realtime`` / ``hourly`` / ``daily`` / cron / ``off`` and say
when a slice is next due (the schedule the scheduler and ``dgsync status`` read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from croniter import croniter

from core.errors import ConfigError
from core.models import Priority
from core.settings import ScheduleSettings
from core.store.schemas import ScheduleStateOut, utcnow

#: The slices, in the order they are started.
PRIORITY_ORDER: tuple[Priority, ...] = tuple(sorted(Priority, key=lambda p: p.rank))
#: Default retry backoff after a failed run: base and cap (seconds).
DEFAULT_BACKOFF_BASE_S = 30.0
DEFAULT_BACKOFF_MAX_S = 900.0

_INTERVALS = {"hourly": 3600.0, "daily": 86400.0}
_OFF = frozenset({"off", "never", "manual"})


# ------------------------------------------------------------------------ frequencies


@dataclass(frozen=True)
class Frequency:
    """A parsed frequency: ``realtime``, ``interval`` (hourly/daily), ``cron`` or ``off``."""

    spec: str
    kind: Literal["realtime", "interval", "cron", "off"]
    interval_s: float | None = None
    cron: str | None = None

    @property
    def enabled(self) -> bool:
        return self.kind != "off"

    def next_due(self, *, started_at: datetime, finished_at: datetime) -> datetime | None:
        """When the slice is next due after a run that started and finished at these times."""
        if self.kind == "realtime":
            assert self.interval_s is not None
            return finished_at + timedelta(seconds=self.interval_s)
        if self.kind == "interval":
            assert self.interval_s is not None
            return max(started_at + timedelta(seconds=self.interval_s), finished_at)
        if self.kind == "cron":
            assert self.cron is not None
            nxt: datetime = croniter(self.cron, finished_at).get_next(datetime)
            return nxt
        return None


def parse_frequency(spec: str, *, realtime_interval_s: float, name: str = "") -> Frequency:
    """Parse ``realtime``, ``hourly``, ``daily``, ``off`` or a cron expression.

    Raises :class:`ConfigError` naming the setting (``DGSYNC_SCHEDULE__<NAME>``).
    """
    text = " ".join(str(spec).split())
    lowered = text.lower()
    if lowered == "realtime":
        return Frequency(spec=text, kind="realtime", interval_s=realtime_interval_s)
    if lowered in _INTERVALS:
        return Frequency(spec=text, kind="interval", interval_s=_INTERVALS[lowered])
    if lowered in _OFF:
        return Frequency(spec=text, kind="off")
    if text and croniter.is_valid(text):
        return Frequency(spec=text, kind="cron", cron=text)
    setting = f"DGSYNC_SCHEDULE__{name.upper()}" if name else "the schedule frequency"
    raise ConfigError(
        f"{setting}: {text!r} is not a frequency",
        hint="Use realtime, hourly, daily, off or a cron expression such as '*/15 * * * *'.",
    )


def frequencies(settings: ScheduleSettings) -> dict[Priority, Frequency]:
    """The frequency of every priority class (validated)."""
    return {
        p: parse_frequency(
            getattr(settings, p.value), realtime_interval_s=settings.realtime_interval_s, name=p.value
        )
        for p in PRIORITY_ORDER
    }


def effective_next_due(
    frequency: Frequency,
    state: ScheduleStateOut | None,
    *,
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
) -> datetime | None:
    """When a slice is due: ``None`` if it is off; its stored ``next_due_at`` otherwise.

    A slice with no stored due time (never ran) is due at once: this returns the minimum
    datetime. A stored time is never later than what the *current* frequency gives after the
    last run plus the maximum backoff, so a frequency changed in the config takes effect
    without touching the store.
    """
    if not frequency.enabled:
        return None
    if state is None or state.next_due_at is None:
        return datetime.min.replace(tzinfo=utcnow().tzinfo)
    due = state.next_due_at
    if state.last_started_at is not None and state.last_finished_at is not None:
        regular = frequency.next_due(started_at=state.last_started_at, finished_at=state.last_finished_at)
        if regular is not None:
            due = min(due, regular + timedelta(seconds=backoff_max_s))
    return due


def slice_keys() -> Sequence[str]:
    """The slice keys, in priority order."""
    return [p.value for p in PRIORITY_ORDER]
