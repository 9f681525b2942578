"""`dgsync rules validate|test|defaults`: check a mapping-rules file and try it on one asset."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from core.errors import ConfigError, RulesError
from core.mapping.preview import AssetPreview, map_asset_preview
from core.mapping.rules import check_rules, default_rules, parse_rules
from core.models import Asset, Space
from dgsync_cli.context import CliState, echo_json, handle_errors, pass_state

#: Longest parameter value shown in the table view (the JSON view shows everything).
_MAX_SHOWN = 160


def _split_ref(ref: str) -> tuple[str, str]:
    space, sep, name = ref.partition(".")
    if not sep or not space or not name:
        raise ConfigError(
            f"--asset {ref!r} is not SPACE.NAME",
            hint="Name the asset as SPACE.NAME, e.g. SALES.V_ORDERS (names may contain dots).",
        )
    return space, name


def _env_name(state: CliState) -> str:
    return state.env or os.environ.get("DGSYNC_ENV") or "dog"


def _load_asset(state: CliState, ref: str) -> tuple[Asset, list[Asset], list[Space], str]:
    """The asset, the other assets of its space (context), the spaces, and the environment.

    Reads the asset from the configured tenant (the embedded emulator in dog) through the
    extractor of the composition root.
    """
    from core.services import build_services

    space, _ = _split_ref(ref)
    settings = state.settings()
    with build_services(settings) as services:
        extraction = services.extractor(spaces=[space]).extract()
        assets: list[Asset] = list(extraction.assets)
        spaces: list[Space] = [
            s for s in (getattr(extraction, "spaces", None) or []) if isinstance(s, Space)
        ]
    return _pick(assets, ref), assets, spaces, settings.env


def _load_asset_from_csn(path: Path, ref: str) -> tuple[Asset, list[Asset]]:
    """The asset from a CSN export file (offline; no tenant needed)."""
    from core.datasphere.csn import parse_csn
    from core.errors import CsnError

    space, _ = _split_ref(ref)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CsnError(
            f"cannot read CSN file {path}: {exc}", hint="Pass a CSN export (JSON) with --csn."
        ) from exc
    assets = parse_csn(doc, space=space, known_spaces={space})
    return _pick(assets, ref), assets


def _pick(assets: Sequence[Asset], ref: str) -> Asset:
    for asset in assets:
        if asset.key == ref:
            return asset
    space = ref.partition(".")[0]
    names = sorted(a.name for a in assets if a.space == space)
    shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
    raise ConfigError(  # the --asset argument names nothing: bad input (exit code 2)
        f"asset {ref} not found" + (f"; {space} has: {shown}" if names else f" (space {space} is empty or not visible)"),
        hint="Check the technical name (case-sensitive) and that the object is deployed.",
    )


# -- rendering ---------------------------------------------------------------------------------


def _short(value: str) -> str:
    return value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 1] + "…"


def _render(preview: AssetPreview, rules_path: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=True)
    console.print(f"[bold]{preview.asset}[/bold] ({preview.kind.value}) under {rules_path}")
    if preview.overrides:
        console.print("overrides applied: " + ", ".join(f"overrides[{i}]" for i in preview.overrides))
    if preview.skipped:
        console.print(f"[yellow]skipped:[/yellow] {preview.skipped}")
    if preview.note:
        console.print(f"note: {preview.note}")
    table = preview.table
    if table is not None:
        db = preview.database
        console.print(
            f"→ Glue table [bold]{table.key}[/bold] ({table.table_type}, priority "
            f"{table.priority.value})"
        )
        if db is not None:
            console.print(f"  database {db.name}: {db.description or ''}")
        if table.description:
            console.print(f"  description: {table.description}")
        if table.storage is not None:
            s = table.storage
            console.print(f"  storage: {s.location or '(no location)'} · {s.input_format or ''}")
            if s.serde_library:
                console.print(f"           serde {s.serde_library} {s.serde_parameters or ''}")
        cols = Table(title="columns", show_header=True, header_style="bold")
        for head in ("glue name", "type", "comment", "source", "role"):
            cols.add_column(head, overflow="fold")
        for kind, items in (("", table.columns), ("partition", table.partition_keys)):
            for c in items:
                p = c.parameters
                source = p.get("dgsync.name", "")
                if p.get("dgsync.cds_type"):
                    source += f" ({p['dgsync.cds_type']})"
                role = kind or p.get("dgsync.role", "")
                if p.get("dgsync.key") == "true":
                    role += ", key"
                cols.add_row(c.name, c.type, c.comment or "", source, role)
        console.print(cols)
        params = Table(title="table parameters", show_header=True, header_style="bold")
        params.add_column("key")
        params.add_column("value", overflow="fold")
        for key, value in sorted(table.parameters.items()):
            params.add_row(key, _short(value))
        console.print(params)
    if preview.lineage:
        console.print("lineage:")
        for e in preview.lineage:
            via = f" via {e.via}" if e.via else ""
            console.print(f"  {e.upstream} → {e.downstream} ({e.kind}{via})")
    if preview.issues:
        console.print("issues:")
        for i in preview.issues:
            colour = {"error": "red", "warning": "yellow"}.get(i.severity, "cyan")
            console.print(f"  [{colour}]{i.severity}[/{colour}] {i.code}: {i.message}")
    else:
        console.print("issues: none")


def _preview_json(preview: AssetPreview) -> dict[str, Any]:
    out: dict[str, Any] = preview.model_dump(mode="json")
    if preview.table is not None:
        out["table_input"] = preview.table.to_table_input()
    if preview.database is not None:
        out["database_input"] = preview.database.to_database_input()
    return out


def _read_rules_text(path: Path) -> str:
    """The rules file as text; unreadable or not UTF-8 → RulesError (exit code 2)."""
    from core.sync.liveness import utf8_position

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RulesError(f"cannot read rules file {path}: {exc.strerror or exc}",
                         hint="Pass an existing YAML file.") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RulesError(f"rules file {path} is not valid UTF-8 ({utf8_position(path, exc)})",
                         hint="Save the file as UTF-8.") from exc


# -- commands ----------------------------------------------------------------------------------


def register(group: click.Group) -> None:
    @group.group("rules")
    def rules_group() -> None:
        """Mapping rules: validate a file, see how an asset maps under it."""

    @rules_group.command("validate")
    @click.argument("rules_file", type=click.Path(path_type=Path, dir_okay=False))
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                  show_default=True)
    @handle_errors
    def validate(rules_file: Path, fmt: str) -> None:
        """Validate RULES_FILE; problems are listed with their line (exit code 2)."""
        text = _read_rules_text(rules_file)
        rules, problems = check_rules(text, source=str(rules_file))
        if fmt == "json":
            echo_json({
                "file": str(rules_file),
                "valid": rules is not None,
                "problems": [
                    {"line": p.line, "path": p.path, "message": p.message} for p in problems
                ],
            })
            if rules is None:
                raise SystemExit(2)
            return
        if rules is None:
            raise RulesError("\n".join(str(p) for p in problems))
        click.echo(
            f"{rules_file}: valid ({len(rules.overrides)} overrides, database template "
            f"{rules.databases.template!r}, DecimalFloat → {rules.decimal_float.policy.value})"
        )

    @rules_group.command("test")
    @click.argument("rules_file", type=click.Path(path_type=Path, dir_okay=False))
    @click.option("--asset", "asset_ref", required=True, metavar="SPACE.NAME",
                  help="The asset to map (technical name, case-sensitive).")
    @click.option("--csn", "csn_file", type=click.Path(path_type=Path, dir_okay=False),
                  default=None, help="Read the asset from a CSN export instead of the tenant.")
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                  show_default=True)
    @pass_state
    @handle_errors
    def test(state: CliState, rules_file: Path, asset_ref: str, csn_file: Path | None,
             fmt: str) -> None:
        """Validate RULES_FILE and show how one asset maps under it (nothing is written)."""
        rules = parse_rules(_read_rules_text(rules_file), source=str(rules_file))
        _split_ref(asset_ref)
        spaces: list[Space] = []
        if csn_file is not None:
            asset, context = _load_asset_from_csn(csn_file, asset_ref)
            env = _env_name(state)
        else:
            asset, context, spaces, env = _load_asset(state, asset_ref)
        preview = map_asset_preview(asset, rules, env, others=context, spaces=spaces)
        if fmt == "json":
            echo_json(_preview_json(preview))
        else:
            _render(preview, str(rules_file))

    @rules_group.command("defaults")
    def defaults() -> None:
        """Print the built-in rules as YAML (a starting point for a rules file)."""
        import yaml

        data = default_rules().model_dump(mode="json")
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)
