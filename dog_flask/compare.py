"""Column-by-column comparison of a desired Glue table (the mapping of an asset) with the live
one, and of two table versions (framework-free: Wolf could reuse it from core later)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.specs import VOLATILE_PARAMETERS, TableSpec

#: Run markers change on every write; they are not a difference a developer needs to see.
VOLATILE = VOLATILE_PARAMETERS


@dataclass
class ColumnRow:
    name: str
    status: str  # same | missing (desired, not in Glue) | extra (in Glue only) | changed
    desired: dict[str, Any] | None
    live: dict[str, Any] | None
    changes: list[str] = field(default_factory=list)  # type, comment, parameter:<key>


@dataclass
class Comparison:
    columns: list[ColumnRow]
    parameters: list[tuple[str, str | None, str | None]]  # key, desired, live (differing only)
    table: list[tuple[str, Any, Any]]  # table-level fields that differ
    live_exists: bool

    @property
    def differences(self) -> int:
        return sum(1 for c in self.columns if c.status != "same") + len(self.parameters) + len(self.table)


def _columns(table: Mapping[str, Any]) -> list[dict[str, Any]]:
    sd = table.get("StorageDescriptor") or {}
    return [*(sd.get("Columns") or []), *(table.get("PartitionKeys") or [])]


def _params(value: Mapping[str, Any] | None) -> dict[str, str]:
    return {k: str(v) for k, v in (value or {}).items() if k not in VOLATILE}


def compare_columns(desired_cols: list[dict[str, Any]], live_cols: list[dict[str, Any]]) -> list[ColumnRow]:
    live_by_name = {c["Name"]: c for c in live_cols}
    rows: list[ColumnRow] = []
    for d in desired_cols:
        lv = live_by_name.pop(d["Name"], None)
        if lv is None:
            rows.append(ColumnRow(d["Name"], "missing", d, None))
            continue
        changes = []
        if d.get("Type") != lv.get("Type"):
            changes.append("type")
        if (d.get("Comment") or "") != (lv.get("Comment") or ""):
            changes.append("comment")
        dp, lp = _params(d.get("Parameters")), _params(lv.get("Parameters"))
        changes += [f"parameter:{k}" for k in sorted(set(dp) | set(lp)) if dp.get(k) != lp.get(k)]
        rows.append(ColumnRow(d["Name"], "changed" if changes else "same", d, lv, changes))
    rows += [ColumnRow(name, "extra", None, lv) for name, lv in live_by_name.items()]
    return rows


def compare_tables(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> Comparison:
    """``desired``/``live``: TableInput-shaped dicts (``live`` ``None``: not in Glue yet)."""
    live = live or {}
    rows = compare_columns(_columns(desired), _columns(live))
    dp, lp = _params(desired.get("Parameters")), _params(live.get("Parameters"))
    params = [(k, dp.get(k), lp.get(k)) for k in sorted(set(dp) | set(lp)) if dp.get(k) != lp.get(k)]
    table = [
        (f, desired.get(f), live.get(f))
        for f in ("Description", "TableType", "ViewOriginalText")
        if (desired.get(f) or None) != (live.get(f) or None)
    ] if live else []
    return Comparison(columns=rows, parameters=params, table=table, live_exists=bool(live))


def compare_spec(spec: TableSpec, live: Mapping[str, Any] | None) -> Comparison:
    return compare_tables(spec.to_table_input(), live)
