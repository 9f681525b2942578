"""Shared vocabulary of the CSN parser: constants and small readers of CSN values
(annotations, enum values, element references, ref segments) and the canonical ordering of
dependencies. Pure functions, no parser state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.models import AssetKind, AssetRef, Dependency, DependencyKind

#: Type name of an analytic-model column whose type is not known yet.
UNRESOLVED_TYPE = "unresolved"

#: CSN definition kind → asset kind, for flows.
FLOW_KINDS: dict[str, AssetKind] = {
    "sap.dis.dataflow": AssetKind.DATA_FLOW,
    "sap.dis.transformationflow": AssetKind.TRANSFORMATION_FLOW,
    "sap.dis.replicationflow": AssetKind.REPLICATION_FLOW,
    "sap.dwc.taskChain": AssetKind.TASK_CHAIN,
}

#: Root keys under which the design-time API returns flows and task chains (instead of
#: ``definitions``).
FLOW_ROOTS: tuple[str, ...] = ("dataflows", "transformationflows", "replicationflows", "taskchains")

_DEP_ORDER = {kind: i for i, kind in enumerate(DependencyKind)}


def enum_value(value: Any) -> str | None:
    """``{"#": "X"}`` → ``X``; ``"#X"`` → ``X``; a plain string stays as is."""
    if isinstance(value, dict):
        inner = value.get("#", value.get("="))
        return None if inner is None else str(inner)
    if isinstance(value, str):
        return value[1:] if value.startswith("#") else value
    return None


def element_ref(value: Any) -> str | None:
    """``{"=": "X"}`` / ``[{"=": "X"}]`` / ``"X"`` → ``X`` (an element reference)."""
    if isinstance(value, list):
        return element_ref(value[0]) if value else None
    if isinstance(value, dict):
        if "=" in value:
            return str(value["="])
        if "ref" in value and isinstance(value["ref"], list) and value["ref"]:
            return str(value["ref"][-1])
        return None
    if isinstance(value, str):
        return value
    return None


def annotation_text(value: Any) -> str:
    """Render an annotation value as the flat string kept in ``Column.semantics``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        if "=" in value:
            return str(value["="])
        if "#" in value:
            return str(value["#"])
    if isinstance(value, list):
        return ",".join(annotation_text(v) for v in value)
    return str(value)


def flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict) and not ({"=", "#"} & value.keys()):
        for key, inner in value.items():
            flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = annotation_text(value)


def truthy(value: Any) -> bool:
    if isinstance(value, dict):
        return True
    return bool(value)


def segment(seg: Any) -> str:
    """A ``ref`` path segment: a string, or ``{"id": ..., "args": ...}`` for parameters."""
    if isinstance(seg, dict):
        return str(seg.get("id", ""))
    return str(seg)


def dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def dependencies(deps: Iterable[tuple[AssetRef, DependencyKind]], me: AssetRef) -> list[Dependency]:
    """Deduplicated, canonically ordered dependencies (self-references dropped)."""
    unique = {(ref, kind) for ref, kind in deps if ref != me}
    ordered = sorted(unique, key=lambda d: (_DEP_ORDER[d[1]], d[0].space, d[0].name))
    return [Dependency(ref=ref, kind=kind) for ref, kind in ordered]
