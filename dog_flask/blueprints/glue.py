"""The Glue explorer: databases → tables → columns, Parameters, versions with a diff between
any two; tables dgsync does not manage are marked (dgsync never touches them)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, render_template, request

from core.errors import NotFound
from dog_flask.compare import compare_tables
from dog_flask.extension import services

bp = Blueprint("glue", __name__, url_prefix="/glue")

MANAGED_KEY = "dgsync.managed_by"


def managed(obj: dict[str, Any]) -> bool:
    return (obj.get("Parameters") or {}).get(MANAGED_KEY) == "dgsync"


def pretty_value(value: str) -> Any:
    """A Parameter value for reading: JSON lists/objects parsed (shown as lists), else text."""
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _table_or_404(database: str, name: str) -> dict[str, Any]:
    table = services().glue().get_table(database, name)
    if table is None:
        raise NotFound(
            f"no Glue table {database}.{name}",
            hint="Pick one from the Glue explorer; a sync creates the tables of the catalog.",
        )
    return dict(table)


@bp.get("/")
def index() -> str:
    glue = services().glue()
    databases = []
    for db in glue.iter_databases():
        tables = list(glue.iter_tables(db["Name"]))
        databases.append(
            {"db": db, "tables": len(tables), "unmanaged": sum(1 for t in tables if not managed(dict(t)))}
        )
    return render_template("dog/glue/index.html", databases=databases, managed=managed)


@bp.get("/<database>/")
def database(database: str) -> str:
    glue = services().glue()
    db = glue.get_database(database)
    if db is None:
        raise NotFound(f"no Glue database {database!r}", hint="Pick one from the Glue explorer.")
    tables = sorted(glue.iter_tables(database), key=lambda t: t["Name"])
    return render_template("dog/glue/database.html", db=db, tables=tables, managed=managed)


@bp.get("/<database>/<name>")
def table(database: str, name: str) -> str:
    current = _table_or_404(database, name)
    versions = services().glue().get_table_versions(database, name)
    versions.sort(key=lambda v: int(v.get("VersionId") or 0), reverse=True)
    by_id = {str(v.get("VersionId")): dict(v.get("Table") or {}) for v in versions}
    a, b = request.args.get("a", ""), request.args.get("b", "")
    diff = None
    if a or b:
        if a not in by_id or b not in by_id:
            raise NotFound(
                f"no version {a if a not in by_id else b!r} of {database}.{name}",
                hint=f"Versions: {', '.join(by_id) or 'none'}.",
            )
        diff = compare_tables(by_id[b], by_id[a])  # b as "desired" (newer), a as "live" (older)
    params = {k: pretty_value(v) for k, v in sorted((current.get("Parameters") or {}).items())}
    return render_template(
        "dog/glue/table.html", table=current, params=params, versions=versions, a=a, b=b,
        diff=diff, is_managed=managed(current), pretty_value=pretty_value,
    )
