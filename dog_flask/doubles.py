"""The one place Dog reaches the test doubles (the Datasphere emulator's tenant, the Glue
fault layer). They move to a top-level ``doubles/`` package later: only this module changes.
"""

from __future__ import annotations

from typing import Any

from core.errors import ConfigError
from core.services import Services


def tenant(services: Services) -> Any:
    """The emulated tenant of the embedded emulator (raises when there is none)."""
    emu = services.emulator
    if emu is None:
        raise ConfigError(
            "this Dog has no embedded Datasphere emulator",
            hint="Unset DGSYNC_DATASPHERE__BASE_URL to use the embedded default.",
        )
    return emu.tenant


def mutate(
    services: Services,
    *,
    count: int = 1,
    seed: int = 1,
    space: str | None = None,
    operations: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    """Deterministic changes to the emulated tenant (add/change/remove a column, add/remove an
    asset); returns what changed (``{space, name, kind, change, ...}``)."""
    from doubles.emulator.mutate import mutate as emulator_mutate

    try:
        changes: list[dict[str, Any]] = emulator_mutate(
            tenant(services), count=count, seed=seed, space=space, operations=operations
        )
    except ValueError as exc:
        raise ConfigError(str(exc), hint="Pick a known space and operation.") from exc
    return changes


def expired_token(services: Services) -> str:
    """A real access token of the emulator's technical client that has already expired (the
    console's "expired token" mode: the emulator answers it like any expired token)."""
    emu = services.emulator
    tenant(services)  # the same error when there is no emulator
    token: str = emu.tenant.auth.issue_expired(emu.client_id)
    return token
