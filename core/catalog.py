"""An in-memory view of the extracted assets for browsing and search (Dog, Wolf, MCP).

Framework-free: it only calls :meth:`core.services.Services.extractor`. One extraction (a
:class:`CatalogSnapshot`) is served for ``ttl_s`` seconds; ``refresh=True`` forces a new one.
After the first, extractions are conditional (the snapshot's ETags): an unchanged object costs
one ``304`` and is reused, an unchanged tenant keeps the very same snapshot (:func:`refreshed`).
Thread-safe: concurrent callers wait for the one extraction in flight, while web requests
(:meth:`AssetCatalog.ready_snapshot`) keep reading the current snapshot. Indexes (search,
mapping, lineage, names, readers) are made once per snapshot and kept with it
(:meth:`CatalogSnapshot.derived`); a background refresh publishes a snapshot with its indexes
built and frozen out of the garbage collector's way (:mod:`core.heap`).
"""

from __future__ import annotations

import re
import threading
import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict

from core import heap
from core.errors import DgsyncError, NotFound, SourceUnavailable
from core.log import get_logger
from core.models import Asset, AssetKind, Space

if TYPE_CHECKING:
    from core.datasphere.extract import ExtractionIssue
    from core.datasphere.extract_results import ExtractionResult
    from core.lineage import ColumnEdge, Edge, LineageGraph
    from core.mapping.preview import MappingIndex
    from core.services import Services
    from core.specs import MappingResult

log = get_logger(__name__)
T = TypeVar("T")

DEFAULT_TTL_S = 300.0


class CatalogWarming(SourceUnavailable):
    """The first extraction of the tenant is still running (a web request does not wait)."""

    default_hint = "The catalog is being extracted from the tenant; retry in a few seconds."


@dataclass(frozen=True)
class CatalogSnapshot:
    """One extraction: assets, spaces and what went wrong (read-only once made: the catalog's
    indexes are built once per snapshot)."""

    assets: list[Asset]
    spaces: list[Space]
    skipped_spaces: dict[str, str] = field(default_factory=dict)
    errors: dict[str, ExtractionIssue] = field(default_factory=dict)
    extracted_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: ``SPACE.NAME`` → ETag of the version read: the next refresh reads conditionally.
    etags: dict[str, str] = field(default_factory=dict)
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _derive_lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)

    def derived(self, name: str, make: Callable[[], T]) -> T:
        """A value made from this snapshot once (an index, the mapping, the lineage graph) and
        kept with it: two snapshots' values live side by side while requests still read the
        older one; concurrent callers wait for the one being made."""
        with self._derive_lock:
            if name not in self._derived:
                self._derived[name] = make()
            value: T = self._derived[name]
            return value

    @classmethod
    def of(cls, result: ExtractionResult, assets: list[Asset] | None = None) -> CatalogSnapshot:
        return cls(assets=list(result.assets if assets is None else assets), spaces=list(result.spaces),
                   skipped_spaces=dict(result.skipped_spaces), errors=dict(result.errors),
                   etags=dict(result.etags))

    def by_space(self) -> dict[str, list[Asset]]:
        """Space → its assets by kind and name (made once; do not modify)."""
        return self.derived("by_space", self._by_space)

    def _by_space(self) -> dict[str, list[Asset]]:
        out: dict[str, list[Asset]] = {s.name: [] for s in self.spaces}
        for asset in self.assets:
            out.setdefault(asset.space, []).append(asset)
        for assets in out.values():
            assets.sort(key=lambda a: (a.kind.value, a.name))
        return out

    def lookup(self, space: str, name: str) -> Asset | None:
        """The asset ``space.name`` (case-sensitive name; space case-insensitive), or ``None``."""
        keys = self.derived("by_upper_key", lambda: {(a.space.upper(), a.name): a for a in self.assets})
        return keys.get((space.upper(), name))


