"""Deterministic mutations of the tenant (admin API ``POST /_emulator/mutate``).

``mutate(tenant, count=N, seed=S, space=None)`` applies N changes drawn from a generator
seeded with S: add / change / remove a column of a table or view, add a local table, remove
an asset nothing references. The same seed on the same state gives the same changes. Every
change replaces the object (new revision), so ETags and ``$metadata`` move exactly with it.

Targeted changes (Dog's Debug page): :func:`change_column` (a new CDS type and/or label),
:func:`add_table` (a local table with a few columns), :func:`remove_asset`. They raise
``ValueError`` with what to pick instead when the target does not exist.
"""

from __future__ import annotations

import copy
import random
import re
from typing import Any

from core.models import AssetKind

from .csnbuild import dec, document, el, entity, s
from .model import STATUS_DEPLOYED, DesignObject, Json, pattern_of
from .tenant import Tenant

_COLUMN_KINDS = (AssetKind.LOCAL_TABLE, AssetKind.REMOTE_TABLE, AssetKind.VIEW)
_OPERATIONS = ("add_column", "change_column", "remove_column", "add_asset", "remove_asset")
_WEIGHTS = (30, 30, 15, 15, 10)
_NEW_TYPES = (
    lambda: s(40, None), lambda: dec(15, 2, None), lambda: el("cds.Date"), lambda: el("cds.Integer64"),
    lambda: el("cds.Boolean"), lambda: el("cds.Timestamp"), lambda: el("cds.Double"), lambda: s(3, None),
)


def _type_text(e: Json) -> str:
    t = str(e.get("type"))
    if "precision" in e:
        return f"{t}({e['precision']},{e.get('scale', 0)})"
    if "length" in e:
        return f"{t}({e['length']})"
    return t


