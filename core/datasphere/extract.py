"""Extraction: everything the client can see in the tenant, as domain assets.

:meth:`Extractor.extract` runs

1. the catalog's spaces (and the space filter);
2. per space, the design-time lists of every object kind and the space's catalog assets —
   a space answering 403 is skipped and reported, the run goes on;
3. one CSN read per object, in parallel (``concurrency`` threads), parsed by
   :func:`core.datasphere.csn.parse_csn` — a bad object is reported, the run goes on;
4. analytic-model column types: from their fact/dimension sources (any space; read on demand
   when this run did not read them), otherwise from the model's analytical ``$metadata``,
   otherwise a measure is ``cds.DecimalFloat`` with a warning — the same order on every path
   (:meth:`Extractor.type_analytic_model`). A model an input of which failed this run is
   reported in ``ExtractionResult.incomplete``, never produced degraded.

It returns an :class:`ExtractionResult` listing every failure per item; nothing is swallowed.
Authentication failures are not per item: they stop the run (:class:`~core.errors.AuthError`).

For incremental sync, :meth:`Extractor.list_inventory` and :meth:`Extractor.fetch_asset` read
one space's object names and one object (conditionally, with the ETag of the last read).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.datasphere.client import NOT_MODIFIED, CatalogAsset, DatasphereClient, Versioned
from core.datasphere.csn import (
    UNRESOLVED_TYPE,
    UNTYPED_NOTE,
    parse_csn,
    refingerprint,
    resolve_analytic_types,
)
from core.datasphere.edmx import parse_metadata
from core.errors import (
    AccessDenied,
    AuthError,
    CsnError,
    DgsyncError,
    IncompleteAsset,
    NotFound,
    UnexpectedResponse,
)
from core.log import copy_context, get_logger
from core.models import (
    DESIGN_TIME_SEGMENTS,
    Asset,
    AssetKind,
    AssetRef,
    CdsType,
    Column,
    SemanticRole,
    Space,
)

log = get_logger(__name__)

#: ``progress(done, total)`` — called as objects are read; ``total`` is known once listed.
ProgressCallback = Callable[[int, int | None], None]

ALL_KINDS: tuple[AssetKind, ...] = tuple(DESIGN_TIME_SEGMENTS)


class ExtractionIssue(BaseModel):
    """One failure of an extraction, with what to do about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    message: str
    hint: str
    space: str | None = None
    name: str | None = None
    kind: str | None = None

    @classmethod
    def from_error(
        cls,
        exc: DgsyncError,
        *,
        space: str | None = None,
        name: str | None = None,
        kind: AssetKind | None = None,
    ) -> ExtractionIssue:
        return cls(
            code=exc.code,
            message=exc.message,
            hint=exc.hint,
            space=space,
            name=name,
            kind=kind.value if kind else None,
        )


class ExtractionResult(BaseModel):
    """What an extraction found, and everything that went wrong on the way."""

    model_config = ConfigDict(extra="forbid")

    assets: list[Asset] = Field(default_factory=list)
    spaces: list[Space] = Field(default_factory=list)
    #: Space → why it was skipped (e.g. ``not a member (403)``).
    skipped_spaces: dict[str, str] = Field(default_factory=dict)
    #: ``SPACE.NAME`` (or ``SPACE/segment`` for a list) → the failure.
    errors: dict[str, ExtractionIssue] = Field(default_factory=dict)
    #: Requests per route template: ``{route: {"requests", "retries", "throttles", ...}}``.
    stats: dict[str, dict[str, int]] = Field(default_factory=dict)
    duration_s: float = 0.0
    #: ``SPACE.NAME`` → ETag of the version read (for the next conditional read).
    etags: dict[str, str] = Field(default_factory=dict)
    #: ``SPACE.NAME`` → kind, for objects answered ``304 Not Modified`` to the ETag given to
    #: :meth:`Extractor.extract`: unchanged since the last sync, not re-read, not in ``assets``.
    unchanged: dict[str, AssetKind] = Field(default_factory=dict)
    #: ``SPACE.NAME`` → why the asset was not produced: an input of it failed this run (a
    #: source's CSN, its analytical ``$metadata``). Not in ``assets`` and no ETag in ``etags``:
    #: its table is kept as is and the next run reads it again (never written degraded).
    incomplete: dict[str, str] = Field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.duration_s

    def by_ref(self) -> dict[AssetRef, Asset]:
        return {a.ref: a for a in self.assets}