def refreshed(previous: CatalogSnapshot, result: ExtractionResult) -> CatalogSnapshot | None:
    """The snapshot after a conditional extraction (``etags`` of ``previous``): the objects
    answered ``304`` are taken from ``previous`` — the very same snapshot when nothing changed,
    so its indexes stay valid. ``None`` when that would not be what a full extraction gives: an
    unchanged object ``previous`` lacks, or an unchanged analytic model over a source that
    changed or went away (its types come from its sources: it must be typed again).

    As in a sync, an object's catalog entry (business name, URLs) is refreshed with its CSN:
    a catalog-only edit shows once its object changes or the catalog is extracted anew."""
    kept = {a.key: a for a in previous.assets}
    if any(key not in kept for key in result.unchanged):
        return None
    reused = [kept[key] for key in result.unchanged]
    changed = {a.key for a in result.assets} | (set(kept) - set(result.unchanged))
    for asset in reused:
        if asset.kind.value == "analytic_model" and any(str(d.ref) in changed for d in asset.upstream):
            return None
    if not result.assets and len(reused) == len(kept) and result.errors == previous.errors \
            and result.skipped_spaces == previous.skipped_spaces and result.spaces == previous.spaces:
        return previous
    return CatalogSnapshot.of(result, sorted([*result.assets, *reused], key=lambda a: (a.space, a.name)))


class AssetHit(BaseModel):
    """One search result: enough to decide whether to look closer with ``get_asset``."""

    model_config = ConfigDict(extra="forbid")

    space: str
    name: str
    kind: str
    label: str | None
    description: str | None
    columns: int
    score: int
    matched: list[str]


_WORD = re.compile(r"[\w.]+", re.UNICODE)


def search(assets: list[Asset], query: str, *, limit: int = 20) -> list[AssetHit]:
    """Rank assets by how well every word of ``query`` matches them (case-insensitive).

    A word matching the technical name weighs most, then the business label, the space,
    the description, and column names or labels. Assets missing a word are dropped.
    """
    words = [w.lower() for w in _WORD.findall(query)]
    hits: list[AssetHit] = []
    for asset in assets if words else ():
        scored = _score_words(_Fields.of(asset), words)
        if scored is not None:
            hits.append(
                AssetHit(
                    space=asset.space,
                    name=asset.name,
                    kind=asset.kind.value,
                    label=asset.label or asset.business.label,
                    description=asset.business.description,
                    columns=len(asset.columns),
                    score=scored[0],
                    matched=list(scored[1]),
                )
            )
    hits.sort(key=lambda h: (-h.score, h.space, h.name))
    return hits[:limit]


@dataclass(frozen=True)
class _Fields:
    """What a search word is matched against, lower-cased once per asset."""

    name: str
    key: str
    label: str
    space: str
    description: str
    kind: str
    kind_spaced: str
    #: Every column name and label, one per line (a word never holds a line break).
    columns: str

    @classmethod
    def of(cls, asset: Asset) -> _Fields:
        return cls(
            name=asset.name.lower(), key=f"{asset.space}.{asset.name}".lower(),
            label=(asset.label or asset.business.label or "").lower(), space=asset.space.lower(),
            description=(asset.business.description or "").lower(), kind=asset.kind.value,
            kind_spaced=asset.kind.value.replace("_", " "),
            columns="\n".join(part for c in asset.columns for part in (c.name, c.label or "")).lower(),
        )


def _score_fields(f: _Fields, word: str) -> tuple[int, list[str]]:
    score = 0
    where: list[str] = []
    if f.name == word or f.key == word:
        score, where = score + 100, [*where, "name"]
    elif word in f.name:
        score, where = score + 40, [*where, "name"]
    if word in f.label:
        score, where = score + 30, [*where, "label"]
    if word in f.space:
        score, where = score + 10, [*where, "space"]
    if word in f.description:
        score, where = score + 10, [*where, "description"]
    if word == f.kind or word == f.kind_spaced:
        score, where = score + 5, [*where, "kind"]
    if word in f.columns:
        score, where = score + 5, [*where, "column"]
    return score, where


