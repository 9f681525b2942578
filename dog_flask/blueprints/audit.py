"""The audit log: every write dgsync made, filtered by run, object, action, actor and time;
exported as JSON or CSV with the same filters."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, render_template, request

from core.store import repo
from core.store.schemas import AuditFilter, AuditSystem
from dog_flask.errors import BadInput
from dog_flask.extension import services

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 100
FIELDS = ("run_id", "object", "action", "actor", "system", "since", "until")


def _time(name: str) -> datetime | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"{name}: {text!r} is not a date or time",
            hint="Use ISO 8601, e.g. 2026-11-27 or 2026-11-27T08:00 (UTC when no offset).",
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _filters() -> AuditFilter:
    system = request.args.get("system", "").strip()
    if system and system not in {s.value for s in AuditSystem}:
        raise BadInput(
            f"unknown system {system!r}", hint=f"Pick from: {', '.join(s.value for s in AuditSystem)}."
        )
    return AuditFilter(
        run_id=request.args.get("run_id", "").strip() or None,
        object_contains=request.args.get("object", "").strip() or None,
        action=request.args.get("action", "").strip() or None,
        actor=request.args.get("actor", "").strip() or None,
        system=AuditSystem(system) if system else None,
        since=_time("since"),
        until=_time("until"),
    )


@bp.get("/")
def index() -> str:
    filters = _filters()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    with services().store().session(readonly=True) as session:
        records = repo.query_audit(
            session=session, filters=filters, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
        )
    more = len(records) > PAGE_SIZE
    args = {k: request.args.get(k, "") for k in FIELDS}
    return render_template(
        "dog/audit/index.html", records=records[:PAGE_SIZE], page=page, more=more, args=args,
        systems=[s.value for s in AuditSystem],
    )


@bp.get("/export.<fmt>")
def export(fmt: str) -> Response:
    if fmt not in ("json", "csv"):
        raise BadInput(f"unknown export format {fmt!r}", hint="Use /audit/export.json or /audit/export.csv.")
    with services().store().session(readonly=True) as session:
        body = repo.export_audit(session=session, fmt=fmt, filters=_filters())  # type: ignore[arg-type]
    mimetype = "application/json" if fmt == "json" else "text/csv"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=dgsync-audit.{fmt}"
    return response
