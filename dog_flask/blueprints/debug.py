"""Debug: what the emulator and the embedded Glue are doing, and what happens when they
misbehave — a live request log, the OAuth token Dog holds (never the token itself), the
mapping rule tester, fault injection switches, and emulator mutations. Everything goes
through ``dog_flask/doubles.py`` (the one path to the doubles) and core."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from core.errors import DgsyncError
from dog_flask import doubles
from dog_flask.errors import BadInput
from dog_flask.extension import catalog, services
from dog_flask.rule_tester import effective_rules_text, try_rules

bp = Blueprint("debug", __name__, url_prefix="/debug")

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "error")
SOURCES = ("datasphere", "glue")
LOG_LIMIT = 200


def _answer(template: str, **context: Any) -> Response | str:
    """A fragment for htmx; a full page load (no JavaScript) goes back to the Debug page."""
    if not request.headers.get("HX-Request"):
        return redirect(url_for("debug.index"), code=303)
    return render_template(template, **context)


def _split(ref: str) -> tuple[str, str]:
    space, sep, name = (ref or "").strip().partition(".")
    if not sep or not space or not name:
        raise BadInput(f"{ref!r} is not SPACE.NAME", hint="Pick an asset from the list (e.g. SALES.V_ORDERS).")
    return space, name


def _asset_keys() -> list[str]:
    return sorted(a.key for a in catalog().snapshot().assets)


def _log_filters() -> dict[str, str]:
    args = request.values
    return {
        "source": args.get("source", "") if args.get("source", "") in SOURCES else "",
        "method": args.get("method", "") if args.get("method", "") in METHODS else "",
        "status": args.get("status", "") if args.get("status", "") in STATUS_CLASSES else "",
        "path": args.get("path", "")[:200],
    }


def _log_context(*, live: bool | None = None) -> dict[str, Any]:
    """The filtered log; live (polling) unless the filter form's checkbox is off."""
    filters = _log_filters()
    svc = services()
    entries = doubles.requests(svc, limit=LOG_LIMIT, **filters)
    if live is None:
        live = "1" in (request.values.getlist("live") or ["1"])
    return {"entries": entries, "filters": filters, "live": live,
            "limit": LOG_LIMIT, "size": doubles.request_log_size(svc)}


def _token_context() -> dict[str, Any]:
    client = services().datasphere_client()
    stats = {f: client.stats.total(f) for f in ("requests", "retries", "throttles", "reauth", "errors")}
    return {"token": client.tokens.state(), "client_stats": stats}


def _faults_context(message: str | None = None) -> dict[str, Any]:
    svc = services()
    return {"toggles": doubles.toggles(svc), "spaces": doubles.spaces(svc), "message": message}


@bp.get("/")
def index() -> str:
    svc = services()
    tenant_error: DgsyncError | None = None
    try:
        keys = _asset_keys()
    except DgsyncError as exc:  # a fault switched on here must not lock the page that clears it
        tenant_error, keys = exc, []
    default_asset = "SALES.V_ORDERS" if "SALES.V_ORDERS" in keys or tenant_error else (keys[0] if keys else "")
    return render_template(
        "dog/debug/index.html", tenant_error=tenant_error,
        methods=METHODS, status_classes=STATUS_CLASSES, sources=SOURCES,
        asset_keys=keys, default_asset=default_asset,
        rules_text=effective_rules_text(svc.settings),
        rules_file=svc.settings.sync.rules_file,
        cds_types=doubles.cds_types(),
        columns=doubles.columns_of(svc, *default_asset.split(".", 1)) if default_asset else [],
        **_log_context(live=True), **_token_context(), **_faults_context(),
    )


@bp.app_template_filter("utc_time")
def utc_time(at: float) -> str:
    """``time.time()`` as ``HH:MM:SS.mmm`` (UTC)."""
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S.%f")[:-3]


