"""The API console: raw requests to the emulated Datasphere API (the token handled for you,
or deliberately omitted, expired or invalid) and Glue operations (read-only unless "allow
writes" is ticked), executed here on the server; request, answer, timing, "copy as curl" and
the last requests. The work is ``core/api_console.py``; this is the form around it."""

from __future__ import annotations

from typing import Any

import httpx
from flask import Blueprint, current_app, render_template, request

from core import api_console as con
from core.errors import InputError
from core.governance.audit import record_action
from core.store.schemas import AuditSystem
from dog_flask import doubles
from dog_flask.errors import BadInput
from dog_flask.extension import services

bp = Blueprint("console", __name__, url_prefix="/console")

HISTORY_KEY = "dgsync.console"
#: Paths to start from (the Datasphere contract's main routes on the emulator).
EXAMPLES = (
    "/api/v1/datasphere/consumption/catalog/spaces",
    "/api/v1/datasphere/consumption/catalog/spaces('SALES')/assets",
    "/api/v1/datasphere/consumption/catalog/assets",
    "/api/v1/datasphere/consumption/catalog/$metadata",
    "/api/v1/datasphere/consumption/relational/SALES/V_ORDERS/$metadata",
    "/dwaas-core/api/v1/spaces/SALES/views",
    "/dwaas-core/api/v1/spaces/HR/localtables",
)
PREFILL = ("method", "path", "query", "token_mode", "operation", "params")
TOKEN_LABELS = {
    "auto": "handled for you (the technical user's token)",
    "none": "omitted (no Authorization header)",
    "expired": "expired (a real token whose lifetime is over)",
    "invalid": "invalid (a made-up token)",
}
INVALID_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjB9.not-a-real-signature"


def history() -> con.History:
    found: con.History = current_app.extensions.setdefault(HISTORY_KEY, con.History())
    return found


def _defaults() -> dict[str, Any]:
    return {"method": "GET", "path": EXAMPLES[0], "query": "", "body": "", "content_type": "application/json",
            "token_mode": "auto", "allow_writes": False,
            "operation": "GetDatabases", "params": "{}", "glue_writes": False}


def _render(*, exchange: con.Exchange | None = None, form: dict[str, Any] | None = None,
            target: str = "datasphere", error: InputError | None = None, status: int = 200) -> tuple[str, int]:
    """The console page, or for htmx the result fragment (the error fragment on bad input)."""
    if request.headers.get("HX-Request") and request.method == "POST":
        if error is not None:
            return render_template("dog/_error.html", error=error, status=status), status
        return render_template("dog/console/_result.html", x=exchange, history=history().items(), oob=True,
                               base_url=services().datasphere_settings().base_url), status
    svc = services()
    shown = {k: con.redact_typed(v) if isinstance(v, str) else v for k, v in (form or {}).items()}
    return render_template(
        "dog/console/index.html", x=exchange, form={**_defaults(), **shown}, target=target, error=error,
        history=history().items(), examples=EXAMPLES, methods=con.METHODS, token_labels=TOKEN_LABELS,
        operations=con.glue_operations(svc.glue().boto_client), base_url=svc.datasphere_settings().base_url,
        read_only=con.is_read_only,
    ), status


@bp.get("/")
def index() -> tuple[str, int]:
    target = request.args.get("target", "datasphere")
    # A link may fill the form in (the examples, other pages): nothing is sent on a GET.
    form: dict[str, Any] = {k: request.args[k] for k in PREFILL if request.args.get(k)}
    shown = None
    if request.args.get("from"):
        shown = history().get(request.args.get("from", 0, type=int) or 0)
        if shown is None:
            raise BadInput("that request is no longer in the history", hint="The console keeps the last 20 requests.")
        target = shown.target
        form = _form_of(shown)
    return _render(exchange=shown, form=form, target="glue" if target == "glue" else "datasphere")


def _form_of(x: con.Exchange) -> dict[str, Any]:
    if x.target == "glue":
        return {"operation": x.method, "params": x.request_body}
    base = services().datasphere_settings().base_url or ""
    path = x.url[len(base.rstrip("/")):] if x.url.startswith(base.rstrip("/")) else x.url
    return {"method": x.method, "path": path, "body": x.request_body, "token_mode": x.token_mode or "auto"}


def _token(mode: str) -> str | None:
    svc = services()
    if mode == "none":
        return None
    if mode == "invalid":
        return INVALID_TOKEN
    if mode == "expired":
        return doubles.expired_token(svc)
    return svc.datasphere_client().tokens.access_token()


def _audit(target: str, what: str, x: con.Exchange) -> None:
    svc = services()
    record_action(
        svc.store(), actor="dog-console", action="console_write", object=what, env=svc.settings.env,
        system=AuditSystem.GLUE if target == "glue" else AuditSystem.DATASPHERE,
        details={"status": x.status, "elapsed_ms": round(x.elapsed_ms, 1)},
    )


@bp.post("/send")
def send() -> tuple[str, int]:
    """One raw request to the Datasphere API of the embedded tenant."""
    f = request.form
    form = {
        "method": f.get("method", "GET"), "path": f.get("path", ""), "query": f.get("query", ""),
        "body": f.get("body", ""), "content_type": f.get("content_type", ""),
        "token_mode": f.get("token_mode", "auto"), "allow_writes": f.get("allow_writes") == "on",
    }
    req = con.ApiRequest(
        method=form["method"], path=form["path"], query=form["query"], body=form["body"],
        content_type=form["content_type"] if form["body"] else "", token_mode=form["token_mode"],
        allow_writes=form["allow_writes"],
    )
    try:
        req = con.check_api_request(req)
    except InputError as exc:
        return _input_error(exc, form, "datasphere")
    svc = services()
    base = svc.datasphere_settings().base_url or ""
    with httpx.Client(timeout=30.0, follow_redirects=False) as http:
        x = con.send_api_request(http, base, req, token=_token(req.token_mode),
                                 note=TOKEN_LABELS[req.token_mode])
    if req.method not in con.SAFE_METHODS:
        _audit("datasphere", f"datasphere:{req.method} {req.path}", x)
    history().add(x)
    return _render(exchange=x, form=form)


@bp.post("/glue")
def glue() -> tuple[str, int]:
    """One Glue operation on the embedded Glue."""
    f = request.form
    form = {"operation": f.get("operation", ""), "params": f.get("params", "{}"),
            "glue_writes": f.get("glue_writes") == "on"}
    svc = services()
    try:
        x = con.call_glue(svc.glue().boto_client, form["operation"], form["params"],
                          allow_writes=form["glue_writes"], endpoint_url=svc.glue_endpoint_url(),
                          region=svc.settings.glue.region)
    except InputError as exc:
        return _input_error(exc, form, "glue")
    if not con.is_read_only(x.method):
        _audit("glue", f"glue:{x.method}", x)
    history().add(x)
    return _render(exchange=x, form=form, target="glue")


def _input_error(exc: InputError, form: dict[str, Any], target: str) -> tuple[str, int]:
    """The form again with what was typed and the error with its hint (htmx: the fragment)."""
    return _render(form=form, target=target, error=exc, status=400)
