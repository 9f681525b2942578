"""What a plan or a sync did: item results, counts, the run report, and why a run is not in sync.

Pure: builds models from plan items, extraction summaries and call statistics. The run status
and the exit code follow from :func:`not_in_sync` — a run that did not bring everything in scope
in sync says exactly why, and is never ``succeeded``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import DgsyncError
from core.models import Asset
from core.perf import RunPerf
from core.specs import MappingResult
from core.sync.plan import Action, Plan, PlanItem

if TYPE_CHECKING:
    from core.datasphere.extract import ExtractionResult
    from core.store.schemas import RunError

#: progress(stage, done, total)
ProgressFn = Callable[[str, int, int | None], None]

DONE = "done"
FAILED = "failed"
#: Glue rejected a call because another writer got there first (``AlreadyExists``,
#: ``ConcurrentModification``); dgsync re-read, re-planned and finished the object.
RECOVERED = "recovered"

#: Counts the store keeps as columns of ``runs``.
COUNT_KEYS = ("created", "updated", "unchanged", "deprecated", "deleted", "conflicts", "failed", "skipped")
_COUNT_OF = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.NOOP: "unchanged",
    Action.DEPRECATE: "deprecated",
    Action.DELETE: "deleted",
    Action.CONFLICT: "conflicts",
    Action.SKIP: "skipped",
}

CONFLICT_HINTS = {
    "unmanaged": "A table dgsync does not manage is in the way: rename or drop it, or adopt it "
    "(rules: unmanaged.adopt).",
    "naming": "Two source assets map to one Glue table name: add a rules override with another name.",
    "concurrent_modification": "Another writer kept changing the table; sync again when it is done.",
}


class ItemResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: str
    asset: str | None = None
    action: Action
    #: ``done``; ``failed`` (the call was rejected or the object could not be written);
    #: ``recovered`` (see :data:`RECOVERED`).
    status: str
    reason: str | None = None
    conflict: str | None = None
    error: str | None = None
    hint: str | None = None
    #: Why a deletion is held for confirmation.
    hold: str | None = None


class ExtractionSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assets: int = 0
    spaces: list[str] = Field(default_factory=list)
    skipped_spaces: dict[str, str] = Field(default_factory=dict)
    errors: list[dict[str, str]] = Field(default_factory=list)
    #: ``SPACE.NAME`` → why its table was kept as is (an input failed this run).
    incomplete: dict[str, str] = Field(default_factory=dict)
    #: Kinds the tenant does not offer (their design-time list answered 404).
    not_offered: list[str] = Field(default_factory=list)


class SyncReport(BaseModel):
    """What a plan or a sync did: counts, items, API calls, errors with hints."""

    model_config = ConfigDict(extra="forbid")

    run_id: str | None = None
    dry_run: bool
    status: str
    started_at: datetime
    duration_s: float = 0.0
    counts: dict[str, int] = Field(default_factory=dict)
    items: list[ItemResult] = Field(default_factory=list)
    api_calls: dict[str, dict[str, int]] = Field(default_factory=dict)
    glue_writes: int = 0
    retries: int = 0
    throttles: int = 0
    extraction: ExtractionSummary = Field(default_factory=ExtractionSummary)
    failsafe: str | None = None
    plan: Plan | None = None
    resumed_from: str | None = None
    #: Calls Glue rejected, per operation and AWS error code.
    rejected: dict[str, dict[str, int]] = Field(default_factory=dict)
    #: Why the run is not ``succeeded`` (one line each), empty when it is.
    not_in_sync: list[str] = Field(default_factory=list)
    #: Objects this run did not write because another space owns them (``OWNER.NAME`` → why):
    #: synced with their owner, or lineage nodes only when the owner space is invisible.
    shared: dict[str, str] = Field(default_factory=dict)
    #: Call latencies, retries and throttles per system (stored with the run; :mod:`core.metrics`).
    perf: RunPerf | None = None

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)


class PlanOutcome(BaseModel):
    """The plan of one group of spaces, with what applying and checkpointing it need."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    plan: Plan
    mapping: MappingResult
    assets: list[Asset]
    extraction: ExtractionSummary
    datasphere_calls: dict[str, int] = Field(default_factory=dict)
    #: ``SPACE.NAME`` → ETag of the version read (stored with the checkpoint).
    etags: dict[str, str] = Field(default_factory=dict)
    #: Assets unchanged since the last sync (304), neither mapped nor planned.
    unchanged: int = 0
    #: Unchanged assets whose live table was hashed clean: key → its ``VersionId``.
    verified_versions: dict[str, str] = Field(default_factory=dict)

    def summary_only(self) -> PlanOutcome:
        """This outcome without specs and items (memory stays bounded by one space)."""
        return self.model_copy(update={
            "assets": [], "mapping": MappingResult(),
            "plan": self.plan.model_copy(update={"items": []}),
        })


def count_items(items: Iterable[ItemResult]) -> dict[str, int]:
    counts = dict.fromkeys((*COUNT_KEYS, RECOVERED), 0)
    for item in items:
        if item.status == FAILED:
            counts["failed"] += 1
            continue
        counts[_COUNT_OF[item.action]] += 1
        if item.status == RECOVERED:
            counts[RECOVERED] += 1
    return counts


def stored_counts(counts: dict[str, int]) -> dict[str, int]:
    """The counts the store has columns for."""
    return {k: v for k, v in counts.items() if k in COUNT_KEYS}


