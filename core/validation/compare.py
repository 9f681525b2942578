"""Compare one expected Glue ``TableInput`` with the live ``Table``, field by field (pure).

The expected input is what the mapper produces for the source asset (``TableSpec.to_table_input``),
never the live table merged: every field the source decides must be equal in Glue. What sync
deliberately keeps from the Glue side (see :func:`core.sync.plan.merge_table_input`) is
accepted and says so in the check's ``note``: parameters outside ``dgsync.*``, a description,
column comments and column parameters outside ``dgsync.*`` where the source has none. Markers
rewritten on every write (run id, target hash, sync time) are not compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.specs import MARKER_KEYS, normalise_table_input

from .models import CheckGroup, FieldCheck

KEPT_FROM_GLUE = "added in Glue; sync keeps it (the source has none)"
NOT_FROM_SOURCE = "not in the source: sync removes it"


def _text(value: Any) -> str | None:
    if value in (None, "", [], {}):
        return None
    return value if isinstance(value, str) else str(value)


def _check(field: str, expected: Any, actual: Any, group: CheckGroup, *, keep: bool = False,
           note: str | None = None) -> FieldCheck:
    """``keep``: a value present only in Glue is accepted (sync keeps it)."""
    exp, act = _text(expected), _text(actual)
    if exp == act:
        return _made(field, exp, act, True, group, note)
    if keep and exp is None:
        return _made(field, None, act, True, group, KEPT_FROM_GLUE)
    return _made(field, exp, act, False, group, note)


def _made(field: str, expected: str | None, actual: str | None, ok: bool, group: CheckGroup,
          note: str | None) -> FieldCheck:
    """A check built from values already normalised here (no validation: ~190 per table)."""
    return FieldCheck.model_construct(field=field, expected=expected, actual=actual, ok=ok, group=group, note=note)


def _param_group(key: str) -> CheckGroup:
    if key in MARKER_KEYS:
        return "marker"
    return "business" if key.startswith("dgsync.") else "parameter"


def compare_parameters(prefix: str, expected: Mapping[str, str], actual: Mapping[str, str],
                       group_of: Any = _param_group) -> list[FieldCheck]:
    """One check per key on either side; a Glue-only key outside ``dgsync.*`` is kept by sync."""
    checks = []
    for key in sorted(set(expected) | set(actual)):
        note = NOT_FROM_SOURCE if key not in expected and key.startswith("dgsync.") else None
        checks.append(_check(f"{prefix}.{key}", expected.get(key), actual.get(key), group_of(key),
                             keep=not key.startswith("dgsync."), note=note))
    return checks


def _column_checks(prefix: str, expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[FieldCheck]:
    live = {c["Name"]: c for c in actual}
    wanted = {c["Name"]: c for c in expected}
    checks: list[FieldCheck] = []
    for col in expected:
        name = col["Name"]
        other = live.get(name)
        if other is None:
            checks.append(_made(f"{prefix}.{name}", _text(col.get("Type")), None, False, "schema", "missing in Glue"))
            continue
        base = f"{prefix}.{name}"
        checks.append(_check(f"{base}.type", col.get("Type"), other.get("Type"), "schema"))
        checks.append(_check(f"{base}.comment", col.get("Comment"), other.get("Comment"), "business", keep=True))
        checks.extend(compare_parameters(f"{base}.parameters", col.get("Parameters") or {},
                                         other.get("Parameters") or {}, lambda _k: "business"))
    for col in actual:
        if col["Name"] not in wanted:
            checks.append(_made(f"{prefix}.{col['Name']}", None, _text(col.get("Type")), False, "schema",
                                NOT_FROM_SOURCE))
    order_exp = [c["Name"] for c in expected if c["Name"] in live]
    order_act = [c["Name"] for c in actual if c["Name"] in wanted]
    same = order_exp == order_act
    checks.append(_made(f"{prefix}.order", ",".join(c["Name"] for c in expected) or None,
                        ",".join(c["Name"] for c in actual) or None, same, "schema",
                        None if same else "the shared columns are in another order"))
    return checks


def _storage_checks(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[FieldCheck]:
    checks = []
    for key, field in (("Location", "location"), ("InputFormat", "input_format"), ("OutputFormat", "output_format")):
        if expected.get(key) or actual.get(key):
            checks.append(_check(f"storage.{field}", expected.get(key), actual.get(key), "storage"))
    serde_e, serde_a = expected.get("SerdeInfo") or {}, actual.get("SerdeInfo") or {}
    if serde_e or serde_a:
        checks.append(_check("storage.serde.library", serde_e.get("SerializationLibrary"),
                             serde_a.get("SerializationLibrary"), "storage"))
        checks.extend(compare_parameters("storage.serde.parameters", serde_e.get("Parameters") or {},
                                         serde_a.get("Parameters") or {}, lambda _k: "storage"))
    return checks


def compare_table(expected: Mapping[str, Any], live: Mapping[str, Any]) -> list[FieldCheck]:
    """Every field of ``expected`` (a ``TableInput``) against the live ``Table``."""
    exp = normalise_table_input(dict(expected))
    act = normalise_table_input(dict(live))
    checks = [
        _check("description", exp.get("Description"), act.get("Description"), "business", keep=True),
        _check("table_type", exp.get("TableType"), act.get("TableType"), "schema"),
    ]
    for key, field in (("ViewOriginalText", "view_original_text"), ("ViewExpandedText", "view_expanded_text")):
        if exp.get(key) or act.get(key):
            checks.append(_check(field, exp.get(key), act.get(key), "storage"))
    sd_e, sd_a = exp.get("StorageDescriptor") or {}, act.get("StorageDescriptor") or {}
    checks.extend(_column_checks("columns", sd_e.get("Columns") or [], sd_a.get("Columns") or []))
    if exp.get("PartitionKeys") or act.get("PartitionKeys"):
        checks.extend(_column_checks("partition_keys", exp.get("PartitionKeys") or [], act.get("PartitionKeys") or []))
    checks.extend(_storage_checks(sd_e, sd_a))
    checks.extend(compare_parameters("parameters", exp.get("Parameters") or {}, act.get("Parameters") or {}))
    return checks
