"""Shared CLI plumbing: lazy settings, error rendering, output helpers."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from core.errors import DgsyncError
from core.log import configure_logging
from core.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    env: str | None = None
    config: Path | None = None
    verbose: bool = False
    #: Print the traceback of errors (``--debug``); otherwise one line with a hint.
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self, **overrides: Any) -> Settings:
        """Build the settings on first use (never at import: `--help` works anywhere)."""
        if self._settings is None or overrides:
            settings = load_settings(env=self.env, config_file=self.config, overrides=overrides or None)
            level = "DEBUG" if self.verbose else settings.log_level
            configure_logging(level=level, json_format=settings.json_logs)
            if overrides:
                return settings
            self._settings = settings
        return self._settings


pass_state = click.make_pass_decorator(CliState, ensure=True)


def handle_errors(func: F) -> F:
    """Render any error as one line ``error: … — hint: …`` (no traceback unless ``--debug``)
    and exit with the code :mod:`core.sync.exit_codes` gives its class: 2 for bad input or
    config, 3 when the command could not run (auth, unreachable system, store, a bug)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except DgsyncError as exc:
            fail(exc, message=exc.message, hint=exc.hint)
        except KeyboardInterrupt as exc:
            fail(exc, message="interrupted (Ctrl-C)",
                 hint="Nothing finished is lost; run the command again to go on.")
        except Exception as exc:
            fail(exc, message=f"unexpected {type(exc).__name__}: {exc}",
                 hint="An internal error: run again with --debug for the traceback and report it.")

    return wrapper  # type: ignore[return-value]


def fail(exc: BaseException, *, message: str, hint: str) -> NoReturn:
    """Print the error line (and with ``--debug`` the traceback) and exit with its code."""
    from core.log import redact
    from core.sync import exit_codes

    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(CliState) if ctx is not None else None
    if state is not None and state.debug:
        traceback.print_exception(exc, file=sys.stderr)
    click.secho(f"error: {redact(message)} — hint: {redact(hint)}", fg="red", err=True)
    sys.exit(exit_codes.for_exception(exc))


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def is_tty() -> bool:
    return sys.stderr.isatty()


@contextmanager
def stage_progress() -> Iterator[Callable[[str, int, int | None], None] | None]:
    """``on_progress(stage, done, total)`` drawing one live bar per stage on stderr when it is a
    terminal (stdout stays clean for JSON); ``None`` otherwise. The one progress display of the
    CLI (extract, plan, sync)."""
    if not is_tty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:

        def on_progress(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield on_progress
