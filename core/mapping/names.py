"""Glue names from Datasphere names, and deterministic collision handling.

``glue_name(raw)`` always returns ``^[a-z][a-z0-9_]{0,254}$`` (ASCII, so ≤ 255 UTF-8 bytes):

1. Letters with a conventional ASCII spelling are transliterated (``ä → ae``, ``ß → ss``,
   ``é → e``), a few symbols become words (``∞ → inf``, ``% → pct``, ``€ → eur``, ``& → and``);
   any other non-ASCII character becomes ``u<hex code point>`` so that it still distinguishes
   names (``数量 → u6570_u91cf``).
2. Lowercase; every run of characters outside ``[a-z0-9_]`` becomes one ``_``; underscores that
   were in the name stay as they are; leading and trailing ``_`` are dropped.
3. Conservative start: Glue accepts names that begin with a digit, but Athena DDL and many
   tools need them quoted, so such names get the prefix ``n_`` (``3VF_SALARY → n_3vf_salary``).
   A name that is empty after cleaning becomes ``n_<hash>``.
4. Longer than 255 bytes: cut and end in ``_<8 hex digits of SHA-256 of the raw name>``.

Technical names are case-sensitive in Datasphere, so different names can map to the same Glue
name (``Sales.Order``, ``SALES_ORDER``, ``sales order``). :class:`NameAllocator` finds those
groups in one scope (a database, or a table's columns) and resolves them independently of the
order in which names were added: the member with the smallest key (code-point order; explicitly
pinned names first) keeps the plain name, every other member gets ``_<hash of its key>``. Each
renamed member is reported as a ``name_collision`` issue.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from core.specs import MappingIssue

MAX_NAME_BYTES = 255
DIGIT_PREFIX = "n_"
HASH_LEN = 8
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,254}$")

_SEP = "\x00"
# Applied before NFKD (which would turn ä into a + combining mark and lose the "e").
_LETTERS: dict[str, str] = {
    "ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "ẞ": "SS",
    "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ı": "i", "µ": "mu", "μ": "mu",
}
_SYMBOLS: dict[str, str] = {
    "∞": "inf", "%": "pct", "‰": "permille", "&": "and", "€": "eur", "£": "gbp", "¥": "yen",
    "$": "usd", "°": "deg", "#": "no", "@": "at", "+": "plus",
}


def short_hash(text: str, length: int = HASH_LEN) -> str:
    """Hex prefix of SHA-256 of ``text`` (UTF-8): the deterministic disambiguator."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _transliterate(raw: str) -> str:
    out: list[str] = []
    for ch in raw:
        if ch in _LETTERS:
            out.append(_LETTERS[ch])
            continue
        if ch in _SYMBOLS:
            out.append(f"{_SEP}{_SYMBOLS[ch]}{_SEP}")
            continue
        if ch.isascii():
            out.append(ch)
            continue
        decomposed = unicodedata.normalize("NFKD", ch)
        ascii_part = "".join(c for c in decomposed if c.isascii())
        if ascii_part and all(unicodedata.combining(c) or c.isascii() for c in decomposed):
            out.append(ascii_part)
        elif unicodedata.category(ch).startswith(("L", "N")):
            out.append(f"{_SEP}u{ord(ch):x}{_SEP}")
        else:  # punctuation, spaces, marks: a separator
            out.append(_SEP)
    return "".join(out)


_INVALID = re.compile(r"[^a-z0-9_]+")
_SEP_NEXT_TO_UNDERSCORE = re.compile(f"_{_SEP}|{_SEP}_")
_SEPS = re.compile(f"{_SEP}+")


@lru_cache(maxsize=65536)  # pure: a memo, not state (column names repeat across tables)
def glue_name(raw: str) -> str:
    """A valid, deterministic Glue/Athena name for ``raw`` (see the module docstring)."""
    text = _transliterate(raw).lower()
    text = _INVALID.sub(_SEP, text)
    text = _SEPS.sub(_SEP, text)
    text = _SEP_NEXT_TO_UNDERSCORE.sub("_", text)
    text = text.replace(_SEP, "_").strip("_")
    if not text:
        return f"{DIGIT_PREFIX}{short_hash(raw)}"
    if not text[0].isalpha():
        text = DIGIT_PREFIX + text
    if len(text) > MAX_NAME_BYTES:
        text = _with_suffix(text, short_hash(raw))
    return text


