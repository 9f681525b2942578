"""Glue names from Datasphere names, and deterministic collision handling.

The rule: a Glue name is the source's technical name **lowercased**, wherever Glue and Athena
allow it. A Glue table over files written by a replication flow matches columns by name, so a
column named differently from the data reads as NULL in Athena. Glue accepts any UTF-8 name of
1–255 bytes and stores it lowercase; Athena accepts ``[a-z0-9_]`` (a name that begins with
``_`` is quoted with backticks in DDL, one that begins with a digit with double quotes in
DML). So:

1. Letters with a conventional ASCII spelling are transliterated (``ä → ae``, ``ß → ss``,
   ``é → e``), a few symbols become words (``∞ → inf``, ``% → pct``, ``€ → eur``, ``& → and``);
   any other non-ASCII character becomes ``u<hex code point>`` so that it still distinguishes
   names (``数量 → u6570_u91cf``).
2. Lowercase; every run of characters outside ``[a-z0-9_]`` becomes one ``_`` (dropped at the
   start and end of the name); underscores that were in the name **stay as they are**, leading
   and trailing ones included (``_DESCRIPTION → _description``, ``A__B → a__b``).
3. Column names keep a leading digit (``0CALDAY → 0calday``): they must match the data.
   Table and database names that begin with a digit get the prefix ``n_``
   (``3VF_SALARY → n_3vf_salary``): Glue cannot rename a table, so their names stay what
   earlier versions wrote, and unquoted SQL keeps working. A name that is empty after cleaning
   becomes ``n_<hash>``.
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
#: Table and database names: no leading digit (see rule 3).
NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,254}$")
#: Column names: any ``[a-z0-9_]`` name of 1–255 bytes.
COLUMN_NAME_RE = re.compile(r"^[a-z0-9_]{1,255}$")

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


def _clean(raw: str) -> str:
    """Rules 1 and 2: lowercase ``[a-z0-9_]`` text, possibly empty or starting with a digit."""
    text = _transliterate(raw).lower()
    text = _INVALID.sub(_SEP, text)
    text = _SEPS.sub(_SEP, text)
    text = _SEP_NEXT_TO_UNDERSCORE.sub("_", text)
    return text.strip(_SEP).replace(_SEP, "_")


def _finish(raw: str, text: str, *, digit_ok: bool) -> str:
    if not text.strip("_"):
        return f"{DIGIT_PREFIX}{short_hash(raw)}"
    if text[0].isdigit() and not digit_ok:
        text = DIGIT_PREFIX + text
    if len(text) > MAX_NAME_BYTES:
        text = _with_suffix(text, short_hash(raw))
    return text


@lru_cache(maxsize=65536)  # pure: a memo, not state
def glue_name(raw: str) -> str:
    """A valid, deterministic Glue/Athena table or database name for ``raw`` (module docstring)."""
    return _finish(raw, _clean(raw), digit_ok=False)


@lru_cache(maxsize=65536)  # pure: a memo, not state (column names repeat across tables)
def glue_column_name(raw: str) -> str:
    """A valid, deterministic Glue/Athena column name for ``raw``: like :func:`glue_name`, but a
    leading digit is kept (the name must match the data)."""
    return _finish(raw, _clean(raw), digit_ok=True)


def _with_suffix(base: str, suffix: str) -> str:
    keep = MAX_NAME_BYTES - len(suffix) - 1
    return f"{base[:keep].rstrip('_') or 'n'}_{suffix}"


def is_valid_glue_name(name: str) -> bool:
    """True for table/database names ``glue_name`` can produce: ``[a-z_][a-z0-9_]*``, ≤ 255 bytes."""
    return bool(NAME_RE.fullmatch(name))


def is_valid_glue_column_name(name: str) -> bool:
    """True for column names ``glue_column_name`` can produce: ``[a-z0-9_]{1,255}``."""
    return bool(COLUMN_NAME_RE.fullmatch(name))


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
    ``what="column"`` names with :func:`glue_column_name` (a leading digit is kept), anything
    else with :func:`glue_name`.
    """

    def __init__(self, scope: str, *, what: str = "table", reserved: Iterable[str] = ()) -> None:
        self.scope = scope
        self.what = what
        self._normalise = glue_column_name if what == "column" else glue_name
        self._valid = is_valid_glue_column_name if what == "column" else is_valid_glue_name
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
        base = raw if pinned and raw is not None and self._valid(raw) else None
        entry = _Entry(key, base or self._normalise(key if raw is None else raw), pinned, asset)
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