def _edm_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


class Extractor:
    """Reads a tenant's metadata through a :class:`DatasphereClient`."""

    def __init__(
        self,
        client: DatasphereClient,
        *,
        concurrency: int = 4,
        spaces: Iterable[str] | None = None,
        kinds: Iterable[AssetKind] | None = None,
    ) -> None:
        self.client = client
        self.concurrency = max(1, concurrency)
        self.spaces = list(spaces) if spaces else None
        self.kinds = tuple(kinds) if kinds else ALL_KINDS
        self._known_spaces: set[str] | None = None
        self._lock = threading.Lock()

    # -- full extraction ------------------------------------------------------------------
    def extract(
        self,
        progress: ProgressCallback | None = None,
        *,
        etags: Mapping[str, str] | None = None,
    ) -> ExtractionResult:
        """Extract every selected space (see the module docstring).

        With ``etags`` (``SPACE.NAME`` → ETag of the last version synced) every object is read
        conditionally; those answered ``304`` land in ``result.unchanged``, not in ``assets``.
        """
        known_etags = dict(etags or {})
        started = time.monotonic()
        before = self.client.stats.snapshot()
        result = ExtractionResult()
        catalog_spaces = list(self.client.iter_spaces())
        labels = {s.name: s.label for s in catalog_spaces}
        with self._lock:
            self._known_spaces = set(labels)
        selected = self.spaces or [s.name for s in catalog_spaces]
        known = set(labels) | set(selected)

        with ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="dgsync-extract"
        ) as pool:
            listings = {
                space: pool.submit(copy_context(), self._list_space, space) for space in selected
            }
            tasks: list[tuple[str, AssetKind, str]] = []
            catalogs: dict[str, dict[str, CatalogAsset]] = {}
            for space, future in listings.items():
                names, catalog, skipped, issues = future.result()
                result.errors.update(issues)
                if skipped is not None:
                    result.skipped_spaces[space] = skipped
                    log.warning("space skipped", extra={"space": space, "reason": skipped})
                    continue
                result.spaces.append(Space(name=space, label=labels.get(space)))
                catalogs[space] = catalog
                tasks.extend((space, kind, name) for kind, name in names)

            total = len(tasks)
            if progress:
                progress(0, total)
            reads: dict[Future[Versioned[Asset]], tuple[str, AssetKind, str]] = {
                pool.submit(
                    copy_context(),
                    self._read,
                    space,
                    kind,
                    name,
                    known,
                    catalogs[space],
                    known_etags.get(f"{space}.{name}"),
                ): (space, kind, name)
                for space, kind, name in tasks
            }
            assets: list[Asset] = []
            for done, future in enumerate(as_completed(reads), start=1):
                space, kind, name = reads[future]
                try:
                    got = future.result()
                    key = f"{space}.{name}"
                    if got.etag:
                        result.etags[key] = got.etag
                    if isinstance(got.value, Asset):
                        assets.append(got.value)
                    else:
                        result.unchanged[key] = kind
                except AuthError:
                    for other in reads:
                        other.cancel()
                    raise
                except DgsyncError as exc:
                    result.errors[f"{space}.{name}"] = ExtractionIssue.from_error(
                        exc, space=space, name=name, kind=kind
                    )
                    log.warning(
                        "asset not extracted",
                        extra={"space": space, "asset": name, "error": exc.message},
                    )
                if progress:
                    progress(done, total)

            assets = self._resolve_analytic_models(assets, pool, result)
        result.assets = sorted(assets, key=lambda a: (a.space, a.name))
        result.stats = _diff_stats(self.client.stats.snapshot(), before)
        result.duration_s = time.monotonic() - started
        log.info(
            "extraction finished",
            extra={
                "assets": len(result.assets),
                "spaces": len(result.spaces),
                "skipped_spaces": len(result.skipped_spaces),
                "errors": len(result.errors),
                "duration_s": round(result.duration_s, 3),
            },
        )
        return result

    def _list_space(
        self, space: str
    ) -> tuple[
        list[tuple[AssetKind, str]], dict[str, CatalogAsset], str | None, dict[str, ExtractionIssue]
    ]:
        names: list[tuple[AssetKind, str]] = []
        issues: dict[str, ExtractionIssue] = {}
        not_found = 0
        for kind in self.kinds:
            try:
                names.extend((kind, n) for n in self.client.list_names(space, kind))
            except AccessDenied as exc:
                return [], {}, f"not a member (403): {exc.message}", issues
            except NotFound as exc:
                not_found += 1
                issues[f"{space}/{DESIGN_TIME_SEGMENTS[kind]}"] = ExtractionIssue.from_error(
                    exc, space=space, kind=kind
                )
            except AuthError:
                raise
            except DgsyncError as exc:
                issues[f"{space}/{DESIGN_TIME_SEGMENTS[kind]}"] = ExtractionIssue.from_error(
                    exc, space=space, kind=kind
                )
        if not_found == len(self.kinds):
            return [], {}, "not found (404): the space does not exist or is not visible", {}
        catalog: dict[str, CatalogAsset] = {}
        try:
            catalog = {a.name: a for a in self.client.iter_assets(space)}
        except AccessDenied as exc:
            return [], {}, f"not a member (403): {exc.message}", issues
        except AuthError:
            raise
        except DgsyncError as exc:
            issues[f"{space}/catalog"] = ExtractionIssue.from_error(exc, space=space)
        return names, catalog, None, issues

    def _read(
        self,
        space: str,
        kind: AssetKind,
        name: str,
        known: set[str],
        catalog: Mapping[str, CatalogAsset],
        etag: str | None = None,
    ) -> Versioned[Asset]:
        got = self.client.read_csn(space, kind, name, etag=etag)
        if got.not_modified or not isinstance(got.value, dict):
            return Versioned(NOT_MODIFIED, got.etag)
        asset = self._parse(got.value, space, kind, name, known)
        return Versioned(attach_catalog(asset, catalog.get(name)), got.etag)

    @staticmethod
    def _parse(
        doc: dict[str, Any], space: str, kind: AssetKind, name: str, known: set[str]
    ) -> Asset:
        try:
            parsed = parse_csn(doc, space=space, known_spaces=known, kind_hint=kind, name=name)
        except ValidationError as exc:  # pydantic refused a value the parser let through
            raise CsnError(
                f"{space}.{name}: {exc.error_count()} invalid value(s): {exc.errors()[0]['msg']}"
            ) from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # A shape the parser does not expect must cost this object, not the run.
            raise CsnError(
                f"{space}.{name}: unexpected CSN structure ({type(exc).__name__}: {exc})"
            ) from exc
        if len(parsed) != 1:
            raise CsnError(f"{space}.{name}: the CSN defines no asset of that name")
        return parsed[0]

    # -- analytic models ------------------------------------------------------------------
    def _resolve_analytic_models(
        self, assets: list[Asset], pool: ThreadPoolExecutor, result: ExtractionResult
    ) -> list[Asset]:
        """Type every analytic model's columns (see :meth:`type_analytic_model`), in parallel.

        Sources come from this run's assets, then ``result.lineage_assets`` (objects of
        spaces this user cannot read), then on-demand reads — a source answered ``304`` this
        run is read again, one in a space outside the selection is read there — so the
        types never depend on which objects this particular run happened to read. A model
        an input of which failed lands in ``result.incomplete``, not in the returned list."""
        given: dict[AssetRef, Asset] = {}
        # ``lineage_assets`` (objects of spaces this user cannot read, parsed from a consumer's
        # read) is filled by the listing side; absent, there is nothing to add.
        for extra in getattr(result, "lineage_assets", None) or []:
            if isinstance(extra, Asset):
                given.setdefault(extra.ref, extra)
        given.update({a.ref: a for a in assets})
        # objects whose read failed this run (list failures are keyed SPACE/segment)
        failed = {key: issue.message for key, issue in result.errors.items() if "/" not in key}
        reader = _SourceReader(
            self, given=given, kinds=dict(result.unchanged), failed=failed
        )
        no_catalog = {
            key.split("/", 1)[0] for key in result.errors if key.endswith("/catalog")
        }
        pending: dict[AssetRef, Future[Asset]] = {
            a.ref: pool.submit(
                copy_context(),
                self._type_model,
                a,
                reader,
                a.space in no_catalog,
            )
            for a in assets
            if a.kind is AssetKind.ANALYTIC_MODEL and _unresolved(a)
        }
        typed: dict[AssetRef, Asset] = {}
        for ref, future in pending.items():
            try:
                typed[ref] = future.result()
            except AuthError:
                for other in pending.values():
                    other.cancel()
                raise
            except IncompleteAsset as exc:
                result.incomplete[exc.key] = exc.reason
                if isinstance(exc.__cause__, DgsyncError):  # its own $metadata read failed
                    result.errors[exc.key] = ExtractionIssue.from_error(
                        exc.__cause__, space=ref.space, name=ref.name, kind=AssetKind.ANALYTIC_MODEL
                    )
                result.etags.pop(exc.key, None)  # read it again next run, never 304 it
                log.warning(
                    "asset incomplete, not produced",
                    extra={"space": ref.space, "asset": ref.name, "reason": exc.reason},
                )
        for key, issue in reader.issues().items():
            result.errors.setdefault(key, issue)
        return [typed.get(a.ref, a) for a in assets if str(a.ref) not in result.incomplete]

    def type_analytic_model(
        self, asset: Asset, known: Mapping[AssetRef, Asset] | None = None
    ) -> Asset:
        """Type the untyped columns of analytic model ``asset``; the one order on every path.

        1. **Sources**: the model's fact/dimension source columns (views' ``from`` chains
           followed; other spaces too): ``known`` first, else the source is read on demand
           (its owner space, or the model's space for an object shared into it).
        2. **``$metadata``** (the analytical service), only for what sources cannot type.
        3. A calculated measure takes the type of the measure its formula names; any other
           measure still untyped becomes ``cds.DecimalFloat`` with a warning; other columns
           stay unresolved with a warning.

        A source that does not exist or that this user may not see is simply absent (step 2
        takes over); a read that **failed** (5xx, timeout, malformed answer) raises
        :class:`~core.errors.IncompleteAsset`, as does a failed ``$metadata`` read a column
        needed. A ``$metadata`` answering 404 is a warning on the asset."""
        reader = _SourceReader(self, given=dict(known or {}), kinds={}, failed={})
        return self._type_model(asset, reader, False)

    def _type_model(self, asset: Asset, reader: _SourceReader, no_catalog: bool) -> Asset:
        failures: list[str] = []

        def lookup(ref: AssetRef) -> Asset | None:
            got = reader.get(ref, consumer=asset.space)
            if isinstance(got, _Failed):
                failures.append(got.reason)
                return None
            return got

        resolved = resolve_analytic_types(asset, lookup)
        if failures:
            raise IncompleteAsset(asset.key, "; ".join(dict.fromkeys(failures)))
        if not _unresolved(resolved):
            return _finish_unresolved(resolved, "")
        if no_catalog:
            raise IncompleteAsset(
                asset.key,
                f"the catalog of space {asset.space} could not be read, so its analytical "
                "$metadata URL is unknown",
            )
        return self._from_metadata(resolved)

    def _from_metadata(self, asset: Asset) -> Asset:
        """Type the still unresolved columns from the analytical ``$metadata``.

        No analytical URL (not exposed) or a ``404``: the fallbacks of
        :func:`_finish_unresolved`, with a warning. Any other failure raises
        :class:`~core.errors.IncompleteAsset` (never a degraded asset)."""
        url = asset.analytical_metadata_url
        if not url:
            return _finish_unresolved(
                asset, "not exposed: no analytical $metadata to read types from"
            )
        try:
            got = self.client.read_metadata(url)
            if not isinstance(got.value, str):
                raise UnexpectedResponse(f"{asset.key}: the analytical $metadata is not text")
            return apply_metadata(asset, got.value)
        except AuthError:
            raise
        except NotFound:
            why = "analytical $metadata not found (404)"
            noted = asset.model_copy(
                update={"warnings": [*asset.warnings, f"{why}; types taken from sources only"]}
            )
            return _finish_unresolved(noted, why)
        except DgsyncError as exc:
            raise IncompleteAsset(
                asset.key,
                f"analytical $metadata needed for column types could not be read: {exc.message}",
                hint=exc.hint,
            ) from exc

    # -- incremental API ------------------------------------------------------------------
    def known_spaces(self) -> set[str]:
        """Space ids of the catalog (cached; decides cross-space references)."""
        with self._lock:
            if self._known_spaces is None:
                self._known_spaces = {s.name for s in self.client.iter_spaces()}
            return set(self._known_spaces)

    def list_inventory(self, space: str) -> dict[tuple[AssetKind, str], str | None]:
        """``(kind, name) → etag`` of every design-time object of ``space`` (etag ``None``
        when the list carries none). 403 raises :class:`AccessDenied`."""
        out: dict[tuple[AssetKind, str], str | None] = {}
        for kind in self.kinds:
            try:
                items = self.client.list_objects(space, kind)
            except NotFound:
                continue
            for item in items:
                etag = item.get("etag") or item.get("@odata.etag")
                out[(kind, str(item["technicalName"]))] = str(etag) if etag else None
        return out

    def fetch_asset(
        self,
        space: str,
        kind: AssetKind,
        name: str,
        etag: str | None = None,
        *,
        known: Mapping[AssetRef, Asset] | None = None,
    ) -> Versioned[list[Asset]]:
        """One object: :data:`~core.datasphere.client.NOT_MODIFIED` when its ETag still
        matches, else ``[asset]`` (catalog URLs attached) with the new ETag.

        An analytic model is typed exactly as by :meth:`extract`
        (:meth:`type_analytic_model`): ``known`` (cached and fetched assets) serves its
        sources, a source missing from it is read on demand — never typed another way. When
        an input failed this run it raises :class:`~core.errors.IncompleteAsset`: keep the
        model's table as is and read it again next run."""
        got = self.client.read_csn(space, kind, name, etag=etag)
        if got.not_modified or not isinstance(got.value, dict):
            return Versioned(NOT_MODIFIED, got.etag)
        asset = self._parse(got.value, space, kind, name, self.known_spaces() | {space})
        asset = attach_catalog(asset, self.client.catalog_asset(space, name))
        if asset.kind is AssetKind.ANALYTIC_MODEL and _unresolved(asset):
            asset = self.type_analytic_model(asset, known)
        return Versioned([asset], got.etag)


