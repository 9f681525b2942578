"""Entities in the CSN parser: a ``kind: "entity"`` definition becomes a table, view or
analytic model with its columns, associations, dependencies and business context."""

from __future__ import annotations

from typing import Any

from core.datasphere.csn.analytic import AnalyticParser, resolve_columns
from core.datasphere.csn.queries import QueryParser
from core.datasphere.csn.resolution import source_hash
from core.datasphere.csn.values import UNRESOLVED_TYPE, dependencies, enum_value, str_or_none
from core.errors import CsnError
from core.models import (
    AnalyticDefinition,
    Asset,
    AssetKind,
    AssetRef,
    Association,
    BusinessContext,
    Column,
    DependencyKind,
)

_ENTITY_KINDS = frozenset(
    {AssetKind.LOCAL_TABLE, AssetKind.REMOTE_TABLE, AssetKind.VIEW, AssetKind.ANALYTIC_MODEL}
)


class EntityParser(AnalyticParser, QueryParser):
    """Parses entity definitions (tables, views, analytic models)."""

    def _entity_kind(self, name: str, body: dict[str, Any], hint: AssetKind | None) -> AssetKind:
        if hint is not None and hint in _ENTITY_KINDS:
            return hint
        pattern = enum_value(body.get("@ObjectModel.modelingPattern"))
        if pattern == "ANALYTICAL_CUBE" or name in self.bld:
            return AssetKind.ANALYTIC_MODEL
        if "query" in body or "projection" in body:
            return AssetKind.VIEW
        if any(
            k.startswith(("@DataWarehouse.remote.", "@DataWarehouse.dataSource.")) for k in body
        ):
            return AssetKind.REMOTE_TABLE
        return AssetKind.LOCAL_TABLE

    def _entity(self, name: str, body: dict[str, Any], hint: AssetKind | None = None) -> Asset:
        kind = self._entity_kind(name, body, hint)
        me = self.resolver.ref(name)
        warnings: list[str] = []
        elements = body.get("elements", {})
        if elements is None:
            elements = {}
        if not isinstance(elements, dict):
            raise CsnError(f"{me}: 'elements' is a {type(elements).__name__}, not an object")

        assoc_targets: dict[str, AssetRef] = {}
        associations: list[Association] = []
        for el_name, el in elements.items():
            if not isinstance(el, dict):
                raise CsnError(f"{me}: element {el_name!r} is a {type(el).__name__}, not an object")
            if self._is_relationship(el):
                assoc = self._association(me, el_name, el)
                assoc_targets[el_name] = assoc.target
                associations.append(assoc)

        query = body.get("query")
        if query is None and isinstance(body.get("projection"), dict):
            query = {"SELECT": body["projection"]}
        lineage: dict[str, list[str]] = {}
        deps: list[tuple[AssetRef, DependencyKind]] = []
        if query is not None:
            if not isinstance(query, dict):
                raise CsnError(f"{me}: 'query' is a {type(query).__name__}, not an object")
            deps.extend(self._query_deps(me, query, DependencyKind.FROM))
            lineage = self._query_lineage(me, query)
        deps.extend((a.target, DependencyKind.ASSOCIATION) for a in associations)

        columns: list[Column] = []
        for el_name, el in elements.items():
            if self._is_relationship(el):
                continue
            columns.append(
                self._column(
                    me,
                    el_name,
                    el,
                    assoc_targets,
                    lineage.get(el_name, []),
                    warnings,
                    untyped_ok=kind is AssetKind.ANALYTIC_MODEL,
                )
            )

        analytic: AnalyticDefinition | None = None
        if kind is AssetKind.ANALYTIC_MODEL:
            analytic = self._analytic(me, name)
            for src in analytic.fact_sources:
                deps.append((src.ref, DependencyKind.FACT_SOURCE))
            for src in analytic.dimension_sources:
                deps.append((src.ref, DependencyKind.DIMENSION_SOURCE))
            columns = self._resolve_in_document(columns, analytic)
            missing = [c.name for c in columns if c.type.name == UNRESOLVED_TYPE]
            if missing:
                warnings.append(
                    "column types not in the CSN (resolved from sources or $metadata): "
                    + ", ".join(missing)
                )

        business = BusinessContext(
            label=str_or_none(body.get("@EndUserText.label")),
            description=str_or_none(body.get("@EndUserText.quickInfo") or body.get("doc")),
            modeling_pattern=enum_value(body.get("@ObjectModel.modelingPattern")),
            supported_capabilities=self._capabilities(
                body.get("@ObjectModel.supportedCapabilities")
            ),
            exposed=bool(body.get("@DataWarehouse.consumption.external", False)),
            dimension_type=enum_value(body.get("@Analytics.dimensionType")),
            sql=str_or_none(body.get("@DataWarehouse.sqlEditor.query")),
        )
        return Asset(
            space=me.space,
            name=me.name,
            kind=kind,
            label=business.label,
            columns=columns,
            associations=associations,
            hierarchies=self._hierarchies(me, body),
            upstream=dependencies(deps, me),
            business=business,
            analytic=analytic,
            parameters=self._params(me, body.get("params")),
            warnings=warnings,
            source_hash=source_hash(self.doc, name),
        )

    def _resolve_in_document(
        self, columns: list[Column], analytic: AnalyticDefinition
    ) -> list[Column]:
        """Type analytic-model columns from sources defined in the same document."""
        local: dict[AssetRef, Asset] = {}

        def lookup(ref: AssetRef) -> Asset | None:
            if ref in local:
                return local[ref]
            for name, body in self.defs.items():
                if (
                    self.resolver.ref(name) == ref
                    and body.get("kind") == "entity"
                    and name not in self.bld
                ):
                    local[ref] = self._entity(name, body)
                    return local[ref]
            return None

        return resolve_columns(columns, analytic, lookup)
