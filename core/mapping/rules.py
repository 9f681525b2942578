"""Mapping rules: a YAML file with a documented schema (``docs/mapping-rules.md``).

:func:`parse_rules` (pure) turns YAML text into :class:`Rules`; every problem is reported
with the line it is on, e.g. ``rules.yaml line 12: databases.template: unknown placeholder
{foo}``. :func:`default_rules` gives the built-in defaults used when no file is configured.
:func:`load_rules` is the one function here that touches the file system: it reads a file
and hands its text to :func:`parse_rules`.

The rules answer the mapper's questions: which assets are in scope, how a space becomes a
database name, what each asset's overrides are (table name, description, priority, partition
keys, storage, DecimalFloat policy, column types), and which unmanaged tables may be adopted.
"""

from __future__ import annotations

import difflib
import re
import string
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import RulesError
from core.models import Asset, AssetKind, Priority, default_priority
from core.specs import StorageSpec

from .names import glue_name, is_valid_glue_column_name, is_valid_glue_name
from .types import (
    DEFAULT_DECIMAL_FLOAT_POLICY,
    DEFAULT_DECIMAL_FLOAT_PRECISION,
    DEFAULT_DECIMAL_FLOAT_SCALE,
    MAX_DECIMAL_PRECISION,
    DecimalFloatPolicy,
    DecimalFloatSetting,
    is_valid_athena_type,
)

EnvName = Literal["dog", "wolf", "bear"]
DATABASE_PLACEHOLDERS = frozenset({"space", "prefix", "env", "env_suffix"})
LOCATION_PLACEHOLDERS = frozenset({"space", "name", "table", "database", "env"})
DEFAULT_DATABASE_TEMPLATE = "{prefix}{space}{env_suffix}"
_GLOB_CHARS = frozenset("*?[")


# -- format presets ----------------------------------------------------------------------------

_TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

#: ``format`` → (InputFormat, OutputFormat, SerDe library, SerDe parameters).
FORMAT_PRESETS: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "parquet": (
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        {"serialization.format": "1"},
    ),
    "orc": (
        "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
        {},
    ),
    "csv": (
        _TEXT_INPUT,
        _TEXT_OUTPUT,
        "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        {"field.delim": ",", "serialization.format": ","},
    ),
    "json": (_TEXT_INPUT, _TEXT_OUTPUT, "org.openx.data.jsonserde.JsonSerDe", {}),
}
FormatName = Literal["parquet", "orc", "csv", "json"]


# -- helpers -----------------------------------------------------------------------------------


def template_fields(template: str) -> list[str]:
    """Placeholder names in a ``str.format`` template; ``ValueError`` on bad syntax."""
    names: list[str] = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} must not have a format spec or conversion")
        names.append(name)
    return names


def _check_template(template: str, allowed: frozenset[str]) -> None:
    try:
        names = template_fields(template)
    except ValueError as exc:
        raise ValueError(f"invalid template {template!r}: {exc}") from None
    for name in names:
        if name not in allowed:
            raise ValueError(
                f"unknown placeholder {{{name}}} (allowed: "
                + ", ".join(f"{{{n}}}" for n in sorted(allowed))
                + ")"
            )


def is_pattern(text: str) -> bool:
    """True for a glob (``*``, ``?``, ``[``) or a regular expression (``re:`` prefix)."""
    return text.startswith("re:") or any(c in _GLOB_CHARS for c in text)


def _check_pattern(text: str) -> str:
    if not text:
        raise ValueError("empty pattern")
    if text.startswith("re:"):
        try:
            re.compile(text[3:])
        except re.error as exc:
            raise ValueError(f"invalid regular expression {text[3:]!r}: {exc}") from None
    return text


def match_pattern(pattern: str, *candidates: str) -> bool:
    """Glob (case-sensitive) or ``re:`` regex (full match) against any of ``candidates``."""
    if pattern.startswith("re:"):
        rx = re.compile(pattern[3:])
        return any(rx.fullmatch(c) for c in candidates)
    return any(fnmatchcase(c, pattern) for c in candidates)


def split_asset_key(key: str) -> tuple[str, str]:
    """``SPACE.NAME`` → ``(SPACE, NAME)``; space ids have no dots, names may."""
    space, sep, name = key.partition(".")
    if not sep or not space or not name:
        raise ValueError(f"{key!r} is not SPACE.NAME")
    return space, name


