"""The building blocks of the mapping rules: placeholders and templates, storage format
presets, name patterns, and the schema models of each section (databases, include/exclude
selectors, storage, partition keys and projections, DecimalFloat, overrides, unmanaged tables,
priorities). :class:`core.mapping.rules.Rules` assembles them; import them from there.
"""

from __future__ import annotations

import re
import string
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.models import Asset, AssetKind, Priority

from .names import is_valid_glue_column_name, is_valid_glue_name
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


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseRules(StrictModel):
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


class Selector(StrictModel):
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


class StorageRule(StrictModel):
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


class Projection(StrictModel):
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


class PartitionKey(StrictModel):
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


class DecimalFloatRule(StrictModel):
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


class ColumnOverride(StrictModel):
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


def check_extra_parameters(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        if key.startswith("dgsync."):
            raise ValueError(f"{key!r}: keys starting with 'dgsync.' are reserved for dgsync")
        if not 1 <= len(key.encode("utf-8")) <= 255:
            raise ValueError(f"{key!r}: keys must be 1-255 bytes")
    return value


class Override(StrictModel):
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
        return check_extra_parameters(value)

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


class UnmanagedRules(StrictModel):
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


class PriorityRules(StrictModel):
    kinds: dict[AssetKind, Priority] = Field(default_factory=dict)
