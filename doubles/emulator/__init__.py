"""The Datasphere emulator: the documented SAP API served over real HTTP (not part of SAP).

Public API: :func:`start_in_thread` (returns a :class:`RunningEmulator`), :func:`serve`,
:class:`Tenant` / :class:`TenantOptions` (the in-memory tenant). See ``docs/emulator.md``.
"""

from .auth import DEMO_CLIENTS, OAuthClient
from .server import RunningEmulator, banner, build_tenant, running, serve, start_in_thread
from .tenant import Tenant, TenantOptions

__all__ = [
    "DEMO_CLIENTS",
    "OAuthClient",
    "RunningEmulator",
    "Tenant",
    "TenantOptions",
    "banner",
    "build_tenant",
    "running",
    "serve",
    "start_in_thread",
]