def _score_words(fields: _Fields, words: Iterable[str]) -> tuple[int, tuple[str, ...]] | None:
    """The score of every word together and where they matched (sorted); ``None`` when a word
    does not match."""
    total, matched = 0, set()
    for word in words:
        score, where = _score_fields(fields, word)
        if not score:
            return None
        total += score
        matched.update(where)
    return total, tuple(sorted(matched))


#: One ranked search result: the asset, its score and where the words matched.
Ranked = tuple[Asset, int, list[str]]


#: Searches remembered per snapshot (paging through results, htmx search-as-you-type).
SEARCH_CACHE_SIZE = 128


@dataclass
class _SearchIndex:
    """Per snapshot: the assets sorted by (space, name), their lower-cased fields, and every
    asset's searchable text in one string (``text``; asset ``i`` starts at ``starts[i]``, each
    ends with a NUL, which no search word holds) — a word is found with ``str.find`` jumping
    from one matching asset to the next, not tested against each asset in turn."""

    ordered: list[Asset]
    fields: list[_Fields]
    text: str
    starts: list[int]
    #: Query words → ``(asset index, score, matched)``: ints and tuples of strings, which the
    #: cyclic collector stops tracking — a remembered ranking of 10,000 hits costs it one list.
    _ranked: OrderedDict[tuple[str, ...], list[tuple[int, int, tuple[str, ...]]]] = field(
        default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, snapshot: CatalogSnapshot) -> _SearchIndex:
        ordered = sorted(snapshot.assets, key=lambda a: (a.space, a.name))
        fields = [_Fields.of(a) for a in ordered]
        parts = ["\n".join((f.key, f.label, f.description, f.kind, f.kind_spaced, f.columns)) + "\0" for f in fields]
        starts, offset = [], 0
        for part in parts:
            starts.append(offset)
            offset += len(part)
        return cls(ordered=ordered, fields=fields, text="".join(parts), starts=starts)

    def containing(self, word: str) -> list[int]:
        """The indices (ascending) of the assets whose text contains ``word``."""
        out: list[int] = []
        text, starts, last = self.text, self.starts, len(self.starts) - 1
        pos = text.find(word)
        while pos >= 0:
            i = bisect_right(starts, pos) - 1
            out.append(i)
            if i >= last:
                break
            pos = text.find(word, starts[i + 1])
        return out

    def rank(self, query: str, keep: Callable[[Asset], bool]) -> list[Ranked]:
        """Like :func:`search` (every word must match; same scores and order), over the
        assets ``keep`` accepts, without building a result object per asset."""
        words = tuple(w.lower() for w in _WORD.findall(query))
        if not words:
            return []
        with self._lock:
            ranked = self._ranked.get(words)
            if ranked is not None:
                self._ranked.move_to_end(words)
        if ranked is None:
            ranked = self._rank(words)
            with self._lock:
                self._ranked[words] = ranked
                while len(self._ranked) > SEARCH_CACHE_SIZE:
                    self._ranked.popitem(last=False)
        ordered = self.ordered
        return [(ordered[i], score, list(matched)) for i, score, matched in ranked if keep(ordered[i])]

    def _rank(self, words: tuple[str, ...]) -> list[tuple[int, int, tuple[str, ...]]]:
        candidates = self.containing(words[0])
        for word in words[1:]:
            if not candidates:
                break
            found = set(self.containing(word))
            candidates = [i for i in candidates if i in found]
        out: list[tuple[int, int, tuple[str, ...]]] = []
        for i in candidates:
            scored = _score_words(self.fields[i], words)
            if scored is not None:
                out.append((i, *scored))
        out.sort(key=lambda r: (-r[1], r[0]))  # assets are in (space, name) order: the index breaks ties
        return out


