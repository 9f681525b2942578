"""Home: what this Dog is, the latest runs and the asset states (htmx partials)."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.store import repo
from dog_flask.extension import services

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    settings = services().settings
    return render_template("dog/home/index.html", settings=settings)


@bp.get("/_rows")
def rows() -> str:
    """Asset states by status (from the last syncs)."""
    svc = services()
    with svc.store().session(readonly=True) as session:
        counts = repo.asset_status_counts(session=session, env=svc.settings.env)
    return render_template("dog/home/_rows.html", counts=counts)
