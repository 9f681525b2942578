"""The ``Parameters`` keys the mapping engine writes (besides the ownership markers in
:mod:`core.specs`). Values are strings; ``JSON`` values are canonical JSON (sorted keys,
no whitespace, UTF-8). See ``docs/mapping-rules.md`` for the full table."""

from __future__ import annotations

# -- database -------------------------------------------------------------------------------
SPACE = "dgsync.space"  # source space id
LABEL = "dgsync.label"  # full business label (also on tables and columns)

# -- table ----------------------------------------------------------------------------------
NAME = "dgsync.name"  # original technical name (also on columns)
DESCRIPTION = "dgsync.description"  # full business description
PRIORITY = "dgsync.priority"
MODELING_PATTERN = "dgsync.modeling_pattern"
EXPOSED = "dgsync.exposed"  # "true" / "false"
DIMENSION_TYPE = "dgsync.dimension_type"
CAPABILITIES = "dgsync.capabilities"  # JSON list
PRIMARY_KEY = "dgsync.primary_key"  # JSON list of Glue column names
DIMENSIONS = "dgsync.dimensions"  # JSON list of Glue column names
MEASURES = "dgsync.measures"  # JSON list of objects
ATTRIBUTES = "dgsync.attributes"  # JSON list of objects (analytic models)
HIERARCHIES = "dgsync.hierarchies"  # JSON list of objects
FACT_SOURCES = "dgsync.fact_sources"  # JSON list of objects
DIMENSION_SOURCES = "dgsync.dimension_sources"  # JSON list of objects
VARIABLES = "dgsync.variables"  # JSON list of objects (analytic-model variables)
INPUT_PARAMETERS = "dgsync.input_parameters"  # JSON list of objects (view parameters)
ASSOCIATIONS = "dgsync.associations"  # JSON list of objects
UPSTREAM = "dgsync.upstream"  # JSON list of SPACE.NAME
LINEAGE_FLOWS = "dgsync.lineage.flows"  # JSON list of objects (flows writing this table)
SQL = "dgsync.sql"  # display SQL of a view
TYPE_ISSUES = "dgsync.type_issues"  # JSON list of columns whose type was a fallback
#: Suffix of the parts of a value split because it exceeded 512,000 bytes:
#: ``<key>.parts`` = N, then ``<key>.part.1`` … ``<key>.part.N`` (concatenate in order).
PARTS_SUFFIX = ".parts"
PART_INFIX = ".part."

# -- column ---------------------------------------------------------------------------------
CDS_TYPE = "dgsync.cds_type"  # original CDS type, e.g. cds.Decimal(20,3)
EDM_TYPE = "dgsync.edm_type"  # EDM type when the type came from $metadata
SRID = "dgsync.srid"  # spatial reference id of a geo column (hana.ST_POINT(4326) → "4326")
ROLE = "dgsync.role"  # dimension / measure / attribute / text
KEY = "dgsync.key"  # "true" for key columns
NOT_NULL = "dgsync.not_null"  # "true" for NOT NULL columns
AGGREGATION = "dgsync.aggregation"
MEASURE_TYPE = "dgsync.measure_type"
SEMANTICS = "dgsync.semantics"  # JSON object of the flattened @Semantics annotations
CURRENCY = "dgsync.currency"  # column holding this amount's currency code
UNIT = "dgsync.unit"  # column holding this quantity's unit
IS_CURRENCY = "dgsync.is_currency"  # "true": this column is a currency code
IS_UNIT = "dgsync.is_unit"  # "true": this column is a unit of measure
CALENDAR = "dgsync.calendar"  # e.g. calendar.yearMonth (comma-separated if several)
TEXT_ELEMENT = "dgsync.text_element"
FOREIGN_KEY = "dgsync.foreign_key"  # SPACE.NAME of the association target
TEXT_TARGET = "dgsync.text_target"
COLUMN_LINEAGE = "dgsync.lineage"  # JSON list of SPACE.ASSET.COLUMN
SOURCE_ELEMENT = "dgsync.source_element"  # analytic models: alias.element it comes from
EXPRESSION = "dgsync.expression"  # analytic models: calculated/restricted measure formula
