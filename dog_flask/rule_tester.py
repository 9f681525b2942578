"""The mapping rule tester of the Debug page (framework-free): edited YAML rules → either the
problems with their line numbers (from :func:`core.mapping.rules.check_rules`) or how one asset
maps under them (:func:`core.mapping.preview.map_asset_preview`), its Glue ``TableInput`` and
the field-level diff against the mapping under the effective rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import RulesError
from core.mapping.preview import AssetPreview, map_asset_preview
from core.mapping.rules import RuleProblem, Rules, check_rules, default_rules
from core.models import Asset, Space
from core.settings import Settings
from core.sync.plan import FieldDiff, diff_table_inputs

SOURCE = "rules (edited)"


@dataclass(frozen=True)
class Excerpt:
    """The lines around a problem, numbered; ``marked`` is the problem's line."""

    lines: list[tuple[int, str]]
    marked: int


@dataclass
class RuleTest:
    problems: list[tuple[RuleProblem, Excerpt | None]] = field(default_factory=list)
    preview: AssetPreview | None = None
    table_input: dict[str, Any] | None = None
    current: AssetPreview | None = None
    diffs: list[FieldDiff] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


def effective_rules_text(settings: Settings) -> str:
    """The rules in force as YAML: the rules file's text, or the built-in rules dumped."""
    path = settings.sync.rules_file
    if path:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RulesError(f"cannot read rules file {path}: {exc.strerror or exc}",
                             hint="Fix DGSYNC_SYNC__RULES_FILE.") from exc
    import yaml

    data = default_rules().model_dump(mode="json")
    return "# the built-in rules (no DGSYNC_SYNC__RULES_FILE); edit and watch the mapping change\n" + str(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def excerpt(text: str, line: int | None, around: int = 2) -> Excerpt | None:
    if line is None:
        return None
    rows = text.splitlines()
    lo, hi = max(1, line - around), min(len(rows), line + around)
    return Excerpt([(n, rows[n - 1]) for n in range(lo, hi + 1)], line)


def try_rules(
    text: str,
    asset: Asset,
    *,
    current_rules: Rules,
    env: str,
    others: list[Asset],
    spaces: list[Space],
) -> RuleTest:
    """Check ``text``; when valid, map ``asset`` under it and under ``current_rules``."""
    rules, problems = check_rules(text, source=SOURCE)
    if rules is None:
        return RuleTest(problems=[(p, excerpt(text, p.line)) for p in problems])
    preview = map_asset_preview(asset, rules, env, others=others, spaces=spaces)
    current = map_asset_preview(asset, current_rules, env, others=others, spaces=spaces)
    new_input = preview.table.to_table_input() if preview.table else None
    old_input = current.table.to_table_input() if current.table else None
    diffs: list[FieldDiff] = []
    old_key = current.table.key if current.table else None
    new_key = preview.table.key if preview.table else None
    if old_key != new_key:
        diffs.append(FieldDiff(field="table", before=old_key, after=new_key))
    if new_input is not None:
        diffs.extend(diff_table_inputs(old_input, new_input))
    return RuleTest(preview=preview, table_input=new_input, current=current, diffs=diffs)
