"""Fitting values into Glue's fields: text cut or split by UTF-8 bytes without splitting a
character, compact JSON values, and Parameters split into numbered parts to fit Glue's limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel

from core.glue.limits import MAX_PARAMETER_KEY_BYTES, MAX_PARAMETER_VALUE_BYTES
from core.models import AssetRef, canonical_json
from core.specs import MappingIssue
from core.textutil import truncate_utf8 as _truncate

from . import params as P

ELLIPSIS = "…"

Severity = Literal["info", "warning", "error"]


def truncate_utf8(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` UTF-8 bytes with an ellipsis (:func:`core.textutil.truncate_utf8`),
    and whether it was cut."""
    cut = _truncate(text, limit, suffix=ELLIPSIS)
    return cut, cut != text


def split_utf8(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` UTF-8 bytes, on character boundaries."""
    parts: list[str] = []
    data = text.encode("utf-8")
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # inside a multi-byte char
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return parts or [""]


def json_text(value: Any) -> str:
    """``value`` as canonical JSON (a Parameters value)."""
    return canonical_json(value)


def compact_dump(model: BaseModel) -> dict[str, Any]:
    """A model as JSON-ready dict without empty fields (compact Parameters); asset
    references (``AssetRef``) become ``SPACE.NAME`` strings."""
    data = model.model_dump(mode="json", exclude_none=True)
    for name in ("ref", "target"):
        value = getattr(model, name, None)
        if isinstance(value, AssetRef):
            data[name] = str(value)
    return {k: v for k, v in data.items() if v not in ([], {}, False)}


def fit_parameters(
    parameters: Mapping[str, str], *, owner: str, asset: str | None
) -> tuple[dict[str, str], list[MappingIssue]]:
    """Make every value fit Glue's 512,000-byte limit by splitting it into numbered parts.

    ``<key>`` is replaced by ``<key>.parts`` (the count) and ``<key>.part.1`` … ``.part.N``;
    reported as ``parameter_split``. A key longer than 255 bytes is dropped and reported.
    """
    # Fast path: a str of n characters has at most 4n UTF-8 bytes.
    if all(
        0 < len(k) <= MAX_PARAMETER_KEY_BYTES // 4 and len(v) <= MAX_PARAMETER_VALUE_BYTES // 4
        for k, v in parameters.items()
    ):
        return dict(sorted(parameters.items())), []
    out: dict[str, str] = {}
    issues: list[MappingIssue] = []
    for key, value in sorted(parameters.items()):
        if not 1 <= len(key.encode("utf-8")) <= MAX_PARAMETER_KEY_BYTES:
            issues.append(
                MappingIssue(
                    severity="warning", code="parameter_key_too_long", asset=asset,
                    message=f"{owner}: parameter key {key[:60]!r}… exceeds 255 bytes; dropped",
                )
            )
            continue
        size = len(value.encode("utf-8"))
        if size <= MAX_PARAMETER_VALUE_BYTES:
            out[key] = value
            continue
        parts = split_utf8(value, MAX_PARAMETER_VALUE_BYTES)
        out[key + P.PARTS_SUFFIX] = str(len(parts))
        for i, part in enumerate(parts, start=1):
            out[f"{key}{P.PART_INFIX}{i}"] = part
        issues.append(
            MappingIssue(
                severity="info", code="parameter_split", asset=asset,
                message=(
                    f"{owner}: parameter {key} is {size} bytes (> {MAX_PARAMETER_VALUE_BYTES}); "
                    f"split into {len(parts)} parts {key}{P.PART_INFIX}1..{len(parts)}"
                ),
            )
        )
    return dict(sorted(out.items())), issues


def join_parameter(parameters: Mapping[str, str], key: str) -> str | None:
    """Read back a parameter that :func:`fit_parameters` may have split."""
    if key in parameters:
        return parameters[key]
    count = parameters.get(key + P.PARTS_SUFFIX)
    if count is None:
        return None
    return "".join(parameters[f"{key}{P.PART_INFIX}{i}"] for i in range(1, int(count) + 1))
