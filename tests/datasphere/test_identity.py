"""One identity per object: the resolver, over both SAP exports and synthetic documents."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.datasphere.csn import parse_csn
from core.datasphere.identity import SpaceDirectory, namespace_contexts, space_contexts
from core.models import AssetRef, DependencyKind

from .conftest import load_fixture

SALARY = "DP_Salary_Analysis.json"
MCT = "ER_MCT_MEDIUM.json"
VISIBLE_OWNER = "D8D90336A0E24D678F9D"
HIDDEN_OWNER = "ABC21B84BF4D4A7BA549"
SHARED = f"{VISIBLE_OWNER}.3VD_EMPLOYEE_CSRD_ATTR_VIEW"


# -- the rule, case by case ---------------------------------------------------------------------


def test_space_context_of_the_document_makes_the_prefix_a_space() -> None:
    doc = load_fixture(SALARY)
    directory = SpaceDirectory()
    ref = directory.for_document(doc, "CONSUMER").ref(SHARED)
    assert ref == AssetRef(space=VISIBLE_OWNER, name="3VD_EMPLOYEE_CSRD_ATTR_VIEW")


def test_namespace_contexts_keep_the_dotted_name_in_its_space_even_if_a_space_has_that_id() -> None:
    doc = load_fixture(MCT)
    assert namespace_contexts(doc) == {"SAP", "SAP.TIME"}
    directory = SpaceDirectory(["SAP", "MCT_DEMO"])  # a catalog space named like the namespace
    ref = directory.for_document(doc, "MCT_DEMO").ref("SAP.TIME.VIEW_DIMENSION_DAY")
    assert ref == AssetRef(space="MCT_DEMO", name="SAP.TIME.VIEW_DIMENSION_DAY")


def test_unknown_prefix_is_a_namespace_of_the_current_space() -> None:
    directory = SpaceDirectory(["SALES"])
    assert directory.resolve("SAP.TIME.X", space="SALES") == AssetRef(
        space="SALES", name="SAP.TIME.X"
    )


def test_catalog_space_not_described_in_the_document_is_still_that_space() -> None:
    directory = SpaceDirectory(["SALES", "OTHER_SPACE"])
    doc: dict[str, Any] = {"definitions": {}}
    ref = directory.for_document(doc, "SALES").ref("OTHER_SPACE.SOME_VIEW")
    assert ref == AssetRef(space="OTHER_SPACE", name="SOME_VIEW")


def test_refused_space_and_contexts_learned_from_other_documents_are_spaces() -> None:
    directory = SpaceDirectory(["SALES"])
    assert directory.resolve(SHARED, space="SALES").space == "SALES"  # nothing known yet
    directory.learn(load_fixture(SALARY))
    assert directory.resolve(SHARED, space="SALES") == AssetRef(
        space=VISIBLE_OWNER, name="3VD_EMPLOYEE_CSRD_ATTR_VIEW"
    )
    directory.add_invisible("HR", "not a member (403)")
    assert directory.resolve("HR.V_PAY", space="SALES") == AssetRef(space="HR", name="V_PAY")
    assert not directory.is_visible("HR")
    assert directory.visibility(HIDDEN_OWNER) == "not in the catalog"
    assert directory.visibility("SALES") is None


def test_probe_decides_undescribed_space_shaped_prefixes_once() -> None:
    asked: list[str] = []

    def probe(prefix: str) -> str | None:
        asked.append(prefix)
        return {"HIDDEN": "not a member (403)", "OPEN": ""}.get(prefix)

    directory = SpaceDirectory(["SALES"], probe=probe)
    resolver = directory.for_document(load_fixture(MCT), "SALES")
    assert resolver.ref("HIDDEN.V") == AssetRef(space="HIDDEN", name="V")
    assert resolver.ref("HIDDEN.W") == AssetRef(space="HIDDEN", name="W")
    assert resolver.ref("OPEN.V") == AssetRef(space="OPEN", name="V")
    assert resolver.ref("NOPE.V") == AssetRef(space="SALES", name="NOPE.V")
    assert resolver.ref("NOPE.W") == AssetRef(space="SALES", name="NOPE.W")
    assert resolver.ref("SAP.TIME.X") == AssetRef(space="SALES", name="SAP.TIME.X")  # namespace
    assert resolver.ref("lower.X") == AssetRef(space="SALES", name="lower.X")  # no space id
    assert asked == ["HIDDEN", "OPEN", "NOPE"]
    assert not directory.is_visible("HIDDEN") and directory.is_visible("OPEN")


def test_own_space_prefix_without_context_stays_part_of_the_name() -> None:
    directory = SpaceDirectory(["SALES"])
    assert directory.resolve("SALES.X", space="SALES") == AssetRef(space="SALES", name="SALES.X")


# -- the two SAP exports: same identity from every document ----------------------------------------


def _owner_documents(doc: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Split an export the way each owner space serves its own objects: ``OWNER.NAME`` →
    (owner, name, the owner's document of it, without any context)."""
    contexts = space_contexts(doc)
    out: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for name, body in doc["definitions"].items():
        prefix, _, rest = name.partition(".")
        if body.get("kind") == "entity" and prefix in contexts and rest:
            own = {"definitions": {rest: copy.deepcopy(body)}}
            out[name] = (contexts[prefix], rest, own)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    consumer=st.sampled_from(["DP_SALARY", "CONSUMER", "X1"]),
    catalog=st.sets(st.sampled_from([VISIBLE_OWNER, HIDDEN_OWNER, "SAP", "MCT_DEMO"])),
    learn_first=st.booleans(),
)
def test_sap_exports_give_one_identity_per_object(
    consumer: str, catalog: set[str], learn_first: bool
) -> None:
    salary, mct = load_fixture(SALARY), load_fixture(MCT)
    directory = SpaceDirectory(catalog | {consumer})
    if learn_first:
        directory.learn(salary)

    # shared objects: the consumer's document and the owner's own document agree
    for full, (owner, rest, own_doc) in _owner_documents(salary).items():
        (from_consumer,) = parse_csn(salary, space=consumer, name=full, directory=directory)
        (from_owner,) = parse_csn(own_doc, space=owner, name=rest, directory=directory)
        assert from_consumer.ref == from_owner.ref == AssetRef(space=owner, name=rest)
        assert from_consumer.columns == from_owner.columns

    # the consumer's view references them with the same identities, never CONSUMER.OWNER.NAME
    (view,) = parse_csn(salary, space=consumer, name="3VF_SALARY_CSRD", directory=directory)
    assert {d.ref for d in view.upstream} == {
        AssetRef(space=VISIBLE_OWNER, name="3VD_EMPLOYEE_CSRD_ATTR_VIEW"),
        AssetRef(space=HIDDEN_OWNER, name="3VF_SALARY"),
    }
    assert all(not c.startswith(consumer + ".") for col in view.columns for c in col.lineage)
    # a whole-document parse returns only the consumer's own object
    assert [a.ref for a in parse_csn(salary, space=consumer, directory=directory)] == [view.ref]

    # namespaces: SAP.TIME.VIEW_DIMENSION_DAY is ONE name in the ER model's space
    assets = {a.name: a for a in parse_csn(mct, space="MCT_DEMO", directory=directory)}
    assert "SAP.TIME.VIEW_DIMENSION_DAY" in assets
    assert all(a.space == "MCT_DEMO" for a in assets.values())
    day_refs = {
        d.ref
        for a in assets.values()
        for d in a.upstream
        if d.ref.name == "SAP.TIME.VIEW_DIMENSION_DAY"
    }
    assert day_refs == {AssetRef(space="MCT_DEMO", name="SAP.TIME.VIEW_DIMENSION_DAY")}