# -- schema ------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseRules(_Strict):
    """How a space becomes a Glue database name."""

    #: Placeholders: ``{space}`` (required), ``{prefix}``, ``{env}``, ``{env_suffix}``. The
    #: rendered text goes through ``glue_name`` (lowercase, ``[a-z0-9_]``).
    template: str = DEFAULT_DATABASE_TEMPLATE
    #: ``{prefix}`` per environment (naming conflicts between dog/wolf/bear in one account).
    env_prefix: dict[EnvName, str] = Field(default_factory=dict)
    #: ``{env_suffix}`` per environment.
    env_suffix: dict[EnvName, str] = Field(default_factory=dict)
    #: Explicit database name per space id; beats the template (no prefix/suffix applied).
    names: dict[str, str] = Field(default_factory=dict)

    @field_validator("template")
    @classmethod
    def _template(cls, value: str) -> str:
        _check_template(value, DATABASE_PLACEHOLDERS)
        if "space" not in template_fields(value):
            raise ValueError("must contain {space} (one database per space)")
        return value

    @field_validator("names")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for space, name in value.items():
            if not is_valid_glue_name(name):
                raise ValueError(
                    f"{space}: {name!r} is not a valid Glue name (lowercase [a-z0-9_], "
                    "starting with a letter or _, at most 255 bytes)"
                )
        return value


class Selector(_Strict):
    """Assets matched by space (globs), by name (globs or ``re:`` regexes) and by kind."""

    spaces: list[str] = Field(default_factory=list)
    #: Matched against the technical name and against ``SPACE.NAME``.
    assets: list[str] = Field(default_factory=list)
    kinds: list[AssetKind] = Field(default_factory=list)

    @field_validator("spaces", "assets")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for item in value:
            _check_pattern(item)
        return value

    @property
    def empty(self) -> bool:
        return not (self.spaces or self.assets or self.kinds)


class StorageRule(_Strict):
    """Storage of an external table: an S3 location template and a data format."""

    #: e.g. ``s3://bucket/{space}/{name}/``; placeholders ``{space}`` (space id), ``{name}``
    #: and ``{table}`` (the Glue table name), ``{database}``, ``{env}``. Empty: no location.
    location: str | None = None
    format: FormatName | None = "parquet"
    #: Explicit classes beat the preset's.
    input_format: str | None = None
    output_format: str | None = None
    serde_library: str | None = None
    #: Added to (and overriding) the preset's SerDe parameters.
    serde_parameters: dict[str, str] = Field(default_factory=dict)

    @field_validator("location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith("s3://"):
            raise ValueError(f"{value!r} must start with s3://")
        _check_template(value, LOCATION_PLACEHOLDERS)
        return value


class StorageRules(StorageRule):
    """Default storage, applied to the listed kinds (views by default)."""

    kinds: list[AssetKind] = Field(default_factory=lambda: [AssetKind.VIEW])


class Projection(_Strict):
    """Athena partition projection for one partition key (``projection.<key>.*``)."""

    type: Literal["enum", "integer", "date", "injected"]
    values: list[str] | None = None
    range: list[str] | None = None
    format: str | None = None
    interval: int | None = None
    unit: str | None = None
    digits: int | None = None

    @field_validator("range", mode="before")
    @classmethod
    def _range(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",")]
        return value

    @model_validator(mode="after")
    def _needs(self) -> Projection:
        if self.type == "enum" and not self.values:
            raise ValueError("projection type enum needs values")
        if self.type in ("integer", "date") and not self.range:
            raise ValueError(f"projection type {self.type} needs a range")
        if self.type == "date" and not self.format:
            raise ValueError("projection type date needs a format")
        if self.range is not None and len(self.range) != 2:
            raise ValueError("range needs exactly two bounds")
        return self

    def parameters(self, key: str) -> dict[str, str]:
        prefix = f"projection.{key}"
        out: dict[str, str] = {f"{prefix}.type": self.type}
        if self.values is not None:
            out[f"{prefix}.values"] = ",".join(self.values)
        if self.range is not None:
            out[f"{prefix}.range"] = ",".join(self.range)
        if self.format is not None:
            out[f"{prefix}.format"] = self.format
        if self.interval is not None:
            out[f"{prefix}.interval"] = str(self.interval)
        if self.unit is not None:
            out[f"{prefix}.interval.unit"] = self.unit
        if self.digits is not None:
            out[f"{prefix}.digits"] = str(self.digits)
        return out


