"""Resolution and identity glue of the CSN parser: the definitions of a document, the
slice and hash of one definition, reference resolution through
:mod:`core.datasphere.identity`, and :class:`ParserState` (a validated document with its
:class:`~core.datasphere.identity.DocumentResolver`), the base of every parser stage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.datasphere.csn.values import FLOW_ROOTS
from core.datasphere.identity import DocumentResolver, SpaceDirectory
from core.errors import CsnError
from core.models import AssetKind, AssetRef, content_hash


def _all_definitions(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``definitions`` merged with the flow root keys (``dataflows``, ``taskchains``...)."""
    out: dict[str, Any] = {}
    for root in ("definitions", *FLOW_ROOTS):
        value = doc.get(root)
        if isinstance(value, dict):
            for name, body in value.items():
                out.setdefault(str(name), body)
    return out


def csn_slice(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The part of ``doc`` that belongs to definition ``name``: its definition (under the root
    key it came in) and its ``businessLayerDefinitions`` entry (input of ``Asset.source_hash``)."""
    root = next(
        (
            r
            for r in ("definitions", *FLOW_ROOTS)
            if isinstance(doc.get(r), dict) and name in doc[r]
        ),
        "definitions",
    )
    out: dict[str, Any] = {root: {name: doc.get(root, {}).get(name)}}
    bld = doc.get("businessLayerDefinitions")
    if isinstance(bld, dict) and name in bld:
        out["businessLayerDefinitions"] = {name: bld[name]}
    return out


def source_hash(doc: Mapping[str, Any], name: str) -> str:
    """``content_hash`` of :func:`csn_slice` (volatile keys such as ``_meta`` excluded)."""
    return content_hash(csn_slice(doc, name))


# -- reference resolution -----------------------------------------------------------------


def resolve_reference(
    name: str,
    *,
    space: str,
    known_spaces: Iterable[str],
    space_contexts: Mapping[str, str] | None = None,
    directory: SpaceDirectory | None = None,
) -> AssetRef:
    """Resolve a CSN reference seen in ``space`` to an :class:`AssetRef` (the rule of
    :mod:`core.datasphere.identity`).

    ``space_contexts`` maps context names of the document at hand to the space they stand
    for (contexts carrying ``@DataWarehouse.space.name``); ``directory`` is the run-wide
    knowledge (else one built from ``known_spaces``)."""
    spaces = directory or SpaceDirectory(known_spaces)
    if directory is not None:
        spaces.add_catalog(known_spaces)
    return spaces.resolve(name, space=space, doc_spaces=dict(space_contexts or {}))


class ParserState:
    """A validated CSN document of one space and the resolver of its dotted names."""

    def __init__(
        self,
        doc: Mapping[str, Any],
        *,
        space: str,
        known_spaces: Iterable[str],
        kind_hint: AssetKind | None,
        directory: SpaceDirectory | None = None,
    ) -> None:
        if not isinstance(doc, Mapping):
            raise CsnError(
                f"CSN document for space {space} is a {type(doc).__name__}, not an object"
            )
        roots = [key for key in ("definitions", *FLOW_ROOTS) if key in doc]
        if not roots or any(not isinstance(doc[key], dict) for key in roots):
            raise CsnError(
                f"CSN document for space {space} has no 'definitions' object",
                hint="The design-time read did not return CSN; check the object in Datasphere.",
            )
        defs = _all_definitions(doc)
        for name, body in defs.items():
            if not isinstance(body, dict):
                raise CsnError(
                    f"{space}.{name}: definition is a {type(body).__name__}, not an object"
                )
        bld = doc.get("businessLayerDefinitions", {})
        if bld is None:
            bld = {}
        if not isinstance(bld, dict):
            raise CsnError(
                f"CSN document for space {space}: 'businessLayerDefinitions' is not an object"
            )
        self.doc = doc
        self.defs: dict[str, dict[str, Any]] = defs
        self.bld: dict[str, Any] = bld
        self.space = space
        self.kind_hint = kind_hint
        if directory is None:
            directory = SpaceDirectory(known_spaces)
        else:
            directory.add_catalog(known_spaces)
        self.resolver: DocumentResolver = directory.for_document(doc, space)
