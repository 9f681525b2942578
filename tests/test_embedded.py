"""The embedded default's extension point: core finds the doubles through an entry point, and a
missing optional package is a configuration error with the install command, not a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core import embedded
from core.errors import ConfigError
from core.settings import EmulatorSettings


def test_the_doubles_are_registered_as_the_embedded_systems() -> None:
    provider = embedded.load_embedded()
    assert hasattr(provider, "start_datasphere") and hasattr(provider, "start_glue")


class _NoMoto:
    def start_datasphere(self, settings: EmulatorSettings) -> Any:
        raise ModuleNotFoundError("No module named 'starlette'", name="starlette")

    def start_glue(self, snapshot: Path, region: str) -> Any:
        raise ModuleNotFoundError("No module named 'moto'", name="moto")


class _EntryPoint:
    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def load(self) -> Any:
        return self.factory


def test_a_missing_optional_package_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "entry_points", lambda group: [_EntryPoint(_NoMoto)])
    provider = embedded.load_embedded()
    with pytest.raises(ConfigError) as glue:
        provider.start_glue(Path("x.json"), "eu-central-1")
    assert "moto" in glue.value.message and "dgsync[dog]" in glue.value.hint
    with pytest.raises(ConfigError) as emu:
        provider.start_datasphere(EmulatorSettings())
    assert "starlette" in emu.value.message


def test_no_provider_at_all_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "entry_points", lambda group: [])
    with pytest.raises(ConfigError) as err:
        embedded.load_embedded()
    assert "dgsync[dog]" in err.value.hint
