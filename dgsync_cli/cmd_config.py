"""`dgsync config show|diff|history|validate|apply|promote|rollback`: configuration versions.

The *current* configuration is what this process loaded (flags, environment, YAML file, the
rules file it names); the *applied* one is the newest stored version of the environment.
Every write (apply, promote, rollback) is validated first, dry-run plan included, and refused
when invalid. Secrets never appear: they are redacted in every version and every output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dgsync_cli.context import CliState, echo_json, handle_errors, pass_state

_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                       show_default=True)
_NO_PLAN = click.option("--no-plan", is_flag=True, help="Skip the dry-run plan of the change.")
_COMMENT = click.option("--comment", "-m", default=None, help="Why (kept with the version).")
_AUTHOR = click.option("--author", default=None, help="Who (default: cli:<os user>).")


def _services(state: CliState) -> Any:
    from core.services import build_services

    return build_services(state.settings())


def _current(state: CliState, rules: Path | None) -> Any:
    from core.config_versions import capture

    settings = state.settings()
    text = rules.read_text(encoding="utf-8") if rules else None
    return capture(settings, rules_text=text)


def _rules_source(state: CliState, rules: Path | None) -> str:
    path = rules or state.settings().sync.rules_file
    return Path(path).name if path else "rules.yaml"


def _print_validation(result: Any, fmt: str) -> None:
    from core.log import redact

    if fmt == "json":
        echo_json(result.to_dict())
        return
    state = "valid" if result.ok else "INVALID"
    click.echo(f"{result.env}: configuration {result.hash[:12]} is {state}")
    for err in result.errors:
        click.echo(f"  error: {redact(err)}")
    for note in result.notes:
        click.echo(f"  note: {note}")
    if result.planned:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(result.plan_counts.items()) if v)
        click.echo(f"  dry-run plan: {counts or 'nothing to do'}")
        for change in result.plan_changes[:50]:
            click.echo(f"    {change['action']:<10} {change['object']}")
        if len(result.plan_changes) > 50:
            click.echo(f"    ... and {len(result.plan_changes) - 50} more")


def _validate_and_apply(state: CliState, config: Any, *, action: str, comment: str | None,
                        author: str | None, plan: bool, rules_source: str, fmt: str,
                        source_id: int | None = None) -> None:
    from core import config_ops
    from core import config_versions as cv

    with _services(state) as services:
        result, version = config_ops.validate_and_apply(
            services, config, action=action, author=author or cv.default_author(), comment=comment,
            plan=plan, rules_source=rules_source, source_id=source_id)
        if fmt == "text" or version is None:
            _print_validation(result, "text" if version is None else fmt)
        result.raise_for_errors()
        assert version is not None
    if fmt == "json":
        echo_json({**cv.version_summary(version), "validation": result.to_dict()})
    else:
        click.echo(f"applied version {version.id} to {version.env} ({action}, {version.hash[:12]}); "
                   "the scheduler and the web apps use it from their next run")


def register(group: click.Group) -> None:
    @group.group("config")
    def config() -> None:
        """Configuration versions: show, diff, history, validate, apply, promote, rollback."""

    @config.command("show")
    @click.argument("version", type=int, required=False)
    @click.option("--current", is_flag=True, help="The configuration this process loaded.")
    @_FORMAT
    @pass_state
    @handle_errors
    def show(state: CliState, version: int | None, current: bool, fmt: str) -> None:
        """The applied configuration (or VERSION, or --current), secrets redacted."""
        from core import config_versions as cv

        settings = state.settings()
        with _services(state) as services:
            store = services.store()
            stored = cv.get(store, version) if version is not None else (
                None if current else cv.active(store, settings.env))
        if stored is not None:
            eff, meta = cv.from_version(stored), cv.version_summary(stored)
        else:
            eff, meta = cv.capture(settings), {"id": None, "env": settings.env, "note": "not applied"}
            meta["hash"] = eff.hash
        if fmt == "json":
            echo_json({**meta, **eff.document()})
            return
        click.echo(f"# env {meta['env']}, version {meta['id'] or '(current, not applied)'}, "
                   f"hash {eff.hash}")
        click.echo(cv.render(eff), nl=False)

    @config.command("diff")
    @click.argument("old", type=int, required=False)
    @click.argument("new", type=int, required=False)
    @click.option("--rules", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
                  help="Rules file of the current configuration (default: the configured one).")
    @pass_state
    @handle_errors
    def diff(state: CliState, old: int | None, new: int | None, rules: Path | None) -> None:
        """Differences: applied → current (no argument), OLD → current, or OLD → NEW."""
        from core import config_versions as cv

        settings = state.settings()
        with _services(state) as services:
            store = services.store()
            if old is None:
                applied = cv.active(store, settings.env)
                a = cv.from_version(applied) if applied else None
                a_name = f"version {applied.id}" if applied else "(nothing applied)"
            else:
                a, a_name = cv.from_version(cv.get(store, old)), f"version {old}"
            if new is None:
                b, b_name = _current(state, rules), "current"
            else:
                b, b_name = cv.from_version(cv.get(store, new)), f"version {new}"
        if a is None:
            click.echo(f"{settings.env}: no version applied yet; `dgsync config apply` stores one")
            return
        text = cv.diff(a, b, old_name=a_name, new_name=b_name)
        click.echo(text if text else f"no differences ({a.hash[:12]})", nl=not text)

    @config.command("history")
    @click.option("--all-envs", is_flag=True, help="Every environment, not only this one.")
    @click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
    @_FORMAT
    @pass_state
    @handle_errors
    def history(state: CliState, all_envs: bool, limit: int, fmt: str) -> None:
        """Stored versions, newest first (the first of an environment is the applied one)."""
        from core import config_versions as cv

        settings = state.settings()
        with _services(state) as services:
            versions = cv.history(services.store(), None if all_envs else settings.env, limit=limit)
        rows = [cv.version_summary(v) for v in versions]
        if fmt == "json":
            echo_json(rows)
            return
        if not rows:
            click.echo("no configuration versions yet")
        for r in rows:
            src = f" from {r['source_id']}" if r["source_id"] else ""
            click.echo(f"{r['id']:>5}  {r['env']:<4}  {r['created_at'][:19]}  {r['action']}{src}  "
                       f"{r['hash'][:12]}  {r['author']}  {r['comment'] or ''}")

    @config.command("validate")
    @click.option("--rules", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
                  help="Validate with this rules file instead of the configured one.")
    @_NO_PLAN
    @_FORMAT
    @pass_state
    @handle_errors
    def validate(state: CliState, rules: Path | None, no_plan: bool, fmt: str) -> None:
        """Check the current configuration: rules with line numbers, settings, dry-run plan."""
        from core import config_ops

        candidate = _current(state, rules)
        with _services(state) as services:
            result = config_ops.check(services, candidate, plan=not no_plan,
                                      rules_source=_rules_source(state, rules))
        _print_validation(result, fmt)
        result.raise_for_errors()

    @config.command("apply")
    @click.option("--rules", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
                  help="Apply with this rules file instead of the configured one.")
    @_COMMENT
    @_AUTHOR
    @_NO_PLAN
    @_FORMAT
    @pass_state
    @handle_errors
    def apply(state: CliState, rules: Path | None, comment: str | None, author: str | None,
              no_plan: bool, fmt: str) -> None:
        """Validate the current configuration and store it as the applied version."""
        _validate_and_apply(state, _current(state, rules), action="apply", comment=comment,
                            author=author, plan=not no_plan, rules_source=_rules_source(state, rules),
                            fmt=fmt)

    @config.command("promote")
    @click.option("--from", "source_env", type=click.Choice(["dog", "wolf", "bear"]), required=True)
    @click.option("--to", "target_env", type=click.Choice(["dog", "wolf", "bear"]), required=True)
    @_COMMENT
    @_AUTHOR
    @_NO_PLAN
    @_FORMAT
    @pass_state
    @handle_errors
    def promote(state: CliState, source_env: str, target_env: str, comment: str | None,
                author: str | None, no_plan: bool, fmt: str) -> None:
        """Carry the rules and the sync/schedule settings of --from's applied version to --to."""
        from core import config_ops
        from core.errors import ConfigError

        settings = state.settings()
        if source_env == target_env:
            raise ConfigError("--from and --to are the same environment", hint="Promote between two.")
        if settings.env != target_env:
            raise ConfigError(
                f"promote runs in the target environment; this process is {settings.env}",
                hint=f"Run `dgsync --env {target_env} config promote --from {source_env} --to {target_env}` "
                     f"with {target_env}'s settings (its dry-run plan needs them).",
            )
        with _services(state) as services:
            candidate, source = config_ops.promote_candidate(services, source_env)
        _validate_and_apply(state, candidate, action="promote",
                            comment=comment or f"promoted from {source_env} version {source.id}",
                            author=author, plan=not no_plan, rules_source=f"{source_env} rules",
                            fmt=fmt, source_id=source.id)

    @config.command("rollback")
    @click.option("--to", "version_id", type=int, required=True, help="The version to return to.")
    @_COMMENT
    @_AUTHOR
    @_NO_PLAN
    @_FORMAT
    @pass_state
    @handle_errors
    def rollback(state: CliState, version_id: int, comment: str | None, author: str | None,
                 no_plan: bool, fmt: str) -> None:
        """Apply exactly the configuration of an earlier version (as a new version)."""
        from core import config_ops

        with _services(state) as services:
            target = config_ops.rollback_candidate(services, version_id)
        _validate_and_apply(state, target, action="rollback",
                            comment=comment or f"rollback to version {version_id}", author=author,
                            plan=not no_plan, rules_source=f"version {version_id} rules", fmt=fmt,
                            source_id=version_id)
