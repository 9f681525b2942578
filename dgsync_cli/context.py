"""Shared CLI plumbing: lazy settings, error rendering, output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

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
    """Render DgsyncError as `error: message` + `hint: ...` and exit 2 (no traceback)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DgsyncError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            click.echo(f"hint: {exc.hint}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def is_tty() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress(total: int | None, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal (stderr); silent otherwise. Yields `advance(n)`."""
    if not is_tty():
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)
