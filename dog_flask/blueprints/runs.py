"""Runs recorded in the state store."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from core.errors import NotFound
from core.store import repo
from dog_flask.extension import services

bp = Blueprint("runs", __name__, url_prefix="/runs")


@bp.get("/")
def index() -> str:
    return render_template("dog/runs/index.html")


@bp.get("/_rows")
def rows() -> str:
    limit = min(max(request.args.get("limit", 20, type=int) or 20, 1), 200)
    with services().store().session(readonly=True) as session:
        runs = repo.list_runs(session=session, limit=limit)
    return render_template("dog/runs/_rows.html", runs=runs)


@bp.get("/<run_id>")
def detail(run_id: str) -> str:
    with services().store().session(readonly=True) as session:
        run = repo.get_run(session=session, run_id=run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r} in the state store", hint="Pick a run from the list.")
    return render_template("dog/runs/detail.html", run=run)