# -- pure helpers (public for tests and the incremental sync) -------------------------------------


def attach_catalog(asset: Asset, catalog: CatalogAsset | None) -> Asset:
    """Attach the catalog's URLs; an asset in the catalog is exposed for consumption."""
    if catalog is None:
        return asset
    business = asset.business.model_copy(update={"exposed": True})
    updated = asset.model_copy(
        update={
            "relational_metadata_url": catalog.relational_metadata_url,
            "analytical_metadata_url": catalog.analytical_metadata_url,
            "business": business,
            "label": asset.label or catalog.label,
        }
    )
    return refingerprint(updated)


def _unresolved(asset: Asset) -> bool:
    return any(c.type.name == UNRESOLVED_TYPE for c in asset.columns)


def apply_metadata(asset: Asset, metadata: str) -> Asset:
    """Fill unresolved column types (and missing labels/roles) from a ``$metadata`` document.

    Only columns still untyped are touched (``type_origin="metadata"``); what the sources
    typed stays. A measure whose ``$metadata`` type is not numeric (:data:`NUMERIC_TYPES`)
    is not taken from it. The rest goes through :func:`_finish_unresolved`."""
    entity = parse_metadata(metadata).main
    measures = {m.name for m in (asset.analytic.measures if asset.analytic else [])}
    by_name: dict[str, Column] = {}
    for col in entity.columns:
        by_name.setdefault(col.name, col)
        by_name.setdefault(_edm_safe(col.name), col)
    columns: list[Column] = []
    for col in asset.columns:
        meta = by_name.get(col.name) or by_name.get(_edm_safe(col.name))
        if (
            meta is not None
            and (col.role is SemanticRole.MEASURE or col.name in measures)
            and meta.type.name not in NUMERIC_TYPES
        ):
            meta = None  # a measure must stay summable: the fallbacks type it instead
        if col.type.name == UNRESOLVED_TYPE and meta is not None:
            update: dict[str, Any] = {
                "type": meta.type,
                "type_origin": "metadata",
                "label": col.label or meta.label,
            }
            if col.role is SemanticRole.ATTRIBUTE and meta.role is not SemanticRole.ATTRIBUTE:
                update["role"] = meta.role
            col = col.model_copy(update=update)
        columns.append(col)
    updated = asset.model_copy(update={"columns": columns})
    return _finish_unresolved(updated, "not in the analytical $metadata")