def _with_suffix(base: str, suffix: str) -> str:
    keep = MAX_NAME_BYTES - len(suffix) - 1
    return f"{base[:keep].rstrip('_') or 'n'}_{suffix}"


def is_valid_glue_name(name: str) -> bool:
    """True for names ``glue_name`` can produce: ``[a-z][a-z0-9_]*``, ≤ 255 bytes."""
    return bool(NAME_RE.fullmatch(name))


@dataclass(frozen=True)
class Allocation:
    """The final name per key, and one issue per renamed key."""

    names: dict[str, str]
    issues: list[MappingIssue] = field(default_factory=list)


@dataclass
class _Entry:
    key: str
    base: str
    pinned: bool
    asset: str | None


class NameAllocator:
    """Allocate collision-free names within one scope (a database or a table).

    ``add(key, raw)`` registers an object by its identity ``key`` (``SPACE.NAME`` for tables,
    the technical name for columns) and the raw name it would like (default: the key).
    ``allocate()`` is a pure function of the set of entries, not of their order.
    """

    def __init__(self, scope: str, *, what: str = "table", reserved: Iterable[str] = ()) -> None:
        self.scope = scope
        self.what = what
        self.reserved = frozenset(reserved)
        self._entries: dict[str, _Entry] = {}

    def add(
        self,
        key: str,
        raw: str | None = None,
        *,
        pinned: bool = False,
        asset: str | None = None,
    ) -> None:
        """Register ``key``; ``pinned`` names (explicit overrides) win collisions."""
        base = raw if pinned and raw is not None and is_valid_glue_name(raw) else None
        entry = _Entry(key, base or glue_name(key if raw is None else raw), pinned, asset)
        old = self._entries.get(key)
        if old is not None and (old.base, old.pinned) != (entry.base, entry.pinned):
            raise ValueError(f"{self.what} {key!r} added twice with different names")
        self._entries[key] = entry

    def __len__(self) -> int:
        return len(self._entries)

    def allocate(self) -> Allocation:
        groups: dict[str, list[_Entry]] = {}
        for entry in self._entries.values():
            groups.setdefault(entry.base, []).append(entry)
        names: dict[str, str] = {}
        taken: set[str] = set(self.reserved)
        losers: list[_Entry] = []
        for base in sorted(groups):
            members = sorted(groups[base], key=lambda e: (not e.pinned, e.key))
            if base in self.reserved:
                losers.extend(members)
                continue
            names[members[0].key] = base
            taken.add(base)
            losers.extend(members[1:])
        issues: list[MappingIssue] = []
        for entry in sorted(losers, key=lambda e: e.key):
            name = self._disambiguate(entry, taken)
            taken.add(name)
            names[entry.key] = name
            others = sorted(e.key for e in groups[entry.base] if e.key != entry.key)
            holder = next((k for k in others if names.get(k) == entry.base), None)
            if holder is not None:
                why = f"{holder!r} keeps '{entry.base}'"
            elif entry.base in self.reserved:
                why = f"'{entry.base}' is reserved"
            else:
                why = "every name of the group is suffixed"
            clash = ", ".join(repr(k) for k in others) or "a reserved name"
            issues.append(
                MappingIssue(
                    severity="warning",
                    code="name_collision",
                    asset=entry.asset if entry.asset is not None else entry.key,
                    message=(
                        f"{self.what} {entry.key!r} in {self.scope} normalises to "
                        f"'{entry.base}' like {clash}; {why}, so it is named '{name}'"
                    ),
                )
            )
        return Allocation(names=names, issues=issues)

    def _disambiguate(self, entry: _Entry, taken: set[str]) -> str:
        digest = hashlib.sha256(entry.key.encode("utf-8")).hexdigest()
        for length in range(HASH_LEN, len(digest) + 1, 4):
            candidate = _with_suffix(entry.base, digest[:length])
            if candidate not in taken:
                return candidate
        counter = 2
        while True:  # practically unreachable: a full SHA-256 clash within one scope
            candidate = _with_suffix(entry.base, f"{digest[:HASH_LEN]}_{counter}")
            if candidate not in taken:
                return candidate
            counter += 1
