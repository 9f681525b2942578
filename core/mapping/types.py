"""CDS / EDM types → Glue (Hive/Athena DDL) types, exactly per ``datasphere-api.md`` §7.

The one lossy corner is ``cds.DecimalFloat`` / ``hana.SMALLDECIMAL`` / ``cds.Decimal`` without
precision (Datasphere's *DecimalFloat*: a decimal floating point, up to 34 significant digits
and an exponent, so no fixed ``decimal(p,s)`` holds every value). Its Glue type is a policy
(:class:`DecimalFloatPolicy`), each option with a documented loss:

* ``decimal`` (**default**, ``decimal(34,4)``): the mapping SAP's CSN Interop specification
  uses for Spark/Delta Lake, which have no decimal float either. Numeric, so Athena can
  ``SUM`` it; values with more than 30 integer digits overflow, and digits beyond the 4th
  decimal place are rounded away (``1.23e-10`` reads as ``0``). Precision and scale are
  configurable (``decimal(p,s)``, p ≤ 38).
* ``double``: keeps the magnitude (up to ~1.8e308), loses digits beyond ~15–17 significant and
  cannot represent ``0.1`` exactly.
* ``string``: keeps every digit of every value, but is text: no arithmetic without a cast.

Whatever the policy, a **measure** (semantic role ``measure``) is always numeric: a measure
whose type would map to a non-numeric Glue type (unknown or unresolved type, ``string`` policy,
``cds.Decimal`` beyond precision 38...) maps to ``decimal(34,4)`` and is reported
(:func:`glue_type` with ``measure=True``). The original type stays in the column Parameters
(``dgsync.cds_type``).

Other documented decisions:

* ``cds.String(n)``: ``varchar(n)`` for 1 ≤ n ≤ 65535 (Hive's varchar maximum; CDS itself stops
  at 5000); n > 65535 → ``string`` (reported as info); no length → ``string``.
* ``hana.CHAR/NCHAR`` without a length → ``string`` (reported).
* ``cds.Decimal(p,s)`` with p > 38 → ``string`` (exact text; reported as a warning).
* ``cds.hana.TINYINT`` / ``Edm.Byte`` (unsigned 0–255) → ``smallint``: Athena's ``tinyint`` is
  signed (−128..127).
* Anything unknown → ``string`` and a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from core.models import CdsType

#: Hive / Athena limits used below.
MAX_DECIMAL_PRECISION = 38
MAX_VARCHAR_LENGTH = 65535
MAX_CHAR_LENGTH = 255
#: Type name the CSN parser uses for an analytic-model column whose type it could not find.
UNRESOLVED_TYPE = "unresolved"
#: Glue column ``Type`` limit (UTF-8 bytes).
MAX_TYPE_BYTES = 131_072


class DecimalFloatPolicy(StrEnum):
    """How ``cds.DecimalFloat`` / ``hana.SMALLDECIMAL`` / ``cds.Decimal`` without precision /
    ``Edm.Decimal`` without facets map."""

    STRING = "string"
    DOUBLE = "double"
    DECIMAL = "decimal"


#: The default policy: ``decimal(34,4)``, SAP's own mapping for engines without a decimal float
#: (CSN Interop, Spark/Delta Lake) — numeric, so measures can be aggregated.
DEFAULT_DECIMAL_FLOAT_POLICY = DecimalFloatPolicy.DECIMAL
#: Precision and scale of the ``decimal`` policy unless the rules say otherwise.
DEFAULT_DECIMAL_FLOAT_PRECISION = 34
DEFAULT_DECIMAL_FLOAT_SCALE = 4
#: The Glue type of a measure whose type is unknown, unresolved or not numeric.
MEASURE_FALLBACK_TYPE = f"decimal({DEFAULT_DECIMAL_FLOAT_PRECISION},{DEFAULT_DECIMAL_FLOAT_SCALE})"


@dataclass(frozen=True)
class DecimalFloatSetting:
    """A policy plus precision and scale for ``decimal(precision, scale)``."""

    policy: DecimalFloatPolicy = DEFAULT_DECIMAL_FLOAT_POLICY
    scale: int = DEFAULT_DECIMAL_FLOAT_SCALE
    precision: int = DEFAULT_DECIMAL_FLOAT_PRECISION

    def __post_init__(self) -> None:
        if not (1 <= self.precision <= MAX_DECIMAL_PRECISION and 0 <= self.scale <= self.precision):
            raise ValueError(
                f"decimal({self.precision},{self.scale}): precision must be 1..."
                f"{MAX_DECIMAL_PRECISION} and scale 0..precision"
            )

    @property
    def label(self) -> str:
        """``string``, ``double`` or ``decimal(p,s)``: the policy as the rules file spells it."""
        if self.policy is DecimalFloatPolicy.DECIMAL:
            return f"decimal({self.precision},{self.scale})"
        return self.policy.value


@dataclass(frozen=True)
class TypeResult:
    """A Glue type, an optional problem to report, and the original type as text."""

    type: str
    issue: str | None
    original: str
    #: ``info`` (a documented, intended conversion) or ``warning`` (information may be lost).
    severity: Literal["info", "warning"] = "warning"
    #: Short machine code for the issue (``unknown_type``, ``decimal_precision``...).
    code: str | None = None


# -- name tables -----------------------------------------------------------------------------
# Keys are lowercase CDS names without the ``cds.`` prefix (``hana.tinyint``, ``string``...).

_STRING_LIKE = {"string", "hana.varchar", "hana.nvarchar", "hana.alphanum", "hana.shorttext"}
_LOB = {"largestring", "hana.clob", "hana.nclob", "hana.text", "hana.bintext", "hana.largestring"}
_CHAR = {"hana.char", "hana.nchar"}
_BINARY = {
    "binary",
    "largebinary",
    "hana.binary",
    "hana.varbinary",
    "hana.blob",
    "hana.largebinary",
}
_GEO = {"hana.st_geometry", "hana.st_point"}
_DECIMAL_FLOAT = {"decimalfloat", "hana.smalldecimal"}
_SIMPLE: dict[str, str] = {
    "uuid": "varchar(36)",
    "boolean": "boolean",
    "hana.tinyint": "smallint",  # unsigned 0-255; Hive tinyint is signed
    "uint8": "smallint",
    "hana.smallint": "smallint",
    "int16": "smallint",
    "integer": "int",
    "int32": "int",
    "integer64": "bigint",
    "int64": "bigint",
    "hana.bigint": "bigint",
    "hana.integer": "int",
    "double": "double",
    "hana.double": "double",
    "hana.real": "float",
    "date": "date",
    "hana.date": "date",
    "time": "string",  # Athena DDL has no TIME
    "hana.time": "string",
    "datetime": "timestamp",
    "timestamp": "timestamp",
    "hana.seconddate": "timestamp",
    "hana.timestamp": "timestamp",
    "hana.boolean": "boolean",
}
_RELATIONSHIP = {"association", "composition"}

# EDM names (lowercase, without ``edm.``) → handled like this CDS key.
_EDM_TO_CDS: dict[str, str] = {
    "string": "string",
    "guid": "uuid",
    "boolean": "boolean",
    "byte": "hana.tinyint",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "decimal": "decimal",
    "double": "double",
    "single": "hana.real",
    "date": "date",
    "timeofday": "time",
    "datetimeoffset": "timestamp",
    "binary": "binary",
    "stream": "binary",
    "duration": "time",
}
_EDM_SIMPLE_EXTRA: dict[str, str] = {"sbyte": "tinyint"}


def _cds_key(name: str) -> str:
    key = name.strip().lower()
    if key.startswith("cds."):
        key = key[4:]
    return key


def _edm_key(name: str) -> str | None:
    key = name.strip().lower()
    if key.startswith("edm."):
        return key[4:]
    return None


_NUMERIC = re.compile(r"(tinyint|smallint|int|bigint|float|double|decimal(\(\d+(,\d+)?\))?)")


def is_numeric_glue_type(glue: str) -> bool:
    """True for the Glue types Athena can aggregate with ``SUM``/``AVG``."""
    return _NUMERIC.fullmatch(glue.strip().lower()) is not None


def glue_type(
    t: CdsType,
    policy: DecimalFloatPolicy | DecimalFloatSetting = DEFAULT_DECIMAL_FLOAT_POLICY,
    *,
    measure: bool = False,
) -> TypeResult:
    """Map a CDS (or EDM) type to its Glue type, per the table in ``datasphere-api.md`` §7.

    ``measure=True``: the column is a measure, which is always numeric — a type that would map
    to a non-numeric Glue type maps to :data:`MEASURE_FALLBACK_TYPE` instead, with a warning.
    """
    setting = policy if isinstance(policy, DecimalFloatSetting) else DecimalFloatSetting(policy)
    result = _glue_type(t, setting)
    if not measure or is_numeric_glue_type(result.type):
        return result
    if result.code in ("unresolved_type", "unknown_type"):
        what = "its type could not be resolved from the sources" if (
            result.code == "unresolved_type") else f"unknown type {result.original or '(empty)'}"
        code = result.code
    else:
        what = f"{result.original} would map to {result.type}"
        code = "measure_not_numeric"
    return TypeResult(
        MEASURE_FALLBACK_TYPE,
        f"measure: {what}; mapped to {MEASURE_FALLBACK_TYPE} so that it stays numeric "
        "(Athena cannot SUM a string)",
        result.original,
        code=code,
    )


def _glue_type(t: CdsType, setting: DecimalFloatSetting) -> TypeResult:
    original = str(t)
    # A CDS name is more specific than the EDM type it travelled as (hana.CHAR vs Edm.String),
    # so it wins when we know it; otherwise the EDM type decides.
    key = _cds_key(t.name)
    if not _known_cds(key):
        edm = _edm_key(t.name) or (_edm_key(t.edm_type) if t.edm_type else None)
        if edm is not None:
            if edm in _EDM_SIMPLE_EXTRA:
                return TypeResult(_EDM_SIMPLE_EXTRA[edm], None, original)
            if edm.startswith(("geography", "geometry")):
                return TypeResult("string", None, original)
            if edm in _EDM_TO_CDS:
                key = _EDM_TO_CDS[edm]
    return _map_cds(key, t, setting, original)


def _known_cds(key: str) -> bool:
    return (
        key in _STRING_LIKE
        or key in _LOB
        or key in _CHAR
        or key in _BINARY
        or key in _GEO
        or key in _DECIMAL_FLOAT
        or key in _SIMPLE
        or key in _RELATIONSHIP
        or key == "decimal"
        or key == "hana.decimal"
    )


def _map_cds(key: str, t: CdsType, setting: DecimalFloatSetting, original: str) -> TypeResult:
    if key in _STRING_LIKE:
        return _varchar(t.length, original)
    if key in _LOB:
        return TypeResult("string", None, original)
    if key in _CHAR:
        n = t.length
        if n is None or n < 1:
            return TypeResult(
                "string", f"{original}: CHAR without a valid length mapped to string", original,
                code="missing_length",
            )
        if n <= MAX_CHAR_LENGTH:
            return TypeResult(f"char({n})", None, original)
        return _varchar(n, original)
    if key in _BINARY:
        return TypeResult("binary", None, original)
    if key in _GEO:
        return TypeResult("string", None, original)
    if key in _DECIMAL_FLOAT:
        return _decimal_float(setting, original)
    if key in ("decimal", "hana.decimal"):
        return _decimal(t, setting, original)
    if key in _SIMPLE:
        return TypeResult(_SIMPLE[key], None, original)
    if key in _RELATIONSHIP:
        return TypeResult(
            "string",
            f"{original} is a relationship, not a column; mapped to string",
            original,
            code="relationship_as_column",
        )
    if key == UNRESOLVED_TYPE:
        return TypeResult(
            "string", "type could not be resolved from the sources; mapped to string", original,
            code="unresolved_type",
        )
    return TypeResult(
        "string", f"unknown type {original or '(empty)'} mapped to string", original,
        code="unknown_type",
    )


def _varchar(n: int | None, original: str) -> TypeResult:
    if n is None or n == 0:
        return TypeResult("string", None, original)
    if n < 0:
        return TypeResult(
            "string", f"{original}: negative length mapped to string", original,
            code="invalid_length",
        )
    if n > MAX_VARCHAR_LENGTH:
        return TypeResult(
            "string",
            f"{original}: length {n} exceeds Hive's varchar maximum {MAX_VARCHAR_LENGTH}; "
            "mapped to string",
            original,
            severity="info",
            code="varchar_too_long",
        )
    return TypeResult(f"varchar({n})", None, original)


def _decimal_float(setting: DecimalFloatSetting, original: str) -> TypeResult:
    if setting.policy is DecimalFloatPolicy.DOUBLE:
        return TypeResult("double", None, original)
    if setting.policy is DecimalFloatPolicy.DECIMAL:
        return TypeResult(f"decimal({setting.precision},{setting.scale})", None, original)
    return TypeResult("string", None, original)


def _decimal(t: CdsType, setting: DecimalFloatSetting, original: str) -> TypeResult:
    p = t.precision
    if p is None:
        # CDS/HANA DECIMAL without precision is a decimal floating point.
        return _decimal_float(setting, original)
    s = t.scale or 0
    if p < 1 or s < 0 or s > p:
        return TypeResult(
            "string", f"{original}: invalid precision/scale mapped to string", original,
            code="invalid_decimal",
        )
    if p > MAX_DECIMAL_PRECISION:
        return TypeResult(
            "string",
            f"{original}: precision {p} exceeds Athena's maximum {MAX_DECIMAL_PRECISION}; "
            "mapped to string to keep every digit",
            original,
            code="decimal_precision",
        )
    return TypeResult(f"decimal({p},{s})", None, original)


# -- Athena DDL type validation --------------------------------------------------------------

_PRIMITIVES = {
    "boolean",
    "tinyint",
    "smallint",
    "int",
    "bigint",
    "float",
    "double",
    "string",
    "binary",
    "date",
    "timestamp",
}
_TOKEN = re.compile(r"\s*([a-z_][a-z0-9_]*|\d+|[<>(),:])")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[str] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                if text[pos:].strip() == "":
                    break
                raise ValueError(f"bad character at {pos}")
            self.tokens.append(m.group(1))
            pos = m.end()
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise ValueError(f"expected {expected!r}, got {tok!r}")
        self.i += 1
        return tok

    def number(self) -> int:
        tok = self.take()
        if not tok.isdigit():
            raise ValueError(f"expected a number, got {tok!r}")
        return int(tok)

    def type_(self) -> str:
        name = self.take()
        if name in _PRIMITIVES:
            return name
        if name == "decimal":
            if self.peek() == "(":
                self.take("(")
                p = self.number()
                s = 0
                if self.peek() == ",":
                    self.take(",")
                    s = self.number()
                self.take(")")
                if not (1 <= p <= MAX_DECIMAL_PRECISION and 0 <= s <= p):
                    raise ValueError("decimal precision/scale out of range")
            return name
        if name in ("varchar", "char"):
            self.take("(")
            n = self.number()
            self.take(")")
            limit = MAX_VARCHAR_LENGTH if name == "varchar" else MAX_CHAR_LENGTH
            if not 1 <= n <= limit:
                raise ValueError(f"{name} length out of range")
            return name
        if name == "array":
            self.take("<")
            self.type_()
            self.take(">")
            return name
        if name == "map":
            self.take("<")
            key = self.type_()
            if key not in _PRIMITIVES | {"decimal", "varchar", "char"}:
                raise ValueError("map keys must be primitive")
            self.take(",")
            self.type_()
            self.take(">")
            return name
        if name == "struct":
            self.take("<")
            seen: set[str] = set()
            while True:
                field = self.take()
                if not re.fullmatch(r"[a-z_][a-z0-9_]*", field) or field in seen:
                    raise ValueError("bad struct field name")
                seen.add(field)
                self.take(":")
                self.type_()
                if self.peek() == ",":
                    self.take(",")
                    continue
                break
            self.take(">")
            return name
        raise ValueError(f"unknown type {name!r}")


def is_valid_athena_type(s: str) -> bool:
    """True when ``s`` is a type Athena DDL accepts as a Glue column type (lowercase form)."""
    if not s or len(s.encode("utf-8")) > MAX_TYPE_BYTES or s != s.strip():
        return False
    try:
        parser = _Parser(s)
        parser.type_()
        return parser.peek() is None
    except ValueError:
        return False
