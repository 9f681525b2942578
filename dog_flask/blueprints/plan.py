"""Preview what a sync would do (a dry run: nothing is written)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from core.models import AssetKind
from dog_flask.extension import services

bp = Blueprint("plan", __name__, url_prefix="/plan")


@bp.get("/")
def index() -> str:
    return render_template("dog/plan/index.html", kinds=list(AssetKind))


@bp.post("/_rows")
def rows() -> str:
    spaces = [s.strip() for s in request.form.get("spaces", "").split(",") if s.strip()]
    kinds = [k for k in request.form.getlist("kinds") if k]
    if any(k not in AssetKind.__members__.values() for k in kinds):
        abort(400, "unknown asset kind")
    report = services().engine().dry_run(spaces=spaces or None, kinds=kinds or None)
    show_all = request.form.get("show_all") == "1"
    items = [i for i in (report.plan.items if report.plan else []) if show_all or i.action.value != "noop"]
    return render_template("dog/plan/_rows.html", report=report, items=items)
