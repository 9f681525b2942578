"""Home: the embedded tenant and Glue at a glance, the latest runs, one button to plan and one
to sync (htmx partials)."""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response

from core.store import repo
from dog_flask.extension import catalog, jobs, services

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    settings = services().settings
    return render_template("dog/home/index.html", settings=settings, jobs=jobs().jobs()[:3])


@bp.get("/_glance")
def glance() -> str:
    """Spaces and assets by kind (Datasphere), databases and tables (Glue)."""
    snapshot = catalog().snapshot()
    kinds = Counter(a.kind.value for a in snapshot.assets)
    glue = services().glue()
    databases = tables = unmanaged = 0
    for db in glue.iter_databases():
        databases += 1
        for t in glue.iter_tables(db["Name"]):
            tables += 1
            if (t.get("Parameters") or {}).get("dgsync.managed_by") != "dgsync":
                unmanaged += 1
    return render_template(
        "dog/home/_glance.html", snapshot=snapshot, kinds=sorted(kinds.items()),
        databases=databases, tables=tables, unmanaged=unmanaged,
    )


@bp.get("/_rows")
def rows() -> str:
    """Asset states by status (from the last syncs)."""
    svc = services()
    with svc.store().session(readonly=True) as session:
        counts = repo.asset_status_counts(session=session, env=svc.settings.env)
    return render_template("dog/home/_rows.html", counts=counts)


@bp.get("/favicon.ico")
def favicon() -> Response:
    return redirect(url_for("static", filename="favicon.svg"), code=301)