#: CDS types a measure may have (summable); ``$metadata`` types outside are not taken.
NUMERIC_TYPES: frozenset[str] = frozenset(
    {
        "cds.Integer",
        "cds.Integer64",
        "cds.Int16",
        "cds.Int32",
        "cds.Int64",
        "cds.UInt8",
        "cds.Decimal",
        "cds.DecimalFloat",
        "cds.Double",
        "cds.hana.TINYINT",
        "cds.hana.SMALLINT",
        "cds.hana.SMALLDECIMAL",
        "cds.hana.REAL",
    }
)

#: The type a measure gets when neither its source nor the ``$metadata`` types it:
#: Datasphere's decimal float (mapped to ``decimal(34,4)`` by default) — numeric, so Athena
#: can aggregate it; never ``string``.
ASSUMED_MEASURE_TYPE = CdsType(name="cds.DecimalFloat")


def _finish_unresolved(asset: Asset, why: str) -> Asset:
    """Last resort for columns still untyped, in column order.

    A calculated measure takes the type of the first typed measure its formula names
    (``type_origin="formula:NAME"``); any other measure becomes
    :data:`ASSUMED_MEASURE_TYPE` (``assumed``) with a warning; anything else stays unresolved,
    with a warning. The parse-time note on untyped columns is dropped: the warnings left say
    only what the final asset lacks."""
    analytic_measures = asset.analytic.measures if asset.analytic else []
    measures = {m.name: m for m in analytic_measures}
    typed = {c.name: c for c in asset.columns if c.type.name != UNRESOLVED_TYPE}
    columns: list[Column] = []
    still: list[str] = []
    warnings = [w for w in asset.warnings if not w.startswith(UNTYPED_NOTE)]
    for col in asset.columns:
        if col.type.name == UNRESOLVED_TYPE:
            measure = measures.get(col.name)
            expression = measure.expression if measure else None
            base = next(
                (
                    typed[t]
                    for t in re.findall(r"[A-Za-z_][\w∞]*", expression or "")
                    if t in typed and typed[t].role is SemanticRole.MEASURE
                ),
                None,
            )
            if base is not None:
                col = col.model_copy(
                    update={"type": base.type, "type_origin": f"formula:{base.name}"}
                )
                warnings.append(
                    f"column {col.name!r}: type assumed from measure {base.name!r} ({why})"
                )
            elif measure is not None or col.role is SemanticRole.MEASURE:
                col = col.model_copy(
                    update={"type": ASSUMED_MEASURE_TYPE, "type_origin": "assumed"}
                )
                warnings.append(
                    f"measure {col.name}: type not found in its source or $metadata; "
                    "assumed DecimalFloat"
                )
            else:
                still.append(col.name)
        columns.append(col)
    if still:
        warnings.append(f"column types unresolved ({why}): " + ", ".join(still))
    return refingerprint(asset.model_copy(update={"columns": columns, "warnings": warnings}))


