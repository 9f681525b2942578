"""Mapping rules: schema, line-numbered errors, and the answers they give the mapper."""

from __future__ import annotations

from pathlib import Path

import pytest
from mapping_factories import orders_table, orders_view, revenue_model

from core.errors import RulesError
from core.mapping.rules import (
    FORMAT_PRESETS,
    check_rules,
    default_rules,
    load_rules,
    parse_rules,
)
from core.mapping.types import DecimalFloatPolicy
from core.models import AssetKind, Priority

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rules.yaml"


def errors_of(text: str) -> list[str]:
    rules, problems = check_rules(text, source="rules.yaml")
    assert rules is None
    return [str(p) for p in problems]


def test_default_rules_map_space_to_its_own_name() -> None:
    rules = default_rules()
    assert rules.database_name("SALES", "dog") == "sales"
    assert rules.decimal_float.policy is DecimalFloatPolicy.DECIMAL
    assert rules.decimal_float.setting.label == "decimal(34,4)"
    assert rules.exclusion_reason(orders_table()) is None


@pytest.mark.parametrize("text", ["", "# only a comment\n", "version: 1\n"])
def test_empty_file_means_defaults(text: str) -> None:
    assert parse_rules(text) == default_rules()


def test_example_file_is_valid() -> None:
    rules = load_rules(EXAMPLE)
    assert rules.database_name("SALES", "wolf") == "qa_sales"
    assert rules.database_name("FINANCE_DATA", "wolf") == "finance"


def test_unknown_placeholder_is_reported_with_its_line() -> None:
    text = "version: 1\ndatabases:\n  template: '{prefix}{foo}{space}'\n"
    assert errors_of(text) == [
        "rules.yaml line 3: databases.template: unknown placeholder {foo} "
        "(allowed: {env}, {env_suffix}, {prefix}, {space})"
    ]


def test_template_without_space_is_refused() -> None:
    (msg,) = errors_of("databases:\n  template: '{prefix}all'\n")
    assert msg.startswith("rules.yaml line 2: databases.template: must contain {space}")


def test_unknown_key_suggests_the_closest_one() -> None:
    (msg,) = errors_of("include:\n  spaces: [A]\n  kindz: [view]\n")
    assert msg.startswith("rules.yaml line 3: include.kindz: unknown key; did you mean 'kinds'?")


def test_errors_in_lists_point_at_the_item_line() -> None:
    text = (
        "overrides:\n"
        "  - asset: SALES.A\n"
        "    table_name: ok_name\n"
        "  - asset: SALES.B\n"
        "    priority: urgent\n"
        "    partition_keys:\n"
        "      - column: x\n"
        "        projection: {type: enum}\n"
    )
    msgs = errors_of(text)
    assert msgs[0].startswith("rules.yaml line 5: overrides[1].priority: Input should be")
    assert msgs[1] == (
        "rules.yaml line 8: overrides[1].partition_keys[0].projection: "
        "projection type enum needs values"
    )


def test_every_problem_is_reported_at_once() -> None:
    text = "storage:\n  location: http://x/\n  format: avro\ndecimal_float: triple\n"
    msgs = errors_of(text)
    assert [m.split(":")[0] for m in msgs] == [
        "rules.yaml line 2", "rules.yaml line 3", "rules.yaml line 4"
    ]


def test_yaml_syntax_error_names_the_line() -> None:
    (msg,) = errors_of("include:\n  spaces: [A, B\nexclude: {}\n")
    assert msg.startswith("rules.yaml line 3: invalid YAML")


def test_duplicate_keys_are_refused() -> None:
    (msg,) = errors_of("version: 1\nversion: 1\n")
    assert msg == "rules.yaml line 2: version: duplicate key (the last one would win)"


def test_top_level_must_be_a_mapping() -> None:
    (msg,) = errors_of("- a\n- b\n")
    assert "must hold a mapping" in msg


