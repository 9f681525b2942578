"""Mapping engine: pure functions from Datasphere assets to Glue specs (no I/O).

* :mod:`core.mapping.types`  — CDS/EDM → Glue types (``glue_type``, ``is_valid_athena_type``,
  ``is_numeric_glue_type``)
* :mod:`core.mapping.names`  — Glue names (``glue_name``, ``glue_column_name``, ``NameAllocator``)
* :mod:`core.mapping.rules`  — the YAML rules (``parse_rules``, ``load_rules``, ``default_rules``)
* :mod:`core.mapping.mapper` — ``map_assets``, ``map_asset_preview``, ``impact``
* :mod:`core.mapping.params` — the ``dgsync.*`` Parameters keys
"""

from core.mapping.mapper import (
    AssetPreview,
    impact,
    impacted_tables,
    map_asset_preview,
    map_assets,
)
from core.mapping.names import NameAllocator, glue_column_name, glue_name
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
