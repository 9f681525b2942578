"""The outcome of an extraction: the issue and result models, one space's design-time
listing, why a shared object is not synced by the space that lists it, catalog attachment
and the client call-stat delta of a run."""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from core.datasphere.client import CatalogAsset
from core.datasphere.csn import refingerprint
from core.errors import DgsyncError
from core.models import Asset, AssetKind, AssetRef, Space


class ExtractionIssue(BaseModel):
    """One failure of an extraction, with what to do about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    message: str
    hint: str
    space: str | None = None
    name: str | None = None
    kind: str | None = None

    @classmethod
    def from_error(
        cls,
        exc: DgsyncError,
        *,
        space: str | None = None,
        name: str | None = None,
        kind: AssetKind | None = None,
    ) -> ExtractionIssue:
        return cls(
            code=exc.code,
            message=exc.message,
            hint=exc.hint,
            space=space,
            name=name,
            kind=kind.value if kind else None,
        )


class ExtractionResult(BaseModel):
    """What an extraction found, and everything that went wrong on the way."""

    model_config = ConfigDict(extra="forbid")

    assets: list[Asset] = Field(default_factory=list)
    spaces: list[Space] = Field(default_factory=list)
    #: Space → why it was skipped (e.g. ``not a member (403)``).
    skipped_spaces: dict[str, str] = Field(default_factory=dict)
    #: ``SPACE.NAME`` (or ``SPACE/segment`` for a list) → the failure.
    errors: dict[str, ExtractionIssue] = Field(default_factory=dict)
    #: Requests per route template: ``{route: {"requests", "retries", "throttles", ...}}``.
    stats: dict[str, dict[str, int]] = Field(default_factory=dict)
    duration_s: float = 0.0
    #: ``SPACE.NAME`` → ETag of the version read (for the next conditional read).
    etags: dict[str, str] = Field(default_factory=dict)
    #: ``SPACE.NAME`` → kind, for objects answered ``304 Not Modified`` to the ETag given to
    #: :meth:`Extractor.extract`: unchanged since the last sync, not re-read, not in ``assets``.
    unchanged: dict[str, AssetKind] = Field(default_factory=dict)
    #: ``OWNER.NAME`` → one-line reason, for every object a consumer space lists but another
    #: space owns (never in ``assets``: the owner syncs it, or nobody does when invisible).
    shared: dict[str, str] = Field(default_factory=dict)
    #: The subset of ``shared`` whose owner space this technical user cannot see (not in
    #: the catalog, 403/404): ``OWNER.NAME`` → why. A lineage node only, no Glue table.
    lineage_only: dict[str, str] = Field(default_factory=dict)
    #: Parsed lineage-only objects (as read from the consumer): for lineage and type
    #: resolution, never written.
    lineage_assets: list[Asset] = Field(default_factory=list)
    #: Space → kinds (``AssetKind`` values) whose design-time listing fully succeeded in this
    #: call (every page); a kind the tenant does not offer counts as listed (empty).
    listings: dict[str, list[str]] = Field(default_factory=dict)
    #: Kinds whose list endpoint the tenant answers 404 for: not offered by this tenant.
    not_offered: list[str] = Field(default_factory=list)
    #: ``SPACE.NAME`` → why the asset was not produced: an input of it failed this run (a
    #: source's CSN, its analytical ``$metadata``). Not in ``assets`` and no ETag in ``etags``:
    #: its table is kept as is and the next run reads it again (never written degraded).
    incomplete: dict[str, str] = Field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.duration_s

    def by_ref(self) -> dict[AssetRef, Asset]:
        return {a.ref: a for a in self.assets}


class Listing(NamedTuple):
    """One space's design-time listing."""

    names: list[tuple[AssetKind, str]]
    catalog: dict[str, CatalogAsset]
    skipped: str | None
    issues: dict[str, ExtractionIssue]
    #: Kinds fully listed (every page), including kinds the tenant does not offer.
    listed: list[AssetKind]
    not_offered: list[AssetKind]

    @classmethod
    def skip(cls, why: str, issues: dict[str, ExtractionIssue] | None = None) -> Listing:
        return cls([], {}, why, dict(issues or {}), [], [])


def shared_reason(consumer: str, owner: str, invisible: str | None) -> str:
    if invisible is None:
        return f"listed by space {consumer}, shared from space {owner}; synced with {owner}"
    return (
        f"listed by space {consumer}, shared from space {owner}, which this technical user "
        f"cannot see ({invisible}): lineage node only, no Glue table"
    )


def attach_catalog(asset: Asset, catalog: CatalogAsset | None) -> Asset:
    """Attach the catalog's URLs; an asset in the catalog is exposed for consumption."""
    if catalog is None:
        return asset
    business = asset.business.model_copy(update={"exposed": True})
    updated = asset.model_copy(
        update={
            "relational_metadata_url": catalog.relational_metadata_url,
            "analytical_metadata_url": catalog.analytical_metadata_url,
            "business": business,
            "label": asset.label or catalog.label,
        }
    )
    return refingerprint(updated)


def diff_stats(
    after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for route, row in after.items():
        prev = before.get(route, {})
        diff = {k: v - prev.get(k, 0) for k, v in row.items()}
        if any(diff.values()):
            out[route] = diff
    return out