@bp.app_template_filter("as_json")
def as_json(value: Any) -> str:
    """Indented JSON for people (escaped by Jinja like any text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


# -- request log and token ---------------------------------------------------------------------


@bp.get("/_log")
def log() -> str:
    return render_template("dog/debug/_log.html", **_log_context())


@bp.post("/log/clear")
def log_clear() -> Response | str:
    svc = services()
    doubles.tenant(svc).requests.clear()
    doubles.embedded_glue(svc).requests.clear()
    return _answer("dog/debug/_log.html", **_log_context())


@bp.get("/_token")
def token() -> str:
    return render_template("dog/debug/_token.html", **_token_context())


# -- faults ------------------------------------------------------------------------------------


@bp.get("/_faults")
def faults() -> str:
    return render_template("dog/debug/_faults.html", **_faults_context())


@bp.post("/faults/clear")
def faults_clear() -> Response | str:
    doubles.clear_faults(services())
    return _answer("dog/debug/_faults.html", **_faults_context("every fault cleared"))


@bp.post("/faults/expire-tokens")
def faults_expire_tokens() -> Response | str:
    n = doubles.expire_tokens(services())
    at = datetime.now(UTC).strftime("%H:%M:%S")
    return _answer("dog/debug/_faults.html",
                   **_faults_context(f"{n} issued access token(s) expired at {at} UTC: the next request gets a 401, "
                                     "then the client fetches a new token"))


@bp.post("/faults/<key>")
def fault_toggle(key: str) -> Response | str:
    on = request.form.get("on") == "1"
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    doubles.set_toggle(services(), key, on, form)
    title = next((t.title for t in doubles.toggles(services()) if t.key == key), key)
    return _answer("dog/debug/_faults.html",
                   **_faults_context(f"{title}: {'on — run a plan or a sync to see it' if on else 'off'}"))


# -- mapping rule tester -----------------------------------------------------------------------


@bp.post("/rules/_test")
def rules_test() -> str:
    svc = services()
    snapshot = catalog().snapshot()
    space, name = _split(request.form.get("asset", ""))
    asset = catalog().get(space, name)
    result = try_rules(
        request.form.get("rules", ""), asset, current_rules=svc.rules(), env=svc.settings.env,
        others=snapshot.assets, spaces=snapshot.spaces,
    )
    return render_template("dog/debug/_rules.html", result=result, asset=asset)


# -- emulator mutations ------------------------------------------------------------------------


@bp.get("/_columns")
def columns() -> str:
    ref = request.args.get("asset", "")
    space, _, name = ref.partition(".")
    cols = doubles.columns_of(services(), space, name) if space and name else []
    return render_template("dog/debug/_columns.html", columns=cols, asset=ref)


def _mutated(change: dict[str, Any]) -> Response | str:
    catalog().invalidate()  # the explorer and compare extract again on their next visit
    return _answer("dog/debug/_mutation.html", change=change)


@bp.post("/mutations/change-column")
def change_column() -> Response | str:
    space, name = _split(request.form.get("asset", ""))
    cds_type = request.form.get("cds_type", "").strip() or None
    label = request.form.get("label", "").strip() or None
    return _mutated(doubles.change_column(services(), space, name, request.form.get("column", ""),
                                          cds_type=cds_type, label=label))


@bp.post("/mutations/add-asset")
def add_asset() -> Response | str:
    return _mutated(doubles.add_table(services(), request.form.get("space", ""),
                                      request.form.get("name", "").strip()))


@bp.post("/mutations/remove-asset")
def remove_asset() -> Response | str:
    space, name = _split(request.form.get("asset", ""))
    return _mutated(doubles.remove_asset(services(), space, name))


@bp.post("/mutations/reset")
def reset() -> Response | str:
    n = doubles.reset_tenant(services())
    doubles.clear_faults(services())
    return _mutated({"change": "reset", "detail": f"the default tenant is back ({n} objects); every fault cleared"})
