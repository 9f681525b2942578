"""Sync tests: moto in server mode over HTTP (see fixtures_glue), the emulator over real HTTP,
and settings that give every test its own database prefix (tests share one moto server)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures_glue import *  # noqa: F403

from core.settings import DatasphereSettings, EmulatorSettings, GlueSettings, Settings, SyncSettings
from doubles.emulator.server import start_in_thread


@pytest.fixture(scope="module")
def emulator_module() -> Iterator[Any]:
    """One emulator for a module's tests (faults are reset by the tests that set them)."""
    emu = start_in_thread(EmulatorSettings(port=0))
    yield emu
    emu.stop()


@pytest.fixture
def emulator() -> Iterator[Any]:
    emu = start_in_thread(EmulatorSettings(port=0))
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def aws_env_module() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        yield


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def make_settings(
    emulator: Any, moto_endpoint: str, tmp_path: Path, aws_env: None
) -> Callable[..., Settings]:
    prefix = f"e{secrets.token_hex(3)}_"

    def make(**sync: Any) -> Settings:
        rules = tmp_path / "rules.yaml"
        rules.write_text(
            "version: 1\n"
            "databases:\n"
            "  template: '{prefix}{space}'\n"
            f"  env_prefix: {{dog: {prefix}}}\n"
            + sync.pop("rules_extra", ""),
            encoding="utf-8",
        )
        return Settings(
            env="dog",
            state_dir=tmp_path / "state",
            database_url=f"sqlite:///{tmp_path / 'state.db'}",
            datasphere=DatasphereSettings(
                base_url=emulator.base_url,
                token_url=emulator.token_url,
                client_id=emulator.client_id,
                client_secret=emulator.client_secret,
                max_backoff_s=0.05,
            ),
            glue=GlueSettings(
                endpoint_url=moto_endpoint, calls_per_second=1000, burst=1000, max_attempts=3
            ),
            sync=SyncSettings(rules_file=rules, **sync),
        )

    make.prefix = prefix  # type: ignore[attr-defined]
    return make