# -- synthetic documents ---------------------------------------------------------------------------

_IDS = st.from_regex(r"[A-Z][A-Z0-9_]{1,7}", fullmatch=True)
_NAMES = st.from_regex(r"[A-Z][A-Za-z0-9_]{1,10}", fullmatch=True)


def _el() -> dict[str, Any]:
    return {"type": "cds.String", "length": 10}


def _table(*assocs: str) -> dict[str, Any]:
    elements: dict[str, Any] = {"ID": {**_el(), "key": True}, "TEXT": _el()}
    for i, target in enumerate(assocs):
        elements[f"_A{i}"] = {
            "type": "cds.Association",
            "target": target,
            "on": [{"ref": ["ID"]}, "=", {"ref": [f"_A{i}", "ID"]}],
        }
    return {"kind": "entity", "elements": elements}


def _view(sources: list[str], mixins: list[str], assocs: list[str]) -> dict[str, Any]:
    args = [{"ref": [s], "as": f"s{i}"} for i, s in enumerate(sources)]
    frm: dict[str, Any] = args[0] if len(args) == 1 else {"join": "inner", "args": args}
    select: dict[str, Any] = {"from": frm, "columns": [{"ref": ["s0", "ID"], "as": "ID"}]}
    if mixins:
        select["mixin"] = {
            f"_M{i}": {"type": "cds.Association", "target": t, "on": [{"ref": ["ID"]}]}
            for i, t in enumerate(mixins)
        }
    body = _table(*assocs)
    body["query"] = {"SELECT": select}
    return body


