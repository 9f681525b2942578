"""Lineage end to end: graph queries, Datasphere → Glue (tables and columns, flows included),
OpenLineage events validated against the shipped schemas, file and HTTP export, DOT, SVG, CLI."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from core.errors import TargetUnavailable
from core.lineage import ColumnEdge, Edge, LineageGraph, Node, paths, split_column_ref, within_depth
from core.lineage_export import (
    graph_from_store,
    openlineage_events,
    post_events,
    to_dot,
    to_svg,
    validate_event,
    write_events,
)
from core.store import repo
from core.store.schemas import AssetStateIn, LineageEdgeIn
from dgsync_cli.main import cli

FLOW = "FINANCE.DF_FX_RATES_LOAD"
FLOW_SOURCE = "FINANCE.RT_FX_RATES"
FLOW_TARGET = "FINANCE.FX_RATES_LOCAL"
FLOW_TARGET_TABLE = "glue:finance.fx_rates_local"


def small_graph() -> LineageGraph:
    """A → V → G(V); A → F (flow) → T → G(T); a cycle X ↔ Y hanging off T."""
    g = LineageGraph()
    for key, kind, cols in [("S.A", "local_table", [("ID", "cds.Integer")]),
                            ("S.V", "view", [("ID2", "cds.Integer")]),
                            ("S.F", "data_flow", []), ("S.T", "local_table", [("ID", "cds.Integer")]),
                            ("S.X", "view", []), ("S.Y", "view", [])]:
        g.add_node(Node(key=key, kind=kind, columns=cols))
    g.add_node(Node(key="glue:s.v", kind="glue_table", columns=[("id2", "int")]))
    for e in [Edge("S.A", "S.V", "from"), Edge("S.V", "glue:s.v", "synced_to"),
              Edge("S.A", "S.F", "flow_source", "S.F"), Edge("S.F", "S.T", "flow_target", "S.F"),
              Edge("S.T", "S.X", "from"), Edge("S.X", "S.Y", "from"), Edge("S.Y", "S.X", "from"),
              Edge("S.V", "S.T", "from")]:
        g.add_edge(e)
    g.column_edges |= {ColumnEdge("S.A", "ID", "S.V", "ID2"),
                       ColumnEdge("S.V", "ID2", "glue:s.v", "id2", "synced_to")}
    return g


def test_depth_limits_the_neighbourhood_in_each_direction() -> None:
    g = small_graph()
    assert within_depth(g.adjacency(), "S.A", 1) == {"S.V": 1, "S.F": 1}
    assert within_depth(g.adjacency(), "S.A", 2) == {"S.V": 1, "S.F": 1, "glue:s.v": 2, "S.T": 2}
    up = g.neighbourhood("S.T", direction="upstream", depth=1)
    assert set(up.nodes) == {"S.T", "S.F", "S.V"}
    assert all(e.downstream == "S.T" for e in up.edges)
    down = g.neighbourhood("S.T", direction="downstream", depth=5)
    assert set(down.nodes) == {"S.T", "S.X", "S.Y"}  # the cycle is walked once


def test_paths_between_two_assets_shortest_first_and_none_backwards() -> None:
    g = small_graph()
    assert g.paths("S.A", "S.T") == [["S.A", "S.F", "S.T"], ["S.A", "S.V", "S.T"]]
    assert g.paths("S.T", "S.A") == []
    assert paths(g.adjacency(), "S.A", "S.Y", max_paths=1) == [["S.A", "S.F", "S.T", "S.X", "S.Y"]]


def test_column_lineage_reaches_the_glue_column_and_back() -> None:
    g = small_graph()
    assert g.column_impact("S.A", "ID") == [("S.V", "ID2"), ("glue:s.v", "id2")]
    assert g.column_sources("glue:s.v", "id2") == [("S.A", "ID"), ("S.V", "ID2")]
    assert split_column_ref("SP.NAME.WITH.DOTS.COL") == ("SP.NAME.WITH.DOTS", "COL")
    with pytest.raises(ValueError):
        split_column_ref("NOCOLUMN")


def test_tenant_graph_runs_from_flow_source_through_the_flow_to_the_target_glue_table(tenant_graph: LineageGraph) -> None:
    assert tenant_graph.nodes[FLOW].kind == "data_flow"
    assert tenant_graph.paths(FLOW_SOURCE, FLOW_TARGET_TABLE) == [
        [FLOW_SOURCE, FLOW, FLOW_TARGET, FLOW_TARGET_TABLE]]
    assert FLOW_TARGET_TABLE in tenant_graph.impact([FLOW_SOURCE])[FLOW_SOURCE]
    # Every Glue table has exactly one Datasphere source and no association is an edge.
    glue = [k for k in tenant_graph.nodes if k.startswith("glue:")]
    assert glue
    for key in glue:
        assert len([e for e in tenant_graph.edges if e.downstream == key]) == 1
    assert not any(e.kind in ("association", "mixin") for e in tenant_graph.edges)


def test_tenant_columns_map_to_glue_columns(tenant_graph: LineageGraph) -> None:
    first_col = tenant_graph.nodes[FLOW_TARGET].columns[0][0]
    assert (FLOW_TARGET_TABLE, first_col.lower()) in tenant_graph.column_impact(FLOW_TARGET, first_col)
    derived = [c for c in tenant_graph.column_edges if c.kind == "derived"]
    assert derived, "the tenant has column lineage inside Datasphere"
    c = derived[0]
    # A view column's source column flows on to the view's Glue table.
    downstream = tenant_graph.column_impact(c.upstream, c.upstream_column)
    assert (c.downstream, c.downstream_column) in downstream
    assert any(node.startswith("glue:") for node, _ in downstream)


def test_openlineage_events_validate_and_name_flows_and_views_as_jobs(tenant_graph: LineageGraph) -> None:
    events = openlineage_events(tenant_graph, datasphere_namespace="datasphere://t.example")
    assert events
    for event in events:
        assert validate_event(event) == [], event["job"]["name"]
    by_job = {e["job"]["name"]: e for e in events}
    flow = by_job[FLOW]
    assert [d["name"] for d in flow["inputs"]] == [FLOW_SOURCE]
    assert [d["name"] for d in flow["outputs"]] == [FLOW_TARGET]
    assert flow["job"]["facets"]["jobType"]["jobType"] == "DATA_FLOW"
    sync_job = by_job[f"dgsync.sync.{FLOW_TARGET}"]
    glue_out = sync_job["outputs"][0]
    assert glue_out["namespace"].startswith("arn:aws:glue:")
    assert glue_out["name"] == "table/finance/fx_rates_local"
    fields = glue_out["facets"]["schema"]["fields"]
    assert [f["name"] for f in fields] == [c for c, _ in tenant_graph.nodes[FLOW_TARGET_TABLE].columns]
    lineage = glue_out["facets"]["columnLineage"]["fields"]
    first = tenant_graph.nodes[FLOW_TARGET].columns[0][0]
    assert lineage[first.lower()]["inputFields"][0] == {
        "namespace": "datasphere://t.example", "name": FLOW_TARGET, "field": first,
        "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]}


def test_the_validator_rejects_broken_events(tenant_graph: LineageGraph) -> None:
    event = openlineage_events(tenant_graph)[0]
    broken = json.loads(json.dumps(event))
    del broken["run"]["runId"]
    broken["eventType"] = "FINISHED"
    problems = validate_event(broken)
    assert any("runId" in p for p in problems)
    assert any("FINISHED" in p for p in problems)
    facet = json.loads(json.dumps(event))
    facet["outputs"][0]["facets"]["schema"]["fields"] = [{"type": "int"}]  # no name
    assert any("name" in p and "schema" in p for p in validate_event(facet))
    unknown = json.loads(json.dumps(event))
    unknown["schemaURL"] = "https://openlineage.io/spec/9-9-9/OpenLineage.json#/$defs/RunEvent"
    assert any("not shipped" in p for p in validate_event(unknown))


def test_export_to_a_file_and_to_an_http_endpoint(tenant_graph: LineageGraph, tmp_path: Path,
                                                   lineage_receiver: Any) -> None:
    events = openlineage_events(tenant_graph.neighbourhood(FLOW, depth=2))
    out = tmp_path / "lineage.jsonl"
    assert write_events(events, out) == len(events)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == events
    assert post_events(events, lineage_receiver.url) == len(events)
    assert lineage_receiver.bodies == events
    assert set(lineage_receiver.paths) == {"/api/v1/lineage"}
    lineage_receiver.status = 500
    with pytest.raises(TargetUnavailable) as err:
        post_events(events, lineage_receiver.url)
    assert "500" in err.value.message and err.value.hint


def test_dot_output_parses_into_the_same_nodes_and_edges(tenant_graph: LineageGraph) -> None:
    sub = tenant_graph.neighbourhood(FLOW, depth=2)
    dot = to_dot(sub)
    assert dot.startswith('digraph "lineage" {') and dot.rstrip().endswith("}")
    quoted = r'"((?:[^"\\]|\\.)*)"'
    declared = set(re.findall(rf"^  {quoted} \[label=", dot, re.M))
    edges = set(re.findall(rf"^  {quoted} -> {quoted} \[label={quoted}\];$", dot, re.M))
    assert declared == set(sub.nodes)
    assert edges == {(e.upstream, e.downstream, e.kind) for e in sub.edges}
    assert dot.count("{") == dot.count("}")


def test_svg_output_is_xml_with_every_node_and_edge(tenant_graph: LineageGraph) -> None:
    sub = tenant_graph.neighbourhood(FLOW, depth=2)
    root = ET.fromstring(to_svg(sub))
    ns = {"s": "http://www.w3.org/2000/svg"}
    keys = {g.get("data-key") for g in root.findall("s:g", ns)}
    lines = {(ln.get("data-from"), ln.get("data-to")) for ln in root.findall("s:line", ns)}
    assert keys == set(sub.nodes)
    assert lines == {(e.upstream, e.downstream) for e in sub.edges}


def test_graph_from_the_store_follows_stored_edges_to_glue_tables(store: object) -> None:
    with store.session() as s:  # type: ignore[attr-defined]
        repo.replace_lineage(session=s, downstream="S.V", edges=[
            LineageEdgeIn(upstream="S.A", downstream="S.V", kind="from")])
        repo.upsert_asset_state(session=s, state=AssetStateIn(
            env="dog", space="S", name="V", kind="view", status="synced",
            glue_database="s", glue_table="v"))
    g = graph_from_store(store, "dog")  # type: ignore[arg-type]
    assert g.paths("S.A", "glue:s.v") == [["S.A", "S.V", "glue:s.v"]]


def test_cli_lineage_path_export_and_unknown_asset(tmp_path: Path, lineage_receiver: Any) -> None:
    env = {"DGSYNC_ENV": "dog", "DGSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
           "DGSYNC_STATE_DIR": str(tmp_path / "state")}
    run = CliRunner()
    res = run.invoke(cli, ["lineage", "path", FLOW_SOURCE, FLOW_TARGET_TABLE, "--format", "json"], env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["paths"] == [[FLOW_SOURCE, FLOW, FLOW_TARGET, FLOW_TARGET_TABLE]]
    out = tmp_path / "ol.jsonl"
    res = run.invoke(cli, ["lineage", "export", "--format", "openlineage", "--asset", FLOW,
                           "--output", str(out)], env=env)
    assert res.exit_code == 0, res.output
    events = [json.loads(x) for x in out.read_text().splitlines()]
    assert events and all(validate_event(e) == [] for e in events)
    res = run.invoke(cli, ["lineage", "export", "--format", "openlineage", "--asset", FLOW,
                           "--url", lineage_receiver.url], env=env)
    assert res.exit_code == 0, res.output
    assert len(lineage_receiver.bodies) == len(events)
    res = run.invoke(cli, ["lineage", "show", "NOPE.NOTHING"], env=env)
    assert res.exit_code == 2
    assert "not in the lineage graph" in res.output and "hint:" in res.output
