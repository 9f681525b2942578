"""Every router of the dashboard pages (one import in ``app.py``)."""

from __future__ import annotations

from fastapi import APIRouter

from wolf_fastapi.routers import (
    docs,
    pages_assets,
    pages_connectivity,
    pages_flow,
    pages_governance,
    pages_performance,
    pages_runs,
    pages_validation,
)

PAGE_ROUTERS: tuple[APIRouter, ...] = (
    docs.router, pages_assets.router, pages_runs.router, pages_performance.router, pages_flow.router,
    pages_validation.router, pages_connectivity.router, pages_governance.router,
)
