"""Dry runs: what a sync would do, with field-level diffs. Writes nothing."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from core.governance.hooks import after_run
from core.models import AssetKind, Priority
from core.sync.report import SyncReport
from wolf_fastapi.auth import PrincipalDep
from wolf_fastapi.deps import ServicesDep

router = APIRouter(prefix="/api", tags=["plan"])


class PlanRequest(BaseModel):
    """Scope of a dry run; empty lists mean everything."""

    model_config = ConfigDict(extra="forbid")

    spaces: list[str] = Field(default_factory=list, description="Only these spaces.")
    kinds: list[AssetKind] = Field(default_factory=list, description="Only these asset kinds.")
    priority: Priority | None = Field(default=None, description="Only this priority class.")


@router.post("/plan")
def plan(services: ServicesDep, principal: PrincipalDep, scope: PlanRequest | None = None) -> SyncReport:
    """Extract, map and compare with the live catalog; return the plan (a dry run). Needs the
    operator role; audited with the caller's identity."""
    scope = scope or PlanRequest()
    report = services.engine().dry_run(
        spaces=scope.spaces or None,
        kinds=[k.value for k in scope.kinds] or None,
        priority=scope.priority,
    )
    after_run(services, report, actor=principal.actor, action="plan",
              details={"spaces": scope.spaces, "kinds": [k.value for k in scope.kinds]})
    return report
