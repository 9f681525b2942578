"""Mapping engine: pure functions from Datasphere assets to Glue specs (no I/O).

* :mod:`core.mapping.types`  — CDS/EDM → Glue types (``glue_type``, ``is_valid_athena_type``,
  ``is_numeric_glue_type``)
* :mod:`core.mapping.names`  — Glue names (``glue_name``, ``glue_column_name``, ``NameAllocator``)
* :mod:`core.mapping.rules`  — the YAML rules (``parse_rules``, ``load_rules``, ``default_rules``);
  their section models in :mod:`core.mapping.rule_schema`
* :mod:`core.mapping.mapper` — ``map_assets`` (assets → databases, tables, lineage)
* :mod:`core.mapping.columns` — the columns and ``dgsync.*`` Parameters of one table
* :mod:`core.mapping.fit` — values fitted to Glue's byte limits (``truncate_utf8``,
  ``fit_parameters``, ``join_parameter``)
* :mod:`core.mapping.graph` — flow ends, ``downstream_graph``, ``impact``, ``impacted_tables``
* :mod:`core.mapping.preview` — ``map_asset_preview`` (one asset in context)
* :mod:`core.mapping.params` — the ``dgsync.*`` Parameters keys
"""

from core.mapping.graph import impact, impacted_tables
from core.mapping.mapper import map_assets
from core.mapping.names import NameAllocator, glue_column_name, glue_name
from core.mapping.preview import AssetPreview, map_asset_preview
from core.mapping.rules import Rules, check_rules, default_rules, load_rules, parse_rules
from core.mapping.types import (
    DecimalFloatPolicy,
    glue_type,
    is_numeric_glue_type,
    is_valid_athena_type,
)

__all__ = [
    "AssetPreview",
    "DecimalFloatPolicy",
    "NameAllocator",
    "Rules",
    "check_rules",
    "default_rules",
    "glue_column_name",
    "glue_name",
    "glue_type",
    "impact",
    "impacted_tables",
    "is_numeric_glue_type",
    "is_valid_athena_type",
    "load_rules",
    "map_asset_preview",
    "map_assets",
    "parse_rules",
]
