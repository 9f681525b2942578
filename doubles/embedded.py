"""dgsync's embedded systems (registered as the ``dgsync.embedded`` entry point): the Datasphere
emulator and moto Glue, both in-process over real HTTP on loopback ports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.settings import EmulatorSettings


class EmbeddedDoubles:
    def start_datasphere(self, settings: EmulatorSettings) -> Any:
        from doubles.emulator.server import start_in_thread

        return start_in_thread(settings)

    def start_glue(self, snapshot: Path, region: str) -> Any:
        from doubles.glue_embedded import start_embedded_glue

        return start_embedded_glue(snapshot, region)


def provider() -> EmbeddedDoubles:
    return EmbeddedDoubles()
