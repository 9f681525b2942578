"""Plan & sync: a scope form validated against the tenant, a dry run with field-level diffs
and impact, then **Apply**: a background sync job with live progress (htmx polling) that ends
on its run page (every object with its diff and hint, retries, throttles, rejected calls)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from core.models import AssetKind, Priority
from dog_flask.extension import catalog, jobs, services
from dog_flask.scope import Scope, parse_scope

bp = Blueprint("plan", __name__, url_prefix="/plan")


def _known_spaces() -> list[str]:
    return sorted(s.name for s in catalog().snapshot().spaces)


@bp.get("/")
def index() -> str:
    return render_template(
        "dog/plan/index.html",
        kinds=list(AssetKind),
        priorities=list(Priority),
        known_spaces=_known_spaces(),
        form=request.args,
        jobs=jobs().jobs()[:5],
    )


@bp.post("/_rows")
def rows() -> str:
    """The dry run of the scope in the form (a fragment; writes nothing)."""
    kinds = request.form.getlist("kinds")
    if any(k and k not in AssetKind.__members__.values() for k in kinds):
        abort(400, "unknown asset kind")
    scope = parse_scope(
        request.form.get("spaces", ""),
        kinds,
        request.form.get("priority", ""),
        known_spaces=_known_spaces(),
    )
    report = services().engine().dry_run(
        spaces=scope.spaces or None, kinds=scope.kinds or None, priority=scope.priority
    )
    preview = jobs().keep_preview(scope, report)
    show_all = request.form.get("show_all") == "1"
    items = [i for i in (report.plan.items if report.plan else []) if show_all or i.action.value != "noop"]
    return render_template("dog/plan/_rows.html", report=report, items=items, preview=preview, scope=scope)


@bp.post("/apply")
def apply() -> Response:
    """Start the sync of a previewed scope (no ``preview``: everything) in the background;
    answer at once with the job's page."""
    preview_id = request.form.get("preview", "")
    preview = jobs().preview(preview_id) if preview_id else None
    job = jobs().start(services(), preview.scope if preview else Scope(), preview)
    target = url_for("plan.job", job_id=job.id)
    if request.headers.get("HX-Request"):
        response = Response(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303)  # type: ignore[return-value]


@bp.get("/jobs/<job_id>")
def job(job_id: str) -> str:
    return render_template("dog/plan/job.html", job=jobs().get(job_id))


@bp.get("/jobs/<job_id>/_status")
def job_status(job_id: str) -> str:
    """The job's progress (polled while it runs), then its full result (no more polling)."""
    return render_template("dog/plan/_job.html", job=jobs().get(job_id))
