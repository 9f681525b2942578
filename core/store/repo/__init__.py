"""Repository functions of the state store: keyword-only, typed, one session passed in.

Nothing here commits: the caller owns the transaction (``with store.session() as s:``).
The checkpoint rule of the orchestrator is one session per finished asset::

    with store.session() as s:
        repo.record_item(session=s, run_id=run.id, asset_key=key, action=ItemAction.UPDATE,
                         status=ItemStatus.DONE, audit=AuditIn(...), state=AssetStateIn(...))

:func:`record_item` writes the run item, its audit record and the asset state under one
savepoint, so they land together or not at all.

The functions live in one module per concern and are re-exported here, so
``from core.store import repo`` and ``repo.X`` is the one way to call them:

* :mod:`.runs` — runs: start, heartbeat, finish, read, list, dead runs
* :mod:`.items` — checkpoint items and what a (resumed) run already finished
* :mod:`.assets` — per-asset state and conflicts
* :mod:`.audit` — the audit log and security events
* :mod:`.lineage` — stored lineage edges and walks
* :mod:`.schedule` — per-slice scheduler state
* :mod:`.base` — the shared upsert helper
"""

from __future__ import annotations

from core.store.repo.assets import (
    asset_status_counts,
    get_asset_states,
    list_conflicts,
    record_conflict,
    resolve_conflict,
    set_glue_versions,
    upsert_asset_state,
)
from core.store.repo.audit import (
    export_audit,
    glue_diffs,
    list_security_events,
    query_audit,
    record_audit,
    record_security_event,
)
from core.store.repo.items import completed_items, list_run_items, record_item
from core.store.repo.lineage import lineage_graph, query_lineage, replace_lineage
from core.store.repo.runs import (
    DEFAULT_STALE_AFTER_S,
    count_runs,
    finish_run,
    get_run,
    heartbeat_run,
    latest_interrupted_run,
    list_runs,
    mark_stale_runs_interrupted,
    run_out,
    start_run,
)
from core.store.repo.schedule import get_schedule_state, list_schedule_states, set_schedule_state

__all__ = [
    "DEFAULT_STALE_AFTER_S",
    "asset_status_counts",
    "completed_items",
    "count_runs",
    "export_audit",
    "finish_run",
    "get_asset_states",
    "get_run",
    "get_schedule_state",
    "glue_diffs",
    "heartbeat_run",
    "latest_interrupted_run",
    "lineage_graph",
    "list_conflicts",
    "list_run_items",
    "list_runs",
    "list_schedule_states",
    "list_security_events",
    "mark_stale_runs_interrupted",
    "query_audit",
    "query_lineage",
    "record_audit",
    "record_conflict",
    "record_item",
    "record_security_event",
    "replace_lineage",
    "resolve_conflict",
    "run_out",
    "set_glue_versions",
    "set_schedule_state",
    "start_run",
    "upsert_asset_state",
]