@pytest.mark.parametrize(
    ("snippet", "fragment"),
    [
        ("exclude:\n  assets: ['re:(']\n", "invalid regular expression"),
        ("overrides:\n  - asset: NODOT\n", "is not SPACE.NAME"),
        ("overrides:\n  - asset: 'S.*'\n    table_name: x\n", "needs an exact asset"),
        ("overrides:\n  - asset: S.A\n    columns: {C: {type: int4}}\n", "not a valid Athena type"),
        ("overrides:\n  - asset: S.A\n    parameters: {dgsync.x: y}\n", "reserved for dgsync"),
        ("databases:\n  names: {S: Bad-Name}\n", "not a valid Glue name"),
        ("unmanaged:\n  adopt: [just_a_table]\n", "is not database.table"),
        ("decimal_float: {policy: decimal, scale: 39}\n", "less than or equal to 38"),
        ("decimal_float: {policy: decimal, precision: 39}\n", "less than or equal to 38"),
        ("decimal_float: {policy: decimal, precision: 10, scale: 11}\n", "exceeds precision"),
        ("decimal_float: decimal(40,2)\n", "less than or equal to 38"),
        ("overrides:\n  - asset: S.A\n    columns: {C: {name: Bad-Col}}\n",
         "not a valid Glue column name"),
        ("storage:\n  location: 's3://b/{bucket}/'\n", "unknown placeholder {bucket}"),
        (
            "overrides:\n  - {asset: S.A, table_name: t}\n  - {asset: S.B, table_name: t}\n",
            "both set table_name",
        ),
    ],
)
def test_semantic_errors_are_reported(snippet: str, fragment: str) -> None:
    msgs = errors_of(snippet)
    assert any(fragment in m for m in msgs), msgs
    assert all(m.startswith("rules.yaml line ") for m in msgs)


def test_parse_rules_raises_rules_error_with_every_line() -> None:
    with pytest.raises(RulesError) as info:
        parse_rules("storage:\n  format: avro\n", source="my.yaml")
    assert str(info.value).startswith("my.yaml line 2: storage.format:")
    assert "dgsync rules test" in info.value.hint


def test_load_rules_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(tmp_path / "nope.yaml")


def test_env_prefix_and_suffix_apply_per_environment() -> None:
    rules = parse_rules(
        "databases:\n  env_prefix: {wolf: qa_}\n  env_suffix: {bear: _prod}\n"
    )
    assert rules.database_name("SALES", "dog") == "sales"
    assert rules.database_name("SALES", "wolf") == "qa_sales"
    assert rules.database_name("SALES", "bear") == "sales_prod"


def test_env_placeholder() -> None:
    rules = parse_rules("databases: {template: '{env}_{space}'}\n")
    assert rules.database_name("SALES", "wolf") == "wolf_sales"


def test_include_and_exclude_by_space_name_and_kind() -> None:
    rules = parse_rules(
        "include:\n  spaces: ['SAL*']\n"
        "exclude:\n  assets: ['V_*', 're:.*_OLD']\n  kinds: [analytic_model]\n"
    )
    assert rules.exclusion_reason(orders_table()) is None
    assert "exclude.assets 'V_*'" in (rules.exclusion_reason(orders_view()) or "")
    assert "exclude.kinds" in (rules.exclusion_reason(revenue_model()) or "")
    other = orders_table().model_copy(update={"space": "HR"})
    assert "include.spaces" in (rules.exclusion_reason(other) or "")
    old = orders_table().model_copy(update={"name": "X_OLD"})
    assert "re:.*_OLD" in (rules.exclusion_reason(old) or "")


def test_asset_patterns_match_name_or_space_qualified_key() -> None:
    rules = parse_rules("exclude:\n  assets: ['SALES.SALES_*']\n")
    assert rules.exclusion_reason(orders_table()) is not None
    assert rules.exclusion_reason(orders_view()) is None


def test_override_exclude_and_merge_in_file_order() -> None:
    rules = parse_rules(
        "overrides:\n"
        "  - {asset: 'SALES.*', priority: low, description: generic}\n"
        "  - {asset: SALES.V_ORDERS, priority: critical}\n"
        "  - {asset: SALES.AM_REVENUE, exclude: true}\n"
    )
    view = rules.override_for(orders_view())
    assert (view.priority, view.description, view.matched) == (Priority.CRITICAL, "generic", [0, 1])
    assert rules.priority_for(orders_view(), view) is Priority.CRITICAL
    assert "overrides[2]" in (rules.exclusion_reason(revenue_model()) or "")


