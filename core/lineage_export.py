"""The end-to-end lineage graph and its exports: OpenLineage events, Graphviz DOT, SVG.

:func:`graph_from_assets` (pure) builds a :class:`core.lineage.LineageGraph` from extracted
assets and their mapping: Datasphere objects (flows as nodes of their own) → the Glue tables
they are synced to, and column → column (``Column.lineage`` inside Datasphere, then each Glue
column from the source column named in its ``Parameters``). :func:`graph_from_store` builds
the same graph from what earlier runs stored (data-flow edges, cached flows, the Glue table of
each asset) when no extraction is wanted.

Exports:

* :func:`openlineage_events` — one ``COMPLETE`` run event per job, where a job is a Datasphere
  view or analytic model (inputs: what it reads; outputs: itself and its Glue table), a flow
  (inputs: sources; outputs: targets) or the dgsync sync of a table (input: the Datasphere
  table; output: its Glue table). Every output dataset carries the ``schema`` and, where
  known, the ``columnLineage`` facet. Built with ``openlineage-python``; validated by
  :func:`validate_event` against the schemas in ``core/openlineage_spec``.
* :func:`write_events` (JSON Lines file) and :func:`post_events` (HTTP, e.g. Marquez's
  ``/api/v1/lineage``).
* :func:`to_dot` / :func:`to_svg` — a picture. SVG is laid out here (layered, no Graphviz
  needed); when Graphviz ``dot`` is installed, :func:`to_svg` can use it (``engine="dot"``).
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, TargetUnavailable
from core.lineage import GLUE_PREFIX, ColumnEdge, Edge, LineageGraph, Node, split_column_ref
from core.models import Asset, AssetKind

if TYPE_CHECKING:
    from core.services import Services
    from core.specs import MappingResult
    from core.store.db import Store

SPEC_DIR = Path(__file__).resolve().parent / "openlineage_spec"
PRODUCER = "urn:dgsync:0.1.0"
#: Dataset namespace of Datasphere objects: ``datasphere://<tenant host>``.
DEFAULT_DATASPHERE_NAMESPACE = "datasphere://embedded"
_SYNCED = "synced_to"
#: Dependency kinds that relate objects without moving data (not lineage).
_NOT_DATA_FLOW = frozenset({"association", "mixin", "flow_target"})
_SOURCE_NAME_PARAM = "dgsync.name"  # core.mapping.params.NAME: the source column


def glue_node(database: str, table: str) -> str:
    return f"{GLUE_PREFIX}{database}.{table}"


# ------------------------------------------------------------------------ building


def graph_from_assets(
    assets: Iterable[Asset], mapping: MappingResult | None = None
) -> LineageGraph:
    """The end-to-end graph of ``assets`` and (when given) the Glue tables they map to."""
    from core.mapping.mapper import flow_ends

    graph = LineageGraph()
    assets = list(assets)
    for asset in assets:
        graph.add_node(Node(
            key=asset.key, kind=asset.kind.value, label=asset.label,
            columns=[(c.name, str(c.type)) for c in asset.columns],
            description=asset.business.description,
        ))
    for asset in assets:
        if asset.kind.is_flow:
            sources, targets = flow_ends(asset)
            for src in sources:
                graph.add_edge(Edge(str(src), asset.key, "flow_source", via=asset.key))
            for tgt in targets:
                graph.add_edge(Edge(asset.key, str(tgt), "flow_target", via=asset.key))
            continue
        for dep in asset.upstream:
            if dep.kind.value not in _NOT_DATA_FLOW:
                graph.add_edge(Edge(str(dep.ref), asset.key, dep.kind.value))
        for col in asset.columns:
            for ref in col.lineage:
                try:
                    up, up_col = split_column_ref(ref)
                except ValueError:
                    continue
                graph.column_edges.add(ColumnEdge(up, up_col, asset.key, col.name))
    if mapping is not None:
        for table in mapping.tables:
            node = glue_node(table.database, table.name)
            graph.add_node(Node(
                key=node, kind="glue_table", label=table.key,
                columns=[(c.name, c.type) for c in [*table.columns, *table.partition_keys]],
                description=table.description,
            ))
            source = str(table.source)
            graph.add_edge(Edge(source, node, _SYNCED))
            for spec in [*table.columns, *table.partition_keys]:
                src_col = spec.parameters.get(_SOURCE_NAME_PARAM)
                if src_col:
                    graph.column_edges.add(ColumnEdge(source, src_col, node, spec.name, _SYNCED))
    return graph


def graph_from_services(services: Services) -> LineageGraph:
    """Extract every asset in scope now, map it under the configured rules and build the
    graph (the complete picture: columns, column lineage, Glue tables as they would be)."""
    from core.mapping.mapper import map_assets

    result = services.extractor().extract()
    mapping = map_assets(result.assets, services.rules(), env=services.settings.env, spaces=result.spaces)
    return graph_from_assets(result.assets, mapping)


def graph_from_store(store: Store, env: str) -> LineageGraph:
    """The graph from earlier runs: stored data-flow edges, cached assets (flows and other
    objects without a table of their own) and the Glue table of every synced asset."""
    from sqlalchemy import select

    from core.store.cache import get_cached_assets
    from core.store.tables import AssetCacheRow, AssetStateRow, LineageEdgeRow

    with store.session(readonly=True) as session:
        rows = session.execute(select(
            LineageEdgeRow.upstream, LineageEdgeRow.downstream, LineageEdgeRow.kind, LineageEdgeRow.via
        )).all()
        states = session.execute(
            select(AssetStateRow.key, AssetStateRow.kind, AssetStateRow.glue_database,
                   AssetStateRow.glue_table).where(AssetStateRow.env == env)
        ).all()
        cached_keys = session.scalars(select(AssetCacheRow.key).where(AssetCacheRow.env == env)).all()
        cached = get_cached_assets(session=session, env=env, keys=cached_keys)
    graph = graph_from_assets(cached.values())
    for key, kind, _db, _table in states:
        graph.add_node(Node(key=key, kind=kind))
    for up, down, kind, via in rows:
        graph.add_edge(Edge(up, down, kind, via))
    for key, _kind, db, table in states:
        if db and table:
            graph.add_node(Node(key=glue_node(db, table), kind="glue_table", label=f"{db}.{table}"))
            graph.add_edge(Edge(key, glue_node(db, table), _SYNCED))
    return graph


# ---------------------------------------------------------------------- OpenLineage


def _job_type(kind: str) -> str:
    return kind.upper()


def openlineage_events(
    graph: LineageGraph,
    *,
    datasphere_namespace: str = DEFAULT_DATASPHERE_NAMESPACE,
    glue_namespace: str = "arn:aws:glue:eu-central-1:000000000000",
    job_namespace: str = "dgsync",
    event_time: datetime | None = None,
) -> list[dict[str, Any]]:
    """One OpenLineage ``COMPLETE`` run event per job of ``graph`` (see the module doc), as
    JSON-ready dicts (serialised by ``openlineage-python``), ordered by job name."""
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import column_lineage_dataset, job_type_job, schema_dataset
    from openlineage.client.serde import Serde
    from openlineage.client.uuid import generate_new_uuid

    when = (event_time or datetime.now(UTC)).isoformat()

    def ns_name(key: str) -> tuple[str, str]:
        if key.startswith(GLUE_PREFIX):
            db, _, table = key[len(GLUE_PREFIX):].partition(".")
            return glue_namespace, f"table/{db}/{table}"
        return datasphere_namespace, key

    column_into: dict[str, dict[str, list[ColumnEdge]]] = {}
    for c in graph.column_edges:
        column_into.setdefault(c.downstream, {}).setdefault(c.downstream_column, []).append(c)

    def dataset_facets(key: str, *, output: bool) -> dict[str, Any]:
        node = graph.nodes.get(key)
        facets: dict[str, Any] = {}
        if node is not None and node.columns:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t, ordinal_position=i)
                        for i, (n, t) in enumerate(node.columns, start=1)],
                producer=PRODUCER,
            )
        if output and key in column_into:
            fields = {}
            for column, edges in sorted(column_into[key].items()):
                inputs = []
                for e in sorted(edges):
                    namespace, name = ns_name(e.upstream)
                    inputs.append(column_lineage_dataset.InputField(
                        namespace=namespace, name=name, field=e.upstream_column,
                        transformations=[column_lineage_dataset.Transformation(
                            type="DIRECT", subtype="IDENTITY" if e.kind == _SYNCED else "TRANSFORMATION",
                        )],
                    ))
                fields[column] = column_lineage_dataset.Fields(inputFields=inputs)
            facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
                fields=fields, producer=PRODUCER
            )
        return facets

    def inp(key: str) -> InputDataset:
        namespace, name = ns_name(key)
        return InputDataset(namespace=namespace, name=name, facets=dataset_facets(key, output=False))

    def out(key: str) -> OutputDataset:
        namespace, name = ns_name(key)
        return OutputDataset(namespace=namespace, name=name, facets=dataset_facets(key, output=True))

    ups: dict[str, set[str]] = {}
    downs: dict[str, set[str]] = {}
    for e in graph.edges:
        ups.setdefault(e.downstream, set()).add(e.upstream)
        downs.setdefault(e.upstream, set()).add(e.downstream)
    flows = {k for k, n in graph.nodes.items() if _is_flow(n.kind)}

    jobs: list[tuple[str, str, str, list[str], list[str]]] = []  # name, integration, type, in, out
    for key, node in sorted(graph.nodes.items()):
        if key.startswith(GLUE_PREFIX) or node.kind == "unknown":
            continue
        glue_outs = sorted(d for d in downs.get(key, ()) if d.startswith(GLUE_PREFIX))
        if key in flows:
            jobs.append((key, "SAP_DATASPHERE", _job_type(node.kind),
                         sorted(ups.get(key, ())), sorted(d for d in downs.get(key, ()) if d not in flows)))
            continue
        inputs = sorted(u for u in ups.get(key, ()) if u not in flows and not u.startswith(GLUE_PREFIX))
        if node.kind in (AssetKind.VIEW.value, AssetKind.ANALYTIC_MODEL.value) and inputs:
            jobs.append((key, "SAP_DATASPHERE", _job_type(node.kind), inputs, [key, *glue_outs]))
        elif glue_outs:
            jobs.append((f"dgsync.sync.{key}", "DGSYNC", "SYNC", [key], glue_outs))

    events: list[dict[str, Any]] = []
    for name, integration, job_type, inputs, outputs in jobs:
        event = RunEvent(
            eventType=RunState.COMPLETE,
            eventTime=when,
            run=Run(runId=str(generate_new_uuid())),
            job=Job(namespace=job_namespace, name=name, facets={
                "jobType": job_type_job.JobTypeJobFacet(
                    processingType="BATCH", integration=integration, jobType=job_type, producer=PRODUCER
                )
            }),
            inputs=[inp(k) for k in inputs],
            outputs=[out(k) for k in outputs],
            producer=PRODUCER,
        )
        events.append(json.loads(Serde.to_json(event)))
    return events


def _is_flow(kind: str) -> bool:
    try:
        return AssetKind(kind).is_flow
    except ValueError:
        return False


@lru_cache(maxsize=1)
def _registry() -> Any:
    from referencing import Registry, Resource

    resources = []
    for path in sorted(SPEC_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        resources.append((doc["$id"], Resource.from_contents(doc)))
    return Registry().with_resources(resources)


def validate_event(event: Mapping[str, Any]) -> list[str]:
    """Problems of one event against the OpenLineage schemas in ``core/openlineage_spec``:
    the core schema (``schemaURL``) and every facet's own schema (``_schemaURL``). Empty when
    valid. A schema URL not shipped here is a problem too."""
    import jsonschema

    registry = _registry()
    problems: list[str] = []

    def check(instance: Any, url: str, where: str) -> None:
        base, _, fragment = url.partition("#")
        try:
            resource = registry.contents(base)
        except Exception:
            problems.append(f"{where}: schema {base} is not shipped in core/openlineage_spec")
            return
        schema: dict[str, Any] = {"$ref": f"{base}#{fragment}"} if fragment else dict(resource)
        validator = jsonschema.Draft202012Validator(
            schema, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        for err in validator.iter_errors(instance):
            path = "/".join(str(p) for p in err.absolute_path)
            problems.append(f"{where}{'/' + path if path else ''}: {err.message}")

    check(event, str(event.get("schemaURL", "")), "event")
    facet_groups: list[tuple[str, Mapping[str, Any]]] = [
        ("run", (event.get("run") or {}).get("facets") or {}),
        ("job", (event.get("job") or {}).get("facets") or {}),
    ]
    for side in ("inputs", "outputs"):
        for i, ds in enumerate(event.get(side) or []):
            facet_groups.append((f"{side}/{i}", ds.get("facets") or {}))
    for where, facets in facet_groups:
        for name, facet in facets.items():
            url = facet.get("_schemaURL") if isinstance(facet, Mapping) else None
            if url:
                check(facet, str(url), f"{where}/facets/{name}")
    return problems


def write_events(events: Sequence[Mapping[str, Any]], path: Path) -> int:
    """Write events as JSON Lines to ``path``; returns how many."""
    try:
        with path.open("w", encoding="utf-8") as fh:
            for event in events:
                fh.write(json.dumps(event, sort_keys=True) + "\n")
    except OSError as exc:
        raise ConfigError(
            f"cannot write the lineage export to {path}: {exc.strerror}",
            hint="Pass a writable --output path.",
        ) from exc
    return len(events)


def post_events(
    events: Sequence[Mapping[str, Any]], url: str, *, timeout_s: float = 10.0,
    headers: Mapping[str, str] | None = None,
) -> int:
    """POST each event as JSON to ``url`` (an OpenLineage HTTP endpoint such as Marquez's
    ``http://host:5000/api/v1/lineage``); returns how many were accepted."""
    import httpx

    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"not an HTTP URL: {url!r}", hint="Pass --url http(s)://host:port/api/v1/lineage.")
    sent = 0
    try:
        with httpx.Client(timeout=timeout_s, headers=dict(headers or {})) as client:
            for event in events:
                response = client.post(url, json=event)
                if response.status_code >= 300:
                    raise TargetUnavailable(
                        f"the OpenLineage endpoint answered {response.status_code} after {sent} "
                        f"of {len(events)} events",
                        hint="Check the URL (Marquez: /api/v1/lineage) and the receiver's logs.",
                    )
                sent += 1
    except httpx.HTTPError as exc:
        raise TargetUnavailable(
            f"cannot reach the OpenLineage endpoint ({type(exc).__name__}) after {sent} events",
            hint="Check that the receiver runs and the URL is right.",
        ) from exc
    return sent


