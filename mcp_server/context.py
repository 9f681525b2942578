"""What every tool reaches: the lifespan context, the caller, running core calls, size budget.

A tool is a short call into the core run off the event loop (:func:`call`). Core errors
become tool errors carrying their hint (``message (error code). Hint: ...``); anything
unexpected reaches the model only as the SDK's generic "Error executing tool".
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from core.errors import DgsyncError, InputError
from core.log import get_logger, redact
from mcp_server.auth import CALLER_STATE_KEY, Caller

if TYPE_CHECKING:
    from core.catalog import AssetCatalog
    from core.search import UnifiedCatalog
    from core.services import Services
    from core.settings import Settings

log = get_logger(__name__)

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: A tool result's JSON stays under this many characters; lists are cut with a note.
MAX_RESULT_CHARS = 60_000


@dataclass
class McpContext:
    """Built once per server lifespan (per session over stdio, per request over stateless HTTP)."""

    settings: Settings
    services: Services
    catalog: AssetCatalog
    unified: UnifiedCatalog
    #: The caller of a stdio server (over HTTP the caller comes with each request).
    caller: Caller
    allow_write: bool = False
    #: Cached lineage graph: (id of the extraction snapshot, graph).
    cache: dict[str, Any] = field(default_factory=dict)


def state(ctx: Context) -> McpContext:
    return cast(McpContext, ctx.request_context.lifespan_context)


def caller(ctx: Context) -> Caller:
    """Who calls: the authenticated API key (HTTP) or the local OS user (stdio)."""
    request = getattr(ctx.request_context, "request", None)
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        found = scope.get("state", {}).get(CALLER_STATE_KEY)
        if isinstance(found, Caller):
            return found
    return state(ctx).caller


def tool_error(exc: DgsyncError) -> ToolError:
    return ToolError(redact(f"{exc.message} (error {exc.code}). Hint: {exc.hint}"))


async def call(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread; core errors become tool errors with their hint."""
    try:
        return await anyio.to_thread.run_sync(fn)
    except DgsyncError as exc:
        log.info("tool failed", extra={"code": exc.code, "error": exc.message})
        raise tool_error(exc) from exc


def require_write(ctx: Context) -> Caller:
    """The caller, if it may change configuration (defence in depth: the tool is not even
    listed otherwise)."""
    who = caller(ctx)
    if not state(ctx).allow_write or not who.can_write:
        raise tool_error(InputError(
            f"{who.actor} (role {who.role}) may not change the configuration",
            hint="Use an API key with the operator or admin role, or start `dgsync mcp --allow-write`.",
        ))
    return who


def cut(items: Sequence[T], limit: int, what: str) -> tuple[list[T], str | None]:
    """At most ``limit`` items, and a note saying how many were left out."""
    if len(items) <= limit:
        return list(items), None
    return list(items[:limit]), f"{len(items) - limit} more {what} not shown (of {len(items)})"


def fits(payload: Any) -> bool:
    return len(json.dumps(payload, default=str)) <= MAX_RESULT_CHARS


def shrink(items: list[T], render: Callable[[list[T]], Any]) -> tuple[list[T], int]:
    """Drop items from the end until ``render(items)`` fits the size budget; return the kept
    items and how many were dropped."""
    kept = list(items)
    dropped = 0
    while kept and not fits(render(kept)):
        step = max(1, len(kept) // 4)
        kept = kept[:-step]
        dropped += step
    return kept, dropped


def tool(server: MCPServer[McpContext], *, write: bool = False) -> Callable[[F], F]:
    """Register a tool: its docstring (dedented) is the description the model reads; read
    tools are annotated read-only, write tools as non-destructive writes (a new version)."""

    def decorator(fn: F) -> F:
        annotations = ToolAnnotations(read_only_hint=not write, destructive_hint=False,
                                      idempotent_hint=not write, open_world_hint=False)
        server.tool(description=inspect.cleandoc(fn.__doc__ or ""), annotations=annotations)(fn)
        return fn

    return decorator