def test_priority_per_kind_then_default() -> None:
    rules = parse_rules("priorities:\n  kinds: {view: medium}\n")
    assert rules.priority_for(orders_view()) is Priority.MEDIUM
    assert rules.priority_for(revenue_model()) is Priority.CRITICAL


@pytest.mark.parametrize("fmt", sorted(FORMAT_PRESETS))
def test_storage_presets_fill_formats_and_serde(fmt: str) -> None:
    rules = parse_rules(f"storage:\n  location: 's3://lake/{{env}}/{{space}}/{{name}}/'\n  format: {fmt}\n")
    spec = rules.storage_for(orders_view(), database="sales", table="v_orders", env="wolf")
    assert spec is not None
    assert spec.location == "s3://lake/wolf/SALES/v_orders/"
    assert (spec.input_format, spec.output_format, spec.serde_library) == FORMAT_PRESETS[fmt][:3]


def test_storage_applies_to_views_only_by_default() -> None:
    rules = default_rules()
    assert rules.storage_for(orders_table(), database="d", table="t", env="dog") is None
    view = rules.storage_for(orders_view(), database="d", table="t", env="dog")
    assert view is not None and view.location is None
    assert view.serde_library == FORMAT_PRESETS["parquet"][2]


def test_storage_serde_parameters_override_the_preset() -> None:
    rules = parse_rules("storage:\n  format: csv\n  serde_parameters: {field.delim: ';'}\n")
    spec = rules.storage_for(orders_view(), database="d", table="t", env="dog")
    assert spec is not None
    assert spec.serde_parameters["field.delim"] == ";"


def test_shorthands_for_decimal_float_unmanaged_and_partition_keys() -> None:
    rules = parse_rules(
        "decimal_float: double\nunmanaged: adopt\n"
        "overrides:\n  - {asset: S.A, partition_keys: [YEAR]}\n"
    )
    assert rules.decimal_float.policy is DecimalFloatPolicy.DOUBLE
    assert rules.decimal_float_for().label == "double"
    assert rules.adopts("any", "table")
    assert rules.overrides[0].partition_keys is not None
    assert rules.overrides[0].partition_keys[0].column == "YEAR"


def test_adopt_list_is_explicit() -> None:
    rules = parse_rules("unmanaged:\n  adopt: [sales.legacy]\n")
    assert rules.unmanaged.policy is None
    assert rules.adopts("sales", "legacy")
    assert not rules.adopts("sales", "other")


def test_unused_overrides_are_found() -> None:
    rules = parse_rules("overrides:\n  - {asset: SALES.TYPO, priority: low}\n  - {asset: 'X.*'}\n")
    assert rules.unused_overrides([orders_table()]) == ["SALES.TYPO"]


def test_kinds_are_validated() -> None:
    (msg,) = errors_of("include:\n  kinds: [cube]\n")
    assert msg.startswith("rules.yaml line 2: include.kinds[0]: Input should be")
    assert parse_rules("include:\n  kinds: [view]\n").include.kinds == [AssetKind.VIEW]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("decimal_float: decimal(34,4)\n", "decimal(34,4)"),
        ("decimal_float: 'decimal( 38 , 10 )'\n", "decimal(38,10)"),
        ("decimal_float: decimal\n", "decimal(34,4)"),
        ("decimal_float: {policy: decimal, precision: 20, scale: 2}\n", "decimal(20,2)"),
        ("decimal_float: string\n", "string"),
        ("decimal_float: double\n", "double"),
        ("", "decimal(34,4)"),
    ],
)
def test_decimal_float_policy_spellings(text: str, label: str) -> None:
    assert parse_rules(text).decimal_float_for().label == label


def test_column_override_may_name_a_column_with_a_leading_underscore_or_digit() -> None:
    rules = parse_rules(
        "overrides:\n  - asset: S.A\n    columns: {X: {name: _x}, Y: {name: 0y}}\n"
    )
    cols = rules.overrides[0].columns
    assert (cols["X"].name, cols["Y"].name) == ("_x", "0y")
