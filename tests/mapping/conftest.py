"""Mapping tests: golden-file switch.

Golden files under ``tests/golden/mapping/`` are compared exactly. Regenerate them with
``pytest tests/mapping --update-golden-mapping`` (``--update-golden`` works too when given
with ``tests/mapping``, and ``DGSYNC_UPDATE_GOLDEN=1`` anywhere), then review the diff.
"""

from __future__ import annotations

import contextlib
import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden-mapping",
        action="store_true",
        default=False,
        help="rewrite the mapping golden files instead of comparing against them",
    )
    # The connector tests register the same generic flag; whoever comes first wins.
    with contextlib.suppress(ValueError):
        parser.addoption(
            "--update-golden",
            action="store_true",
            default=False,
            help="rewrite golden files instead of comparing against them",
        )


def _flag(config: pytest.Config, name: str) -> bool:
    try:
        return bool(config.getoption(name))
    except ValueError:  # not registered (this conftest was not loaded at start-up)
        return False


@pytest.fixture
def update_golden_mapping(request: pytest.FixtureRequest) -> bool:
    config = request.config
    return (
        _flag(config, "--update-golden-mapping")
        or _flag(config, "--update-golden")
        or os.environ.get("DGSYNC_UPDATE_GOLDEN") == "1"
    )
