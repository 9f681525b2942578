"""The incremental detector: what changed since the last sync, read from the state store.

Read-only: a plan never creates the store (:meth:`StoreView.store` is ``None`` when it was
never created). Every value read once per run is memoised in the :class:`RunContext`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import AuthError, DgsyncError
from core.models import Asset, AssetKind
from core.specs import TARGET_HASH, table_input_hash
from core.sync.context import RunContext
from core.sync.plan import LiveCatalog

if TYPE_CHECKING:
    from core.services import Services
    from core.store.db import Store


class StoreView:
    """Read-only views of the state store for planning."""

    def __init__(self, services: Services, ctx: RunContext) -> None:
        self.services = services
        self.ctx = ctx
        self.env = services.settings.env

    def store(self) -> Store | None:
        """The store, or ``None`` when it was never created (a plan must not create it)."""
        url = self.services.settings.database_url
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:" and not Path(path).exists():
                return None
        try:
            return self.services.store()
        except DgsyncError:
            return None

    def known_etags(self) -> dict[str, str]:
        """ETags of what the last syncs read cleanly (failures and conflicts are re-read)."""
        return self.ctx.once("etags", self._read_etags)

    def _read_etags(self) -> dict[str, str]:
        from core.store import repo
        from core.store.cache import cached_etags

        store = self.store()
        if store is None:
            return {}
        with store.session(readonly=True) as session:
            etags = cached_etags(session=session, env=self.env)
            states = repo.get_asset_states(session=session, env=self.env)
        bad = {k for k, st in states.items() if st.status.value not in ("synced", "skipped")}
        return {k: v for k, v in etags.items() if k not in bad}

    def lineage_graph(self) -> dict[str, set[str]]:
        """The stored lineage graph (upstream → downstream) as of the start of the run."""
        return self.ctx.once("graph", self._read_graph)

    def _read_graph(self) -> dict[str, set[str]]:
        from core.store import repo

        store = self.store()
        if store is None:
            return {}
        with store.session(readonly=True) as session:
            return repo.lineage_graph(session=session)

    def cached(self, keys: Sequence[str]) -> dict[str, Asset]:
        """The last extracted version of these assets."""
        store = self.store()
        if not keys or store is None:
            return {}
        from core.store.cache import get_cached_assets

        with store.session(readonly=True) as session:
            return get_cached_assets(session=session, env=self.env, keys=keys)

    def approved_deletions(self) -> set[str]:
        """``database.table`` deletions an operator approved (``dgsync deletions approve``)."""
        return self.ctx.once("approved", self._read_approved)

    def _read_approved(self) -> set[str]:
        from core.store.deletions import approved_objects

        store = self.store()
        if store is None:
            return set()
        with store.session(readonly=True) as session:
            return approved_objects(session=session, env=self.env)

    def states(self, keys: Sequence[str] | set[str]) -> dict[str, Any]:
        store = self.store()
        if store is None or not keys:
            return {}
        from core.store import repo

        with store.session(readonly=True) as session:
            return dict(repo.get_asset_states(session=session, env=self.env, keys=list(keys)))

    def tables_of(self, keys: set[str]) -> dict[str, str]:
        """Asset key → its Glue table (``database.table``) as last synced."""
        return {
            k: f"{st.glue_database}.{st.glue_table}"
            for k, st in self.states(keys).items()
            if st.glue_database and st.glue_table
        }


def drifted(
    view: StoreView, unchanged: dict[str, Any], live: LiveCatalog, verified: dict[str, str]
) -> set[str]:
    """Unchanged assets whose Glue table was edited or removed outside dgsync.

    A table whose ``VersionId`` is the one verified by an earlier run is unchanged since
    (every ``UpdateTable`` moves it): no need to hash it again. Tables hashed clean now are
    added to ``verified`` (stored by a sync, never by a plan).
    """
    out: set[str] = set()
    for key, st in view.states(list(unchanged)).items():
        if not st.glue_database or not st.glue_table or st.status.value != "synced":
            continue
        table = live.table(st.glue_database, st.glue_table)
        if table is None:
            out.add(key)
            continue
        version = table.get("VersionId")
        if version is not None and version == st.glue_version_id:
            continue
        if (table.get("Parameters") or {}).get(TARGET_HASH) != table_input_hash(table):
            out.add(key)
        elif version is not None:
            verified[key] = str(version)
    return out


def refresh_dependent_models(
    view: StoreView, fetched: Sequence[Asset], unchanged: dict[str, Any]
) -> tuple[list[tuple[Asset, str | None]], dict[str, str]]:
    """Unchanged analytic models over a changed source, re-read and re-typed against it; and
    the models that could not be (key → why): those keep their table this run (never written
    degraded)."""
    from core.datasphere.client import NOT_MODIFIED

    models = [k for k, kind in unchanged.items() if AssetKind(kind) is AssetKind.ANALYTIC_MODEL]
    if not models or view.store() is None:
        return [], {}
    graph = view.lineage_graph()
    changed = {a.key for a in fetched}
    wanted = sorted(k for k in models if any(k in graph.get(c, ()) for c in changed))
    if not wanted:
        return [], {}
    sources = {up for up, downs in graph.items() if any(k in downs for k in wanted)}
    known = {a.ref: a for a in [*view.cached(sorted(sources - changed)).values(), *fetched]}
    extractor = view.services.extractor()
    out: list[tuple[Asset, str | None]] = []
    failed: dict[str, str] = {}
    for key in wanted:
        space, _, name = key.partition(".")
        try:
            got = extractor.fetch_asset(space, AssetKind.ANALYTIC_MODEL, name, None, known=known)
        except AuthError:
            raise
        except DgsyncError as exc:
            failed[key] = f"re-typing over a changed source failed: {exc.message}"
            continue
        if got.value is not NOT_MODIFIED and isinstance(got.value, list):
            out.extend((a, got.etag) for a in got.value)
    return out, failed


def flow_targets(fetched: Sequence[Asset], unchanged: dict[str, Any]) -> set[str]:
    """Unchanged tables written by a changed flow: their lineage Parameters change."""
    out: set[str] = set()
    for asset in fetched:
        if asset.flow is not None:
            out.update(str(t) for t in asset.flow.targets if str(t) in unchanged)
    return out
