"""The validation report: does Glue hold exactly what the mapping of Datasphere says it should?

One :class:`TableCheck` per table in scope (expected, live, or both), each with one
:class:`FieldCheck` per compared field. Values are strings (Glue's types, comments, parameter
values, descriptions are strings); ``None`` means "absent". Field paths:

=================================  ========================================================
``table``                          the table exists (a missing table's only check)
``description``, ``table_type``    table fields
``columns.<NAME>``                 a column present on one side only (expected/actual: type)
``columns.<NAME>.type``            a column's type (also ``.comment``, ``.parameters.<KEY>``)
``columns.order``                  the column order (names, comma-separated)
``partition_keys.<NAME>...``       as columns
``parameters.<KEY>``               a table parameter (``dgsync.*`` business context, markers)
``storage.location`` ...           storage descriptor fields, ``storage.serde.parameters.<K>``
``view_original_text``             view texts
=================================  ========================================================
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TableStatus = Literal["ok", "drift", "missing", "extra", "unmanaged", "skipped"]
#: ``schema`` (names, types, order), ``business`` (descriptions, comments, ``dgsync.*`` business
#: context), ``marker`` (ownership markers), ``storage``, ``parameter`` (other table parameters).
CheckGroup = Literal["schema", "business", "marker", "storage", "parameter"]

#: How much a report keeps: every field check, or the failed ones and accepted differences.
Detail = Literal["all", "failed"]

#: Table statuses in report order.
STATUSES: tuple[TableStatus, ...] = ("drift", "missing", "extra", "skipped", "ok", "unmanaged")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldCheck(_Model):
    """One compared field: what the mapping of the source says, what Glue holds."""

    field: str
    expected: str | None = None
    actual: str | None = None
    ok: bool
    group: CheckGroup = "schema"
    #: Why a difference is accepted (metadata added in Glue that sync keeps) or what it means.
    note: str | None = None


class TableCheck(_Model):
    """One table: its status and the field checks that decided it."""

    space: str
    #: Source asset ``SPACE.NAME`` (from the ``dgsync.source`` marker for extra tables).
    asset: str | None = None
    kind: str | None = None
    database: str
    table: str | None = None
    status: TableStatus
    note: str | None = None
    #: Fields compared, and columns/partition keys among them (present on both sides): kept
    #: when ``checks`` holds only the failed ones (``detail="failed"``).
    fields: int = 0
    columns: int = 0
    checks: list[FieldCheck] = Field(default_factory=list)

    @property
    def failed(self) -> list[FieldCheck]:
        return [c for c in self.checks if not c.ok]

    @property
    def object(self) -> str:
        return f"{self.database}.{self.table}" if self.table else self.database


class ValidationScope(_Model):
    """What a validation covers; empty lists mean every space / every kind."""

    env: str
    spaces: list[str] = Field(default_factory=list)
    kinds: list[str] = Field(default_factory=list)
    #: Only these assets' tables (``SPACE.NAME``); empty: every table of the spaces.
    assets: list[str] = Field(default_factory=list)

    @property
    def key(self) -> str:
        """A stable string for "the same scope" (stored, looked up by :func:`latest_validation`)."""
        key = f"{self.env}|{','.join(sorted(self.spaces))}|{','.join(sorted(self.kinds))}"
        return key + (f"|{','.join(sorted(self.assets))}" if self.assets else "")


class ValidationSummary(_Model):
    tables: int = 0
    ok: int = 0
    drift: int = 0
    missing: int = 0
    extra: int = 0
    unmanaged: int = 0
    skipped: int = 0
    checks: int = 0
    failed_checks: int = 0
    #: Columns and partition keys compared (present on both sides).
    columns: int = 0


class ValidationReport(_Model):
    """Glue vs Datasphere for one scope, table by table and field by field."""

    id: str
    scope: ValidationScope
    generated_at: datetime
    #: The sync run this validation follows (``validate_after_sync``), if any.
    run_id: str | None = None
    #: The applied configuration version (``config_versions.id``) when one is applied.
    config_version: int | None = None
    summary: ValidationSummary = Field(default_factory=ValidationSummary)
    #: ``all``: every field check is listed; ``failed``: only failed checks and accepted
    #: differences (the others are counted in ``TableCheck.fields``).
    detail: Detail = "all"
    in_sync: bool
    #: Why the scope is not in sync (one line each); empty when it is.
    reasons: list[str] = Field(default_factory=list)
    tables: list[TableCheck] = Field(default_factory=list)
    #: Objects listed by a space but owned by another (``OWNER.NAME`` → why): not expected in
    #: this space's database.
    shared: dict[str, str] = Field(default_factory=dict)
    #: Spaces that could not be read (403/429): not judged.
    skipped_spaces: dict[str, str] = Field(default_factory=dict)
    duration_s: float = 0.0
    #: ``system → operation/route → calls`` spent by the validation.
    api_calls: dict[str, dict[str, int]] = Field(default_factory=dict)

    def failing(self) -> list[TableCheck]:
        """Tables that make the scope not in sync (drift, missing, extra, skipped)."""
        return [t for t in self.tables if t.status in ("drift", "missing", "extra", "skipped")]

    def table(self, database: str, name: str) -> TableCheck | None:
        return next((t for t in self.tables if t.database == database and t.table == name), None)


def summarise(tables: list[TableCheck]) -> ValidationSummary:
    summary = ValidationSummary(tables=len(tables))
    for t in tables:
        setattr(summary, t.status, getattr(summary, t.status) + 1)
        summary.checks += max(t.fields, len(t.checks))
        summary.failed_checks += sum(1 for c in t.checks if not c.ok)
        summary.columns += t.columns or sum(
            1 for c in t.checks if c.field.endswith(".type") and c.field.startswith(("columns.", "partition_keys.")))
    return summary


def reasons_of(summary: ValidationSummary, skipped_spaces: dict[str, str]) -> list[str]:
    """Why a scope is not in sync (empty: it is). Unmanaged tables are listed, never judged."""
    lines = [
        (summary.drift, "table(s) differ from the source (drift)"),
        (summary.missing, "table(s) missing in Glue"),
        (summary.extra, "managed table(s) in Glue without a source asset (extra)"),
        (summary.skipped - len(skipped_spaces), "table(s) not checked (the source could not be read)"),
        (len(skipped_spaces), "space(s) not checked (no access)"),
    ]
    return [f"{n} {what}" for n, what in lines if n > 0]