def not_in_sync(items: Sequence[ItemResult], extraction: ExtractionSummary) -> list[str]:
    """Why a run did not bring everything in scope in sync (empty: it did)."""
    settled = [i for i in items if i.status != FAILED]
    reasons = [
        (sum(1 for i in items if i.status == FAILED), "object(s) failed"),
        (sum(1 for i in settled if i.action is Action.CONFLICT), "conflict(s) left unresolved"),
        (sum(1 for i in settled if i.hold),
         "deletion(s) held for confirmation (dgsync deletions pending)"),
        (len(extraction.errors), "extraction error(s)"),
        (len(extraction.skipped_spaces), "space(s) skipped"),
        (len(extraction.incomplete), "asset(s) kept as is: inputs failed this run"),
    ]
    return [f"{n} {what}" for n, what in reasons if n]


def as_result(item: PlanItem, status: str, error: DgsyncError | None = None) -> ItemResult:
    return ItemResult(
        object=item.object,
        asset=item.asset,
        action=item.action,
        status=status,
        reason=item.reason,
        conflict=item.conflict,
        error=error.message if error else None,
        hint=error.hint if error else None,
        hold=item.hold,
    )


def summarise_extraction(extraction: ExtractionResult) -> ExtractionSummary:
    errors = [
        {"asset": key, "code": err.code, "message": err.message, "hint": err.hint or ""}
        for key, err in extraction.errors.items()
    ]
    return ExtractionSummary(
        assets=len(extraction.assets),
        spaces=[sp.name for sp in extraction.spaces],
        skipped_spaces=dict(extraction.skipped_spaces),
        errors=errors,
        not_offered=sorted(extraction.not_offered),
    )


def merge_outcomes(parts: Sequence[PlanOutcome]) -> PlanOutcome:
    """One outcome from the per-space ones (plans concatenated, summaries added up)."""
    if len(parts) == 1:
        return parts[0]
    summary = ExtractionSummary()
    calls: dict[str, int] = {}
    plans = [p.plan for p in parts]
    for part in parts:
        ext = part.extraction
        summary.assets += ext.assets
        summary.spaces.extend(ext.spaces)
        summary.skipped_spaces.update(ext.skipped_spaces)
        summary.errors.extend(ext.errors)
        summary.incomplete.update(ext.incomplete)
        summary.not_offered = sorted(set(summary.not_offered) | set(ext.not_offered))
        for route, n in part.datasphere_calls.items():
            calls[route] = calls.get(route, 0) + n
    plan = Plan(
        items=[i for p in plans for i in p.items],
        issues=[i for p in plans for i in p.issues],
        skipped_assets={k: v for p in plans for k, v in p.skipped_assets.items()},
        failsafe="; ".join(p.failsafe for p in plans if p.failsafe) or None,
        shared=dict(sorted((k, v) for p in plans for k, v in p.shared.items())),
        not_offered=summary.not_offered,
    )
    return PlanOutcome(
        plan=plan, mapping=MappingResult(), assets=[], extraction=summary,
        datasphere_calls=calls, unchanged=sum(p.unchanged for p in parts),
    )


def run_errors(
    results: Sequence[ItemResult], extraction: ExtractionSummary | None, fatal: DgsyncError | None
) -> list[RunError]:
    """Every reason a run is not in sync, one entry each, with the hint to fix it."""
    from core.store.schemas import RunError

    errors: list[RunError] = []
    for r in results:
        if r.status == FAILED:
            errors.append(RunError(object=r.object, code="item_failed", message=r.error or "", hint=r.hint))
        elif r.action is Action.CONFLICT:
            errors.append(RunError(
                object=r.object, code=f"conflict_{r.conflict or 'unresolved'}", message=r.reason or "",
                hint=CONFLICT_HINTS.get(r.conflict or "", "Resolve the conflict in Glue, then sync again."),
            ))
        elif r.hold:
            errors.append(RunError(
                object=r.object, code="deletion_held", message=r.reason or "",
                hint="Review with `dgsync deletions pending`; confirm with `dgsync deletions approve`.",
            ))
    if extraction is not None:
        errors.extend(
            RunError(object=e.get("asset"), code=e.get("code", "extraction_error"),
                     message=e.get("message", ""), hint=e.get("hint"))
            for e in extraction.errors
        )
        errors.extend(
            RunError(object=space, code="space_skipped", message=reason,
                     hint="Add the technical user to the space, or exclude it.")
            for space, reason in extraction.skipped_spaces.items()
        )
        errors.extend(
            RunError(object=key, code="asset_incomplete", message=why,
                     hint="The table was kept as it is; the next run retries once the input is readable.")
            for key, why in extraction.incomplete.items()
        )
    if fatal is not None:
        errors.append(RunError(object=None, code=fatal.code, message=fatal.message, hint=fatal.hint))
    return errors


def glue_calls(snapshot: Any) -> dict[str, int]:
    return {op: s.calls for op, s in sorted(snapshot.by_operation.items())}


def diff_calls(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    out = {k: v - before.get(k, 0) for k, v in after.items()}
    return {k: v for k, v in out.items() if v}


def diff_rejected(
    after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for op, codes in after.items():
        diff = {c: n - before.get(op, {}).get(c, 0) for c, n in codes.items()}
        diff = {c: n for c, n in diff.items() if n}
        if diff:
            out[op] = diff
    return out


def flatten_rejected(rejected: dict[str, dict[str, int]]) -> dict[str, int]:
    """``{"CreateTable/AlreadyExistsException": 1}`` (the store keeps flat counters)."""
    return {f"{op}/{code}": n for op, codes in rejected.items() for code, n in codes.items()}


def datasphere_calls(client: Any) -> dict[str, int]:
    """Requests per route template so far (cumulative for the client)."""
    return dict(client.stats.requests_by_route())


def summary_line(counts: dict[str, int], reasons: Sequence[str] = ()) -> str:
    line = ", ".join(f"{k} {v}" for k, v in counts.items())
    return line + (f" — not in sync: {'; '.join(reasons)}" if reasons else "")
