"""Queries and lineage in the CSN parser: dependencies of a ``query`` (``from`` refs,
joins, unions, mixins, subqueries) and column-level lineage through it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.datasphere.csn.columns import ColumnParser
from core.datasphere.csn.values import dedupe, segment
from core.errors import CsnError
from core.models import AssetRef, DependencyKind


def _ref_name(me: AssetRef, ref: Any) -> str:
    if not isinstance(ref, list) or not ref:
        raise CsnError(f"{me}: query 'ref' is not a non-empty list")
    name = segment(ref[0])
    if not name:
        raise CsnError(f"{me}: query 'ref' has an empty name")
    return name


def _subqueries(node: Any) -> Iterable[dict[str, Any]]:
    """Nested ``SELECT`` / ``SET`` nodes inside an expression (where, having, columns...)."""
    if isinstance(node, dict):
        if "SELECT" in node or "SET" in node:
            yield node
            return
        for value in node.values():
            yield from _subqueries(value)
    elif isinstance(node, list):
        for value in node:
            yield from _subqueries(value)


def _collect_refs(node: Any, out: list[list[str]]) -> None:
    """Column refs used inside an expression (``xpr``, ``func`` args...), nested selects excluded."""
    if isinstance(node, dict):
        if "SELECT" in node or "SET" in node:
            return
        ref = node.get("ref")
        if isinstance(ref, list) and ref:
            out.append([segment(s) for s in ref])
        for key, value in node.items():
            if key != "ref":
                _collect_refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _collect_refs(value, out)


class QueryParser(ColumnParser):
    """Reads the dependencies and column lineage of a view's query."""

    def _query_deps(
        self, me: AssetRef, node: Any, kind: DependencyKind
    ) -> list[tuple[AssetRef, DependencyKind]]:
        out: list[tuple[AssetRef, DependencyKind]] = []
        if not isinstance(node, dict):
            return out
        if "SET" in node:
            args = node["SET"].get("args") if isinstance(node["SET"], dict) else None
            if not isinstance(args, list):
                raise CsnError(f"{me}: query SET has no 'args' list")
            for arg in args:
                out.extend(self._query_deps(me, arg, DependencyKind.UNION))
            return out
        select = node.get("SELECT")
        if select is None:
            return out
        if not isinstance(select, dict):
            raise CsnError(f"{me}: query SELECT is not an object")
        if "from" not in select:
            raise CsnError(f"{me}: query SELECT has no 'from'")
        out.extend(self._from_deps(me, select["from"], kind))
        mixin = select.get("mixin")
        if isinstance(mixin, dict):
            for mix_name, mix in mixin.items():
                target = mix.get("target") if isinstance(mix, dict) else None
                if not isinstance(target, str):
                    raise CsnError(f"{me}: mixin {mix_name!r} has no target")
                out.append((self.resolver.ref(target), DependencyKind.MIXIN))
        for clause in ("columns", "where", "having", "groupBy", "orderBy"):
            for sub in _subqueries(select.get(clause)):
                out.extend(self._query_deps(me, sub, DependencyKind.FROM))
        return out

    def _from_deps(
        self, me: AssetRef, node: Any, kind: DependencyKind
    ) -> list[tuple[AssetRef, DependencyKind]]:
        if not isinstance(node, dict):
            raise CsnError(f"{me}: query 'from' is a {type(node).__name__}, not an object")
        if "ref" in node:
            return [(self.resolver.ref(_ref_name(me, node["ref"])), kind)]
        if "join" in node or "args" in node:
            args = node.get("args")
            if not isinstance(args, list) or not args:
                raise CsnError(f"{me}: join without 'args'")
            out: list[tuple[AssetRef, DependencyKind]] = []
            for arg in args:
                out.extend(self._from_deps(me, arg, DependencyKind.JOIN))
            for sub in _subqueries(node.get("on")):
                out.extend(self._query_deps(me, sub, DependencyKind.FROM))
            return out
        if "SELECT" in node or "SET" in node:
            return self._query_deps(me, node, kind)
        raise CsnError(f"{me}: query 'from' has neither ref, join nor SELECT")

    # column-level lineage -------------------------------------------------------------
    def _query_lineage(self, me: AssetRef, node: Any) -> dict[str, list[str]]:
        if not isinstance(node, dict):
            return {}
        if "SET" in node:
            args = node["SET"].get("args", []) if isinstance(node["SET"], dict) else []
            maps = [self._query_lineage(me, a) for a in args]
            if not maps:
                return {}
            names = list(maps[0])
            out = {n: list(v) for n, v in maps[0].items()}
            for other in maps[1:]:
                if len(other) == len(names) and set(other) != set(names):
                    pairs = zip(names, other.values(), strict=True)  # positional union
                else:
                    pairs = ((n, other.get(n, [])) for n in names)  # type: ignore[assignment]
                for n, lin in pairs:
                    out[n] = dedupe([*out[n], *lin])
            return out
        select = node.get("SELECT")
        if not isinstance(select, dict):
            return {}
        sources = self._sources(me, select.get("from"))
        out_map: dict[str, list[str]] = {}
        columns = select.get("columns")
        star = columns is None or "*" in (columns or [])
        for col in columns or []:
            if not isinstance(col, dict):
                continue
            name = col.get("as")
            if "ref" in col and isinstance(col["ref"], list) and col["ref"]:
                segs = [segment(s) for s in col["ref"]]
                name = name or segs[-1]
                out_map[str(name)] = self._ref_lineage(segs, sources)
            elif name is not None and not ("SELECT" in col or "SET" in col):
                refs: list[list[str]] = []
                _collect_refs(col, refs)
                out_map[str(name)] = dedupe(x for r in refs for x in self._ref_lineage(r, sources))
        if star and len(sources) == 1:
            (source,) = sources.values()
            if isinstance(source, AssetRef):
                el_names = self._elements_of(source)
                star_map: dict[str, list[str]] = {n: [f"{source}.{n}"] for n in el_names}
            else:
                star_map = {n: list(v) for n, v in source.items()}
            for n, lin in star_map.items():
                out_map.setdefault(n, lin)
        return out_map

    def _elements_of(self, ref: AssetRef) -> list[str]:
        """Element names of a source defined in this document (for ``SELECT *``)."""
        for name, body in self.defs.items():
            if self.resolver.ref(name) == ref:
                els = body.get("elements", {})
                return [
                    n
                    for n, e in els.items()
                    if isinstance(e, dict) and not self._is_relationship(e)
                ]
        return []

    def _ref_lineage(
        self, segs: list[str], sources: dict[str, AssetRef | dict[str, list[str]]]
    ) -> list[str]:
        if not segs or segs[0].startswith("$"):
            return []
        if len(segs) == 2 and segs[0] in sources:
            source, col = sources[segs[0]], segs[1]
        elif len(segs) == 1 and len(sources) == 1:
            (source,), col = sources.values(), segs[0]
        else:
            return []  # association paths and ambiguous refs carry no simple lineage
        if isinstance(source, AssetRef):
            return [f"{source}.{col}"]
        return list(source.get(col, []))

    def _sources(self, me: AssetRef, node: Any) -> dict[str, AssetRef | dict[str, list[str]]]:
        """Alias → source asset (a ref) or lineage map (a nested select)."""
        out: dict[str, AssetRef | dict[str, list[str]]] = {}
        if not isinstance(node, dict):
            return out
        if "ref" in node:
            name = _ref_name(me, node["ref"])
            ref = self.resolver.ref(name)
            alias = node.get("as") or ref.name.rsplit(".", 1)[-1]
            out[str(alias)] = ref
        elif "join" in node or "args" in node:
            for arg in node.get("args") or []:
                out.update(self._sources(me, arg))
        elif "SELECT" in node or "SET" in node:
            alias = node.get("as")
            if alias:
                out[str(alias)] = self._query_lineage(me, node)
        return out
