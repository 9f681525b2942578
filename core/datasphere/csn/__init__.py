"""CSN → domain assets. Pure: no I/O, no globals, no clock.

This package re-exports the parser's public names; its modules split it by concern:
:mod:`.values` (constants, value readers), :mod:`.resolution` (definitions, slices, hashes,
reference resolution, the validated document), :mod:`.columns` (types, columns,
associations, hierarchies, parameters), :mod:`.queries` (query dependencies and column
lineage), :mod:`.analytic` (business-layer definitions, analytic-model typing),
:mod:`.flows` (flows and task chains), :mod:`.entities` (tables, views, analytic models)
and :mod:`.parser` (:func:`parse_csn`).

:func:`parse_csn` turns one CSN document (a design-time read, or an export with many
definitions) into :class:`~core.models.Asset` objects of one space:

* ``kind: "entity"`` definitions become tables, views or analytic models; ``kind: "context"``
  definitions are namespaces (and, with ``@DataWarehouse.space.name``, space markers), never
  assets; flows (``sap.dis.dataflow``, ``sap.dis.transformationflow``,
  ``sap.dis.replicationflow``, ``sap.dwc.taskChain``) become flow assets.
* Elements become :class:`~core.models.Column` objects, except ``cds.Association`` /
  ``cds.Composition`` elements, which become :class:`~core.models.Association` objects.
* Dependencies come from ``query`` (``from`` refs, joins, nested selects, subqueries, unions,
  mixins), association targets, analytic-model sources and flow sources/targets.
* Every dotted name (definitions, ``from``/joins/unions, associations, mixins,
  analytic-model sources, flow sources/targets) is resolved by the one rule of
  :mod:`core.datasphere.identity`: ``FINANCE.SALES_ALL`` → space ``FINANCE``, name
  ``SALES_ALL`` when ``FINANCE`` is a space (a context with ``@DataWarehouse.space.name``
  in this or any document read this run, a catalog space, a space the tenant refused);
  ``SAP.TIME.M_TIME_DIMENSION`` is one name of the current space when ``SAP`` is a
  namespace context or no space. Definitions that live in another space (exports carry
  them as context for their consumers) are not returned by a whole-document parse; asked
  for by ``name`` they are returned with their owner's space.
* Only data flow (``from``/joins/unions, fact/dimension sources, flow sources) is a
  data-flow dependency; association targets and mixin targets stay ``ASSOCIATION`` /
  ``MIXIN`` dependencies (:attr:`~core.models.DependencyKind.is_data_flow`).

Analytic models carry untyped elements; their columns get the placeholder type
:data:`UNRESOLVED_TYPE` unless the same document defines the source. The extractor calls
:func:`resolve_analytic_types` with the assets it has, then falls back to the analytical
``$metadata``.

Malformed input raises :class:`~core.errors.CsnError` naming the object and the problem.
"""

from core.datasphere.csn.analytic import UNTYPED_NOTE, refingerprint, resolve_analytic_types
from core.datasphere.csn.columns import normalize_type_name
from core.datasphere.csn.parser import parse_csn
from core.datasphere.csn.resolution import csn_slice, resolve_reference, source_hash
from core.datasphere.csn.values import FLOW_KINDS, FLOW_ROOTS, UNRESOLVED_TYPE
from core.datasphere.identity import namespace_contexts, space_contexts

__all__ = [
    "FLOW_KINDS",
    "FLOW_ROOTS",
    "UNRESOLVED_TYPE",
    "UNTYPED_NOTE",
    "csn_slice",
    "namespace_contexts",
    "normalize_type_name",
    "parse_csn",
    "refingerprint",
    "resolve_analytic_types",
    "resolve_reference",
    "source_hash",
    "space_contexts",
]
