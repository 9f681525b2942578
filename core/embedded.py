"""The embedded default's extension point: where the in-process Datasphere emulator and Glue
come from, without ``core`` knowing any test double.

The ``dog`` profile without a tenant URL or a Glue endpoint runs against embedded systems.
They are provided by a package registered under the ``dgsync.embedded`` entry-point group —
dgsync's own test doubles (``doubles.embedded:provider``, installed with the ``dog`` extra).
A deployment without that extra never imports a web server or moto.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from core.errors import ConfigError
from core.settings import EmulatorSettings

GROUP = "dgsync.embedded"


class EmbeddedSystems(Protocol):
    """What the embedded default needs: each ``start_*`` returns a handle with ``stop()``."""

    def start_datasphere(self, settings: EmulatorSettings) -> Any:
        """An emulated tenant: ``base_url``, ``token_url``, ``authorize_url``, ``client_id``,
        ``client_secret``, ``stop()``."""

    def start_glue(self, snapshot: Path, region: str) -> Any:
        """An in-process Glue: ``endpoint_url``, ``stop()`` (saves ``snapshot``)."""


def load_embedded() -> EmbeddedSystems:
    """The registered provider of embedded systems, or a clear error saying what to install."""
    found = list(entry_points(group=GROUP))
    if not found:
        raise ConfigError(
            "the embedded default (dog profile without DGSYNC_DATASPHERE__BASE_URL or "
            "DGSYNC_GLUE__ENDPOINT_URL) needs dgsync's test doubles, which are not installed",
            hint="Install them with `pip install 'dgsync[dog]'`, or point dgsync at a real "
            "tenant and Glue (DGSYNC_DATASPHERE__BASE_URL, DGSYNC_GLUE__ENDPOINT_URL).",
        )
    try:
        provider: EmbeddedSystems = found[0].load()()
    except ImportError as exc:
        raise _missing(exc) from exc
    return _Guarded(provider)


def _missing(exc: ImportError) -> ConfigError:
    return ConfigError(
        f"the embedded default needs {exc.name or 'a package'} (the dgsync[dog] extra), which "
        "is not installed",
        hint="Install it with `pip install 'dgsync[dog]'`, or point dgsync at a real tenant "
        "and Glue (DGSYNC_DATASPHERE__BASE_URL, DGSYNC_GLUE__ENDPOINT_URL).",
    )


class _Guarded:
    """The provider, with a missing optional package reported as a configuration error."""

    def __init__(self, provider: EmbeddedSystems) -> None:
        self._provider = provider

    def start_datasphere(self, settings: EmulatorSettings) -> Any:
        try:
            return self._provider.start_datasphere(settings)
        except ImportError as exc:
            raise _missing(exc) from exc

    def start_glue(self, snapshot: Path, region: str) -> Any:
        try:
            return self._provider.start_glue(snapshot, region)
        except ImportError as exc:
            raise _missing(exc) from exc
