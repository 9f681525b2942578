"""The SQS message that names one slice of work for a worker Lambda."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.models import Priority


class SliceMessage(BaseModel):
    """One priority class (optionally narrowed to some spaces) to sync."""

    model_config = ConfigDict(extra="forbid")

    priority: Priority
    #: Lease and resume key of the slice (``critical``, ``high:SALES+HR``...).
    slice_key: str
    spaces: list[str] = Field(default_factory=list)
    #: When the schedule fired (EventBridge ``time``), for the log.
    scheduled_at: str | None = None
    #: How many times a worker already ran out of time on this slice and re-queued it.
    continuation: int = Field(default=0, ge=0)
    #: The scheduler's estimate of the slice's duration (seconds), for the log.
    estimate_s: float | None = None

    @classmethod
    def for_priority(cls, priority: Priority, *, scheduled_at: str | None = None) -> SliceMessage:
        return cls(priority=priority, slice_key=priority.value, scheduled_at=scheduled_at)

    def continued(self) -> SliceMessage:
        """The same slice, queued again after a worker stopped it before its time ran out."""
        return self.model_copy(update={"continuation": self.continuation + 1})


class JobMessage(BaseModel):
    """One API job (``POST /api/v1/jobs``) for a worker to run (``JobService.run``)."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=1, max_length=64)
