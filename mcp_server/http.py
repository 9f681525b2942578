"""Streamable HTTP transport of the MCP server, mounted in Wolf (and so Bear) at ``/mcp``.

``mount_mcp(app)`` adds the ``/mcp`` route to a Starlette/FastAPI app and runs the MCP session
managers inside the app's lifespan (Bear's Mangum runs the same lifespan). Each request:

1. ``Authorization: Bearer <API key>`` is checked with the same keys and roles as the Wolf API
   (:func:`mcp_server.auth.authenticate`); none or a bad one → 401 with a hint.
2. ``viewer`` → the read-only server (write tools not listed); ``operator``/``admin`` → the
   server with ``apply_config``, ``promote_config``, ``rollback_config``.
3. The request is served statelessly with JSON responses (no session to keep: any Wolf worker
   or Lambda container answers any request).

The services are the app's own (``app.state.services``, built by its lifespan).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from core.log import get_logger
from core.services import Services
from mcp_server.auth import CALLER_STATE_KEY, Caller, KeyChecker
from mcp_server.context import McpContext
from mcp_server.server import Caches, create_server

log = get_logger(__name__)

PATH = "/mcp"
KEY_HINT = ("Send `Authorization: Bearer <API key>` (the same keys as the Wolf API; "
            "create one with `dgsync keys create --name NAME --role viewer|operator|admin`).")


def _bearer(scope: Scope) -> str | None:
    scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class McpHttpApp:
    """The ``/mcp`` ASGI endpoint: authenticate, pick the server for the role, delegate."""

    def __init__(self, services: Callable[[], Services]) -> None:
        self.services = services
        self.keys = KeyChecker()
        caches: Caches = {}  # one search/lineage cache for both servers
        self.servers: dict[bool, MCPServer[McpContext]] = {
            writes: create_server(services=services, allow_write=writes, caches=caches) for writes in (False, True)
        }

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run both session managers (inside the host app's lifespan). A manager runs once, so
        each lifespan gets new ones (Mangum runs the lifespan around every invocation)."""
        # Wolf's own middleware checks the Host header against its allow-list (DNS rebinding).
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        async with AsyncExitStack() as stack:
            for server in self.servers.values():
                server.streamable_http_app(streamable_http_path=PATH, stateless_http=True, json_response=True,
                                           transport_security=security)
                await stack.enter_async_context(server.session_manager.run())
            yield

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
        body = {"error": {"code": "unauthorized" if status == 401 else "not_found", "message": message, "hint": KEY_HINT}}
        headers = {"WWW-Authenticate": 'Bearer realm="dgsync-mcp"'} if status == 401 else None
        await JSONResponse(body, status_code=status, headers=headers)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        token = _bearer(scope)
        if token is None:
            await self._refuse(scope, receive, send, 401, "the MCP endpoint needs an API key")
            return
        client = scope.get("client")
        source = str(client[0]) if client else "unknown"
        services = self.services()
        caller: Caller | None = await anyio.to_thread.run_sync(lambda: self.keys.authenticate(services, token, source))
        if caller is None:
            await self._refuse(scope, receive, send, 401, "the API key is not valid (unknown, revoked or expired)")
            return
        scope.setdefault("state", {})[CALLER_STATE_KEY] = caller
        await self.servers[caller.can_write].session_manager.handle_request(scope, receive, send)


def mount_mcp(app: Any, *, services: Callable[[], Services] | None = None) -> McpHttpApp:
    """Serve MCP at ``/mcp`` of ``app`` (FastAPI or Starlette) with the app's services
    (``app.state.services`` unless ``services`` is given); run it in the app's lifespan."""
    provider = services or (lambda: app.state.services)
    endpoint = McpHttpApp(provider)
    route_app: ASGIApp = endpoint
    app.router.routes.append(Route(PATH, endpoint=route_app, methods=["GET", "POST", "DELETE"], include_in_schema=False))
    original: Callable[[Any], AbstractAsyncContextManager[Any]] = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(host: Any) -> AsyncIterator[Any]:
        async with original(host) as value, endpoint.running():
            yield value

    app.router.lifespan_context = lifespan
    return endpoint
