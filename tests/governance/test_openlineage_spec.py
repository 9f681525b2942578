"""The OpenLineage schema copies in core/openlineage_spec match the pinned openlineage-python.

The wheel ships no JSON schema files, but its attrs classes are generated from the official
schemas of the spec versions it writes into ``schemaURL``/``_schemaURL``. So each copy must:
carry exactly the ``$id`` the client stamps, name exactly the properties of the generated
class, and require exactly its required fields (plus the ones the client always fills:
``producer``/``schemaURL`` of the event, ``_producer``/``_schemaURL`` of a facet). Moving the
client pin without updating the copies fails here.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import attr
import pytest
from openlineage.client.generated import base
from openlineage.client.generated import column_lineage_dataset as cl
from openlineage.client.generated import job_type_job as jt
from openlineage.client.generated import schema_dataset as sd

from core.lineage_export import SPEC_DIR, validate_event

ROOT = Path(__file__).resolve().parents[2]
#: Fields the client fills itself (never missing from what it serialises).
AUTO_FILLED = {"producer", "schemaURL", "_producer", "_schemaURL"}
CL = "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/"
JT = "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/"


def _docs() -> dict[str, Any]:
    out = {}
    for path in SPEC_DIR.glob("*.json"):
        doc = json.loads(path.read_text())
        out[doc["$id"]] = doc
    return out


DOCS = _docs()


def _resolve(ref: str, doc: Any) -> tuple[Any, Any]:
    url, _, pointer = ref.partition("#")
    owner = DOCS[url] if url else doc
    node = owner
    for part in pointer.strip("/").split("/"):
        if part:
            node = node[int(part)] if isinstance(node, list) else node[part]
    return owner, node


def _flatten(doc: Any, node: Any) -> tuple[dict[str, Any], set[str]]:
    """Properties and required names of a schema node, through ``$ref`` and ``allOf``."""
    props: dict[str, Any] = {}
    required: set[str] = set()
    if "$ref" in node:
        owner, target = _resolve(node["$ref"], doc)
        p, r = _flatten(owner, target)
        props.update(p)
        required |= r
    for part in node.get("allOf", []):
        p, r = _flatten(doc, part)
        props.update(p)
        required |= r
    props.update(node.get("properties", {}))
    required |= set(node.get("required", []))
    return props, required


CLASSES: list[tuple[type, str | None]] = [
    (base.RunEvent, None), (base.Run, None), (base.Job, None), (base.InputDataset, None),
    (base.OutputDataset, None), (base.RunFacet, None), (base.JobFacet, None), (base.DatasetFacet, None),
    (sd.SchemaDatasetFacet, None), (sd.SchemaDatasetFacetFields, None),
    (cl.ColumnLineageDatasetFacet, None), (cl.InputField, None),
    (cl.Fields, CL + "ColumnLineageDatasetFacet/allOf/1/properties/fields/additionalProperties"),
    (cl.Transformation, CL + "InputField/properties/transformations/items"),
    (jt.JobTypeJobFacet, None), (jt.EmissionPattern, JT + "JobTypeJobFacet/allOf/1/properties/emissionPattern"),
]


def test_the_copies_are_the_spec_versions_the_pinned_client_writes() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [d for d in pyproject["project"]["dependencies"] if d.startswith("openlineage-python==")]
    assert pins == [f"openlineage-python=={importlib.metadata.version('openlineage-python')}"]
    written = {cls._get_schema().partition("#")[0] for cls, ref in CLASSES if ref is None}  # type: ignore[attr-defined]
    assert written == set(DOCS), "core/openlineage_spec must hold exactly the schema versions the client writes"
    readme = (SPEC_DIR / "README.md").read_text()
    assert importlib.metadata.version("openlineage-python") in readme
    for schema_id in DOCS:
        assert schema_id in readme


@pytest.mark.parametrize(("cls", "ref"), CLASSES, ids=[c.__name__ for c, _ in CLASSES])
def test_each_copy_names_the_fields_and_requirements_of_the_generated_class(cls: type, ref: str | None) -> None:
    owner, node = _resolve(ref or cls._get_schema(), None)  # type: ignore[attr-defined]
    props, required = _flatten(owner, node)
    fields = attr.fields(cls)
    names = {f.name for f in fields}
    mandatory = {f.name for f in fields if f.default is attr.NOTHING}
    assert set(props) == names
    assert mandatory <= required and required - mandatory <= AUTO_FILLED


def test_the_event_types_match_the_client_enum() -> None:
    _, node = _resolve(base.RunEvent._get_schema(), None)
    props, _ = _flatten(DOCS[base.RunEvent._get_schema().partition("#")[0]], node)
    assert props["eventType"]["enum"] == [e.value for e in base.EventType]


def test_an_event_built_by_the_client_validates_and_a_mangled_one_does_not() -> None:
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.serde import Serde

    event = RunEvent(eventType=RunState.COMPLETE, eventTime="2026-11-27T10:00:00+00:00",
                     run=Run(runId="0190f0a4-7b4a-7c3e-9c1a-2b8f6b1d2e3f"),
                     job=Job(namespace="datasphere://tenant", name="SALES.FLOW",
                             facets={"jobType": jt.JobTypeJobFacet(processingType="BATCH", integration="DGSYNC",
                                                                   jobType="FLOW")}),
                     producer="https://github.com/example/dgsync")
    body = json.loads(Serde.to_json(event))
    assert validate_event(body) == []
    body["job"]["facets"]["jobType"].pop("integration")
    assert any("integration" in p for p in validate_event(body))
    assert re.match(r"^https://openlineage\.io/spec/2-0-2/", body["schemaURL"])