class _Failed:
    """A source read that failed this run (the model using it is incomplete)."""

    __slots__ = ("issue", "key", "reason")

    def __init__(self, key: str, reason: str, issue: ExtractionIssue | None = None) -> None:
        self.key = key
        self.reason = reason
        self.issue = issue


#: Kinds an analytic model's source can be, in the order they are tried when unknown.
_SOURCE_KINDS: tuple[AssetKind, ...] = (
    AssetKind.VIEW,
    AssetKind.LOCAL_TABLE,
    AssetKind.REMOTE_TABLE,
)


class _SourceReader:
    """Source assets for analytic-model typing: given ones first, then on-demand reads.

    Thread-safe; each source is read at most once per reader (and consumer space). A read
    answered 403/404 for every kind means "no such source visible" (``None``); any other
    failure is a :class:`_Failed` — the caller must not type the model another way."""

    def __init__(
        self,
        extractor: Extractor,
        *,
        given: Mapping[AssetRef, Asset],
        kinds: Mapping[str, AssetKind],
        failed: Mapping[str, str],
    ) -> None:
        self._extractor = extractor
        self._given = dict(given)
        self._kinds = dict(kinds)
        self._failed = dict(failed)
        self._lock = threading.Lock()
        self._slots: dict[tuple[AssetRef, str], _Slot] = {}
        self._issues: dict[str, _Failed] = {}

    def get(self, ref: AssetRef, *, consumer: str) -> Asset | _Failed | None:
        if ref in self._given:
            return self._given[ref]
        key = str(ref)
        if key in self._failed:
            return _Failed(key, f"source {key} could not be read this run: {self._failed[key]}")
        with self._lock:
            slot = self._slots.setdefault((ref, consumer), _Slot())
        with slot.lock:
            if not slot.done:
                slot.value = self._read(ref, consumer)
                slot.done = True
                if isinstance(slot.value, _Failed):
                    with self._lock:
                        self._issues[slot.value.reason] = slot.value
            return slot.value

    def issues(self) -> dict[str, ExtractionIssue]:
        """``SPACE.NAME`` → issue of every on-demand source read that failed (each one made a
        model incomplete: a source is only read when a model needs it)."""
        with self._lock:
            return {f.key: f.issue for f in self._issues.values() if f.issue is not None}

    def _read(self, ref: AssetRef, consumer: str) -> Asset | _Failed | None:
        key = str(ref)
        known = self._extractor.known_spaces() | {ref.space, consumer}
        kind = self._kinds.get(key)
        kinds = (kind,) if kind is not None else _SOURCE_KINDS
        # The owner space first; an object shared into the consumer space is also listed
        # (and readable) there under ``OWNER.NAME``.
        places = [(ref.space, ref.name)]
        if ref.space != consumer:
            places.append((consumer, key))
        client = self._extractor.client
        for space, name in places:
            for k in kinds:
                try:
                    got = client.read_csn(space, k, name)
                except NotFound:
                    continue
                except AccessDenied:
                    break  # this space is not visible: try the next place
                except AuthError:
                    raise
                except DgsyncError as exc:
                    return self._failure(key, space, k, exc)
                if not isinstance(got.value, dict):
                    continue
                try:
                    return self._extractor._parse(got.value, space, k, name, known)
                except DgsyncError as exc:
                    return self._failure(key, space, k, exc)
        return None

    @staticmethod
    def _failure(key: str, space: str, kind: AssetKind, exc: DgsyncError) -> _Failed:
        issue = ExtractionIssue.from_error(exc, space=space, name=key.split(".", 1)[1], kind=kind)
        return _Failed(key, f"source {key} could not be read: {exc.message}", issue)


class _Slot:
    __slots__ = ("done", "lock", "value")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.value: Asset | _Failed | None = None


def _diff_stats(
    after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for route, row in after.items():
        prev = before.get(route, {})
        diff = {k: v - prev.get(k, 0) for k, v in row.items()}
        if any(diff.values()):
            out[route] = diff
    return out
