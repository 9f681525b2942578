"""Shared fixtures of the Datasphere connector tests.

Golden files under ``tests/golden/csn/`` are compared exactly; regenerate them with
``pytest tests/datasphere --update-golden`` (or ``DGSYNC_UPDATE_GOLDEN=1``) and review the diff.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Copies of the two real SAP sample exports (../shared/fixtures/csn), kept in the repo.
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "csn"
GOLDEN = REPO / "tests" / "golden" / "csn"


def pytest_addoption(parser: pytest.Parser) -> None:
    # Another conftest (e.g. the mapping tests') may have registered it already.
    with contextlib.suppress(ValueError):
        parser.addoption(
            "--update-golden",
            action="store_true",
            default=False,
            help="rewrite golden files instead of comparing against them",
        )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    try:
        flag = bool(request.config.getoption("--update-golden"))
    except ValueError:  # option not registered (this conftest was not an initial one)
        flag = False
    return flag or os.environ.get("DGSYNC_UPDATE_GOLDEN") == "1"


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data