@st.composite
def _scenario(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(_IDS, min_size=4, max_size=6, unique=True))
    consumer, other, *owners = ids
    namespace = draw(st.sampled_from(["SAP", "NS"]).filter(lambda n: n not in ids))
    visible = draw(st.sets(st.sampled_from(owners)))
    names = draw(
        st.lists(_NAMES, min_size=4, max_size=8, unique=True).filter(
            lambda ns: not set(ns) & {*ids, namespace}
        )
    )
    own = [names[0], f"{namespace}.TIME.{names[1]}"]
    shared = [f"{o}.{n}" for o, n in zip(owners, names[2:], strict=False)]
    remote = f"{other}.{names[-1]}"  # a catalog space the document does not describe
    return {
        "consumer": consumer,
        "other": other,
        "owners": owners,
        "namespace": namespace,
        "visible": visible,
        "own": own,
        "shared": shared,
        "remote": remote,
        "data": draw(st.lists(st.sampled_from([*own, *shared, remote]), min_size=1, max_size=3)),
        "assoc": draw(st.lists(st.sampled_from([*own, *shared, remote]), max_size=3)),
        "mixin": draw(st.lists(st.sampled_from([*own, *shared, remote]), max_size=2)),
    }


def _truth(name: str, sc: dict[str, Any]) -> AssetRef:
    if name in sc["shared"] or name == sc["remote"]:
        prefix, _, rest = name.partition(".")
        return AssetRef(space=prefix, name=rest)
    return AssetRef(space=sc["consumer"], name=name)


