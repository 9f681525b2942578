"""Who calls the MCP server, and what they may do.

* stdio (``dgsync mcp``): the local OS user, actor ``mcp:<os user>``; role ``operator`` with
  ``--allow-write`` (the write tools are listed), else ``viewer`` (they are not).
* streamable HTTP (``/mcp`` in Wolf/Bear): the same API keys and roles as the Wolf API
  (``Authorization: Bearer <key>``, checked by :class:`core.apikeys.ApiKeys`); actor
  ``key:<name>/<role>``. No key or a bad one: 401. ``viewer`` sees the read tools,
  ``operator`` and ``admin`` also the write tools.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.apikeys import ApiKeys
    from core.services import Services

#: Where the HTTP layer leaves the authenticated caller in the ASGI scope's ``state``.
CALLER_STATE_KEY = "dgsync_mcp_caller"
ROLES = ("viewer", "operator", "admin")
WRITE_ROLES = frozenset({"operator", "admin"})


@dataclass(frozen=True)
class Caller:
    """The audit actor and role of whoever calls a tool."""

    actor: str
    role: str

    @property
    def can_write(self) -> bool:
        return self.role in WRITE_ROLES


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # a container without a passwd entry
        return "unknown"


def stdio_caller(*, allow_write: bool) -> Caller:
    return Caller(actor=f"mcp:{os_user()}", role="operator" if allow_write else "viewer")


class KeyChecker:
    """Checks presented API keys against the store of the current services (one
    :class:`core.apikeys.ApiKeys` per services object: its pepper is read once)."""

    def __init__(self) -> None:
        self._keys: tuple[Services, ApiKeys] | None = None

    def authenticate(self, services: Services, token: str | None, source: str) -> Caller | None:
        """The caller of a presented API key (``None``: missing or not valid; a failed
        attempt is recorded as a security event by ``ApiKeys``)."""
        if not token:
            return None
        from core.apikeys import ApiKeys

        if self._keys is None or self._keys[0] is not services:
            self._keys = (services, ApiKeys(services.store(), services.settings))
        principal = self._keys[1].authenticate(token, source, frontend="mcp")
        if principal is None:
            return None
        return Caller(actor=principal.actor, role=principal.role)
