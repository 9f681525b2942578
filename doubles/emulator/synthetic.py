"""Deterministic synthetic tenant for benchmarks (``--synthetic-assets N --seed S``).

Objects are spread over spaces ``SYN_00``… (about 500 per space, at most 20 spaces). Names,
kinds, labels and catalog flags are computed eagerly and cheaply from ``(seed, index)``; the
CSN document of an object is generated only when a client first reads it (and memoised), so a
tenant of 10,000 objects starts in well under a second.

Kinds (after four fixed objects per space: two local tables, a fact view, a dimension view):
local tables 28 %, remote tables 14 %, plain views 22 % (joins, unions, projections; leaves —
nothing references them), fact views 8 %, dimension views 8 %, text views 2 %, analytic models
7 %, data flows 5 %, transformation flows 3 %, replication flows 2 %, task chains 1 %.
Tables average about 30 columns. About 10 % of views read a table of the previous space
(cross-space references).
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from core.models import AssetKind

from .csnbuild import (
    analytic_model,
    assoc,
    col,
    copy_elements,
    data_flow,
    dec,
    document,
    el,
    entity,
    join,
    project_columns,
    ref,
    replication_flow,
    s,
    select,
    space_context,
    task_chain,
    transformation_flow,
    union,
)
from .model import ConsumptionFlags, DesignObject, Json, SpaceInfo

PER_SPACE = 500
MAX_SPACES = 20

# (sub-kind, kind, weight, name prefix, label word)
_KINDS: tuple[tuple[str, AssetKind, int, str, str], ...] = (
    ("LT", AssetKind.LOCAL_TABLE, 28, "LT", "Table"),
    ("RT", AssetKind.REMOTE_TABLE, 14, "RT", "Remote Table"),
    ("V", AssetKind.VIEW, 22, "V", "View"),
    ("VF", AssetKind.VIEW, 8, "VF", "Fact"),
    ("VD", AssetKind.VIEW, 8, "VD", "Dimension"),
    ("VT", AssetKind.VIEW, 2, "VT", "Texts"),
    ("AM", AssetKind.ANALYTIC_MODEL, 7, "AM", "Analysis"),
    ("DF", AssetKind.DATA_FLOW, 5, "DF", "Data Flow"),
    ("TF", AssetKind.TRANSFORMATION_FLOW, 3, "TF", "Transformation"),
    ("RF", AssetKind.REPLICATION_FLOW, 2, "RF", "Replication"),
    ("TC", AssetKind.TASK_CHAIN, 1, "TC", "Task Chain"),
)
_BY_SUB = {k[0]: k for k in _KINDS}
_WEIGHTED = [k[0] for k in _KINDS for _ in range(k[2])]
_FIXED = ("LT", "LT", "VF", "VD")

_DOMAINS = (
    "SALES", "ORDERS", "CUSTOMER", "PRODUCT", "INVOICE", "STOCK", "PLANT", "VENDOR", "GL", "ASSET",
    "PROJECT", "EMPLOYEE", "PAYROLL", "SHIPMENT", "CONTRACT", "CAMPAIGN", "BUDGET", "TICKET",
)

ColumnFactory = Callable[[], Json]

# Column vocabulary: name → factory. Amounts need CURRENCY, quantities need UNIT.
_VOCAB: tuple[tuple[str, ColumnFactory], ...] = (
    ("DOC_NUMBER", lambda: s(10, "Document Number")),
    ("ITEM_NO", lambda: s(6, "Item Number")),
    ("CREATED_ON", lambda: el("cds.Date", "Created On")),
    ("CHANGED_AT", lambda: el("cds.Timestamp", "Changed At")),
    ("VALID_FROM", lambda: el("cds.Date", "Valid From")),
    ("VALID_TO", lambda: el("cds.Date", "Valid To")),
    ("POSTING_DATE", lambda: el("cds.Date", "Posting Date")),
    ("DELIVERY_TIME", lambda: el("cds.Time", "Delivery Time")),
    ("LAST_RUN", lambda: el("cds.DateTime", "Last Run")),
    ("NET_AMOUNT", lambda: dec(15, 2, "Net Amount", currency="CURRENCY")),
    ("GROSS_AMOUNT", lambda: dec(15, 2, "Gross Amount", currency="CURRENCY")),
    ("TAX_AMOUNT", lambda: dec(15, 2, "Tax Amount", currency="CURRENCY")),
    ("DISCOUNT_PCT", lambda: dec(5, 2, "Discount %")),
    ("PRICE", lambda: dec(11, 2, "Price", currency="CURRENCY")),
    ("QUANTITY", lambda: dec(13, 3, "Quantity", unit="UNIT")),
    ("WEIGHT", lambda: dec(13, 3, "Weight", unit="UNIT")),
    ("CURRENCY", lambda: s(5, "Currency", is_currency=True)),
    ("UNIT", lambda: s(3, "Unit", is_unit=True)),
    ("COUNTRY", lambda: s(3, "Country")),
    ("REGION", lambda: s(3, "Region")),
    ("CITY", lambda: s(40, "City")),
    ("STATUS", lambda: el("hana.CHAR", "Status", length=1)),
    ("CATEGORY", lambda: s(4, "Category")),
    ("DOC_TYPE", lambda: s(4, "Document Type")),
    ("PLANT", lambda: s(4, "Plant")),
    ("COMPANY_CODE", lambda: s(4, "Company Code")),
    ("DESCRIPTION", lambda: s(80, "Description")),
    ("NAME", lambda: s(40, "Name")),
    ("LONG_TEXT", lambda: el("cds.LargeString", "Long Text")),
    ("EMAIL", lambda: s(241, "E-Mail")),
    ("IS_ACTIVE", lambda: el("cds.Boolean", "Active")),
    ("IS_DELETED", lambda: el("cds.Boolean", "Deleted")),
    ("COUNTER", lambda: el("cds.Integer", "Counter")),
    ("SEQUENCE_NO", lambda: el("cds.Integer64", "Sequence Number")),
    ("PRIORITY", lambda: el("cds.hana.TINYINT", "Priority")),
    ("FISCAL_YEAR", lambda: el("cds.hana.SMALLINT", "Fiscal Year")),
    ("SCORE", lambda: el("cds.Double", "Score")),
    ("RATE", lambda: el("hana.REAL", "Rate")),
    ("FACTOR", lambda: el("cds.DecimalFloat", "Factor")),
    ("GUID", lambda: el("cds.UUID", "GUID")),
    ("LOCATION", lambda: el("hana.ST_POINT", "Location", srid=4326)),
    ("CHECKSUM", lambda: el("cds.Binary", "Checksum", length=32)),
    ("RESPONSIBLE", lambda: s(12, "Responsible")),
    ("EXTERNAL_REF", lambda: s(35, "External Reference")),
    ("NOTE_CODE", lambda: el("hana.NCHAR", "Note Code", length=4)),
    ("SALES_ORG", lambda: s(4, "Sales Organization")),
    ("PROFIT_CENTER", lambda: s(10, "Profit Center")),
    ("COST_CENTER", lambda: s(10, "Cost Center")),
)
_VOCAB_MAP = dict(_VOCAB)
_MEASURE_COLUMNS = {"NET_AMOUNT", "GROSS_AMOUNT", "TAX_AMOUNT", "QUANTITY", "WEIGHT", "PRICE"}


@dataclass(frozen=True)
class SynMeta:
    index: int
    space: str
    local: int
    sub: str
    kind: AssetKind
    name: str
    label: str
    exposed: bool
    domain: str


class SyntheticTenant:
    """Names and flags of ``count`` synthetic objects; CSN on demand."""

    def __init__(self, count: int, seed: int, *, spaces: int = 0) -> None:
        """``spaces``: how many spaces to spread the objects over (0: about 500 per space;
        at most 20 either way) — e.g. 20 small spaces for Bear's fan-out tests."""
        self.count = count
        self.seed = seed
        default = math.ceil(count / PER_SPACE)
        n_spaces = max(1, min(MAX_SPACES, spaces or default)) if count else 0
        self.space_names = [f"SYN_{k:02d}" for k in range(n_spaces)]
        self.metas: list[SynMeta] = []
        self._by_space: dict[str, list[SynMeta]] = {sp: [] for sp in self.space_names}
        self._definitions: dict[int, tuple[Json, Json | None, list[str]]] = {}
        for i in range(count):
            sp = self.space_names[i % n_spaces]
            local = len(self._by_space[sp])
            rng = self._rng(i, 1)
            sub = _FIXED[local] if local < len(_FIXED) else rng.choice(_WEIGHTED)
            _, kind, _, prefix, word = _BY_SUB[sub]
            domain = rng.choice(_DOMAINS)
            if kind is AssetKind.ANALYTIC_MODEL:
                exposed = True
            elif kind.is_flow:
                exposed = False
            elif sub in ("LT", "RT"):
                exposed = rng.random() < (0.7 if sub == "LT" else 0.6)
            else:
                exposed = rng.random() < 0.9
            meta = SynMeta(i, sp, local, sub, kind, f"{prefix}_{domain}_{i:05d}",
                           f"{domain.title()} {word} {i}", exposed, domain)
            self.metas.append(meta)
            self._by_space[sp].append(meta)

    def _rng(self, index: int, salt: int) -> random.Random:
        return random.Random((self.seed * 1_000_003 + index) * 31 + salt)

    # -- public ---------------------------------------------------------------------------

    def spaces(self) -> list[SpaceInfo]:
        return [SpaceInfo(sp, f"Synthetic space {k}", origin="synthetic") for k, sp in enumerate(self.space_names)]

    def objects(self) -> list[DesignObject]:
        out: list[DesignObject] = []
        for meta in self.metas:
            flags = ConsumptionFlags(
                exposed=meta.exposed,
                relational=meta.exposed and meta.kind in (AssetKind.LOCAL_TABLE, AssetKind.REMOTE_TABLE, AssetKind.VIEW),
                analytical=meta.exposed and (meta.sub == "VF" or meta.kind is AssetKind.ANALYTIC_MODEL),
                has_parameters=False,
            )
            out.append(DesignObject(space=meta.space, name=meta.name, kind=meta.kind, label=meta.label,
                                    factory=self._factory(meta), flags=flags, synthetic=True))
        return out

    def is_leaf(self, space: str, name: str) -> bool:
        """True for objects nothing else references (plain views, flows, analytic models)."""
        meta = self._find(space, name)
        return meta is not None and meta.sub in ("V", "AM", "DF", "TF", "RF", "TC")

    def _find(self, space: str, name: str) -> SynMeta | None:
        try:
            index = int(name.rsplit("_", 1)[1])
        except (IndexError, ValueError):
            return None
        if 0 <= index < self.count and self.metas[index].name == name and self.metas[index].space == space:
            return self.metas[index]
        return None

    def _factory(self, meta: SynMeta) -> Callable[[], Json]:
        def build() -> Json:
            definition, bl, cross = self._definition(meta)
            return document(
                meta.kind, meta.name, definition,
                contexts={sp: space_context(sp, f"Synthetic space {self.space_names.index(sp)}") for sp in cross},
                business_layer=bl, creator="dgsync synthetic generator",
            )

        return build

    # -- generation ----------------------------------------------------------------------

    def _definition(self, meta: SynMeta) -> tuple[Json, Json | None, list[str]]:
        cached = self._definitions.get(meta.index)
        if cached is None:
            rng = self._rng(meta.index, 2)
            builder = getattr(self, f"_gen_{meta.sub.lower()}")
            cached = builder(meta, rng)
            self._definitions[meta.index] = cached
        return cached

    def _elements(self, meta: SynMeta) -> Json:
        definition, _, _ = self._definition(meta)
        elements = definition.get("elements")
        return elements if isinstance(elements, dict) else {}

    def _prior(self, meta: SynMeta, subs: tuple[str, ...], rng: random.Random, *, exclude: int | None = None) -> SynMeta:
        """A deterministic earlier object of one of ``subs`` in the same space."""
        siblings = self._by_space[meta.space]
        start = rng.randrange(meta.local) if meta.local else 0
        for step in range(min(meta.local, 200)):
            cand = siblings[(start - step) % max(meta.local, 1)]
            if cand.sub in subs and cand.index != exclude:
                return cand
        for cand in siblings[: meta.local]:
            if cand.sub in subs and cand.index != exclude:
                return cand
        return siblings[0]

    def _source_ref(self, meta: SynMeta, rng: random.Random, subs: tuple[str, ...], cross: list[str]) -> tuple[str, SynMeta]:
        """A source (name as written in CSN) — ~10 % from the previous synthetic space."""
        k = self.space_names.index(meta.space)
        if k > 0 and rng.random() < 0.1:
            other = self._by_space[self.space_names[k - 1]]
            cand = next((m for m in other[: min(len(other), meta.local + 1)] if m.sub in subs), None)
            if cand is not None:
                cross.append(cand.space)
                return f"{cand.space}.{cand.name}", cand
        src = self._prior(meta, subs, rng)
        return src.name, src

    def _columns(self, rng: random.Random, domain: str) -> Json:
        n = rng.randint(12, 48)
        elements: Json = {}
        key_name = f"{domain}_ID"
        elements[key_name] = s(10, f"{domain.title()} ID", key=True)
        if rng.random() < 0.4:
            elements["ITEM_NO"] = s(6, "Item Number", key=True)
        names = [name for name, _ in _VOCAB if name not in elements]
        rng.shuffle(names)
        suffix = 2
        while len(elements) < n:
            if not names:
                names = [f"{name}_{suffix}" for name, _ in _VOCAB]
                rng.shuffle(names)
                suffix += 1
            name = names.pop()
            base = name if name in _VOCAB_MAP else name.rsplit("_", 1)[0]
            factory = _VOCAB_MAP[base]
            e = factory()
            if name != base and isinstance(e.get("@EndUserText.label"), str):
                e["@EndUserText.label"] = f"{e['@EndUserText.label']} {name.rsplit('_', 1)[1]}"
            elements[name] = e
            for sem, needed in (("@Semantics.amount.currencyCode", "CURRENCY"), ("@Semantics.quantity.unitOfMeasure", "UNIT")):
                if sem in e:
                    target = e[sem]["="]
                    if target not in elements:
                        elements[needed] = _VOCAB_MAP[needed]()
                    if needed != target:
                        e[sem] = {"=": needed}
        return elements

    def _gen_lt(self, meta: SynMeta, rng: random.Random) -> tuple[Json, Json | None, list[str]]:
        elements = self._columns(rng, meta.domain)
        return entity(meta.label, elements, exposed=meta.exposed), None, []

    def _gen_rt(self, meta: SynMeta, rng: random.Random) -> tuple[Json, Json | None, list[str]]:
        elements = self._columns(rng, meta.domain)
        extra = {
            "@DataWarehouse.remote.connection": rng.choice(["S4H_PROD", "BW4_PROD", "HANA_ONPREM"]),
            "@DataWarehouse.remote.entity": f"I_{meta.domain.title()}{meta.index}",
            "@cds.persistence.exists": True,
        }
        return entity(meta.label, elements, exposed=meta.exposed, extra=extra), None, []

    def _gen_vd(self, meta: SynMeta, rng: random.Random) -> tuple[Json, Json | None, list[str]]:
        cross: list[str] = []
        src_name, src = self._source_ref(meta, rng, ("LT", "RT"), cross)
        src_el = self._elements(src)
        keys = [n for n, e in src_el.items() if e.get("key")]
        others = [n for n, e in src_el.items() if not e.get("key") and e.get("type") != "cds.Association"]
        chosen = keys + others[: rng.randint(4, 12)]
        elements = copy_elements(src_el, chosen)
        for n in keys:
            elements[n]["@Analytics.dimension"] = True
        text_col = next((n for n in chosen if n in ("NAME", "DESCRIPTION")), None)
        if text_col is not None:
            elements[keys[0]]["@ObjectModel.text.element"] = [{"=": text_col}]
            elements[text_col]["@Semantics.text"] = True
        extra: Json = {}
        levels = [n for n in ("COUNTRY", "REGION", "CITY") if n in elements]
        if len(levels) >= 2:
            extra["@Hierarchy.leveled"] = [{"name": "GEO", "label": "Geography",
                                            "levels": [{"element": {"=": n}} for n in [*levels, keys[0]]]}]
        definition = entity(meta.label, elements, pattern="ANALYTICAL_DIMENSION",
                            capabilities=["ANALYTICAL_DIMENSION", "DATA_STRUCTURE"], exposed=meta.exposed, extra=extra,
                            query=select(ref(src_name, "S"), project_columns("S", src_el, chosen)))
        return definition, None, cross

    def _gen_vt(self, meta: SynMeta, rng: random.Random) -> tuple[Json, Json | None, list[str]]:
        src = self._prior(meta, ("LT",), rng)
        src_el = self._elements(src)
        key = next(n for n, e in src_el.items() if e.get("key"))
        elements: Json = {
            key: copy.deepcopy(src_el[key]),
            "LANGUAGE": s(2, "Language", key=True, is_language=True),
            "TEXT": s(60, "Text", is_text=True),
        }
        query = select(ref(src.name, "S"), [col("S", key, key=True), {"val": "EN", "as": "LANGUAGE"},
                                            {"ref": ["S", key], "as": "TEXT"}])
        return entity(meta.label, elements, pattern="LANGUAGE_DEPENDENT_TEXT", exposed=meta.exposed, query=query), None, []

    def _gen_vf(self, meta: SynMeta, rng: random.Random) -> tuple[Json, Json | None, list[str]]:
        cross: list[str] = []
        src_name, src = self._source_ref(meta, rng, ("LT", "RT"), cross)
        src_el = self._elements(src)
        chosen = [n for n, e in src_el.items() if e.get("type") != "cds.Association"]
        elements = copy_elements(src_el, chosen)
        columns = project_columns("S", src_el, chosen)
        for n in chosen:
            base = n if n in _VOCAB_MAP else n.rsplit("_", 1)[0]
            if base in _MEASURE_COLUMNS:
                elements[n]["@AnalyticsDetails.measureType"] = {"#": "BASE"}
                elements[n]["@Aggregation.default"] = {"#": "SUM"}
            elif elements[n].get("type") in ("cds.String", "hana.CHAR") and rng.random() < 0.5:
                elements[n]["@Analytics.dimension"] = True
        elements["RECORD_COUNT"] = el("cds.Integer", "Record Count", measure="SUM")
        columns.append({"val": 1, "as": "RECORD_COUNT", "cast": {"type": "cds.Integer"}})
        mixin: Json = {}
        dims = {m.index: m for m in (self._prior(meta, ("VD",), rng) for _ in range(rng.randint(1, 2))) if m.sub == "VD"}
        for dim in dims.values():
            dim_el = self._elements(dim)
            dim_key = next((n for n, e in dim_el.items() if e.get("key")), None)
            if dim_key is None:
                continue
            assoc_name = f"_DIM_{dim.index:05d}"
            fk = f"DIM_{dim.index:05d}_ID"
            elements[fk] = {**copy.deepcopy(dim_el[dim_key]), "@ObjectModel.foreignKey.association": {"=": assoc_name},
                            "@Analytics.dimension": True}
            elements[fk].pop("key", None)
            elements[fk].pop("notNull", None)
            elements[fk].pop("@ObjectModel.text.element", None)
            elements[assoc_name] = assoc(assoc_name, dim.name, [(fk, dim_key)], f"to {dim.label}")
            columns.append({"val": None, "as": fk, "cast": {"type": dim_el[dim_key].get("type", "cds.String"),
                                                            "length": dim_el[dim_key].get("length", 10)}})
            columns.append({"ref": [assoc_name]})
            mixin[assoc_name] = assoc(assoc_name, dim.name, [(fk, dim_key)], projection=True)
        definition = entity(meta.label, elements, pattern="ANALYTICAL_FACT",
                            capabilities=["ANALYTICAL_FACT", "ANALYTICAL_PROVIDER"], exposed=meta.exposed,
                            query=select(ref(src_name, "S"), columns, mixin=mixin or None))
        return definition, None, cross

    def _gen_v(self, meta: SynMeta, rng: random.Random) -> tuple[Json, Json | None, list[str]]:
        cross: list[str] = []
        shape = rng.random()
        left_name, left = self._source_ref(meta, rng, ("LT", "RT"), cross)
        left_el = self._elements(left)
        left_cols = [n for n, e in left_el.items() if e.get("type") != "cds.Association"]
        if shape < 0.5:
            right = self._prior(meta, ("LT", "RT", "VF", "VD"), rng, exclude=left.index)
            right_el = self._elements(right)
            lkey = next(n for n in left_cols if left_el[n].get("key"))
            rkey = next((n for n, e in right_el.items() if e.get("key")), next(iter(right_el)))
            picked_left = left_cols[: rng.randint(6, min(30, len(left_cols)))]
            right_cols = [n for n, e in right_el.items() if e.get("type") != "cds.Association" and n not in picked_left]
            picked_right = right_cols[: rng.randint(2, max(2, min(20, len(right_cols))))]
            elements = copy_elements(left_el, picked_left)
            elements.update(copy_elements(right_el, picked_right, keep_keys=False))
            query = select(
                join(rng.choice(["inner", "left"]), ref(left_name, "L"), ref(right.name, "R"), [(f"L.{lkey}", f"R.{rkey}")]),
                [*project_columns("L", left_el, picked_left),
                 *(col("R", n) for n in picked_right)])
        elif shape < 0.75:
            other = self._prior(meta, ("LT", "RT"), rng, exclude=left.index)
            other_el = self._elements(other)
            picked = left_cols[: rng.randint(6, min(25, len(left_cols)))]
            elements = copy_elements(left_el, picked)
            second = [col("O", n, key=bool(left_el[n].get("key"))) if n in other_el
                      else {"val": None, "as": n, "cast": {k: v for k, v in left_el[n].items() if k in ("type", "length", "precision", "scale")}}
                      for n in picked]
            query = union(select(ref(left_name, "S"), project_columns("S", left_el, picked)),
                          select(ref(other.name, "O"), second))
        else:
            picked = left_cols[: rng.randint(8, len(left_cols))]
            elements = copy_elements(left_el, picked)
            query = select(ref(left_name, "S"), project_columns("S", left_el, picked),
                           where=[{"ref": ["S", picked[-1]]}, "is", "not", "null"])
        return entity(meta.label, elements, exposed=meta.exposed, query=query), None, cross

    def _gen_am(self, meta: SynMeta, rng: random.Random) -> tuple[Json, Json | None, list[str]]:
        fact = self._prior(meta, ("VF",), rng)
        fact_el = self._elements(fact)
        measures = [n for n, e in fact_el.items() if "@AnalyticsDetails.measureType" in e]
        assocs = {n: e for n, e in fact_el.items() if e.get("type") == "cds.Association"}
        fks = {e["@ObjectModel.foreignKey.association"]["="]: n for n, e in fact_el.items()
               if isinstance(e.get("@ObjectModel.foreignKey.association"), dict)}
        attrs = [n for n, e in fact_el.items()
                 if n not in measures and e.get("type") != "cds.Association"][:10]
        for fk in fks.values():
            if fk not in attrs:
                attrs.append(fk)
        dimensions: list[Json] = []
        used = set(attrs) | set(measures) | set(assocs)
        for k, (assoc_name, a) in enumerate(sorted(assocs.items())):
            dim = self._find(meta.space, a["target"])
            if dim is None or assoc_name not in fks:
                continue
            dim_el = self._elements(dim)
            dim_attrs = [n for n, e in dim_el.items() if not e.get("key") and e.get("type") != "cds.Association"
                         and n not in used][:3]
            used.update(dim_attrs)
            dimensions.append({"key": str(k), "assoc": assoc_name, "fk": fks[assoc_name], "target": dim.name,
                               "target_elements": dim_el, "attributes": dim_attrs})
        calculated = []
        if len(measures) >= 2:
            calculated.append({"name": "CALC_RATIO", "label": "Ratio", "formula": f"{measures[0]} / {measures[1]}",
                               "uses": measures[:2]})
        definition, bl = analytic_model(
            name=meta.name, label=meta.label, fact_alias=fact.name, fact_key=fact.name, fact_label=fact.label,
            fact_elements=fact_el, fact_attributes=attrs, measures=measures, dimensions=dimensions,
            calculated=calculated,
        )
        return definition, bl, []

    def _gen_df(self, meta: SynMeta, rng: random.Random) -> tuple[Json, Json | None, list[str]]:
        src = self._prior(meta, ("LT", "RT"), rng)
        tgt = self._prior(meta, ("LT",), rng, exclude=src.index)
        return data_flow(meta.label, [src.name], tgt.name, mode=rng.choice(["APPEND", "UPSERT", "TRUNCATE"])), None, []

    def _gen_tf(self, meta: SynMeta, rng: random.Random) -> tuple[Json, Json | None, list[str]]:
        src = self._prior(meta, ("LT", "RT", "VF", "VD"), rng)
        tgt = self._prior(meta, ("LT",), rng, exclude=src.index)
        src_el = {n: e for n, e in self._elements(src).items() if e.get("type") != "cds.Association"}
        return transformation_flow(meta.name, meta.label, src.name, src_el, tgt.name,
                                   truncate=rng.random() < 0.5), None, []

    def _gen_rf(self, meta: SynMeta, rng: random.Random) -> tuple[Json, Json | None, list[str]]:
        tasks = []
        for _ in range(rng.randint(1, 3)):
            tgt = self._prior(meta, ("LT",), rng)
            tasks.append((f"I_{tgt.domain.title()}{tgt.index}", tgt.name))
        return replication_flow(meta.label, "S4H_PROD", meta.space, sorted(set(tasks))), None, []

    def _gen_tc(self, meta: SynMeta, rng: random.Random) -> tuple[Json, Json | None, list[str]]:
        steps: list[tuple[AssetKind, str]] = []
        for _ in range(rng.randint(1, 3)):
            flow = self._prior(meta, ("DF", "TF", "RF"), rng)
            if flow.kind.is_flow and (flow.kind, flow.name) not in steps:
                steps.append((flow.kind, flow.name))
        if not steps:
            steps.append((AssetKind.VIEW, self._prior(meta, ("VF",), rng).name))
        return task_chain(meta.label, steps), None, []

