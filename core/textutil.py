"""Pure text helpers shared by the mapping engine and the Glue client (no I/O)."""

from __future__ import annotations


def utf8_len(text: str) -> int:
    """Length of ``text`` in UTF-8 bytes (the unit of most Glue limits)."""
    return len(text.encode("utf-8"))


def truncate_utf8(text: str, max_bytes: int, *, suffix: str = "") -> str:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes without splitting a character.

    Text that already fits is returned unchanged. When it is cut and ``suffix`` is given
    (e.g. ``"…"``), the suffix is appended and counted in the budget; a suffix that does not
    fit on its own is dropped rather than cut. Characters are code points: a combining mark
    may be separated from its base character, but no code point is ever split.
    """
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be >= 0, not {max_bytes}")
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    tail = suffix.encode("utf-8")
    if len(tail) > max_bytes:
        tail = b""
    budget = max_bytes - len(tail)
    # Decoding with "ignore" drops only the incomplete sequence at the cut: the input came
    # from str.encode, so it is valid UTF-8 everywhere else.
    head = data[:budget].decode("utf-8", errors="ignore")
    return head + tail.decode("utf-8")
