"""The scope of a plan or sync from a form, validated against the tenant (framework-free).

An unknown space never reaches the engine: a typo (``sales`` for ``SALES``) would plan nothing
and look like success. :func:`parse_scope` raises :class:`~core.errors.NotFound` naming the
known spaces (and the one meant, when only the case differs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from core.errors import MappingError, NotFound
from core.models import AssetKind, Priority


@dataclass(frozen=True)
class Scope:
    spaces: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    priority: Priority | None = None

    def label(self) -> str:
        parts = [", ".join(self.spaces) or "all spaces", ", ".join(self.kinds) or "all kinds"]
        if self.priority:
            parts.append(f"priority {self.priority.value}")
        return " · ".join(parts)


def split_spaces(text: str) -> list[str]:
    """``"SALES, HR  FINANCE"`` → ``["SALES", "HR", "FINANCE"]`` (commas or blanks; no duplicates)."""
    out: list[str] = []
    for part in text.replace(",", " ").split():
        if part not in out:
            out.append(part)
    return out


def parse_scope(
    spaces_text: str, kinds: Iterable[str], priority: str, *, known_spaces: Iterable[str]
) -> Scope:
    """The validated scope; raises ``NotFound`` (unknown space) or ``MappingError`` (kind, priority)."""
    known = sorted(known_spaces)
    spaces = split_spaces(spaces_text)
    unknown = [s for s in spaces if s not in known]
    if unknown:
        by_upper = {k.upper(): k for k in known}
        meant = [by_upper[s.upper()] for s in unknown if s.upper() in by_upper]
        hint = f"Known spaces: {', '.join(known) or '(none)'}."
        if meant:
            hint = f"Space ids are case-sensitive: did you mean {', '.join(meant)}? " + hint
        raise NotFound(
            f"no space {', '.join(repr(s) for s in unknown)} in the tenant", hint=hint
        )
    chosen_kinds = [k for k in kinds if k]
    valid_kinds = {k.value for k in AssetKind}
    bad = [k for k in chosen_kinds if k not in valid_kinds]
    if bad:
        raise MappingError(
            f"unknown asset kind {', '.join(repr(k) for k in bad)}",
            hint=f"Pick from: {', '.join(sorted(valid_kinds))}.",
        )
    level: Priority | None = None
    if priority:
        try:
            level = Priority(priority)
        except ValueError:
            raise MappingError(
                f"unknown priority {priority!r}",
                hint=f"Pick from: {', '.join(p.value for p in Priority)}.",
            ) from None
    return Scope(spaces=spaces, kinds=chosen_kinds, priority=level)
