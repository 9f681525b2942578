"""The migration function: a CloudFormation custom resource that keeps the state store at head.

The template (``deploy/bear/template.yaml``) declares ``Custom::StateStoreMigration`` whose
``Version`` property changes with every deployment, so CloudFormation calls this handler on
every deploy (Create, Update) before the aliases of the other functions move. The handler runs
the Alembic upgrade to head (``Store.upgrade``, what ``dgsync db upgrade`` does) and answers
the pre-signed ``ResponseURL``:

* ``SUCCESS`` with ``Data = {"Revision": <head>, "Previous": <before>}``;
* ``FAILED`` with a ``Reason`` that names the error and its hint (never the database URL's
  password: the store's URL is masked, and known secrets are redacted) — the stack update
  then fails and rolls back;
* ``Delete`` does nothing (the database outlives the stack) and answers ``SUCCESS``.

CloudFormation waits for the answer up to an hour: a handler that dies without answering
would hang the stack, so every path answers, even an unexpected exception.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

from core.errors import DgsyncError
from core.log import get_logger, redact

log = get_logger(__name__)

#: The physical id of the resource: stable, so an Update never "replaces" it.
PHYSICAL_ID = "dgsync-state-store-migration"
#: CloudFormation's limit for the whole response body is 4096 bytes; keep the reason short.
MAX_REASON = 1000


def _upgrade(database_url: str) -> dict[str, str]:
    from core.store.db import Store, head_revision

    store = Store.open(database_url)
    try:
        before = store.current_revision()
        store.upgrade("head")
        after = store.current_revision()
    finally:
        store.dispose()
    log.info("state store migrated", extra={"store": store.url, "previous": before or "empty",
                                            "revision": after})
    return {"Revision": after or head_revision(), "Previous": before or "empty"}


def send_response(event: dict[str, Any], context: Any, status: str, *, data: dict[str, str] | None = None,
                  reason: str | None = None) -> None:
    """PUT the custom-resource response to the event's pre-signed ``ResponseURL``."""
    log_stream = getattr(context, "log_stream_name", None) or "local"
    body = {
        "Status": status,
        "Reason": (reason or f"See the CloudWatch log stream {log_stream}")[:MAX_REASON],
        "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_ID,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": data or {},
    }
    payload = json.dumps(body).encode()
    # The pre-signed S3 URL is signed for an empty Content-Type.
    request = urllib.request.Request(event["ResponseURL"], data=payload, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(payload))})
    with urllib.request.urlopen(request, timeout=30) as answer:
        log.info("custom resource answered", extra={"status": status, "http_status": answer.status})


def migration_handler(
    event: dict[str, Any], context: Any, *, database_url: Callable[[], str] | None = None
) -> dict[str, Any]:
    """CloudFormation custom resource: migrate the state store on Create/Update; answer always.

    ``database_url`` returns the store's URL (default: the settings', secrets resolved); it
    is called inside the error handling, so a broken configuration is answered ``FAILED``.
    """
    request = event.get("RequestType")
    status: str = "SUCCESS"
    data: dict[str, str] = {}
    reason: str | None = None
    try:
        if request in ("Create", "Update"):
            if database_url is None:
                from core.settings import load_settings

                data = _upgrade(load_settings().database_url)
            else:
                data = _upgrade(database_url())
        elif request != "Delete":
            status, reason = "FAILED", f"unknown RequestType {request!r}"
    except DgsyncError as exc:
        status, reason = "FAILED", redact(f"{exc.code}: {exc.message} — {exc.hint}")
        log.error("state store migration failed", extra={"code": exc.code, "error": exc.message,
                                                         "hint": exc.hint})
    except Exception as exc:  # answer CloudFormation whatever happened, or the stack hangs
        status, reason = "FAILED", redact(f"internal error: {type(exc).__name__}")
        log.exception("state store migration crashed")
    send_response(event, context, status, data=data, reason=reason)
    return {"Status": status, "Data": data, "Reason": reason}
