"""Exports of a validation report: JSON (the whole report) and CSV (one row per field check).

CSV columns are :data:`CSV_COLUMNS` (``table_fields``/``table_columns``: fields and columns
the table's comparison covered, also when only failed checks are kept); a table without field checks (unmanaged, a space not
checked) is one row with an empty ``field``. ``None`` is an empty cell. A cell that a
spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR) — or that starts with
``'`` — gets a leading ``'``; :func:`checks_from_csv` removes it, so the CSV reads back
exactly (:func:`checks_from_csv` ∘ :func:`iter_csv` is the identity on ``report.tables``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from .models import FieldCheck, TableCheck, ValidationReport

CSV_COLUMNS: tuple[str, ...] = (
    "space", "asset", "kind", "database", "table", "status", "table_note", "table_fields", "table_columns",
    "field", "group", "ok", "expected", "actual", "note",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r", "'")


def to_json(report: ValidationReport, *, indent: int | None = None) -> str:
    """The whole report as JSON (read back with :func:`from_json`)."""
    return report.model_dump_json(indent=indent)


def from_json(text: str | bytes) -> ValidationReport:
    return ValidationReport.model_validate_json(text)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _value(cell: str) -> str | None:
    if cell == "":
        return None
    return cell[1:] if cell.startswith("'") else cell


def _line(values: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return buffer.getvalue()


def iter_csv(report: ValidationReport, *, failed_only: bool = False) -> Iterator[str]:
    """CSV lines (header first), one per field check; streamed, never the whole text at once.

    ``failed_only``: only failed checks (and tables without checks that are not ``ok``)."""
    yield _line(CSV_COLUMNS)
    for t in report.tables:
        head = (t.space, t.asset, t.kind, t.database, t.table, t.status, t.note, t.fields, t.columns)
        if not t.checks:
            if not failed_only or t.status not in ("ok", "unmanaged"):
                yield _line((*head, None, None, None, None, None, None))
            continue
        for c in t.checks:
            if failed_only and c.ok:
                continue
            yield _line((*head, c.field, c.group, c.ok, c.expected, c.actual, c.note))


def checks_from_csv(lines: Iterable[str]) -> list[TableCheck]:
    """The table checks of a CSV written by :func:`iter_csv` (all rows, in order)."""
    reader = csv.DictReader(io.StringIO("".join(lines)))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise ValueError(f"not a validation CSV: the header must be {','.join(CSV_COLUMNS)}")
    tables: list[TableCheck] = []
    for row in reader:
        v = {k: _value(row[k]) for k in CSV_COLUMNS}
        head = {"space": v["space"] or "", "asset": v["asset"], "kind": v["kind"],
                "database": v["database"] or "", "table": v["table"], "status": v["status"],
                "note": v["table_note"], "fields": int(v["table_fields"] or 0),
                "columns": int(v["table_columns"] or 0)}
        current = tables[-1] if tables else None
        if current is None or current.model_dump(exclude={"checks"}) != head or v["field"] is None:
            current = TableCheck.model_validate({**head, "checks": []})
            tables.append(current)
        if v["field"] is not None:
            current.checks.append(FieldCheck(field=v["field"], group=v["group"] or "schema", ok=v["ok"] == "true",
                                             expected=v["expected"], actual=v["actual"], note=v["note"]))
    return tables
