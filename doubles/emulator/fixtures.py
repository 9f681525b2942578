"""The two real SAP CSN exports, loaded as spaces of the emulated tenant.

* ``ER_MCT_MEDIUM.json`` (an ER model) becomes space ``MCT_DEMO``; each document carries the
  namespace contexts (``SAP``, ``SAP.TIME``) of the dotted names it has or uses. Entities with a ``query``
  are views, entities with ``@DataWarehouse.dataSource.*`` are remote tables, the rest local
  tables. The export has no exposure flags; the two views are marked exposed so the catalog
  serves them (tables stay unexposed).
* ``DP_Salary_Analysis.json`` is split by the ``@DataWarehouse.space.name`` of its contexts:
  ``<SPACE>.<NAME>`` entities go to ``<SPACE>`` as ``<NAME>``; the rest stays in the data
  product space ``DP_SALARY`` together with the contexts of the spaces it references.
* With ``shared=True`` (the default tenant) the data product space also lists the two
  ``<SPACE>.<NAME>`` objects as the SAP export shows them: shared into ``DP_SALARY``, listed
  there under ``<OWNER>.<NAME>``, their CSN carrying the owner-space ``context``. Owner
  :data:`VISIBLE_OWNER` is a catalog space (it lists the object as ``<NAME>`` itself); owner
  :data:`HIDDEN_OWNER` is a space the technical user cannot see (not in the catalog, 403).
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

from core.models import AssetKind

from .csnbuild import document
from .model import ConsumptionFlags, DesignObject, Json, SpaceInfo

MCT_SPACE = SpaceInfo("MCT_DEMO", "MCT Demo (ER model export)", origin="fixture")
DP_SPACE = SpaceInfo("DP_SALARY", "Salary Analysis (data product)", origin="fixture")
#: Owner spaces of the data product's shared objects (``shared=True``).
VISIBLE_OWNER = "D8D90336A0E24D678F9D"
HIDDEN_OWNER = "ABC21B84BF4D4A7BA549"


@functools.lru_cache(maxsize=4)
def _load(name: str) -> Json:
    """Parsed export (cached; callers copy what they keep)."""
    text = resources.files("doubles.emulator").joinpath("content", name).read_text(encoding="utf-8")
    data: Json = json.loads(text)
    return data


def classify(definition: Json) -> AssetKind:
    """Kind of a fixture entity: query → view; remote/data-source annotations → remote table."""
    if "query" in definition:
        return AssetKind.VIEW
    if any(k.startswith(("@DataWarehouse.dataSource.", "@DataWarehouse.remote.")) for k in definition):
        return AssetKind.REMOTE_TABLE
    return AssetKind.LOCAL_TABLE


def _label(definition: Json, fallback: str) -> str:
    label = definition.get("@EndUserText.label")
    return label if isinstance(label, str) else fallback


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        r = node.get("ref")
        if isinstance(r, list) and r and isinstance(r[0], str):
            out.add(r[0])
        target = node.get("target")
        if isinstance(target, str):
            out.add(target)
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


def load_fixture_content(*, shared: bool = False) -> tuple[list[SpaceInfo], list[DesignObject]]:
    spaces: list[SpaceInfo] = [MCT_SPACE, DP_SPACE]
    objects: list[DesignObject] = []

    er = _load("ER_MCT_MEDIUM.json")
    namespaces = {n: d for n, d in er["definitions"].items() if d.get("kind") == "context"}
    for name, definition in er["definitions"].items():
        if definition.get("kind") != "entity":
            continue
        kind = classify(definition)
        d = copy.deepcopy(definition)
        if kind is AssetKind.VIEW:
            d["@DataWarehouse.consumption.external"] = True
        # As in the export: the namespace contexts (SAP, SAP.TIME) of every dotted name the
        # object has or uses travel with its document.
        names: set[str] = {name}
        _refs(d, names)
        ns = {n: copy.deepcopy(namespaces[n]) for n in sorted(namespaces)
              if any(u.startswith(n + ".") for u in names)}
        doc = document(kind, name, d, contexts=ns or None, creator="ER Modeler")
        objects.append(DesignObject(space=MCT_SPACE.name, name=name, kind=kind, label=_label(d, name), doc=doc))

    dp = _load("DP_Salary_Analysis.json")
    contexts: dict[str, Json] = {}
    for name, definition in dp["definitions"].items():
        space_name = definition.get("@DataWarehouse.space.name")
        if definition.get("kind") == "context" and isinstance(space_name, str):
            contexts[name] = copy.deepcopy(definition)
            hidden = shared and space_name == HIDDEN_OWNER
            spaces.append(SpaceInfo(space_name, _label(definition, space_name), origin="fixture", hidden=hidden))
    editor = dp.get("editorSettings") or {}
    for name, definition in dp["definitions"].items():
        if definition.get("kind") != "entity":
            continue
        prefix, _, rest = name.partition(".")
        d = copy.deepcopy(definition)
        kind = classify(d)
        if rest and prefix in contexts:
            space = str(contexts[prefix]["@DataWarehouse.space.name"])
            doc = document(kind, rest, d, creator="CDS Compiler v1.19.2")
            objects.append(DesignObject(space=space, name=rest, kind=kind, label=_label(d, rest), doc=doc))
            if shared:
                # Listed by the consumer under OWNER.NAME, with the owner-space context; never
                # in the consumer's catalog (the catalog lists assets where they are owned).
                shared_doc = document(kind, name, copy.deepcopy(definition),
                                      contexts={prefix: copy.deepcopy(contexts[prefix])},
                                      creator="CDS Compiler v1.19.2")
                objects.append(DesignObject(space=DP_SPACE.name, name=name, kind=kind, label=_label(d, rest),
                                            doc=shared_doc, flags=ConsumptionFlags(False, False, False, False)))
            continue
        used: set[str] = set()
        _refs(d.get("query"), used)
        ctx = {
            p: copy.deepcopy(contexts[p])
            for p in sorted({u.partition(".")[0] for u in used if "." in u})
            if p in contexts
        }
        doc = document(
            kind, name, d, contexts=ctx, editor_settings=copy.deepcopy(editor.get(name)) if name in editor else None,
            creator="CDS Compiler v1.19.2",
        )
        objects.append(DesignObject(space=DP_SPACE.name, name=name, kind=kind, label=_label(d, name), doc=doc))
    return spaces, objects
