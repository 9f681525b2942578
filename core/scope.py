"""Space ids typed by a person, checked against the tenant before any work starts.

An unknown space never reaches the engine: a typo (``sales`` for ``SALES``) would plan nothing
and look like success. :func:`check_spaces` raises :class:`~core.errors.NotFound` naming the
known spaces (and the one meant, when only the case differs). Framework-free; Wolf's guided
flow uses it (Dog has the same rule in ``dog_flask/scope.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import NotFound


def split_spaces(text: str) -> list[str]:
    """``"SALES, HR  FINANCE"`` → ``["SALES", "HR", "FINANCE"]`` (commas or blanks; no duplicates)."""
    out: list[str] = []
    for part in text.replace(",", " ").split():
        if part not in out:
            out.append(part)
    return out


def check_spaces(spaces: Iterable[str], known_spaces: Iterable[str]) -> list[str]:
    """``spaces`` when every one is a known space id; else :class:`NotFound` with the fix."""
    known = sorted(known_spaces)
    wanted = list(spaces)
    unknown = [s for s in wanted if s not in known]
    if unknown:
        by_upper = {k.upper(): k for k in known}
        meant = [by_upper[s.upper()] for s in unknown if s.upper() in by_upper]
        hint = f"Known spaces: {', '.join(known) or '(none)'}."
        if meant:
            hint = f"Space ids are case-sensitive: did you mean {', '.join(meant)}? " + hint
        raise NotFound(f"no space {', '.join(repr(s) for s in unknown)} in the tenant", hint=hint)
    return wanted