@settings(max_examples=60, deadline=None)
@given(sc=_scenario(), read_owner_first=st.booleans())
def test_synthetic_documents_give_one_identity_per_object(
    sc: dict[str, Any], read_owner_first: bool
) -> None:
    consumer, ns = sc["consumer"], sc["namespace"]
    defs: dict[str, Any] = {
        ns: {"kind": "context"},
        f"{ns}.TIME": {"kind": "context"},
        **{o: {"kind": "context", "@DataWarehouse.space.name": o} for o in sc["owners"]},
    }
    for name in [*sc["own"], *sc["shared"]]:
        defs[name] = _table()
    defs["V"] = _view(sc["data"], sc["mixin"], sc["assoc"])
    doc = {"definitions": defs}
    directory = SpaceDirectory({consumer, sc["other"], *sc["visible"]})

    owner_refs = {}
    for name in sc["shared"]:
        owner, _, rest = name.partition(".")
        own_doc = {"definitions": {rest: _table()}}
        if read_owner_first:
            (owner_asset,) = parse_csn(own_doc, space=owner, name=rest, directory=directory)
            owner_refs[name] = owner_asset.ref
    for name in [*sc["own"], *sc["shared"], "V"]:
        (asset,) = parse_csn(doc, space=consumer, name=name, directory=directory)
        assert asset.ref == _truth(name, sc)
    for name in sc["shared"]:
        owner, _, rest = name.partition(".")
        (owner_asset,) = parse_csn(
            {"definitions": {rest: _table()}}, space=owner, name=rest, directory=directory
        )
        assert owner_asset.ref == _truth(name, sc) == owner_refs.get(name, owner_asset.ref)

    (view,) = parse_csn(doc, space=consumer, name="V", directory=directory)
    data_flow = {d.ref for d in view.upstream if d.kind.is_data_flow}
    assert data_flow == {_truth(n, sc) for n in sc["data"]}
    assert {d.ref for d in view.upstream if d.kind is DependencyKind.ASSOCIATION} == {
        _truth(n, sc) for n in sc["assoc"]
    }
    assert {d.ref for d in view.upstream if d.kind is DependencyKind.MIXIN} == {
        _truth(n, sc) for n in sc["mixin"]
    }
    assert {a.target for a in view.associations} == {_truth(n, sc) for n in sc["assoc"]}

    # a third document (another space) naming a shared object without describing its owner:
    # the owner is known from the consumer's document read in this run
    directory.learn(doc)
    third = {"definitions": {"W": _view(sc["shared"] or sc["own"][:1], [], [])}}
    (w,) = parse_csn(third, space=sc["other"], name="W", directory=directory)
    for dep in w.upstream:
        assert dep.ref.space != sc["other"] or not sc["shared"]
    if sc["shared"]:
        assert {d.ref for d in w.upstream} == {_truth(n, sc) for n in sc["shared"]}


# -- association / mixin targets are never data flow -------------------------------------------


@pytest.mark.parametrize("fixture,space", [(SALARY, "DP_SALARY"), (MCT, "MCT_DEMO")])
def test_association_and_mixin_targets_never_have_a_data_flow_kind(
    fixture: str, space: str
) -> None:
    doc = load_fixture(fixture)
    for asset in parse_csn(doc, space=space, known_spaces=[space]):
        definition = doc["definitions"][asset.name]
        query = definition.get("query", {})
        from_names = _from_names(query)
        directory = SpaceDirectory([space])
        resolver = directory.for_document(doc, space)
        data_refs = {resolver.ref(n) for n in from_names}
        for dep in asset.upstream:
            if dep.kind.is_data_flow:
                assert dep.ref in data_refs, f"{asset.key}: {dep}"
        for assoc in (a for a in asset.associations if a.target != asset.ref):
            assert any(
                d.ref == assoc.target and d.kind is DependencyKind.ASSOCIATION
                for d in asset.upstream
            )


def _from_names(node: Any) -> set[str]:
    """Every ``ref`` under a ``from`` (joins, nested selects, unions), not mixins/associations."""
    out: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "from":
                out |= _refs_in_from(value)
            elif key not in ("mixin", "elements"):
                out |= _from_names(value)
    elif isinstance(node, list):
        for value in node:
            out |= _from_names(value)
    return out


def _refs_in_from(node: Any) -> set[str]:
    if isinstance(node, dict):
        if "ref" in node:
            return {str(node["ref"][0])}
        if "SELECT" in node or "SET" in node:
            return _from_names(node)
        return set().union(*(_refs_in_from(a) for a in node.get("args", [])))
    return set()


def test_data_flow_kinds_are_exactly_the_documented_ones() -> None:
    assert {k for k in DependencyKind if k.is_data_flow} == {
        DependencyKind.FROM,
        DependencyKind.JOIN,
        DependencyKind.UNION,
        DependencyKind.FACT_SOURCE,
        DependencyKind.DIMENSION_SOURCE,
        DependencyKind.FLOW_SOURCE,
    }
