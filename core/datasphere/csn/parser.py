"""The CSN parser's entry point: :func:`parse_csn` runs :class:`CsnParser` (every stage)
over one document."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.datasphere.csn.entities import EntityParser
from core.datasphere.csn.flows import FlowParser
from core.datasphere.csn.values import FLOW_KINDS
from core.datasphere.identity import SpaceDirectory
from core.errors import CsnError
from core.models import Asset, AssetKind


class CsnParser(EntityParser, FlowParser):
    """Every parser stage over one document: :meth:`parse` returns its assets."""

    def parse(self, only: str | None) -> list[Asset]:
        if only is not None and only not in self.defs:
            raise CsnError(
                f"{self.space}.{only}: the CSN document does not define {only!r}",
                hint="The design-time read returned another object; check the technical name.",
            )
        assets: list[Asset] = []
        names = [only] if only is not None else list(self.defs)
        for name in names:
            body = self.defs[name]
            kind = body.get("kind")
            if only is None and self.resolver.is_foreign(name):
                continue  # another space's object, carried for reference only
            if kind == "entity":
                assets.append(self._entity(name, body, self.kind_hint))
            elif kind in FLOW_KINDS:
                assets.append(self._flow(name, body))
            elif only is not None:
                raise CsnError(f"{self.space}.{name}: unsupported definition kind {kind!r}")
        return assets


def parse_csn(
    doc: Mapping[str, Any],
    *,
    space: str,
    known_spaces: set[str] | frozenset[str] | Iterable[str] = frozenset(),
    kind_hint: AssetKind | None = None,
    name: str | None = None,
    directory: SpaceDirectory | None = None,
) -> list[Asset]:
    """Parse a CSN document into the assets of ``space``.

    ``known_spaces`` and ``directory`` (the run-wide :class:`SpaceDirectory`: catalog
    spaces, refused spaces, space contexts of every document read) decide cross-space
    references (:mod:`core.datasphere.identity`). With ``name``, the one definition is
    returned even when it belongs to another space (a shared object listed by a consumer:
    its ``space`` is the owner's).
    ``kind_hint`` (from the design-time list the object came from) wins over kind detection.
    ``name`` restricts the result to that one definition (a design-time read may carry its
    sources' definitions too). Raises :class:`CsnError` on malformed input.
    """
    parser = CsnParser(
        doc, space=space, known_spaces=known_spaces, kind_hint=kind_hint, directory=directory
    )
    return parser.parse(name)
