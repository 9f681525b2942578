"""Unified search over both catalogs: the extracted Datasphere assets and the live Glue tables.

Framework-free (the MCP server uses it; Dog and Wolf can). A *hit* is one logical object seen
from one or both sides: a Datasphere asset, the Glue table dgsync maps it to, or both when
the pair exists (``sides == ["datasphere", "glue"]``). Pairs are found two ways: the mapping of
the asset under the configured rules (its target ``database.table``) and the ``dgsync.source``
marker on a managed Glue table. Glue tables dgsync does not manage are hits of their own
(``managed: false``).

Every word of the query must match somewhere: technical and business names, labels,
descriptions, column names and labels, and column semantics (``measure``, ``dimension``,
``key``, ``currency``, ``unit``, ``date``...). Hits are ranked by score, then name; pages are
cut with an opaque cursor tied to the query and filters.

:class:`GlueIndex` keeps one listing of the Glue catalog for ``ttl_s`` seconds (a listing reads
every database); :class:`UnifiedCatalog` joins it with :class:`core.catalog.AssetCatalog`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import InputError, NotFound
from core.mapping import params as P
from core.specs import MANAGED_BY, MANAGED_BY_VALUE, SOURCE

if TYPE_CHECKING:
    from core.catalog import AssetCatalog, CatalogSnapshot
    from core.glue.client import GlueClient
    from core.glue.results import GlueTable
    from core.models import Asset, Column
    from core.services import Services
    from core.specs import MappingResult

Side = Literal["datasphere", "glue"]
DEFAULT_GLUE_TTL_S = 60.0
#: Largest page a caller may ask for.
MAX_PAGE = 100

_WORD = re.compile(r"[\w.]+", re.UNICODE)


class SearchHit(BaseModel):
    """One object of either catalog (or a pair): enough to decide where to look closer."""

    model_config = ConfigDict(extra="forbid")

    sides: list[Side] = Field(description="Where it exists now: datasphere, glue, or both (a synced pair).")
    kind: str = Field(description="The Datasphere kind (view, analytic_model...) or glue_table.")
    space: str | None = Field(description="Datasphere space (None: a Glue table with no source).")
    name: str | None = Field(description="Datasphere technical name.")
    database: str | None = Field(description="Glue database (live, or where dgsync would create it).")
    table: str | None = Field(description="Glue table (live, or the name dgsync would give it).")
    managed: bool | None = Field(description="Glue side: managed by dgsync (None: no Glue table).")
    label: str | None
    description: str | None
    columns: int
    score: int
    matched: list[str] = Field(description="Where the words matched, e.g. name, label, column:NetAmount, semantics:measure.")
    missing: list[str] = Field(default_factory=list, description="Query words it does not match (only when no object matches every word).")


class SearchPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str
    hits: list[SearchHit]
    total: int = Field(description="Hits over all pages.")
    next_cursor: str | None = Field(description="Pass as cursor for the next page (None: last page).")
    notes: list[str] = Field(default_factory=list, description="What was left out (a side unavailable, errors).")


# ---------------------------------------------------------------------------- documents


def column_semantics(column: Column) -> set[str]:
    """Searchable semantic terms of one Datasphere column."""
    terms = {column.role.value}
    if column.key:
        terms.add("key")
    keys = " ".join([*column.semantics.keys(), *column.semantics.values()]).lower()
    if "currency" in keys:
        terms.add("currency")
    if "unit" in keys or "quantity" in keys:
        terms.add("unit")
    if "amount" in keys:
        terms.add("amount")
    if "calendar" in keys or "date" in keys or "fiscal" in keys:
        terms.add("date")
    if column.aggregation:
        terms.add(column.aggregation.lower())
    return terms


def glue_column_semantics(params: Mapping[str, str]) -> set[str]:
    """Searchable semantic terms of one Glue column (from the ``dgsync.*`` parameters)."""
    terms: set[str] = set()
    if params.get(P.ROLE):
        terms.add(params[P.ROLE].lower())
    if params.get(P.KEY) == "true":
        terms.add("key")
    if params.get(P.CURRENCY) or params.get(P.IS_CURRENCY) == "true":
        terms.add("currency")
    if params.get(P.UNIT) or params.get(P.IS_UNIT) == "true":
        terms.add("unit")
    if params.get(P.CALENDAR):
        terms.add("date")
    if params.get(P.AGGREGATION):
        terms.add(params[P.AGGREGATION].lower())
    return terms


@dataclass
class _Doc:
    """The searchable text of one hit, by field (weights in :func:`_score`)."""

    names: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    #: column name → its names/labels and semantic terms
    columns: dict[str, tuple[list[str], set[str]]] = field(default_factory=dict)

    def add_column(self, name: str, texts: Iterable[str | None], terms: set[str]) -> None:
        known_texts, known_terms = self.columns.setdefault(name, ([], set()))
        known_texts.extend(t.lower() for t in texts if t)
        known_terms.update(terms)


def _asset_doc(asset: Asset, doc: _Doc) -> None:
    doc.names += [asset.name.lower(), asset.key.lower()]
    doc.labels += [x.lower() for x in (asset.label, asset.business.label) if x]
    doc.places.append(asset.space.lower())
    if asset.business.description:
        doc.descriptions.append(asset.business.description.lower())
    doc.kinds += [asset.kind.value, asset.kind.value.replace("_", " ")]
    for column in asset.columns:
        doc.add_column(column.name, [column.name, column.label], column_semantics(column))


def _glue_doc(database: str, table: GlueTable, doc: _Doc) -> None:
    params = table.get("Parameters") or {}
    name = table.get("Name", "")
    doc.names += [name.lower(), f"{database}.{name}".lower()]
    if params.get(P.NAME):
        doc.names.append(params[P.NAME].lower())
    doc.labels += [params[P.LABEL].lower()] if params.get(P.LABEL) else []
    doc.places.append(database.lower())
    for text in (table.get("Description"), params.get(P.DESCRIPTION)):
        if text:
            doc.descriptions.append(text.lower())
    doc.kinds += ["glue_table", "glue", "table"]
    sd = table.get("StorageDescriptor") or {}
    for column in [*(sd.get("Columns") or []), *(table.get("PartitionKeys") or [])]:
        cparams = column.get("Parameters") or {}
        doc.add_column(
            cparams.get(P.NAME) or column.get("Name", ""),
            [column.get("Name"), column.get("Comment"), cparams.get(P.LABEL), cparams.get(P.NAME)],
            glue_column_semantics(cparams),
        )


def _score_word(doc: _Doc, word: str) -> tuple[int, list[str]]:
    score = 0
    where: list[str] = []
    if word in doc.names:
        score, where = score + 100, [*where, "name"]
    elif any(word in n for n in doc.names):
        score, where = score + 40, [*where, "name"]
    if any(word in label for label in doc.labels):
        score, where = score + 30, [*where, "label"]
    if any(word in p for p in doc.places):
        score, where = score + 10, [*where, "space/database"]
    if any(word in d for d in doc.descriptions):
        score, where = score + 10, [*where, "description"]
    if word in doc.kinds:
        score, where = score + 5, [*where, "kind"]
    col_hits = [name for name, (texts, _) in doc.columns.items() if any(word in t for t in texts)]
    if col_hits:
        score += 5 + min(len(col_hits), 5)
        where += [f"column:{c}" for c in col_hits[:3]]
    sem_hits = [name for name, (_, terms) in doc.columns.items() if word in terms]
    if sem_hits:
        score += 8 + min(len(sem_hits), 5)
        where += [f"semantics:{word}"] + [f"column:{c}" for c in sem_hits[:3]]
    return score, where


def score(doc: _Doc, words: Sequence[str], *, every: bool = True) -> tuple[int, list[str], list[str]] | None:
    """Total score, where it matched and the words that matched nowhere; ``None`` when a word
    is missing (``every``) or no word matches at all."""
    total, matched, missing = 0, [], []
    for word in words:
        s, where = _score_word(doc, word)
        if not s:
            if every:
                return None
            missing.append(word)
            continue
        total += s
        for w in where:
            if w not in matched:
                matched.append(w)
    return (total, matched, missing) if total else None


# ---------------------------------------------------------------------------- the Glue side


@dataclass(frozen=True)
class GlueSnapshot:
    """One listing of the Glue catalog: ``(database, table)`` → table."""

    tables: dict[tuple[str, str], GlueTable]
    #: database → error text, for a database that could not be listed.
    errors: dict[str, str] = field(default_factory=dict)

    def source_of(self, key: tuple[str, str]) -> str | None:
        params = self.tables[key].get("Parameters") or {}
        return params.get(SOURCE) if params.get(MANAGED_BY) == MANAGED_BY_VALUE else None


def is_managed(table: Mapping[str, Any]) -> bool:
    return (table.get("Parameters") or {}).get(MANAGED_BY) == MANAGED_BY_VALUE


def list_glue(glue: GlueClient) -> GlueSnapshot:
    """Every table of every database the credentials can see."""
    from core.errors import DgsyncError

    tables: dict[tuple[str, str], GlueTable] = {}
    errors: dict[str, str] = {}
    for database in glue.iter_databases():
        name = database.get("Name", "")
        try:
            for table in glue.iter_tables(name):
                tables[(name, table.get("Name", ""))] = table
        except DgsyncError as exc:
            errors[name] = exc.message
    return GlueSnapshot(tables=tables, errors=errors)


class GlueIndex:
    """The Glue listing of one ``Services``, cached for ``ttl_s`` seconds (thread-safe)."""

    def __init__(self, services: Services, *, ttl_s: float = DEFAULT_GLUE_TTL_S) -> None:
        self.services = services
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._snapshot: GlueSnapshot | None = None
        self._loaded_at = 0.0

    def snapshot(self, *, refresh: bool = False) -> GlueSnapshot:
        with self._lock:
            fresh = self._snapshot is not None and time.monotonic() - self._loaded_at < self.ttl_s
            if refresh or not fresh:
                self._snapshot = list_glue(self.services.glue())
                self._loaded_at = time.monotonic()
            assert self._snapshot is not None
            return self._snapshot


# ---------------------------------------------------------------------------- both


@dataclass
class Entry:
    """One logical object: an asset, a Glue table, or both."""

    asset: Asset | None = None
    database: str | None = None
    table_name: str | None = None
    glue: GlueTable | None = None
    _doc: _Doc | None = field(default=None, repr=False, compare=False)

    @property
    def sides(self) -> list[Side]:
        out: list[Side] = []
        if self.asset is not None:
            out.append("datasphere")
        if self.glue is not None:
            out.append("glue")
        return out

    def doc(self) -> _Doc:
        """The searchable text (built once: entries are cached per pair of listings)."""
        if self._doc is not None:
            return self._doc
        doc = _Doc()
        if self.asset is not None:
            _asset_doc(self.asset, doc)
        if self.glue is not None and self.database is not None:
            _glue_doc(self.database, self.glue, doc)
        self._doc = doc
        return doc

    def hit(self, total: int, matched: list[str], missing: list[str]) -> SearchHit:
        a, g = self.asset, self.glue
        params = (g.get("Parameters") or {}) if g is not None else {}
        columns = len(a.columns) if a is not None else len(((g or {}).get("StorageDescriptor") or {}).get("Columns") or [])
        return SearchHit(
            sides=self.sides,
            kind=a.kind.value if a is not None else "glue_table",
            space=a.space if a is not None else None,
            name=a.name if a is not None else None,
            database=self.database,
            table=self.table_name,
            managed=is_managed(g) if g is not None else None,
            label=(a.label or a.business.label) if a is not None else params.get(P.LABEL),
            description=(a.business.description if a is not None else None)
            or (g.get("Description") if g is not None else None),
            columns=columns,
            score=total,
            matched=matched,
            missing=missing,
        )


def join(snapshot: CatalogSnapshot | None, mapping: MappingResult | None, glue: GlueSnapshot | None) -> list[Entry]:
    """Pair assets with Glue tables (by mapping target, then by the ``dgsync.source`` marker)."""
    entries: list[Entry] = []
    by_key: dict[str, Entry] = {}
    targets: dict[str, tuple[str, str]] = {}
    if mapping is not None:
        targets = {str(t.source): (t.database, t.name) for t in mapping.tables}
    for asset in snapshot.assets if snapshot is not None else []:
        entry = Entry(asset=asset)
        if asset.key in targets:
            entry.database, entry.table_name = targets[asset.key]
        entries.append(entry)
        by_key[asset.key] = entry
    if glue is None:
        return entries
    claimed: set[tuple[str, str]] = set()
    for entry in entries:
        key = (entry.database or "", entry.table_name or "")
        if key in glue.tables:
            entry.glue = glue.tables[key]
            claimed.add(key)
    for key, table in sorted(glue.tables.items()):
        if key in claimed:
            continue
        owner = by_key.get(glue.source_of(key) or "")
        if owner is not None and owner.glue is None:
            owner.glue, owner.database, owner.table_name = table, key[0], key[1]
            continue
        entries.append(Entry(database=key[0], table_name=key[1], glue=table))
    return entries


@dataclass(frozen=True)
class SearchFilters:
    space: str | None = None
    database: str | None = None
    kind: str | None = None
    side: Literal["datasphere", "glue", "both", "any"] = "any"

    def keep(self, e: Entry) -> bool:
        if self.space and (e.asset is None or e.asset.space.upper() != self.space.upper()):
            return False
        if self.database and (e.database or "").lower() != self.database.lower():
            return False
        kind = e.asset.kind.value if e.asset is not None else "glue_table"
        if self.kind and kind != self.kind:
            return False
        sides = e.sides
        if self.side == "both":
            return len(sides) == 2
        if self.side in ("datasphere", "glue"):
            return self.side in sides
        return True


def _cursor_key(query: str, filters: SearchFilters) -> str:
    body = json.dumps([query, filters.space, filters.database, filters.kind, filters.side])
    return hashlib.sha256(body.encode()).hexdigest()[:12]


def encode_cursor(query: str, filters: SearchFilters, offset: int) -> str:
    raw = json.dumps({"k": _cursor_key(query, filters), "o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: str, filters: SearchFilters) -> int:
    """The offset a cursor stands for; a cursor of another query or filters is refused."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
        offset = int(body["o"])
        key = str(body["k"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError("the cursor is not one this search returned",
                          hint="Pass next_cursor exactly as returned, or leave cursor out for the first page.") from exc
    if key != _cursor_key(query, filters) or offset < 0:
        raise InputError("the cursor belongs to another query or other filters",
                          hint="Repeat the same query and filters with the cursor, or start again without one.")
    return offset


def search_entries(
    entries: Iterable[Entry], query: str, *, filters: SearchFilters = SearchFilters(),
    limit: int = 20, cursor: str | None = None,
) -> SearchPage:
    """Rank ``entries`` by how well every word of ``query`` matches; one page of hits."""
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}", hint="Page through with next_cursor.")
    words = [w.lower() for w in _WORD.findall(query)]
    if not words:
        raise InputError("the query has no words to look for",
                          hint="Search with a name, a business term or a column, e.g. `revenue region`.")
    offset = decode_cursor(cursor, query, filters) if cursor else 0
    kept = [e for e in entries if filters.keep(e)]
    hits = _hits(kept, words, every=True)
    notes: list[str] = []
    if not hits and len(words) > 1:
        # No object has every word: rank those with most of them (each hit names what it lacks).
        hits = _hits(kept, words, every=False)
        if hits:
            notes.append("no object matches every word; these match some (see each hit's `missing`)")
    page = hits[offset:offset + limit]
    more = offset + limit < len(hits)
    return SearchPage(query=query, hits=page, total=len(hits), notes=notes,
                      next_cursor=encode_cursor(query, filters, offset + limit) if more else None)


def _hits(entries: Sequence[Entry], words: Sequence[str], *, every: bool) -> list[SearchHit]:
    hits: list[SearchHit] = []
    for entry in entries:
        found = score(entry.doc(), words, every=every)
        if found is not None:
            hits.append(entry.hit(*found))
    hits.sort(key=lambda h: (len(h.missing), -h.score, h.space or "~", h.name or "", h.database or "", h.table or ""))
    return hits


class UnifiedCatalog:
    """Both catalogs of one ``Services`` as one: search, and the pair of one object."""

    def __init__(self, services: Services, *, assets: AssetCatalog | None = None,
                 glue: GlueIndex | None = None) -> None:
        self.services = services
        self.assets = assets or services.catalog()
        self.glue = glue or GlueIndex(services)
        self._lock = threading.Lock()
        # Cached with the very listings they came from (compared by identity).
        self._mapped: tuple[CatalogSnapshot, MappingResult] | None = None
        self._joined: tuple[CatalogSnapshot, GlueSnapshot, list[Entry]] | None = None

    def mapping(self) -> MappingResult:
        """The mapping of the current extraction under the configured rules (cached per extraction)."""
        from core.mapping.mapper import map_assets

        snapshot = self.assets.snapshot()
        with self._lock:
            if self._mapped is None or self._mapped[0] is not snapshot:
                result = map_assets(snapshot.assets, self.services.rules(),
                                    env=self.services.settings.env, spaces=snapshot.spaces)
                self._mapped = (snapshot, result)
            return self._mapped[1]

    def entries(self, *, sides: Iterable[Side] = ("datasphere", "glue")) -> tuple[list[Entry], list[str]]:
        """Every object, paired; and notes on what could not be read (never a silent gap)."""
        from core.errors import DgsyncError

        notes: list[str] = []
        snapshot, mapping, glue = None, None, None
        if "datasphere" in sides:
            try:
                snapshot, mapping = self.assets.snapshot(), self.mapping()
                notes += [f"space {s} skipped: {why}" for s, why in snapshot.skipped_spaces.items()]
            except DgsyncError as exc:
                notes.append(f"Datasphere side unavailable: {exc.message} ({exc.hint})")
        if "glue" in sides:
            try:
                glue = self.glue.snapshot()
                notes += [f"Glue database {d} not listed: {why}" for d, why in glue.errors.items()]
            except DgsyncError as exc:
                notes.append(f"Glue side unavailable: {exc.message} ({exc.hint})")
        if snapshot is None and glue is None:
            raise NotFound("neither catalog could be read", hint="; ".join(notes) or "Check `dgsync status`.")
        with self._lock:
            cached = self._joined
            if cached is not None and cached[0] is snapshot and cached[1] is glue:
                return cached[2], notes
            joined = join(snapshot, mapping, glue)
            if snapshot is not None and glue is not None:
                self._joined = (snapshot, glue, joined)
            return joined, notes

    def search(self, query: str, *, filters: SearchFilters = SearchFilters(), limit: int = 20,
               cursor: str | None = None) -> SearchPage:
        entries, notes = self.entries()
        page = search_entries(entries, query, filters=filters, limit=limit, cursor=cursor)
        page.notes = [*page.notes, *notes]
        return page

    def pair_of_asset(self, space: str, name: str) -> Entry:
        asset = self.assets.get(space, name)
        entries, _ = self.entries()
        for entry in entries:
            if entry.asset is not None and entry.asset.key == asset.key:
                return entry
        return Entry(asset=asset)

    def pair_of_table(self, database: str, table: str) -> Entry:
        entries, _ = self.entries()
        for entry in entries:
            if entry.glue is not None and (entry.database, entry.table_name) == (database, table):
                return entry
        raise InputError(f"no Glue table {database}.{table}",
                       hint="Glue names are lower case; search for it first (search_catalog).")