def _refs_in(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "ref" and isinstance(value, list) and value and isinstance(value[0], str):
                out.add(value[0])
            elif key in ("target", "dwcEntity", "objectId") and isinstance(value, str):
                out.add(value)
            elif key == "dataEntity" and isinstance(value, dict) and isinstance(value.get("key"), str):
                out.add(value["key"])
            elif key in ("targetObject", "config") and isinstance(value, dict) and isinstance(value.get("name"), str):
                out.add(value["name"])
            _refs_in(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs_in(value, out)


def _eq_targets(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("="), str):
            out.add(node["="])
        for value in node.values():
            _eq_targets(value, out)
    elif isinstance(node, list):
        for value in node:
            _eq_targets(value, out)


def _referenced(tenant: Tenant) -> set[tuple[str, str]]:
    """(space, name) of every object some materialised document references."""
    out: set[tuple[str, str]] = set()
    for obj in tenant.all_objects():
        if obj.synthetic:
            # The generator knows its own references (SyntheticTenant.is_leaf); synthetic
            # objects never reference the realistic or fixture content.
            continue
        names: set[str] = set()
        _refs_in(obj.doc, names)
        for name in names:
            target = tenant.resolve_ref(obj.space, name)
            if target is not None and (target.space, target.name) != (obj.space, obj.name):
                out.add((target.space, target.name))
    return out


class _Mutator:
    def __init__(self, tenant: Tenant, seed: int, space: str | None) -> None:
        self.tenant = tenant
        self.rng = random.Random(seed)
        self.seed = seed
        self.space = space
        self.step = 0

    def scope(self) -> list[DesignObject]:
        if self.space is not None:
            return self.tenant.objects_in(self.space)
        return self.tenant.all_objects()

    def column_candidates(self) -> list[DesignObject]:
        return [o for o in self.scope() if o.kind in _COLUMN_KINDS and o.status == STATUS_DEPLOYED]

    def replace(self, obj: DesignObject, doc: Json) -> None:
        self.tenant.put_document(space=obj.space, kind=obj.kind, doc=doc, name=obj.name, status=obj.status,
                                 label=obj.label, synthetic=obj.synthetic)

    def change(self, obj: DesignObject, change: str, **extra: Any) -> Json:
        return {"space": obj.space, "name": obj.name, "kind": obj.kind.value, "change": change, **extra}

    def add_column(self) -> Json | None:
        cands = self.column_candidates()
        if not cands:
            return None
        obj = self.rng.choice(cands)
        doc = copy.deepcopy(obj.doc)
        elements = doc["definitions"][obj.name].setdefault("elements", {})
        column = f"MUT_{self.seed}_{self.step}"
        new = self.rng.choice(_NEW_TYPES)()
        new["@EndUserText.label"] = f"Added column {self.step}"
        elements[column] = new
        query = doc["definitions"][obj.name].get("query")
        if isinstance(query, dict) and isinstance(query.get("SELECT"), dict):
            query["SELECT"].setdefault("columns", []).append(
                {"val": None, "as": column, "cast": {k: v for k, v in new.items() if k in ("type", "length", "precision", "scale")}})
        self.replace(obj, doc)
        return self.change(obj, "add_column", column=column, detail=_type_text(new))

    def change_column(self) -> Json | None:
        cands = self.column_candidates()
        if not cands:
            return None
        obj = self.rng.choice(cands)
        doc = copy.deepcopy(obj.doc)
        elements: Json = doc["definitions"][obj.name].get("elements") or {}
        columns = sorted(n for n, e in elements.items() if not e.get("key") and e.get("type") not in ("cds.Association", "cds.Composition"))
        if not columns:
            return None
        column = self.rng.choice(columns)
        e = elements[column]
        before = _type_text(e)
        if isinstance(e.get("length"), int) and e.get("type") == "cds.String":
            e["length"] = min(5000, e["length"] + 20)
            detail = f"{before} -> {_type_text(e)}"
        elif e.get("type") == "cds.Decimal" and isinstance(e.get("precision"), int) and e["precision"] <= 36:
            e["precision"] += 2
            detail = f"{before} -> {_type_text(e)}"
        else:
            old = e.get("@EndUserText.label", column)
            e["@EndUserText.label"] = f"{old} (revised)"
            detail = f"label {old!r} -> {e['@EndUserText.label']!r}"
        self.replace(obj, doc)
        return self.change(obj, "change_column", column=column, detail=detail)

    def remove_column(self) -> Json | None:
        cands = [o for o in self.column_candidates() if pattern_of(o.definition) in (None, "DATA_STRUCTURE")]
        if not cands:
            return None
        obj = self.rng.choice(cands)
        doc = copy.deepcopy(obj.doc)
        definition = doc["definitions"][obj.name]
        elements: Json = definition.get("elements") or {}
        used: set[str] = set()
        _eq_targets(definition, used)
        columns = sorted(n for n, e in elements.items()
                         if not e.get("key") and e.get("type") not in ("cds.Association", "cds.Composition")
                         and n not in used)
        if len(columns) < 2:
            return None
        column = self.rng.choice(columns)
        del elements[column]
        query = definition.get("query")
        if isinstance(query, dict) and isinstance(query.get("SELECT"), dict):
            cols = query["SELECT"].get("columns") or []
            query["SELECT"]["columns"] = [c for c in cols if not (
                isinstance(c, dict) and (c.get("as") == column or ((c.get("ref") or [None])[-1] == column and "as" not in c)))]
        self.replace(obj, doc)
        return self.change(obj, "remove_column", column=column)

    def add_asset(self) -> Json | None:
        spaces = [self.space] if self.space is not None else sorted(
            sp.name for sp in self.tenant.spaces() if sp.origin in ("realistic", "synthetic", "admin"))
        if not spaces:
            return None
        space = self.rng.choice(spaces)
        name = f"MUT_T_{self.seed}_{self.step}"
        elements: Json = {"ID": s(10, "ID", key=True)}
        for i in range(self.rng.randint(4, 9)):
            e = self.rng.choice(_NEW_TYPES)()
            e["@EndUserText.label"] = f"Column {i}"
            elements[f"COL_{i}"] = e
        definition = entity(f"Added table {self.step}", elements, exposed=True)
        obj = self.tenant.put_document(space=space, kind=AssetKind.LOCAL_TABLE,
                                       doc=document(AssetKind.LOCAL_TABLE, name, definition), name=name)
        self.tenant.mark_added(space, name)
        return self.change(obj, "add_asset", detail=f"{len(elements)} columns")

    def remove_asset(self) -> Json | None:
        referenced = _referenced(self.tenant)
        synthetic = self.tenant.synthetic
        cands = []
        for o in self.scope():
            if (o.space, o.name) in referenced or o.kind.is_flow:
                continue
            if self.tenant.added_by_mutation(o.space, o.name):
                cands.append(o)
            elif o.synthetic:
                if synthetic is not None and synthetic.is_leaf(o.space, o.name):
                    cands.append(o)
            elif o.kind in (AssetKind.VIEW, AssetKind.ANALYTIC_MODEL, AssetKind.LOCAL_TABLE):
                cands.append(o)
        if not cands:
            return None
        obj = self.rng.choice(cands)
        self.tenant.remove(obj.space, obj.name)
        return self.change(obj, "remove_asset")

    def run(self, count: int, operations: tuple[str, ...] = _OPERATIONS) -> list[Json]:
        ops = [o for o in _OPERATIONS if o in operations]
        weights = [w for o, w in zip(_OPERATIONS, _WEIGHTS, strict=True) if o in operations]
        changes: list[Json] = []
        with self.tenant.lock:
            for _ in range(count):
                op = self.rng.choices(ops, weights=weights)[0]
                result = getattr(self, op)()
                if result is None and ops == list(_OPERATIONS):
                    result = self.add_column() if op != "add_column" else self.add_asset()
                elif result is None and "add_column" in ops and op != "add_column":
                    result = self.add_column()
                if result is not None:
                    changes.append(result)
                self.step += 1
        return changes


def mutate(
    tenant: Tenant,
    *,
    count: int,
    seed: int,
    space: str | None = None,
    operations: tuple[str, ...] | None = None,
) -> list[Json]:
    """Apply ``count`` deterministic changes; return them as ``{space, name, kind, change, ...}``.

    ``operations`` restricts the draw (e.g. ``("add_column", "change_column",
    "remove_column")`` changes existing assets only)."""
    if space is not None and tenant.space(space) is None:
        raise ValueError(f"unknown space {space!r}")
    ops = tuple(operations) if operations else _OPERATIONS
    unknown = sorted(set(ops) - set(_OPERATIONS))
    if unknown:
        raise ValueError(f"unknown operation(s) {unknown}; use {list(_OPERATIONS)}")
    return _Mutator(tenant, seed, space).run(count, ops)


# -- targeted changes ------------------------------------------------------------------------

#: CDS types a column may be changed to (``cds.String(n)``, ``cds.Decimal(p,s)`` take sizes).
CDS_TYPES = ("cds.String", "cds.LargeString", "cds.Integer", "cds.Integer64", "cds.Decimal",
             "cds.DecimalFloat", "cds.Double", "cds.Boolean", "cds.Date", "cds.Time",
             "cds.Timestamp", "cds.DateTime", "cds.UUID")
_TYPE_TEXT = re.compile(r"^\s*(cds\.[A-Za-z0-9]+)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")


def parse_cds_type(text: str) -> Json:
    """``cds.String(40)`` → ``{"type": "cds.String", "length": 40}`` (``Decimal(p,s)``: precision
    and scale); ``ValueError`` naming the accepted types otherwise."""
    m = _TYPE_TEXT.match(text or "")
    if m is None or m.group(1) not in CDS_TYPES:
        raise ValueError(f"unknown CDS type {text!r}; use one of {', '.join(CDS_TYPES)} "
                         "(sizes as cds.String(40), cds.Decimal(15,2))")
    name, first, second = m.group(1), m.group(2), m.group(3)
    out: Json = {"type": name}
    if name == "cds.String":
        out["length"] = int(first or 100)
    elif name == "cds.Decimal":
        out["precision"] = int(first or 15)
        out["scale"] = int(second or 0)
    elif first is not None:
        raise ValueError(f"{name} takes no size (got {text!r})")
    return out


def _existing(tenant: Tenant, space: str, name: str) -> DesignObject:
    obj = tenant.get(space, name)
    if obj is None:
        names = sorted(o.name for o in tenant.objects_in(space))[:8] if tenant.space(space) else []
        raise ValueError(f"no object {space}.{name} in the emulated tenant"
                         + (f" ({space} has e.g. {', '.join(names)})" if names else ""))
    return obj


def change_column(
    tenant: Tenant, space: str, name: str, column: str, *, cds_type: str | None = None,
    label: str | None = None,
) -> Json:
    """Give ``column`` of ``space.name`` a new CDS type and/or business label (a new revision)."""
    if not cds_type and label is None:
        raise ValueError("give a new CDS type or a new label")
    new_type = parse_cds_type(cds_type) if cds_type else None
    with tenant.lock:
        obj = _existing(tenant, space, name)
        doc = copy.deepcopy(obj.doc)
        elements: Json = (doc.get("definitions", {}).get(obj.name) or {}).get("elements") or {}
        if column not in elements:
            raise ValueError(f"{space}.{name} has no column {column!r}; it has "
                             f"{', '.join(sorted(elements)[:12]) or 'none'}")
        e = elements[column]
        before = _type_text(e)
        details = []
        if new_type is not None:
            for key in ("type", "length", "precision", "scale", "srid"):
                e.pop(key, None)
            e.update(new_type)
            details.append(f"{before} -> {_type_text(e)}")
        if label is not None:
            old = e.get("@EndUserText.label", column)
            e["@EndUserText.label"] = label
            details.append(f"label {old!r} -> {label!r}")
        tenant.put_document(space=obj.space, kind=obj.kind, doc=doc, name=obj.name, status=obj.status,
                            label=obj.label, synthetic=obj.synthetic)
    return {"space": space, "name": name, "kind": obj.kind.value, "change": "change_column",
            "column": column, "detail": "; ".join(details)}


def add_table(tenant: Tenant, space: str, name: str, *, label: str | None = None) -> Json:
    """A new deployed, exposed local table ``space.name`` with an ID key and four columns."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,59}", name or ""):
        raise ValueError(f"{name!r} is not a technical name (a letter, then letters, digits, _)")
    with tenant.lock:
        if tenant.space(space) is None:
            known = ", ".join(sp.name for sp in tenant.spaces())
            raise ValueError(f"unknown space {space!r}; the tenant has {known}")
        if tenant.get(space, name) is not None:
            raise ValueError(f"{space}.{name} exists already; pick another name")
        elements: Json = {
            "ID": s(10, "ID", key=True),
            "NAME": s(60, "Name"),
            "AMOUNT": dec(15, 2, "Amount"),
            "CREATED_ON": el("cds.Date", "Created on"),
            "ACTIVE": el("cds.Boolean", "Active"),
        }
        definition = entity(label or f"Added table {name}", elements, exposed=True)
        obj = tenant.put_document(space=space, kind=AssetKind.LOCAL_TABLE,
                                  doc=document(AssetKind.LOCAL_TABLE, name, definition), name=name)
        tenant.mark_added(space, name)
    return {"space": space, "name": name, "kind": obj.kind.value, "change": "add_asset",
            "detail": f"{len(elements)} columns"}


def remove_asset(tenant: Tenant, space: str, name: str) -> Json:
    """Remove ``space.name`` from the tenant (whatever references it)."""
    with tenant.lock:
        obj = _existing(tenant, space, name)
        tenant.remove(space, name)
    return {"space": space, "name": name, "kind": obj.kind.value, "change": "remove_asset"}
