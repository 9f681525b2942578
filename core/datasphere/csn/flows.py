"""Flows in the CSN parser: data, transformation and replication flows and task chains
become flow assets with their sources, targets and load type."""

from __future__ import annotations

from typing import Any

from core.datasphere.csn.queries import QueryParser
from core.datasphere.csn.resolution import source_hash
from core.datasphere.csn.values import FLOW_KINDS, as_list, dependencies, str_or_none
from core.errors import CsnError
from core.models import Asset, AssetRef, BusinessContext, DependencyKind, FlowDefinition


def _dwc_container(system: Any) -> str | None:
    """Replication-flow system: the space (``container``; ``""`` = this one) when it is
    Datasphere itself (``connectionId: $DWC``), else ``None`` (a remote system's objects)."""
    first = as_list(system)[0] if as_list(system) else None
    if not isinstance(first, dict):
        return None
    if first.get("connectionId") != "$DWC":
        return None
    container = first.get("container")
    return str(container).strip("/") if isinstance(container, str) else ""


class FlowParser(QueryParser):
    """Parses flow and task-chain definitions."""

    def _flow(self, name: str, body: dict[str, Any]) -> Asset:
        kind = FLOW_KINDS[str(body["kind"])]
        if self.kind_hint is not None and self.kind_hint.is_flow:
            kind = self.kind_hint
        me = self.resolver.ref(name)
        sources: list[AssetRef] = []
        targets: list[AssetRef] = []
        modes: list[str] = []
        warnings: list[str] = []
        contents = body.get("contents", {})
        if contents is None:
            contents = {}
        if not isinstance(contents, dict):
            raise CsnError(f"{me}: flow 'contents' is a {type(contents).__name__}, not an object")
        processes = contents.get("processes", {})
        if not isinstance(processes, dict):
            raise CsnError(f"{me}: flow 'processes' is not an object")
        for p_name, proc in processes.items():
            if not isinstance(proc, dict):
                raise CsnError(f"{me}: flow process {p_name!r} is not an object")
            component = str(proc.get("component", ""))
            metadata = proc.get("metadata") or {}
            config = metadata.get("config", {}) if isinstance(metadata, dict) else {}
            if not isinstance(config, dict):
                raise CsnError(f"{me}: flow process {p_name!r} has a non-object config")
            entity = config.get("dwcEntity")
            if component == "com.sap.dwc.viewtransform":
                # transformation flow: the sources are the refs of the embedded view's query
                definition = config.get("definition")
                query = definition.get("query") if isinstance(definition, dict) else None
                if not isinstance(query, dict):
                    raise CsnError(f"{me}: view transform {p_name!r} has no query")
                sources.extend(ref for ref, _ in self._query_deps(me, query, DependencyKind.FROM))
            elif component == "com.sap.dwc.target":
                target = config.get("name")
                if not isinstance(target, str) or not target:
                    raise CsnError(f"{me}: target {p_name!r} has no name")
                targets.append(self.resolver.ref(target))
                if "truncate" in config:
                    modes.append("TRUNCATE" if config["truncate"] else "UPSERT")
            elif not entity:
                continue  # operators (projection, join, script...) and remote sources
            elif component.endswith(".consumer"):
                sources.append(self.resolver.ref(str(entity)))
            elif component.endswith(".producer"):
                targets.append(self.resolver.ref(str(entity)))
                if isinstance(config.get("mode"), str):
                    modes.append(config["mode"])
            else:
                warnings.append(f"process {p_name!r}: component {component!r} not understood")
        # replication flows: only objects in the Datasphere container are assets
        target_space = _dwc_container(contents.get("targetSystem"))
        source_space = _dwc_container(contents.get("sourceSystem"))
        for task in as_list(contents.get("replicationTasks")):
            if not isinstance(task, dict):
                raise CsnError(f"{me}: replication task is not an object")
            src, tgt = task.get("sourceObject"), task.get("targetObject")
            if (
                source_space is not None
                and isinstance(src, dict)
                and isinstance(src.get("name"), str)
            ):
                sources.append(self._in_container(src["name"], source_space))
            if (
                target_space is not None
                and isinstance(tgt, dict)
                and isinstance(tgt.get("name"), str)
            ):
                targets.append(self._in_container(tgt["name"], target_space))
            if isinstance(task.get("loadType"), str):
                modes.append(task["loadType"])
        # task chains: the objects the chain runs
        for node in as_list(body.get("nodes", contents.get("nodes"))):
            task_id = node.get("taskIdentifier") if isinstance(node, dict) else None
            if isinstance(task_id, dict) and isinstance(task_id.get("objectId"), str):
                sources.append(self.resolver.ref(task_id["objectId"]))
        flow_meta = contents.get("metadata")
        for holder in (contents, flow_meta if isinstance(flow_meta, dict) else {}):
            if isinstance(holder.get("loadType"), str):
                modes.append(holder["loadType"])
        src_refs = list(dict.fromkeys(sources))
        tgt_refs = list(dict.fromkeys(targets))
        deps = [(r, DependencyKind.FLOW_SOURCE) for r in src_refs] + [
            (r, DependencyKind.FLOW_TARGET) for r in tgt_refs
        ]
        label = str_or_none(body.get("@EndUserText.label") or body.get("label"))
        return Asset(
            space=me.space,
            name=me.name,
            kind=kind,
            label=label,
            upstream=dependencies(deps, me),
            business=BusinessContext(
                label=label,
                description=str_or_none(body.get("description") or contents.get("description")),
            ),
            flow=FlowDefinition(
                sources=src_refs, targets=tgt_refs, load_type=modes[0] if modes else None
            ),
            warnings=warnings,
            source_hash=source_hash(self.doc, name),
        )

    def _in_container(self, name: str, container: str) -> AssetRef:
        if container in ("", self.space):
            return self.resolver.ref(name)
        return AssetRef(space=container, name=name)