# ---------------------------------------------------------------------- DOT and SVG

_SHAPES = {"glue_table": "cylinder", "view": "box", "analytic_model": "box3d", "unknown": "box"}


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: LineageGraph, *, name: str = "lineage") -> str:
    """Graphviz DOT of the graph (left to right; flows as ellipses, Glue tables as cylinders)."""
    lines = [f"digraph {_dot_id(name)} {{", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for key, item in sorted(graph.nodes.items()):
        shape = "ellipse" if _is_flow(item.kind) else _SHAPES.get(item.kind, "box")
        label = _dot_id(key)[:-1] + "\\n(" + item.kind + ')"'
        lines.append(f"  {_dot_id(key)} [label={label}, shape={shape}];")
    for e in sorted(graph.edges):
        lines.append(f"  {_dot_id(e.upstream)} -> {_dot_id(e.downstream)} [label={_dot_id(e.kind)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _layers(graph: LineageGraph) -> dict[str, int]:
    """Longest-path layer of every node (cycles broken by visiting order)."""
    ups: dict[str, set[str]] = {}
    for e in graph.edges:
        ups.setdefault(e.downstream, set()).add(e.upstream)
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(node: str) -> int:
        if node in layer:
            return layer[node]
        if node in visiting:
            return 0
        visiting.add(node)
        value = max((depth(u) + 1 for u in ups.get(node, ())), default=0)
        visiting.discard(node)
        layer[node] = value
        return value

    for node in sorted(graph.nodes):
        depth(node)
    return layer


def to_svg(graph: LineageGraph, *, engine: str = "builtin") -> str:
    """An SVG picture. ``builtin`` lays the graph out in layers here (no dependency);
    ``dot`` renders :func:`to_dot` with Graphviz (``ConfigError`` when it is not installed)."""
    if engine == "dot":
        exe = shutil.which("dot")
        if exe is None:
            raise ConfigError("Graphviz `dot` is not installed",
                              hint="Install it (apt-get install graphviz) or use the built-in renderer.")
        done = subprocess.run([exe, "-Tsvg"], input=to_dot(graph), capture_output=True, text=True,
                              check=False, timeout=60)
        if done.returncode != 0:
            raise ConfigError(f"Graphviz failed: {done.stderr.strip()[:200]}",
                              hint="Report the graph that fails; use the built-in renderer meanwhile.")
        return done.stdout
    layer = _layers(graph)
    columns: dict[int, list[str]] = {}
    for vertex in sorted(graph.nodes):
        columns.setdefault(layer[vertex], []).append(vertex)
    box_w, box_h, gap_x, gap_y, pad = 220, 44, 80, 24, 20
    pos: dict[str, tuple[int, int]] = {}
    for col, keys in columns.items():
        for row, vertex in enumerate(keys):
            pos[vertex] = (pad + col * (box_w + gap_x), pad + row * (box_h + gap_y))
    width = pad * 2 + (max(columns, default=0) + 1) * (box_w + gap_x)
    height = pad * 2 + max((len(v) for v in columns.values()), default=1) * (box_h + gap_y)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="11">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>',
    ]
    for e in sorted(graph.edges):
        (x1, y1), (x2, y2) = pos[e.upstream], pos[e.downstream]
        out.append(
            f'<line class="edge" data-from="{html.escape(e.upstream)}" data-to="{html.escape(e.downstream)}" '
            f'x1="{x1 + box_w}" y1="{y1 + box_h // 2}" x2="{x2}" y2="{y2 + box_h // 2}" '
            f'stroke="#555" marker-end="url(#arrow)"><title>{html.escape(e.kind)}</title></line>'
        )
    for key, (x, y) in sorted(pos.items()):
        node = graph.nodes[key]
        fill = "#e8f1fb" if key.startswith(GLUE_PREFIX) else ("#fdf3e1" if _is_flow(node.kind) else "#eef7ee")
        rx = 22 if _is_flow(node.kind) else 4
        out.append(
            f'<g class="node" data-key="{html.escape(key)}"><rect x="{x}" y="{y}" width="{box_w}" '
            f'height="{box_h}" rx="{rx}" fill="{fill}" stroke="#333"/>'
            f'<text x="{x + 8}" y="{y + 18}">{html.escape(key[:34])}</text>'
            f'<text x="{x + 8}" y="{y + 34}" fill="#666">{html.escape(node.kind)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