class AssetCatalog:
    """The extracted assets of one ``Services``, cached for ``ttl_s`` seconds."""

    def __init__(self, services: Services, *, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.services = services
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._extracting = threading.Lock()
        #: Extractions so far by outcome (``kept``, ``incremental``, ``full``) and the last one's seconds.
        self.extractions: dict[str, int] = {}
        self.last_extraction_s: float | None = None
        self._snapshot: CatalogSnapshot | None = None
        self._loaded_at = 0.0
        self._refreshing: threading.Thread | None = None
        self._refresh_error: DgsyncError | None = None

    def snapshot(self, *, refresh: bool = False, prepare: bool = False) -> CatalogSnapshot:
        """The current extraction, made now when missing, stale or ``refresh``.

        One extraction at a time (concurrent callers wait for the one in flight); the state
        lock is held only to read or swap the snapshot, never during an extraction, so
        :meth:`ready_snapshot` answers from the current one meanwhile. ``prepare``: a new
        snapshot's indexes are built before it replaces the current one (:meth:`prepare`)."""
        with self._lock:
            current, loaded_at = self._snapshot, self._loaded_at
        if current is not None and not refresh and time.monotonic() - loaded_at < self.ttl_s:
            return current
        with self._extracting:
            with self._lock:
                made_meanwhile = self._snapshot is not None and self._loaded_at != loaded_at
                if made_meanwhile and not refresh and time.monotonic() - self._loaded_at < self.ttl_s:
                    assert self._snapshot is not None
                    return self._snapshot
                previous = self._snapshot
            started = time.monotonic()
            made, outcome = self._extract(previous)
            if prepare and made is not previous:
                self.prepare(made)
            with self._lock:
                self._snapshot, self._loaded_at = made, time.monotonic()
                self.extractions[outcome] = self.extractions.get(outcome, 0) + 1
                self.last_extraction_s = round(self._loaded_at - started, 3)
            if made is not previous and not prepare:  # prepare() has settled it
                heap.settle()
            return made

    def _extract(self, previous: CatalogSnapshot | None) -> tuple[CatalogSnapshot, str]:
        """A new extraction and how it went (``kept``, ``incremental``, ``full``): conditional
        when there is a previous one (an unchanged tenant costs its listings and one ``304``
        per object, and keeps the snapshot and its indexes)."""
        extractor = self.services.extractor()
        if previous is not None and previous.etags:
            made = refreshed(previous, extractor.extract(etags=previous.etags))
            if made is not None:
                return made, "kept" if made is previous else "incremental"
            log.info("catalog refresh: an analytic model's sources changed; extracting everything again")
        return CatalogSnapshot.of(extractor.extract()), "full"

    def age_s(self) -> float | None:
        """Seconds since the current snapshot was made or confirmed (``None``: none yet)."""
        with self._lock:
            return None if self._snapshot is None else round(time.monotonic() - self._loaded_at, 3)

    def invalidate(self) -> None:
        """Forget the extraction: the next :meth:`snapshot` extracts again (after the tenant
        changed, e.g. an emulator mutation)."""
        with self._lock:
            self._snapshot = None

    def ready_snapshot(self) -> CatalogSnapshot:
        """The extraction without waiting for one (web requests): a fresh one as it is, a stale
        one while a new one is made in the background; none yet: the extraction starts in the
        background and :class:`CatalogWarming` (503) is raised — so is the error of the last
        background extraction (once; the next call tries again)."""
        with self._lock:
            snapshot = self._snapshot
            fresh = snapshot is not None and time.monotonic() - self._loaded_at < self.ttl_s
            if fresh:
                assert snapshot is not None
                return snapshot
            error, self._refresh_error = self._refresh_error, None
            if error is None and (self._refreshing is None or not self._refreshing.is_alive()):
                self._refreshing = threading.Thread(target=self._refresh, name="dgsync-catalog", daemon=True)
                self._refreshing.start()
        if snapshot is not None:
            return snapshot
        if error is not None:
            raise error
        raise CatalogWarming("the asset catalog is not extracted yet (started now)")

    def _refresh(self) -> None:
        try:
            self.snapshot(refresh=True, prepare=True)
        except DgsyncError as exc:
            log.warning("background catalog extraction failed", extra={"error": exc.message})
            with self._lock:
                self._refresh_error = exc
        except Exception as exc:  # a thread must not die silently (e.g. the client closed at shutdown)
            log.warning("background catalog extraction failed", exc_info=True)
            with self._lock:
                self._refresh_error = SourceUnavailable(
                    f"the catalog extraction failed ({type(exc).__name__})",
                    hint="The server log has the details; the next request tries again.")

    def prepare(self, snapshot: CatalogSnapshot) -> None:
        """Build every index a request reads (search, mapping and previews, lineage, names,
        readers), then move it all out of the collector's way (core/heap.py: a full collection
        of this heap stops every request for seconds)."""
        self.index(snapshot)
        self.mapping_index(snapshot)
        self.lineage_index(snapshot)
        self.by_name(snapshot)
        self.readers(snapshot)
        self.filtered(snapshot, kind=AssetKind.VIEW)
        snapshot.by_space()
        snapshot.lookup("", "")
        heap.settle()

    def lineage_graph(self, snapshot: CatalogSnapshot | None = None) -> LineageGraph:
        """The end-to-end lineage graph of a snapshot (its assets and the Glue tables they map
        to under the configured rules), built once per snapshot."""
        from core.lineage_export import graph_from_assets

        made = snapshot or self.snapshot()
        return made.derived("lineage_graph", lambda: graph_from_assets(made.assets, self.mapping(made)))

    def mapping(self, snapshot: CatalogSnapshot) -> MappingResult:
        """The whole snapshot mapped under the configured rules, once per snapshot (an asset
        page shows its asset's part of it: :func:`core.mapping.preview.preview_of`)."""
        from core.mapping.mapper import map_assets

        return snapshot.derived("mapping", lambda: map_assets(
            snapshot.assets, self.services.rules(), env=self.services.settings.env, spaces=snapshot.spaces))

    def mapping_index(self, snapshot: CatalogSnapshot) -> MappingIndex:
        """:meth:`mapping` looked up per asset (``preview_from_result`` takes it), once per snapshot."""
        from core.mapping.preview import MappingIndex

        return snapshot.derived("mapping_index", lambda: MappingIndex.of(self.mapping(snapshot)))

    def lineage_index(self, snapshot: CatalogSnapshot) -> _LineageIndex:
        """Adjacency both ways and the edges per node of :meth:`lineage_graph`, once per snapshot."""
        return snapshot.derived("lineage_index", lambda: _LineageIndex.of(self.lineage_graph(snapshot)))

    def neighbourhood(
        self, snapshot: CatalogSnapshot, key: str, *, direction: str = "both", depth: int = 1
    ) -> LineageGraph:
        """Like :meth:`LineageGraph.neighbourhood`, from an index of the snapshot's graph (a
        request touches only the nodes near ``key``, not every edge of the tenant)."""
        from core.lineage import LineageGraph, within_depth

        graph = self.lineage_graph(snapshot)
        index = self.lineage_index(snapshot)
        keep: set[str] = {key}
        if direction in ("downstream", "both"):
            keep |= set(within_depth(index.down, key, depth))
        if direction in ("upstream", "both"):
            keep |= set(within_depth(index.up, key, depth))
        out = LineageGraph()
        for node in sorted(keep):
            if node in graph.nodes:
                out.nodes[node] = graph.nodes[node]
        out.edges = {e for n in keep for e in index.edges.get(n, ()) if e.upstream in keep and e.downstream in keep}
        out.column_edges = {c for n in keep for c in index.column_edges.get(n, ())
                            if c.upstream in keep and c.downstream in keep}
        return out

    def by_name(self, snapshot: CatalogSnapshot) -> dict[tuple[str, str], Asset]:
        """``(space, name)`` → asset (exact names), built once per snapshot (an asset page
        asks which of the names it links are in the extraction)."""
        return snapshot.derived("by_name", lambda: {(a.space, a.name): a for a in snapshot.assets})

    def readers(self, snapshot: CatalogSnapshot) -> dict[tuple[str, str], list[tuple[Asset, str]]]:
        """Per ``(space, name)``: the assets that read it and how (a dependency kind, or
        ``association``), built once per snapshot (an asset page lists its readers)."""
        return snapshot.derived("readers", lambda: _readers_of(snapshot))

    def index(self, snapshot: CatalogSnapshot) -> _SearchIndex:
        """The sorted, lower-cased view of a snapshot that listings and searches use (built
        once per snapshot)."""
        return snapshot.derived("search_index", lambda: _SearchIndex.of(snapshot))

    def filtered(self, snapshot: CatalogSnapshot, *, space: str | None = None,
                 kind: AssetKind | None = None) -> list[Asset]:
        """The snapshot's assets of ``space`` (case-insensitive) and/or ``kind``, sorted by
        space and name, from an index made once per snapshot (do not modify the list)."""
        if space is None and kind is None:
            return self.ordered(snapshot)

        def make() -> dict[tuple[str | None, AssetKind | None], list[Asset]]:
            out: dict[tuple[str | None, AssetKind | None], list[Asset]] = {}
            for asset in self.ordered(snapshot):
                for key in ((asset.space.upper(), None), (asset.space.upper(), asset.kind), (None, asset.kind)):
                    out.setdefault(key, []).append(asset)
            return out

        groups = snapshot.derived("by_space_kind", make)
        return groups.get((space.upper() if space is not None else None, kind), [])

    def ordered(self, snapshot: CatalogSnapshot) -> list[Asset]:
        """The snapshot's assets sorted by space and name."""
        return self.index(snapshot).ordered

    def search_in(
        self, snapshot: CatalogSnapshot, query: str, keep: Callable[[Asset], bool] = lambda a: True
    ) -> list[Ranked]:
        """Every asset of ``snapshot`` (that ``keep`` accepts) matching every word of ``query``,
        best first: ``(asset, score, matched)``."""
        return self.index(snapshot).rank(query, keep)

    def search(self, query: str, *, limit: int = 20) -> list[AssetHit]:
        return search(self.snapshot().assets, query, limit=limit)

    def get(self, space: str, name: str) -> Asset:
        """The asset ``space.name`` (case-sensitive name; space case-insensitive)."""
        return find_asset(self.snapshot(), space, name)


def _readers_of(snapshot: CatalogSnapshot) -> dict[tuple[str, str], list[tuple[Asset, str]]]:
    out: dict[tuple[str, str], list[tuple[Asset, str]]] = {}
    for other in snapshot.assets:
        seen: set[tuple[str, str]] = set()
        for dep in other.upstream:
            target = (dep.ref.space, dep.ref.name)
            if target not in seen and target != (other.space, other.name):
                seen.add(target)
                out.setdefault(target, []).append((other, dep.kind.value))
        for assoc in other.associations:
            target = (assoc.target.space, assoc.target.name)
            if target not in seen and target != (other.space, other.name):
                seen.add(target)
                out.setdefault(target, []).append((other, "association"))
    return out


@dataclass
class _LineageIndex:
    """Adjacency both ways and the edges touching each node, of one lineage graph."""

    down: dict[str, set[str]]
    up: dict[str, set[str]]
    edges: dict[str, list[Edge]]
    column_edges: dict[str, list[ColumnEdge]]

    @classmethod
    def of(cls, graph: LineageGraph) -> _LineageIndex:
        from core.lineage import reverse_graph

        down = graph.adjacency()
        edges: dict[str, list[Edge]] = {}
        for edge in graph.edges:
            edges.setdefault(edge.upstream, []).append(edge)
            edges.setdefault(edge.downstream, []).append(edge)
        columns: dict[str, list[ColumnEdge]] = {}
        for col in graph.column_edges:
            columns.setdefault(col.upstream, []).append(col)
            columns.setdefault(col.downstream, []).append(col)
        return cls(down=down, up=reverse_graph(down), edges=edges, column_edges=columns)


def find_asset(snapshot: CatalogSnapshot, space: str, name: str) -> Asset:
    """The asset ``space.name`` of ``snapshot`` (case-sensitive name; space case-insensitive)."""
    found = snapshot.lookup(space, name)
    if found is not None:
        return found
    raise NotFound(
        f"no asset {space}.{name} in the extracted catalog",
        hint="Names are case-sensitive; search for it first, or refresh the catalog.",
    )