class PartitionKey(_Strict):
    """A partition key: a source column moved to the partition keys, or a new key (``type``)."""

    column: str
    #: Athena type for a key that is not a source column (e.g. ``string``).
    type: str | None = None
    comment: str | None = None
    projection: Projection | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):  # `- ORDER_YEAR`
            return {"column": value}
        return value

    @field_validator("type")
    @classmethod
    def _type(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_athena_type(value):
            raise ValueError(f"{value!r} is not a valid Athena type")
        return value


_DECIMAL_SHORTHAND = re.compile(r"\s*decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*")


class DecimalFloatRule(_Strict):
    """Glue type for DecimalFloat (``cds.DecimalFloat``, ``hana.SMALLDECIMAL``, ``cds.Decimal``
    without precision): ``decimal(34,4)`` by default, or ``double`` / ``string``."""

    policy: DecimalFloatPolicy = DEFAULT_DECIMAL_FLOAT_POLICY
    precision: int = Field(default=DEFAULT_DECIMAL_FLOAT_PRECISION, ge=1, le=MAX_DECIMAL_PRECISION)
    scale: int = Field(default=DEFAULT_DECIMAL_FLOAT_SCALE, ge=0, le=MAX_DECIMAL_PRECISION)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):  # `decimal_float: double` / `decimal_float: decimal(34,4)`
            m = _DECIMAL_SHORTHAND.fullmatch(value)
            if m:
                return {"policy": "decimal", "precision": int(m[1]), "scale": int(m[2])}
            return {"policy": value}
        return value

    @model_validator(mode="after")
    def _scale_within_precision(self) -> DecimalFloatRule:
        if self.scale > self.precision:
            raise ValueError(f"scale {self.scale} exceeds precision {self.precision}")
        return self

    @property
    def setting(self) -> DecimalFloatSetting:
        return DecimalFloatSetting(self.policy, self.scale, self.precision)


class ColumnOverride(_Strict):
    name: str | None = None
    type: str | None = None
    comment: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_glue_column_name(value):
            raise ValueError(f"{value!r} is not a valid Glue column name")
        return value

    @field_validator("type")
    @classmethod
    def _type(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_athena_type(value):
            raise ValueError(f"{value!r} is not a valid Athena type")
        return value


def _check_extra_parameters(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        if key.startswith("dgsync."):
            raise ValueError(f"{key!r}: keys starting with 'dgsync.' are reserved for dgsync")
        if not 1 <= len(key.encode("utf-8")) <= 255:
            raise ValueError(f"{key!r}: keys must be 1-255 bytes")
    return value


class Override(_Strict):
    """Settings for one asset (``SPACE.NAME``) or for every asset a pattern matches."""

    asset: str
    exclude: bool = False
    table_name: str | None = None
    description: str | None = None
    priority: Priority | None = None
    partition_keys: list[PartitionKey] | None = None
    #: ``storage.location.template`` for partition projection (``${key}`` placeholders).
    projection_location: str | None = None
    storage: StorageRule | None = None
    decimal_float: DecimalFloatRule | None = None
    #: Per source column (technical name): Glue name, type, comment.
    columns: dict[str, ColumnOverride] = Field(default_factory=dict)
    #: Extra table Parameters (keys must not start with ``dgsync.``).
    parameters: dict[str, str] = Field(default_factory=dict)

    @field_validator("asset")
    @classmethod
    def _asset(cls, value: str) -> str:
        if is_pattern(value):
            return _check_pattern(value)
        split_asset_key(value)
        return value

    @field_validator("table_name")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_glue_name(value):
            raise ValueError(
                f"{value!r} is not a valid Glue table name (lowercase [a-z0-9_], starting with "
                "a letter or _, at most 255 bytes)"
            )
        return value

    @field_validator("projection_location")
    @classmethod
    def _projection_location(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("s3://"):
            raise ValueError(f"{value!r} must start with s3://")
        return value

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_extra_parameters(value)

    @model_validator(mode="after")
    def _exact_for_table_name(self) -> Override:
        if self.table_name is not None and is_pattern(self.asset):
            raise ValueError(
                "table_name needs an exact asset (SPACE.NAME), not a pattern: several assets "
                "would get the same name"
            )
        return self

    def matches(self, asset: Asset) -> bool:
        if is_pattern(self.asset):
            return match_pattern(self.asset, asset.name, asset.key)
        return self.asset == asset.key


class UnmanagedRules(_Strict):
    """What to do with an existing Glue table dgsync does not manage."""

    #: ``None``: the setting ``DGSYNC_SYNC__UNMANAGED_POLICY`` decides.
    policy: Literal["skip_and_flag", "adopt"] | None = None
    #: ``database.table`` names that may be adopted even under ``skip_and_flag``.
    adopt: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):  # `unmanaged: adopt`
            return {"policy": value}
        return value

    @field_validator("adopt")
    @classmethod
    def _adopt(cls, value: list[str]) -> list[str]:
        for item in value:
            db, sep, table = item.partition(".")
            if not sep or not is_valid_glue_name(db) or not is_valid_glue_name(table):
                raise ValueError(f"{item!r} is not database.table (Glue names)")
        return value


class PriorityRules(_Strict):
    kinds: dict[AssetKind, Priority] = Field(default_factory=dict)


class Rules(_Strict):
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
        return _check_extra_parameters(value)

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
    loader = yaml.SafeLoader(text)
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
