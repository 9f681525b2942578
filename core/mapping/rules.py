"""Mapping rules: a YAML file with a documented schema (``docs/mapping-rules.md``).

:func:`parse_rules` (pure) turns YAML text into :class:`Rules`; every problem is reported
with the line it is on, e.g. ``rules.yaml line 12: databases.template: unknown placeholder
{foo}``. :func:`default_rules` gives the built-in defaults used when no file is configured.
:func:`load_rules` is the one function here that touches the file system: it reads a file
and hands its text to :func:`parse_rules`.

The rules answer the mapper's questions: which assets are in scope, how a space becomes a
database name, what each asset's overrides are (table name, description, priority, partition
keys, storage, DecimalFloat policy, column types), and which unmanaged tables may be adopted.

This module holds :class:`Rules` and the loading (line numbers, friendly messages); the
section models and helpers live in :mod:`core.mapping.rule_schema` and are re-exported here.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from core.errors import RulesError
from core.models import Asset, Priority, default_priority
from core.specs import StorageSpec

from .names import glue_name
from .rule_schema import (
    DATABASE_PLACEHOLDERS,
    DEFAULT_DATABASE_TEMPLATE,
    FORMAT_PRESETS,
    LOCATION_PLACEHOLDERS,
    ColumnOverride,
    DatabaseRules,
    DecimalFloatRule,
    EnvName,
    FormatName,
    Override,
    PartitionKey,
    PriorityRules,
    Projection,
    Selector,
    StorageRule,
    StorageRules,
    StrictModel,
    UnmanagedRules,
    check_extra_parameters,
    is_pattern,
    match_pattern,
    split_asset_key,
    template_fields,
)
from .types import DecimalFloatSetting


class Rules(StrictModel):
    """The mapping rules (see ``docs/mapping-rules.md``)."""

    version: Literal[1] = 1
    databases: DatabaseRules = Field(default_factory=DatabaseRules)
    include: Selector = Field(default_factory=Selector)
    exclude: Selector = Field(default_factory=Selector)
    storage: StorageRules = Field(default_factory=StorageRules)
    decimal_float: DecimalFloatRule = Field(default_factory=DecimalFloatRule)
    unmanaged: UnmanagedRules = Field(default_factory=UnmanagedRules)
    priorities: PriorityRules = Field(default_factory=PriorityRules)
    overrides: list[Override] = Field(default_factory=list)
    #: Extra Parameters on every table (keys must not start with ``dgsync.``).
    table_parameters: dict[str, str] = Field(default_factory=dict)

    @field_validator("table_parameters")
    @classmethod
    def _table_parameters(cls, value: dict[str, str]) -> dict[str, str]:
        return check_extra_parameters(value)

    @field_validator("overrides")
    @classmethod
    def _unique_table_names(cls, value: list[Override]) -> list[Override]:
        seen: dict[tuple[str, str], str] = {}
        for ov in value:
            if ov.table_name is None:
                continue
            space = split_asset_key(ov.asset)[0]
            key = (space, ov.table_name)
            if key in seen and seen[key] != ov.asset:
                raise ValueError(
                    f"overrides for {seen[key]} and {ov.asset} both set table_name "
                    f"{ov.table_name!r}"
                )
            seen[key] = ov.asset
        return value

    # -- questions the mapper asks ------------------------------------------------------------

    def database_name(self, space: str, env: str) -> str:
        """The Glue database name for ``space`` in ``env`` (before collision handling)."""
        explicit = self.databases.names.get(space)
        if explicit is not None:
            return explicit
        values = {
            "space": space,
            "prefix": typing.cast(Mapping[str, str], self.databases.env_prefix).get(env, ""),
            "env": env,
            "env_suffix": typing.cast(Mapping[str, str], self.databases.env_suffix).get(env, ""),
        }
        return glue_name(self.databases.template.format_map(values))

    def exclusion_reason(self, asset: Asset) -> str | None:
        """Why the rules leave ``asset`` out, or ``None`` when it is in scope."""
        inc, exc = self.include, self.exclude
        if inc.spaces and not any(match_pattern(p, asset.space) for p in inc.spaces):
            return f"space {asset.space} is not in include.spaces"
        if inc.kinds and asset.kind not in inc.kinds:
            return f"kind {asset.kind.value} is not in include.kinds"
        if inc.assets and not any(match_pattern(p, asset.name, asset.key) for p in inc.assets):
            return "name matches no include.assets pattern"
        for p in exc.spaces:
            if match_pattern(p, asset.space):
                return f"excluded by exclude.spaces {p!r}"
        if asset.kind in exc.kinds:
            return f"excluded by exclude.kinds {asset.kind.value!r}"
        for p in exc.assets:
            if match_pattern(p, asset.name, asset.key):
                return f"excluded by exclude.assets {p!r}"
        for i, ov in enumerate(self.overrides):
            if ov.exclude and ov.matches(asset):
                return f"excluded by overrides[{i}] (asset {ov.asset!r})"
        return None

    def override_for(self, asset: Asset) -> ResolvedOverride:
        """Every matching override merged in file order (a later field beats an earlier one)."""
        out = ResolvedOverride()
        for i, ov in enumerate(self.overrides):
            if not ov.matches(asset):
                continue
            out.matched.append(i)
            for name in ov.model_fields_set:
                if name in ("asset", "exclude"):
                    continue
                value = getattr(ov, name)
                if name == "columns":
                    out.columns = {**out.columns, **value}
                elif name == "parameters":
                    out.parameters = {**out.parameters, **value}
                else:
                    setattr(out, name, value)
        return out

    def priority_for(self, asset: Asset, override: ResolvedOverride | None = None) -> Priority:
        if override is not None and override.priority is not None:
            return override.priority
        return self.priorities.kinds.get(asset.kind, default_priority(asset.kind))

    def decimal_float_for(self, override: ResolvedOverride | None = None) -> DecimalFloatSetting:
        if override is not None and override.decimal_float is not None:
            return override.decimal_float.setting
        return self.decimal_float.setting

    def storage_for(
        self,
        asset: Asset,
        *,
        database: str,
        table: str,
        env: str,
        override: ResolvedOverride | None = None,
    ) -> StorageSpec | None:
        """The storage descriptor of the external table for ``asset``, or ``None``."""
        rule: StorageRule | None = None
        if override is not None and override.storage is not None:
            rule = override.storage
        elif asset.kind in self.storage.kinds:
            rule = self.storage
        if rule is None:
            return None
        preset = FORMAT_PRESETS.get(rule.format) if rule.format else None
        location = None
        if rule.location:
            location = rule.location.format_map(
                {"space": asset.space, "name": table, "table": table, "database": database,
                 "env": env}
            )
        serde_params = dict(preset[3]) if preset else {}
        serde_params.update(rule.serde_parameters)
        return StorageSpec(
            location=location,
            input_format=rule.input_format or (preset[0] if preset else None),
            output_format=rule.output_format or (preset[1] if preset else None),
            serde_library=rule.serde_library or (preset[2] if preset else None),
            serde_parameters=serde_params,
        )

    def adopts(self, database: str, table: str) -> bool:
        """True when the rules allow taking over the unmanaged table ``database.table``."""
        return self.unmanaged.policy == "adopt" or f"{database}.{table}" in self.unmanaged.adopt

    def unused_overrides(self, assets: Iterable[Asset]) -> list[str]:
        """Exact override targets (``SPACE.NAME``) that match none of ``assets`` (typos)."""
        keys = {a.key for a in assets}
        return [
            ov.asset for ov in self.overrides if not is_pattern(ov.asset) and ov.asset not in keys
        ]


@dataclass
class ResolvedOverride:
    """The merged overrides of one asset."""

    matched: list[int] = field(default_factory=list)
    table_name: str | None = None
    description: str | None = None
    priority: Priority | None = None
    partition_keys: list[PartitionKey] | None = None
    projection_location: str | None = None
    storage: StorageRule | None = None
    decimal_float: DecimalFloatRule | None = None
    columns: dict[str, ColumnOverride] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)


def default_rules() -> Rules:
    """The built-in rules: one database per space named after it, everything included,
    views as Parquet external tables without a location, DecimalFloat as ``decimal(34,4)``."""
    return Rules()


# -- loading with line numbers -----------------------------------------------------------------


@dataclass(frozen=True)
class RuleProblem:
    """One problem in a rules file."""

    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source} line {self.line}" if self.line is not None else self.source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


_Loc = tuple[str | int, ...]


def _walk(node: yaml.Node, path: _Loc, lines: dict[_Loc, int], dupes: list[tuple[_Loc, int]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            sub = (*path, key)
            if key in seen:
                dupes.append((sub, key_node.start_mark.line + 1))
            seen.add(key)
            lines.setdefault(sub, key_node.start_mark.line + 1)
            _walk(value_node, sub, lines, dupes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = (*path, i)
            lines.setdefault(sub, item.start_mark.line + 1)
            _walk(item, sub, lines, dupes)


def _format_path(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types inside Optional / Union / list / dict annotations."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(_unwrap(arg))
        return out
    return [annotation]


def _model_at(path: Iterable[str | int]) -> type[BaseModel] | None:
    """The rules model class that holds the mapping at ``path`` (for "did you mean")."""
    current: Any = Rules
    for part in path:
        candidates = _unwrap(current)
        nxt: Any = None
        for cand in candidates:
            origin = typing.get_origin(cand)
            if isinstance(part, int) and origin is list:
                nxt = typing.get_args(cand)[0]
            elif origin is dict:
                nxt = typing.get_args(cand)[1]
            elif isinstance(cand, type) and issubclass(cand, BaseModel) and isinstance(part, str):
                info = cand.model_fields.get(part)
                if info is not None:
                    nxt = info.annotation
            if nxt is not None:
                break
        if nxt is None:
            return None
        current = nxt
    for cand in _unwrap(current):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _message(err: Mapping[str, Any], matched: _Loc) -> str:
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if err["type"] == "extra_forbidden":
        model = _model_at(matched[:-1])
        key = str(matched[-1]) if matched else ""
        if model is not None:
            allowed = sorted(model.model_fields)
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"unknown key{hint} (allowed: {', '.join(allowed)})"
        return "unknown key"
    if err["type"] == "missing":
        return "required key is missing"
    return msg


def check_rules(text: str, *, source: str = "rules.yaml") -> tuple[Rules | None, list[RuleProblem]]:
    """Validate rules text; return the rules (or ``None``) and every problem with its line."""
    try:
        loader = yaml.SafeLoader(text)  # refuses control characters at once
    except yaml.YAMLError as exc:
        return None, [RuleProblem(source, None, "", f"invalid YAML: {getattr(exc, 'reason', None) or exc}")]
    try:
        node = loader.get_single_node()
        data: Any = {} if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        return None, [RuleProblem(source, line, "", f"invalid YAML: {problem}")]
    finally:
        loader.dispose()
    lines: dict[_Loc, int] = {}
    dupes: list[tuple[_Loc, int]] = []
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _walk(node, (), lines, dupes)
    problems = [
        RuleProblem(source, line, _format_path(path), "duplicate key (the last one would win)")
        for path, line in dupes
    ]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(
            RuleProblem(source, lines.get(()), "", f"the file must hold a mapping of rules, "
                        f"not {type(data).__name__}")
        )
        return None, problems
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            matched: list[str | int] = []
            line = lines.get(())
            for part in err["loc"]:
                candidate = (*matched, part)
                if candidate in lines:
                    matched.append(part)
                    line = lines[candidate]
            problems.append(
                RuleProblem(source, line, _format_path(matched), _message(err, tuple(matched)))
            )
        problems.sort(key=lambda p: (p.line or 0, p.path))
        return None, problems
    if problems:
        return None, problems
    return rules, []


def parse_rules(text: str, *, source: str = "rules.yaml") -> Rules:
    """Parse and validate rules text (pure); raise :class:`RulesError` naming every line."""
    rules, problems = check_rules(text, source=source)
    if rules is None:
        raise RulesError("\n".join(str(p) for p in problems))
    return rules


def load_rules(path: Path | str) -> Rules:
    """Read a rules file and parse it (the only file access of the mapping package)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(
            f"cannot read rules file {p}: {exc.strerror or exc}",
            hint="Pass an existing file (DGSYNC_SYNC__RULES_FILE or the command argument).",
        ) from exc
    return parse_rules(text, source=str(path))

# The schema parts are re-exported: callers import them from here.
__all__ = [
    "DATABASE_PLACEHOLDERS",
    "DEFAULT_DATABASE_TEMPLATE",
    "FORMAT_PRESETS",
    "LOCATION_PLACEHOLDERS",
    "ColumnOverride",
    "DatabaseRules",
    "DecimalFloatRule",
    "EnvName",
    "FormatName",
    "Override",
    "PartitionKey",
    "PriorityRules",
    "Projection",
    "ResolvedOverride",
    "RuleProblem",
    "Rules",
    "Selector",
    "StorageRule",
    "StorageRules",
    "UnmanagedRules",
    "check_rules",
    "default_rules",
    "is_pattern",
    "load_rules",
    "match_pattern",
    "parse_rules",
    "split_asset_key",
    "template_fields",
]
