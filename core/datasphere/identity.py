"""One identity per object: the single rule that decides what a dotted name means.

A CSN name such as ``D8D90336A0E24D678F9D.3VD_EMPLOYEE_CSRD_ATTR_VIEW`` or
``SAP.TIME.VIEW_DIMENSION_DAY`` is either ``<SPACE>.<NAME>`` (an object of another space) or a
name inside the current space whose dots are a namespace. Space ids are ``[A-Z0-9_]{1,20}``
and carry no dot, so only the first segment can ever be a space. The prefix is a space when

1. the document at hand has a ``kind: context`` definition for it carrying
   ``@DataWarehouse.space.name`` (the context stands for that space);
2. otherwise, when the document at hand describes it as a plain namespace (a ``kind: context``
   definition *without* a space name, e.g. ``SAP`` / ``SAP.TIME`` in ``ER_MCT_MEDIUM.json``),
   it is **not** a space: the whole dotted string is one name in the current space;
3. otherwise, when any document read in this run described it as a space context;
4. otherwise, when it is a catalog space or a space the tenant answered 403/404 for in this
   run (:meth:`SpaceDirectory.add_invisible`) — and it is not the current space;
5. otherwise, when it looks like a space id (``[A-Z0-9_]{1,20}``) and the directory has a
   ``probe`` (the extractor asks the tenant once per prefix and run: a design-time list of
   that space answering 403 means "a space this user cannot see"; 404 means "no space").

Everything else is a namespaced name of the current space. :class:`SpaceDirectory` holds the
run-wide knowledge (thread-safe: the extractor learns contexts from documents read in
parallel); :class:`DocumentResolver` adds what one document says about its own contexts.
Pure: no I/O.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from core.models import AssetRef

#: Annotation of a ``kind: context`` definition that stands for a space.
SPACE_ANNOTATION = "@DataWarehouse.space.name"
#: What a space id looks like (datasphere-api.md §3).
SPACE_ID = re.compile(r"[A-Z0-9_]{1,20}")

#: ``probe(prefix)`` → why the tenant says ``prefix`` is a space nobody may read (e.g.
#: ``"not a member (403)"``), ``""`` for a readable space, ``None`` when it is no space.
Probe = Callable[[str], "str | None"]


def _contexts(doc: Mapping[str, Any]) -> tuple[dict[str, str], set[str]]:
    spaces: dict[str, str] = {}
    namespaces: set[str] = set()
    defs = doc.get("definitions") if isinstance(doc, Mapping) else None
    if not isinstance(defs, dict):
        return spaces, namespaces
    for name, body in defs.items():
        if not isinstance(body, dict) or body.get("kind") != "context":
            continue
        space = body.get(SPACE_ANNOTATION)
        if isinstance(space, str) and space:
            spaces[str(name)] = space
        else:
            namespaces.add(str(name))
    return spaces, namespaces


def space_contexts(doc: Mapping[str, Any]) -> dict[str, str]:
    """Context definitions of ``doc`` that stand for a space: context name → space id."""
    return _contexts(doc)[0]


def namespace_contexts(doc: Mapping[str, Any]) -> set[str]:
    """Context definitions of ``doc`` that are plain namespaces (no space name)."""
    return _contexts(doc)[1]


class SpaceDirectory:
    """What this run knows about spaces: catalog spaces, spaces the tenant refused (403/404)
    and space contexts learned from any document read. Thread-safe."""

    def __init__(
        self,
        catalog: Iterable[str] = (),
        *,
        invisible: Mapping[str, str] | None = None,
        contexts: Mapping[str, str] | None = None,
        probe: Probe | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._catalog: set[str] = set(catalog)
        self._invisible: dict[str, str] = dict(invisible or {})
        self._contexts: dict[str, str] = dict(contexts or {})
        self._probe = probe
        self._not_spaces: set[str] = set()

    # -- learning ---------------------------------------------------------------------------
    def add_catalog(self, spaces: Iterable[str]) -> None:
        with self._lock:
            self._catalog.update(spaces)

    def add_invisible(self, space: str, reason: str) -> None:
        """A space the tenant answered 403/404 for: still a space, but not readable."""
        with self._lock:
            self._invisible.setdefault(space, reason)

    def learn(self, doc: Mapping[str, Any]) -> dict[str, str]:
        """Remember the space contexts of ``doc``; returns them."""
        found = space_contexts(doc)
        if found:
            with self._lock:
                for name, space in found.items():
                    self._contexts.setdefault(name, space)
        return found

    # -- asking -----------------------------------------------------------------------------
    @property
    def catalog(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._catalog)

    @property
    def invisible(self) -> dict[str, str]:
        """Space → why it is not visible (``not in the catalog``, ``403``...)."""
        with self._lock:
            return dict(self._invisible)

    @property
    def contexts(self) -> dict[str, str]:
        with self._lock:
            return dict(self._contexts)

    def is_space(self, prefix: str) -> bool:
        with self._lock:
            return (
                prefix in self._catalog
                or prefix in self._invisible
                or prefix in self._contexts.values()
            )

    def is_visible(self, space: str) -> bool:
        """In the catalog and not refused (403/404) in this run."""
        with self._lock:
            return space in self._catalog and space not in self._invisible

    def visibility(self, space: str) -> str | None:
        """``None`` when ``space`` is visible, else why not."""
        with self._lock:
            if space in self._invisible:
                return self._invisible[space]
            if space not in self._catalog:
                return "not in the catalog"
            return None

    def resolve(
        self,
        name: str,
        *,
        space: str,
        doc_spaces: Mapping[str, str] | None = None,
        doc_namespaces: Collection[str] = (),
        probe: bool = True,
    ) -> AssetRef:
        """The identity of ``name`` seen from ``space`` (see the module docstring).
        ``probe=False``: decide with what is known, never ask the tenant."""
        prefix, dot, rest = name.partition(".")
        if not dot or not rest or not prefix:
            return AssetRef(space=space, name=name)
        if doc_spaces and prefix in doc_spaces:
            return AssetRef(space=doc_spaces[prefix], name=rest)
        if prefix in doc_namespaces:
            return AssetRef(space=space, name=name)
        with self._lock:
            if prefix in self._contexts:
                return AssetRef(space=self._contexts[prefix], name=rest)
            if prefix == space:
                return AssetRef(space=space, name=name)
            if prefix in self._catalog or prefix in self._invisible:
                return AssetRef(space=prefix, name=rest)
            unknown = prefix not in self._not_spaces
        ask = probe and unknown and self._probe is not None and SPACE_ID.fullmatch(prefix)
        if ask and self._ask(prefix):
            return AssetRef(space=prefix, name=rest)
        return AssetRef(space=space, name=name)

    def _ask(self, prefix: str) -> bool:
        assert self._probe is not None
        why = self._probe(prefix)
        with self._lock:
            if why is None:
                self._not_spaces.add(prefix)
                return False
            if why:
                self._invisible.setdefault(prefix, why)
            else:
                self._catalog.add(prefix)
            return True

    def for_document(self, doc: Mapping[str, Any], space: str) -> DocumentResolver:
        return DocumentResolver(self, doc, space)


class DocumentResolver:
    """:meth:`SpaceDirectory.resolve` for names seen in one document of one space."""

    def __init__(self, directory: SpaceDirectory, doc: Mapping[str, Any], space: str) -> None:
        self.directory = directory
        self.space = space
        self.doc_spaces, self.doc_namespaces = _contexts(doc)

    def ref(self, name: str) -> AssetRef:
        return self.directory.resolve(
            name,
            space=self.space,
            doc_spaces=self.doc_spaces,
            doc_namespaces=self.doc_namespaces,
        )

    def is_foreign(self, name: str) -> bool:
        return self.ref(name).space != self.space


class TenantFacts:
    """What one connection learned about its tenant, shared by every extractor that uses it
    (the sync engine extracts space by space with one client per run): space contexts seen in
    documents, and the kinds already reported as not offered (one warning per run).
    Refused spaces are not kept here: permissions may change between runs. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._contexts: dict[str, str] = {}
        self._warned: set[str] = set()
        self._probed: dict[str, str | None] = {}

    def contexts(self) -> dict[str, str]:
        with self._lock:
            return dict(self._contexts)

    def learn_contexts(self, contexts: Mapping[str, str]) -> None:
        with self._lock:
            for name, space in contexts.items():
                self._contexts.setdefault(name, space)

    def is_not_offered(self, kind: str) -> bool:
        with self._lock:
            return kind in self._warned

    def first_not_offered(self, kind: str) -> bool:
        """True the first time ``kind`` is reported as not offered, then False."""
        with self._lock:
            if kind in self._warned:
                return False
            self._warned.add(kind)
            return True

    def probed(self, prefix: str) -> tuple[bool, str | None]:
        """``(True, answer)`` when ``prefix`` was probed before (see :data:`Probe`)."""
        with self._lock:
            if prefix in self._probed:
                return True, self._probed[prefix]
            return False, None

    def remember_probe(self, prefix: str, answer: str | None) -> None:
        with self._lock:
            self._probed[prefix] = answer
