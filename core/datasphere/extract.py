"""Extraction: everything the client can see in the tenant, as domain assets.

:meth:`Extractor.extract` runs

1. the catalog's spaces (and the space filter);
2. per space, the design-time lists of every object kind and the space's catalog assets —
   a space answering 403 is skipped and reported, the run goes on; a kind whose list answers
   404 is "not offered by this tenant" (one warning per run, counts as listed, not an error);
   ``listings`` says which kinds were fully listed per space;
3. one CSN read per object, in parallel (``concurrency`` threads) — except objects a consumer
   lists under a visible owner (``OWNER.NAME``: the owner has them) — then, once every
   document's contexts are known, parsed by :func:`core.datasphere.csn.parse_csn` with one
   :class:`~core.datasphere.identity.SpaceDirectory` — a bad object is reported, the run goes
   on. An object that belongs to another space is never in ``assets``: it is reported in
   ``shared`` (and, when its owner is invisible, ``lineage_only`` / ``lineage_assets``);
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

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

from pydantic import ValidationError

from core.datasphere.analytic_types import (
    ASSUMED_MEASURE_TYPE,
    NUMERIC_TYPES,
    Failed,
    SourceReader,
    apply_metadata,
    finish_unresolved,
    unresolved,
)
from core.datasphere.client import NOT_MODIFIED, CatalogAsset, DatasphereClient, Versioned
from core.datasphere.csn import parse_csn, resolve_analytic_types
from core.datasphere.extract_results import (
    ExtractionIssue,
    ExtractionResult,
    Listing,
    attach_catalog,
    diff_stats,
    shared_reason,
)
from core.datasphere.identity import SpaceDirectory
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
from core.models import DESIGN_TIME_SEGMENTS, Asset, AssetKind, AssetRef, Space

__all__ = [
    "ALL_KINDS",
    "ASSUMED_MEASURE_TYPE",
    "NUMERIC_TYPES",
    "ExtractionIssue",
    "ExtractionResult",
    "Extractor",
    "ProgressCallback",
    "apply_metadata",
    "attach_catalog",
]

log = get_logger(__name__)

#: ``progress(done, total)`` — called as objects are read; ``total`` is known once listed.
ProgressCallback = Callable[[int, int | None], None]

ALL_KINDS: tuple[AssetKind, ...] = tuple(DESIGN_TIME_SEGMENTS)


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
        self._directory: SpaceDirectory | None = None
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
        directory = SpaceDirectory(
            labels, contexts=self.client.facts.contexts(), probe=self._probe_space
        )
        with self._lock:
            self._known_spaces = set(labels)
            self._directory = directory
        selected = self.spaces or [s.name for s in catalog_spaces]

        with ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="dgsync-extract"
        ) as pool:
            futures = {
                space: pool.submit(copy_context(), self._list_space, space) for space in selected
            }
            listed: list[tuple[str, AssetKind, str]] = []
            catalogs: dict[str, dict[str, CatalogAsset]] = {}
            not_offered: set[AssetKind] = set()
            for space, future in futures.items():
                listing = future.result()
                result.errors.update(listing.issues)
                if listing.skipped is not None:
                    result.skipped_spaces[space] = listing.skipped
                    directory.add_invisible(space, listing.skipped.split(":", 1)[0])
                    log.warning("space skipped", extra={"space": space, "reason": listing.skipped})
                    continue
                directory.add_catalog([space])  # listable: visible even if not in the catalog
                result.spaces.append(Space(name=space, label=labels.get(space)))
                result.listings[space] = [k.value for k in listing.listed]
                not_offered.update(listing.not_offered)
                catalogs[space] = listing.catalog
                listed.extend((space, kind, name) for kind, name in listing.names)
            result.not_offered = sorted(k.value for k in not_offered)

            # Objects a consumer lists under an owner known to be visible: the owner syncs them.
            tasks: list[tuple[str, AssetKind, str]] = []
            for space, kind, name in sorted(listed, key=lambda t: (t[0], t[2], t[1])):
                ref = directory.resolve(name, space=space, probe=False)  # unknown: read it
                if ref.space != space and directory.is_visible(ref.space):
                    result.shared.setdefault(str(ref), shared_reason(space, ref.space, None))
                else:
                    tasks.append((space, kind, name))

            total = len(tasks)
            if progress:
                progress(0, total)
            reads: dict[Future[Versioned[dict[str, Any]]], tuple[str, AssetKind, str]] = {
                pool.submit(
                    copy_context(),
                    self.client.read_csn,
                    space,
                    kind,
                    name,
                    known_etags.get(f"{space}.{name}"),
                ): (space, kind, name)
                for space, kind, name in tasks
            }
            docs: list[tuple[str, AssetKind, str, dict[str, Any]]] = []
            for done, future in enumerate(as_completed(reads), start=1):
                space, kind, name = reads[future]
                key = f"{space}.{name}"
                try:
                    got = future.result()
                    if got.not_modified or not isinstance(got.value, dict):
                        result.unchanged[key] = kind
                        if got.etag:
                            result.etags[key] = got.etag
                    else:
                        directory.learn(got.value)
                        docs.append((space, kind, name, got.value))
                        if got.etag:
                            result.etags[key] = got.etag
                except AuthError:
                    for other in reads:
                        other.cancel()
                    raise
                except DgsyncError as exc:
                    self._issue(result, exc, space, kind, name)
                if progress:
                    progress(done, total)

            # Every document is read: its contexts are known, so identities are final.
            self.client.facts.learn_contexts(directory.contexts)
            assets: list[Asset] = []
            lineage: dict[AssetRef, Asset] = {}
            for space, kind, name, doc in sorted(docs, key=lambda d: (d[0], d[2], d[1])):
                try:
                    asset = self._parse(doc, space, kind, name, set(), directory)
                except DgsyncError as exc:
                    self._issue(result, exc, space, kind, name)
                    continue
                if asset.space == space:
                    assets.append(attach_catalog(asset, catalogs[space].get(name)))
                    continue
                result.etags.pop(f"{space}.{name}", None)
                why = directory.visibility(asset.space)
                result.shared.setdefault(str(asset.ref), shared_reason(space, asset.space, why))
                if why is not None:
                    result.lineage_only.setdefault(str(asset.ref), f"space {asset.space}: {why}")
                    lineage.setdefault(asset.ref, asset)

            own = {a.ref for a in assets}
            # lineage assets serve as analytic-model sources; they are never typed or written
            result.lineage_assets = sorted(
                (a for r, a in lineage.items() if r not in own), key=lambda a: (a.space, a.name)
            )
            resolved = self._resolve_analytic_models(assets, pool, result)
        result.assets = sorted(resolved, key=lambda a: (a.space, a.name))
        result.stats = diff_stats(self.client.stats.snapshot(), before)
        result.duration_s = time.monotonic() - started
        log.info(
            "extraction finished",
            extra={
                "assets": len(result.assets),
                "spaces": len(result.spaces),
                "skipped_spaces": len(result.skipped_spaces),
                "shared": len(result.shared),
                "lineage_only": len(result.lineage_only),
                "errors": len(result.errors),
                "duration_s": round(result.duration_s, 3),
            },
        )
        return result

    @staticmethod
    def _issue(
        result: ExtractionResult, exc: DgsyncError, space: str, kind: AssetKind, name: str
    ) -> None:
        result.errors[f"{space}.{name}"] = ExtractionIssue.from_error(
            exc, space=space, name=name, kind=kind
        )
        log.warning(
            "asset not extracted",
            extra={"space": space, "asset": name, "error": exc.message},
        )

    def _probe_space(self, prefix: str) -> str | None:
        """Ask the tenant whether ``prefix`` is a space (once per prefix and client)."""
        known, answer = self.client.facts.probed(prefix)
        if known:
            return answer
        offered = [k for k in self.kinds if not self.client.facts.is_not_offered(k.value)]
        try:
            answer = self.client.probe_space(prefix, offered)
        except AuthError:
            raise
        except DgsyncError as exc:
            log.warning(
                "could not tell whether a name prefix is a space; taken as a namespace",
                extra={"prefix": prefix, "error": exc.message},
            )
            return None
        self.client.facts.remember_probe(prefix, answer)
        return answer

    def _not_offered(self, kind: AssetKind) -> None:
        """Log, once per client (one run, every extractor on it), that the tenant does not
        offer ``kind``'s list."""
        if not self.client.facts.first_not_offered(kind.value):
            return
        log.warning(
            "object kind not offered by this tenant",
            extra={
                "kind": kind.value,
                "segment": DESIGN_TIME_SEGMENTS[kind],
                "hint": "The tenant answers 404 for this design-time list; its objects are "
                "not extracted. Nothing to do unless the tenant should offer it.",
            },
        )

    def _list_space(self, space: str) -> Listing:
        names: list[tuple[AssetKind, str]] = []
        issues: dict[str, ExtractionIssue] = {}
        listed: list[AssetKind] = []
        not_found: list[AssetKind] = []
        for kind in self.kinds:
            try:
                names.extend((kind, n) for n in self.client.list_names(space, kind))
                listed.append(kind)
            except AccessDenied as exc:
                return Listing.skip(f"not a member (403): {exc.message}")
            except NotFound:
                not_found.append(kind)
            except AuthError:
                raise
            except DgsyncError as exc:
                issues[f"{space}/{DESIGN_TIME_SEGMENTS[kind]}"] = ExtractionIssue.from_error(
                    exc, space=space, kind=kind
                )
        if len(not_found) == len(self.kinds):
            return Listing.skip("not found (404): the space does not exist or is not visible")
        for kind in not_found:
            self._not_offered(kind)
        catalog: dict[str, CatalogAsset] = {}
        try:
            catalog = {a.name: a for a in self.client.iter_assets(space)}
        except AccessDenied as exc:
            return Listing.skip(f"not a member (403): {exc.message}", issues)
        except AuthError:
            raise
        except DgsyncError as exc:
            issues[f"{space}/catalog"] = ExtractionIssue.from_error(exc, space=space)
        fully = [k for k in self.kinds if k in listed or k in not_found]
        return Listing(names, catalog, None, issues, fully, not_found)

    def _parse(
        self,
        doc: dict[str, Any],
        space: str,
        kind: AssetKind,
        name: str,
        known: set[str],
        directory: SpaceDirectory | None = None,
    ) -> Asset:
        try:
            parsed = parse_csn(
                doc,
                space=space,
                known_spaces=known,
                kind_hint=kind,
                name=name,
                directory=directory or self.directory(),
            )
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
        reader = SourceReader(self, given=given, kinds=dict(result.unchanged), failed=failed)
        no_catalog = {key.split("/", 1)[0] for key in result.errors if key.endswith("/catalog")}
        pending: dict[AssetRef, Future[Asset]] = {
            a.ref: pool.submit(
                copy_context(),
                self._type_model,
                a,
                reader,
                a.space in no_catalog,
            )
            for a in assets
            if a.kind is AssetKind.ANALYTIC_MODEL and unresolved(a)
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
        reader = SourceReader(self, given=dict(known or {}), kinds={}, failed={})
        return self._type_model(asset, reader, False)

    def _type_model(self, asset: Asset, reader: SourceReader, no_catalog: bool) -> Asset:
        failures: list[str] = []

        def lookup(ref: AssetRef) -> Asset | None:
            got = reader.get(ref, consumer=asset.space)
            if isinstance(got, Failed):
                failures.append(got.reason)
                return None
            return got

        resolved = resolve_analytic_types(asset, lookup)
        if failures:
            raise IncompleteAsset(asset.key, "; ".join(dict.fromkeys(failures)))
        if not unresolved(resolved):
            return finish_unresolved(resolved, "")
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
        :func:`finish_unresolved`, with a warning. Any other failure raises
        :class:`~core.errors.IncompleteAsset` (never a degraded asset)."""
        url = asset.analytical_metadata_url
        if not url:
            return finish_unresolved(
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
            return finish_unresolved(noted, why)
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

    def directory(self) -> SpaceDirectory:
        """The run's :class:`SpaceDirectory` (catalog spaces, refused spaces, space contexts
        learned from every document read by this extractor)."""
        spaces = self.known_spaces()
        with self._lock:
            if self._directory is None:
                self._directory = SpaceDirectory(
                    spaces, contexts=self.client.facts.contexts(), probe=self._probe_space
                )
            return self._directory

    def identity(self, space: str, name: str) -> AssetRef:
        """The identity of an object listed by ``space`` as ``name`` (``OWNER.NAME`` of a
        shared object resolves to its owner), with what this extractor knows so far."""
        return self.directory().resolve(name, space=space)

    def list_inventory(self, space: str) -> dict[tuple[AssetKind, str], str | None]:
        """``(kind, name) → etag`` of every design-time object ``space`` owns (etag ``None``
        when the list carries none). Objects listed under a visible owner space
        (``OWNER.NAME``) are left out: the owner has them. A kind the tenant answers 404 for
        is not offered (one warning per extractor) and lists as empty. 403 raises
        :class:`AccessDenied`."""
        directory = self.directory()
        out: dict[tuple[AssetKind, str], str | None] = {}
        for kind in self.kinds:
            try:
                items = self.client.list_objects(space, kind)
            except NotFound:
                self._not_offered(kind)
                continue
            for item in items:
                name = str(item["technicalName"])
                ref = directory.resolve(name, space=space, probe=False)
                if ref.space != space and directory.is_visible(ref.space):
                    continue
                etag = item.get("etag") or item.get("@odata.etag")
                out[(kind, name)] = str(etag) if etag else None
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
        matches, else ``[asset]`` (catalog URLs attached) with the new ETag — or ``[]`` when
        the object turns out to be owned by another space (a shared object listed by
        ``space``).

        An analytic model is typed exactly as by :meth:`extract`
        (:meth:`type_analytic_model`): ``known`` (cached and fetched assets) serves its
        sources, a source missing from it is read on demand — never typed another way. When
        an input failed this run it raises :class:`~core.errors.IncompleteAsset`: keep the
        model's table as is and read it again next run."""
        got = self.client.read_csn(space, kind, name, etag=etag)
        if got.not_modified or not isinstance(got.value, dict):
            return Versioned(NOT_MODIFIED, got.etag)
        directory = self.directory()
        self.client.facts.learn_contexts(directory.learn(got.value))
        asset = self._parse(got.value, space, kind, name, {space}, directory)
        if asset.space != space:
            return Versioned([], got.etag)
        asset = attach_catalog(asset, self.client.catalog_asset(space, name))
        if asset.kind is AssetKind.ANALYTIC_MODEL and unresolved(asset):
            asset = self.type_analytic_model(asset, known)
        return Versioned([asset], got.etag)
