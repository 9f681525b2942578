"""OData v4 query options for the catalog (and the design-time lists' ``filter``).

``$filter`` is parsed by a small recursive-descent parser into an AST and evaluated per row:

    expr     := or
    or       := and ("or" and)*
    and      := not ("and" not)*
    not      := "not" not | compare
    compare  := value (("eq"|"ne"|"gt"|"ge"|"lt"|"le") value | "in" "(" value ("," value)* ")")?
    value    := "(" expr ")" | literal | func "(" args ")" | property
    literal  := 'str''ing' | number | true | false | null

Functions: ``contains startswith endswith tolower toupper length trim``. Comparisons with
``null`` follow OData: only ``eq``/``ne`` are true for it. Unknown properties, bad syntax and
unsupported functions raise :class:`ODataError` (the caller answers 400).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Row = Mapping[str, Any]


class ODataError(ValueError):
    """A request the OData service rejects: HTTP status plus message (and target option)."""

    def __init__(self, message: str, *, status: int = 400, target: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.target = target

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": str(self.status), "message": self.message}
        if self.target:
            error["target"] = self.target
        return {"error": error}


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<lparen>\() | (?P<rparen>\)) | (?P<comma>,)
      | (?P<ident>[A-Za-z_$][A-Za-z0-9_./$]*)
    )""",
    re.VERBOSE,
)
_COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_KEYWORDS = frozenset({"and", "or", "not", "in", *_COMPARISONS})
_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "contains": (2, lambda a, b: a is not None and b is not None and str(b) in str(a)),
    "startswith": (2, lambda a, b: a is not None and b is not None and str(a).startswith(str(b))),
    "endswith": (2, lambda a, b: a is not None and b is not None and str(a).endswith(str(b))),
    "tolower": (1, lambda a: None if a is None else str(a).lower()),
    "toupper": (1, lambda a: None if a is None else str(a).upper()),
    "length": (1, lambda a: None if a is None else len(str(a))),
    "trim": (1, lambda a: None if a is None else str(a).strip()),
}


@dataclass(frozen=True)
class Token:
    kind: str
    value: Any
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ODataError(f"invalid $filter: unexpected character at position {pos}", target="$filter")
        kind = m.lastgroup or ""
        raw = m.group(kind)
        start = m.start(kind)
        if kind == "string":
            tokens.append(Token("literal", raw[1:-1].replace("''", "'"), start))
        elif kind == "number":
            tokens.append(Token("literal", float(raw) if any(c in raw for c in ".eE") else int(raw), start))
        elif kind == "ident":
            low = raw.lower()
            if low in _KEYWORDS:
                tokens.append(Token("kw", low, start))
            elif low in ("true", "false"):
                tokens.append(Token("literal", low == "true", start))
            elif low == "null":
                tokens.append(Token("literal", None, start))
            else:
                tokens.append(Token("ident", raw, start))
        else:
            tokens.append(Token(kind, raw, start))
        pos = m.end()
    return tokens


