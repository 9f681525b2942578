"""Analytic-model column typing of an extraction: the analytical ``$metadata``
(:func:`apply_metadata`), the last-resort fallbacks (:func:`finish_unresolved`) and the
on-demand reader of source assets (:class:`SourceReader`)."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.datasphere.csn import UNRESOLVED_TYPE, UNTYPED_NOTE, refingerprint
from core.datasphere.edmx import parse_metadata
from core.datasphere.extract_results import ExtractionIssue
from core.errors import AccessDenied, AuthError, DgsyncError, NotFound
from core.models import Asset, AssetKind, AssetRef, CdsType, Column, SemanticRole

if TYPE_CHECKING:
    from core.datasphere.extract import Extractor


def _edm_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def unresolved(asset: Asset) -> bool:
    return any(c.type.name == UNRESOLVED_TYPE for c in asset.columns)


def apply_metadata(asset: Asset, metadata: str) -> Asset:
    """Fill unresolved column types (and missing labels/roles) from a ``$metadata`` document.

    Only columns still untyped are touched (``type_origin="metadata"``); what the sources
    typed stays. A measure whose ``$metadata`` type is not numeric (:data:`NUMERIC_TYPES`)
    is not taken from it. The rest goes through :func:`finish_unresolved`."""
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
    return finish_unresolved(updated, "not in the analytical $metadata")


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


def finish_unresolved(asset: Asset, why: str) -> Asset:
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


class Failed:
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


class SourceReader:
    """Source assets for analytic-model typing: given ones first, then on-demand reads.

    Thread-safe; each source is read at most once per reader (and consumer space). A read
    answered 403/404 for every kind means "no such source visible" (``None``); any other
    failure is a :class:`Failed` — the caller must not type the model another way."""

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
        self._issues: dict[str, Failed] = {}

    def get(self, ref: AssetRef, *, consumer: str) -> Asset | Failed | None:
        if ref in self._given:
            return self._given[ref]
        key = str(ref)
        if key in self._failed:
            return Failed(key, f"source {key} could not be read this run: {self._failed[key]}")
        with self._lock:
            slot = self._slots.setdefault((ref, consumer), _Slot())
        with slot.lock:
            if not slot.done:
                slot.value = self._read(ref, consumer)
                slot.done = True
                if isinstance(slot.value, Failed):
                    with self._lock:
                        self._issues[slot.value.reason] = slot.value
            return slot.value

    def issues(self) -> dict[str, ExtractionIssue]:
        """``SPACE.NAME`` → issue of every on-demand source read that failed (each one made a
        model incomplete: a source is only read when a model needs it)."""
        with self._lock:
            return {f.key: f.issue for f in self._issues.values() if f.issue is not None}

    def _read(self, ref: AssetRef, consumer: str) -> Asset | Failed | None:
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
    def _failure(key: str, space: str, kind: AssetKind, exc: DgsyncError) -> Failed:
        issue = ExtractionIssue.from_error(exc, space=space, name=key.split(".", 1)[1], kind=kind)
        return Failed(key, f"source {key} could not be read: {exc.message}", issue)


class _Slot:
    __slots__ = ("done", "lock", "value")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.value: Asset | Failed | None = None