# AST nodes are tuples: ("prop", name) ("lit", v) ("cmp", op, l, r) ("in", l, [v..]) ("and", l, r)
# ("or", l, r) ("not", x) ("func", name, [args]).
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, tokens: Sequence[Token], properties: frozenset[str], bare_literals: bool) -> None:
        self.tokens = tokens
        self.i = 0
        self.properties = properties
        self.bare = bare_literals

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise ODataError("invalid $filter: unexpected end of expression", target="$filter")
        self.i += 1
        return tok

    def expect(self, kind: str) -> Token:
        tok = self.take()
        if tok.kind != kind:
            raise ODataError(f"invalid $filter: expected {kind} at position {tok.pos}", target="$filter")
        return tok

    def is_kw(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "kw" and tok.value == word

    def parse(self) -> Node:
        node = self.parse_or()
        tok = self.peek()
        if tok is not None:
            raise ODataError(f"invalid $filter: unexpected {tok.value!r} at position {tok.pos}", target="$filter")
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.is_kw("or"):
            self.take()
            node = ("or", node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.is_kw("and"):
            self.take()
            node = ("and", node, self.parse_not())
        return node

    def parse_not(self) -> Node:
        if self.is_kw("not"):
            self.take()
            return ("not", self.parse_not())
        return self.parse_compare()

    def parse_compare(self) -> Node:
        left = self.parse_value()
        tok = self.peek()
        if tok is not None and tok.kind == "kw" and tok.value in _COMPARISONS:
            self.take()
            return ("cmp", tok.value, left, self.parse_value())
        if self.is_kw("in"):
            self.take()
            self.expect("lparen")
            items = [self.parse_value()]
            while self.peek() is not None and self.peek().kind == "comma":  # type: ignore[union-attr]
                self.take()
                items.append(self.parse_value())
            self.expect("rparen")
            return ("in", left, items)
        return left

    def parse_value(self) -> Node:
        tok = self.take()
        if tok.kind == "lparen":
            node = self.parse_or()
            self.expect("rparen")
            return node
        if tok.kind == "literal":
            return ("lit", tok.value)
        if tok.kind == "ident":
            nxt = self.peek()
            if nxt is not None and nxt.kind == "lparen":
                name = tok.value.lower()
                if name not in _FUNCTIONS:
                    raise ODataError(f"unsupported function {tok.value!r} in $filter", target="$filter")
                self.take()
                args = [self.parse_or()]
                while self.peek() is not None and self.peek().kind == "comma":  # type: ignore[union-attr]
                    self.take()
                    args.append(self.parse_or())
                self.expect("rparen")
                if len(args) != _FUNCTIONS[name][0]:
                    raise ODataError(f"{name} takes {_FUNCTIONS[name][0]} argument(s)", target="$filter")
                return ("func", name, args)
            if tok.value in self.properties:
                return ("prop", tok.value)
            if self.bare:
                return ("lit", tok.value)
            raise ODataError(f"unknown property {tok.value!r} in $filter", target="$filter")
        raise ODataError(f"invalid $filter: unexpected {tok.value!r} at position {tok.pos}", target="$filter")


def parse_filter(text: str, properties: frozenset[str], *, bare_literals: bool = False) -> Node:
    """Parse a ``$filter`` expression (``bare_literals``: unknown words are string literals,
    as in the design-time API's ``filter=status eq Deployed``)."""
    tokens = tokenize(text)
    if not tokens:
        raise ODataError("invalid $filter: empty expression", target="$filter")
    return _Parser(tokens, properties, bare_literals).parse()


def _compare(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        if op == "eq":
            return a is None and b is None
        if op == "ne":
            return not (a is None and b is None)
        return False
    if isinstance(a, bool) != isinstance(b, bool):
        if op in ("eq", "ne"):
            return (op == "ne")
        raise ODataError("incompatible operand types in $filter", target="$filter")
    if isinstance(a, (int, float)) != isinstance(b, (int, float)):
        if op in ("eq", "ne"):
            return (op == "ne") != (str(a) == str(b))
        a, b = str(a), str(b)
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if op == "gt":
        return bool(a > b)
    if op == "ge":
        return bool(a >= b)
    if op == "lt":
        return bool(a < b)
    return bool(a <= b)


def evaluate(node: Node, row: Row) -> Any:
    kind = node[0]
    if kind == "prop":
        return row.get(node[1])
    if kind == "lit":
        return node[1]
    if kind == "cmp":
        return _compare(node[1], evaluate(node[2], row), evaluate(node[3], row))
    if kind == "in":
        value = evaluate(node[1], row)
        return any(_compare("eq", value, evaluate(item, row)) for item in node[2])
    if kind == "and":
        return _truthy(evaluate(node[1], row)) and _truthy(evaluate(node[2], row))
    if kind == "or":
        return _truthy(evaluate(node[1], row)) or _truthy(evaluate(node[2], row))
    if kind == "not":
        return not _truthy(evaluate(node[1], row))
    if kind == "func":
        return _FUNCTIONS[node[1]][1](*(evaluate(a, row) for a in node[2]))
    raise ODataError(f"cannot evaluate {kind}")


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ODataError("$filter must be a boolean expression", target="$filter")


_BOOLEAN_NODES = frozenset({"cmp", "in", "and", "or", "not"})
_BOOLEAN_FUNCTIONS = frozenset({"contains", "startswith", "endswith"})


def compile_filter(text: str, properties: frozenset[str], *, bare_literals: bool = False) -> Callable[[Row], bool]:
    """Parse once; the returned predicate evaluates one row."""
    node = parse_filter(text, properties, bare_literals=bare_literals)
    boolean = (
        node[0] in _BOOLEAN_NODES
        or node[0] == "prop"
        or (node[0] == "func" and node[1] in _BOOLEAN_FUNCTIONS)
        or (node[0] == "lit" and isinstance(node[1], bool))
    )
    if not boolean:
        raise ODataError("$filter must be a boolean expression", target="$filter")
    return lambda row: _truthy(evaluate(node, row))


def parse_orderby(text: str, properties: frozenset[str]) -> list[tuple[str, bool]]:
    """``name desc, spaceName`` → ``[("name", True), ("spaceName", False)]`` (True = descending)."""
    out: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ODataError(f"invalid $orderby item {part.strip()!r}", target="$orderby")
        if words[0] not in properties:
            raise ODataError(f"unknown property {words[0]!r} in $orderby", target="$orderby")
        out.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return out


def sort_rows(rows: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    for prop, desc in reversed(order):
        rows.sort(key=lambda r: (r.get(prop) is not None, r.get(prop) if r.get(prop) is not None else ""),
                  reverse=desc)
    return rows


def parse_select(text: str, properties: Sequence[str]) -> list[str]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    if not items:
        raise ODataError("empty $select", target="$select")
    if "*" in items:
        return list(properties)
    for item in items:
        if item not in properties:
            raise ODataError(f"unknown property {item!r} in $select", target="$select")
    return [p for p in properties if p in items]


def parse_non_negative(name: str, value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise ODataError(f"{name} must be a non-negative integer, not {value!r}", target=name) from None
    if n < 0:
        raise ODataError(f"{name} must be a non-negative integer, not {value!r}", target=name)
    return n


def parse_bool(name: str, value: str) -> bool:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ODataError(f"{name} must be true or false, not {value!r}", target=name)


def parse_key(text: str) -> str:
    """The string inside an OData key predicate: ``'A''B'`` → ``A'B``."""
    return text.replace("''", "'")
