"""The emulator's HTTP application (Starlette): the SAP Datasphere read API plus ``/_emulator``.

Routing is done here rather than by Starlette's router because OData paths carry key
predicates (``spaces('SALES')/assets('A.B')``) with quotes, percent-encoding and ``''``
doubling. Every request to the SAP contract goes through the same pipeline:

    fault injection (latency, HTML login page, 429, 5xx) → bearer token (401) →
    handler (404 / 403 / 400 / 406 / 304 / 200) → counters by route template

``/_emulator/*`` (admin) needs no token, sees no faults and is not counted.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import html
import json
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from core.models import DESIGN_TIME_SEGMENTS, AssetKind

from . import csdl
from .auth import AccessToken, OAuthClient, OAuthError
from .faults import FaultConfig, FaultDecision
from .faults import clear as clear_faults
from .faults import configure as configure_faults
from .faults import state as fault_state
from .model import DesignObject, Json
from .mutate import mutate
from .odata import (
    ODataError,
    compile_filter,
    parse_bool,
    parse_key,
    parse_non_negative,
    parse_orderby,
    parse_select,
    sort_rows,
)
from .tenant import SEGMENT_KINDS, Tenant

ODATA_JSON = "application/json;odata.metadata=minimal;IEEE754Compatible=true"
CSN_MEDIA_TYPES = (
    "application/vnd.sap.datasphere.object.content+json",
    "application/vnd.sap.datasphere.object.content.design-time+json",
)
UNAUTHORIZED_BODY = {
    "error": "unauthorized",
    "error_description": "An Authentication object was not found in the SecurityContext",
}
SPACE_PROPERTIES = ("name", "label")
ASSET_PROPERTIES = (
    "name", "label", "spaceName", "assetRelationalMetadataUrl", "assetRelationalDataUrl",
    "assetAnalyticalMetadataUrl", "assetAnalyticalDataUrl", "supportsAnalyticalQueries", "hasParameters",
)
DESIGN_TIME_PROPERTIES = ("technicalName", "businessName", "status")
SUPPORTED_OPTIONS = frozenset({"$top", "$skip", "$filter", "$select", "$count", "$orderby", "$format", "$skiptoken"})

LOGIN_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Log On</title></head>
<body><h1>Log On</h1>
<form method="post" action="/saml2/sp/acs"><input type="hidden" name="SAMLRequest" value="PHNhbWxwOkF1dGhuUmVxdWVzdC8+">
<label>E-Mail <input name="j_username"></label><label>Password <input type="password" name="j_password"></label>
<button type="submit">Log On</button></form></body></html>
"""

Handler = Callable[["Ctx"], Awaitable[Response]]

_KEY = r"'((?:[^']|'')*)'"
_P = r"/api/v1/(?P<prefix>datasphere|dwc)/consumption"
_CAT = _P + "/catalog"
_DT = "/dwaas-core/api/v1"
_SEGMENTS = "|".join(DESIGN_TIME_SEGMENTS.values())


@dataclass
class Ctx:
    """One request as the handlers see it."""

    request: Request
    params: dict[str, str]
    query: list[tuple[str, str]]
    host: str
    token: AccessToken | None = None

    @property
    def options(self) -> dict[str, str]:
        return dict(self.query)

    @property
    def client(self) -> OAuthClient:
        assert self.token is not None
        return self.token.client


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    template: str
    handler: Handler
    area: str  # "api", "token", "authorize", "admin", "public"


def _odata_error(status: int, message: str, target: str | None = None) -> JSONResponse:
    return JSONResponse(ODataError(message, status=status, target=target).body(), status_code=status,
                        headers={"OData-Version": "4.0"})


def _odata_json(body: Json, *, headers: Mapping[str, str] | None = None) -> Response:
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    h = {"OData-Version": "4.0", **(headers or {})}
    return Response(payload, media_type=ODATA_JSON, headers=h)


def _etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = etag[2:] if etag.startswith("W/") else etag
    for candidate in header.split(","):
        c = candidate.strip()
        if c.startswith("W/"):
            c = c[2:]
        if c == wanted:
            return True
    return False


def _not_modified(etag: str) -> Response:
    return Response(status_code=304, headers={"ETag": etag})


def consumption_prefix(space: str, name: str) -> str:
    """``dwc`` for about half of the assets, ``datasphere`` for the rest (deterministic)."""
    return "dwc" if zlib.crc32(f"{space}/{name}".encode()) % 2 else "datasphere"


def asset_row(obj: DesignObject, host: str) -> dict[str, Any]:
    """The catalog's representation of an asset (absolute consumption URLs)."""
    prefix = consumption_prefix(obj.space, obj.name)
    path = f"{quote(obj.space, safe='')}/{quote(obj.name, safe='')}"
    rel = f"{host}/api/v1/{prefix}/consumption/relational/{path}" if obj.flags.relational else None
    ana = f"{host}/api/v1/{prefix}/consumption/analytical/{path}" if obj.flags.analytical else None
    return {
        "name": obj.name,
        "label": obj.label,
        "spaceName": obj.space,
        "assetRelationalMetadataUrl": f"{rel}/$metadata" if rel else None,
        "assetRelationalDataUrl": f"{rel}/" if rel else None,
        "assetAnalyticalMetadataUrl": f"{ana}/$metadata" if ana else None,
        "assetAnalyticalDataUrl": f"{ana}/" if ana else None,
        "supportsAnalyticalQueries": obj.flags.analytical,
        "hasParameters": obj.flags.has_parameters,
    }


class _Forbidden(Exception):
    pass


class _AssetIn(BaseModel):
    """Body of ``POST /_emulator/assets``."""

    model_config = ConfigDict(extra="forbid")

    space: str = Field(pattern=r"^[A-Z0-9_]{1,20}$")
    #: An ``AssetKind`` value (``view``) or a design-time segment (``views``).
    kind: str
    csn: dict[str, Any]
    name: str | None = None
    status: str = "Deployed"
    space_label: str | None = None


class _MutateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=0, le=10_000)
    seed: int = 0
    space: str | None = None
    operations: list[str] | None = None


class _ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    advance_s: float


class EmulatorApp:
    """ASGI application serving one :class:`Tenant`."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.routes = self._routes()
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        self.app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=methods)])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    # -- routing --------------------------------------------------------------------------

    def _routes(self) -> list[_Route]:
        r: list[_Route] = []

        def add(method: str, regex: str, template: str, handler: Handler, area: str = "api") -> None:
            r.append(_Route(method, re.compile("^" + regex + "$"), template, handler, area))

        cat = "/api/v1/{prefix}/consumption/catalog"
        add("GET", _CAT + "/?", cat, self.catalog_service)
        add("GET", _CAT + r"/\$metadata", cat + "/$metadata", self.catalog_metadata)
        add("GET", _CAT + r"/spaces", cat + "/spaces", self.catalog_spaces)
        add("GET", _CAT + r"/spaces/\$count", cat + "/spaces/$count", self.catalog_spaces)
        add("GET", _CAT + r"/spaces\(" + _KEY.replace("(", "(?P<space>", 1) + r"\)",
            cat + "/spaces('{space}')", self.catalog_space)
        add("GET", _CAT + r"/spaces\(" + _KEY.replace("(", "(?P<space>", 1) + r"\)/assets",
            cat + "/spaces('{space}')/assets", self.catalog_space_assets)
        add("GET", _CAT + r"/spaces\(" + _KEY.replace("(", "(?P<space>", 1) + r"\)/assets/\$count",
            cat + "/spaces('{space}')/assets/$count", self.catalog_space_assets)
        add("GET", _CAT + r"/spaces\(" + _KEY.replace("(", "(?P<space>", 1) + r"\)/assets\("
            + _KEY.replace("(", "(?P<asset>", 1) + r"\)",
            cat + "/spaces('{space}')/assets('{asset}')", self.catalog_space_asset)
        add("GET", _CAT + r"/assets", cat + "/assets", self.catalog_assets)
        add("GET", _CAT + r"/assets/\$count", cat + "/assets/$count", self.catalog_assets)
        add("GET", _CAT + r"/assets\((?P<keys>.+)\)", cat + "/assets({keys})", self.catalog_asset_by_keys)

        con = "/api/v1/{prefix}/consumption/{service}/{space}/{asset}"
        base = _P + r"/(?P<service>relational|analytical)/(?P<space>[^/]+)/(?P<asset>[^/]+)"
        add("GET", base + "/?", con + "/", self.consumption_service)
        add("GET", base + r"/\$metadata", con + "/$metadata", self.consumption_metadata)
        add("GET", base + r"/(?P<set>[^/]+?)(?:/(?P<tail>Set|\$count))?", con + "/{entityset}", self.consumption_data)

        add("GET", _DT + "/discovery", "/dwaas-core/api/v1/discovery", self.discovery)
        add("GET", _DT + rf"/spaces/(?P<space>[^/]+)/(?P<segment>{_SEGMENTS})",
            "/dwaas-core/api/v1/spaces/{space}/{segment}", self.design_time_list)
        add("GET", _DT + r"/spaces/(?P<space>[^/]+)/connections",
            "/dwaas-core/api/v1/spaces/{space}/connections", self.design_time_connections)
        add("GET", _DT + rf"/spaces/(?P<space>[^/]+)/(?P<segment>{_SEGMENTS})/(?P<name>[^/]+)",
            "/dwaas-core/api/v1/spaces/{space}/{segment}/{name}", self.design_time_read)

        add("POST", "/oauth/token", "/oauth/token", self.oauth_token, "token")
        add("GET", "/oauth/authorize", "/oauth/authorize", self.oauth_authorize, "authorize")
        add("POST", "/oauth/authorize", "/oauth/authorize", self.oauth_authorize_post, "authorize")

        add("GET", "/?", "/", self.root, "public")
        add("GET", "/_emulator/faults", "", self.admin_faults_get, "admin")
        add("POST", "/_emulator/faults", "", self.admin_faults_post, "admin")
        add("DELETE", "/_emulator/faults", "", self.admin_faults_delete, "admin")
        add("GET", "/_emulator/requests", "", self.admin_requests, "admin")
        add("POST", "/_emulator/mutate", "", self.admin_mutate, "admin")
        add("POST", "/_emulator/assets", "", self.admin_assets_post, "admin")
        add("DELETE", "/_emulator/assets/(?P<space>[^/]+)/(?P<name>[^/]+)", "", self.admin_assets_delete, "admin")
        add("GET", "/_emulator/inventory", "", self.admin_inventory, "admin")
        add("GET", "/_emulator/stats", "", self.admin_stats, "admin")
        add("POST", "/_emulator/stats/reset", "", self.admin_stats_reset, "admin")
        add("POST", "/_emulator/reset", "", self.admin_reset, "admin")
        add("POST", "/_emulator/clock", "", self.admin_clock, "admin")
        return r

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str], bool]:
        path_matched = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            if route.method != method and not (method == "HEAD" and route.method == "GET"):
                path_matched = True
                continue
            return route, {k: v for k, v in m.groupdict().items() if v is not None}, True
        return None, {}, path_matched

    async def _endpoint(self, request: Request) -> Response:
        """Answer one request and log it (method, path, status, latency, fault)."""
        started = time.perf_counter()
        response = await self._dispatch(request)
        query = request.url.query
        self.tenant.requests.record(
            source="datasphere", method=request.method,
            path=request.scope["path"] + (f"?{unquote(query)}" if query else ""),
            status=response.status_code, latency_ms=(time.perf_counter() - started) * 1000,
            fault=getattr(request.state, "dgsync_fault", None),
        )
        return response

    async def _dispatch(self, request: Request) -> Response:
        path = request.scope["path"]
        route, params, path_matched = self._match(request.method, path)
        stats = self.tenant.stats
        if route is None:
            status = 405 if path_matched else 404
            if not path.startswith("/_emulator"):
                stats.record(f"{request.method} <unmatched>", status)
            return _odata_error(status, "Method not allowed" if path_matched else f"No resource at {path}")
        if "('{" in route.template:
            for key in ("space", "asset"):
                if key in params:
                    params[key] = parse_key(params[key])
        template = f"{route.method} " + route.template.format_map(
            _Keep({k: params[k] for k in ("prefix", "service", "segment") if k in params}))
        host = str(request.base_url).rstrip("/")
        ctx = Ctx(request, params, parse_qsl(request.url.query, keep_blank_values=True), host)

        if route.area == "admin":
            return await self._safely(route.handler, ctx)
        if route.area == "public":
            return await route.handler(ctx)

        decision = (
            self.tenant.faults.decide(path, token_endpoint=route.area == "token")
            if route.area in ("api", "token") else FaultDecision()
        )
        if decision.latency_ms:
            await asyncio.sleep(decision.latency_ms / 1000)
        if decision.kind is not None:
            request.state.dgsync_fault = decision.kind
            response = self._fault_response(decision)
            stats.record(template, response.status_code, fault=decision.kind)
            return response
        if route.area == "api":
            ctx.token = self.tenant.auth.validate(request.headers.get("authorization"))
            if ctx.token is None:
                stats.record(template, 401)
                return JSONResponse(UNAUTHORIZED_BODY, status_code=401,
                                    headers={"WWW-Authenticate": 'Bearer realm="Datasphere", error="invalid_token"'})
        response = await self._safely(route.handler, ctx)
        stats.record(template, response.status_code)
        return response

    async def _safely(self, handler: Handler, ctx: Ctx) -> Response:
        try:
            return await handler(ctx)
        except ODataError as exc:
            return JSONResponse(exc.body(), status_code=exc.status, headers={"OData-Version": "4.0"})
        except _Forbidden as exc:
            return _odata_error(403, str(exc))

    @staticmethod
    def _fault_response(decision: FaultDecision) -> Response:
        if decision.kind == "html_login":
            return HTMLResponse(LOGIN_PAGE, status_code=200)
        if decision.kind == "throttle":
            headers = {"Retry-After": str(decision.retry_after)} if decision.retry_after is not None else {}
            return JSONResponse({"error": {"code": "429", "message": "Too Many Requests: rate limit exceeded"}},
                                status_code=429, headers=headers)
        messages = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
        return JSONResponse({"error": {"code": str(decision.status),
                                       "message": messages.get(decision.status, "Server Error")}},
                            status_code=decision.status)

    # -- shared checks --------------------------------------------------------------------

    def _space(self, ctx: Ctx, name: str) -> None:
        """404 for an unknown space, 403 when the client is not a member."""
        info = self.tenant.space(name)
        if info is None:
            raise ODataError(f"Space '{name}' does not exist", status=404)
        if self.tenant.faults.forbids(name):
            ctx.request.state.dgsync_fault = "forbidden_space"
            raise _Forbidden(f"The user is not a member of space '{name}'")
        if info.hidden or not ctx.client.is_member(name):
            raise _Forbidden(f"The user is not a member of space '{name}'")

    def _collection(
        self, ctx: Ctx, *, entity_set: str, properties: tuple[str, ...], objects: list[DesignObject] | None = None,
        rows: list[dict[str, Any]] | None = None, count_only: bool = False,
    ) -> Response:
        """Apply the OData system query options and page the result (server page ≤ 500)."""
        opts = ctx.options
        for name in opts:
            if name.startswith("$") and name not in SUPPORTED_OPTIONS:
                raise ODataError(f"The query option '{name}' is not supported", target=name)
        if opts.get("$format", "json").lower() not in ("json", "application/json"):
            raise ODataError(f"$format={opts['$format']} is not supported", target="$format")
        frozen = frozenset(properties)
        predicate = compile_filter(opts["$filter"], frozen) if "$filter" in opts else None
        order = parse_orderby(opts["$orderby"], frozen) if "$orderby" in opts else None
        select = parse_select(opts["$select"], properties) if "$select" in opts else None
        top = parse_non_negative("$top", opts["$top"]) if "$top" in opts else None
        skip = parse_non_negative("$skip", opts["$skip"]) if "$skip" in opts else 0
        skiptoken = parse_non_negative("$skiptoken", opts["$skiptoken"]) if "$skiptoken" in opts else 0
        want_count = parse_bool("$count", opts["$count"]) if "$count" in opts else False

        lazy = rows is None and objects is not None and predicate is None and order is None
        if rows is None:
            rows = [] if lazy else [asset_row(o, ctx.host) for o in objects or []]
        if predicate is not None:
            rows = [row for row in rows if predicate(row)]
        if order:
            rows = sort_rows(list(rows), order)
        total = len(objects or []) if lazy else len(rows)
        if count_only:
            return PlainTextResponse(str(total), headers={"OData-Version": "4.0"})

        page_size = self.tenant.options.catalog_page_size
        prefer = ctx.request.headers.get("prefer", "")
        preference = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        headers: dict[str, str] = {}
        if preference:
            page_size = max(1, min(page_size, int(preference.group(1))))
            headers["Preference-Applied"] = f"odata.maxpagesize={page_size}"
        start = skip + skiptoken
        remaining = max(total - start, 0)
        if top is not None:
            remaining = min(remaining, max(top - skiptoken, 0))
        n = min(page_size, remaining)
        page = (
            [asset_row(o, ctx.host) for o in (objects or [])[start:start + n]] if lazy else rows[start:start + n]
        )
        if select is not None:
            page = [{k: row[k] for k in select} for row in page]
        root = ctx.host + ctx.request.url.path.split("/catalog")[0] + "/catalog"
        body: dict[str, Any] = {"@odata.context": f"{root}/$metadata#{entity_set}"}
        if want_count:
            body["@odata.count"] = total
        body["value"] = page
        if remaining > n:
            query = [(k, v) for k, v in ctx.query if k != "$skiptoken"] + [("$skiptoken", str(skiptoken + n))]
            parts = urlsplit(str(ctx.request.url))
            body["@odata.nextLink"] = urlunsplit(
                (parts.scheme, parts.netloc, parts.path, urlencode(query, quote_via=quote, safe="$,'()*"), ""))
        return _odata_json(body, headers=headers)

    # -- catalog --------------------------------------------------------------------------

    async def catalog_service(self, ctx: Ctx) -> Response:
        root = ctx.host + ctx.request.url.path.rstrip("/")
        return _odata_json({"@odata.context": f"{root}/$metadata", "value": [
            {"name": "spaces", "kind": "EntitySet", "url": "spaces"},
            {"name": "assets", "kind": "EntitySet", "url": "assets"}]})

    async def catalog_metadata(self, ctx: Ctx) -> Response:
        etag = csdl.CATALOG_METADATA_ETAG
        if _etag_matches(ctx.request, etag):
            return _not_modified(etag)
        return Response(csdl.CATALOG_METADATA, media_type="application/xml",
                        headers={"ETag": etag, "OData-Version": "4.0"})

    async def catalog_spaces(self, ctx: Ctx) -> Response:
        rows = [{"name": sp.name, "label": sp.label} for sp in self.tenant.visible_spaces()]
        return self._collection(ctx, entity_set="spaces", properties=SPACE_PROPERTIES, rows=rows,
                                count_only=ctx.request.url.path.endswith("/$count"))

    async def catalog_space(self, ctx: Ctx) -> Response:
        space = self.tenant.space(ctx.params["space"])
        if space is None or space.hidden:
            raise ODataError(f"Space '{ctx.params['space']}' does not exist", status=404)
        root = ctx.host + ctx.request.url.path.split("/catalog")[0] + "/catalog"
        return _odata_json({"@odata.context": f"{root}/$metadata#spaces/$entity", "name": space.name,
                            "label": space.label})

    async def catalog_space_assets(self, ctx: Ctx) -> Response:
        name = ctx.params["space"]
        self._space(ctx, name)
        objects = [o for o in self.tenant.catalog() if o.space == name]
        return self._collection(ctx, entity_set="assets", properties=ASSET_PROPERTIES, objects=objects,
                                count_only=ctx.request.url.path.endswith("/$count"))

    async def catalog_assets(self, ctx: Ctx) -> Response:
        client = ctx.client
        faults = self.tenant.faults
        objects = [o for o in self.tenant.catalog() if client.is_member(o.space) and not faults.forbids(o.space)]
        return self._collection(ctx, entity_set="assets", properties=ASSET_PROPERTIES, objects=objects,
                                count_only=ctx.request.url.path.endswith("/$count"))

    def _single_asset(self, ctx: Ctx, space: str, name: str) -> Response:
        self._space(ctx, space)
        obj = self.tenant.get(space, name)
        if obj is None or not obj.flags.exposed:
            raise ODataError(f"Asset '{name}' not found in space '{space}'", status=404)
        root = ctx.host + ctx.request.url.path.split("/catalog")[0] + "/catalog"
        opts = ctx.options
        row = asset_row(obj, ctx.host)
        if "$select" in opts:
            row = {k: row[k] for k in parse_select(opts["$select"], ASSET_PROPERTIES)}
        return _odata_json({"@odata.context": f"{root}/$metadata#assets/$entity", **row})

    async def catalog_space_asset(self, ctx: Ctx) -> Response:
        return self._single_asset(ctx, ctx.params["space"], ctx.params["asset"])

    async def catalog_asset_by_keys(self, ctx: Ctx) -> Response:
        keys: dict[str, str] = {}
        for m in re.finditer(r"(\w+)=" + _KEY, ctx.params["keys"]):
            keys[m.group(1)] = parse_key(m.group(2))
        if set(keys) != {"spaceName", "name"}:
            raise ODataError("assets are addressed by (spaceName='…',name='…')")
        return self._single_asset(ctx, keys["spaceName"], keys["name"])

    # -- consumption ----------------------------------------------------------------------

    def _consumable(self, ctx: Ctx) -> tuple[DesignObject, str]:
        space, name, service = ctx.params["space"], ctx.params["asset"], ctx.params["service"]
        self._space(ctx, space)
        obj = self.tenant.get(space, name)
        offered = obj is not None and (
            obj.flags.relational if service == csdl.RELATIONAL else obj.flags.analytical)
        if obj is None or not offered:
            raise ODataError(f"No {service} service for '{name}' in space '{space}' (not found or not exposed)",
                             status=404)
        return obj, service

    async def consumption_service(self, ctx: Ctx) -> Response:
        obj, service = self._consumable(ctx)
        rendered = csdl.render(self.tenant, obj, service)
        if _etag_matches(ctx.request, rendered.etag):
            return _not_modified(rendered.etag)
        return _odata_json({
            "@odata.context": "$metadata",
            "@odata.metadataEtag": rendered.etag,
            "value": [{"name": rendered.entity_set, "kind": "EntitySet", "url": rendered.entity_set}],
        }, headers={"ETag": rendered.etag})

    async def consumption_metadata(self, ctx: Ctx) -> Response:
        obj, service = self._consumable(ctx)
        rendered = csdl.render(self.tenant, obj, service)
        if _etag_matches(ctx.request, rendered.etag):
            return _not_modified(rendered.etag)
        # Always CSDL XML, also for ``Accept: application/json`` (documented in docs/emulator.md).
        return Response(rendered.xml, media_type="application/xml",
                        headers={"ETag": rendered.etag, "OData-Version": "4.0"})

    async def consumption_data(self, ctx: Ctx) -> Response:
        obj, service = self._consumable(ctx)
        rendered = csdl.render(self.tenant, obj, service)
        segment = ctx.params["set"]
        set_name = segment.split("(", 1)[0]
        if set_name != rendered.entity_set:
            raise ODataError(f"Resource '{segment}' not found", status=404)
        tail = ctx.params.get("tail")
        counting = tail == "$count" or ctx.options.get("$count", "").lower() == "true"
        if counting and service == csdl.ANALYTICAL:
            raise ODataError("The entity set of an analytical service is not countable", target="$count")
        if tail == "$count":
            return PlainTextResponse("0", headers={"OData-Version": "4.0"})
        body: dict[str, Any] = {"@odata.context": f"$metadata#{rendered.entity_set}"}
        if counting:
            body["@odata.count"] = 0
        body["value"] = []
        return _odata_json(body)

    # -- design time ----------------------------------------------------------------------

    async def discovery(self, ctx: Ctx) -> Response:
        return JSONResponse(_discovery_document(ctx.host))

    def _offered(self, segment: str) -> None:
        if not self.tenant.faults.offers(segment):
            raise ODataError(f"Resource '{segment}' not found", status=404)

    async def design_time_list(self, ctx: Ctx) -> Response:
        space = ctx.params["space"]
        self._offered(ctx.params["segment"])
        self._space(ctx, space)
        kind = SEGMENT_KINDS[ctx.params["segment"]]
        opts = ctx.options
        select = ["technicalName"]
        if "select" in opts:
            select = [p.strip() for p in opts["select"].split(",") if p.strip()]
            unknown = [p for p in select if p not in DESIGN_TIME_PROPERTIES]
            if unknown or not select:
                raise ODataError(f"unknown field(s) in select: {', '.join(unknown) or '(empty)'}", target="select")
        rows = [{"technicalName": o.name, "businessName": o.label, "status": o.status}
                for o in self.tenant.objects_in(space, kind)]
        if "filter" in opts:
            predicate = compile_filter(opts["filter"], frozenset(DESIGN_TIME_PROPERTIES), bare_literals=True)
            rows = [row for row in rows if predicate(row)]
        top = parse_non_negative("top", opts["top"]) if "top" in opts else self.tenant.options.design_time_page_size
        skip = parse_non_negative("skip", opts["skip"]) if "skip" in opts else 0
        page = [{k: row[k] for k in select} for row in rows[skip:skip + top]]
        return JSONResponse(page)

    async def design_time_read(self, ctx: Ctx) -> Response:
        space, name = ctx.params["space"], ctx.params["name"]
        self._offered(ctx.params["segment"])
        self._space(ctx, space)
        accept = ctx.request.headers.get("accept", "")
        if not any(media in accept for media in CSN_MEDIA_TYPES):
            raise ODataError(
                "Not Acceptable: request the object with Accept: application/vnd.sap.datasphere.object.content+json",
                status=406)
        kind = SEGMENT_KINDS[ctx.params["segment"]]
        obj = self.tenant.get(space, name)
        if obj is None or obj.kind is not kind:
            raise ODataError(f"Object '{name}' of type {ctx.params['segment']} not found in space '{space}'",
                             status=404)
        etag = obj.etag
        if _etag_matches(ctx.request, etag):
            return _not_modified(etag)
        payload = obj.cache.get("csn")
        if payload is None:
            payload = json.dumps(obj.doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            obj.cache["csn"] = payload
        return Response(payload, media_type=CSN_MEDIA_TYPES[0] + "; charset=utf-8", headers={"ETag": etag})

    async def design_time_connections(self, ctx: Ctx) -> Response:
        space = ctx.params["space"]
        self._space(ctx, space)
        return JSONResponse(self.tenant.connections(space))

    # -- OAuth ----------------------------------------------------------------------------

    async def oauth_token(self, ctx: Ctx) -> Response:
        params = dict(ctx.query)
        body = (await ctx.request.body()).decode("utf-8", errors="replace")
        params.update(parse_qsl(body, keep_blank_values=True))
        client_id, secret = params.get("client_id"), params.get("client_secret")
        auth = ctx.request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            client_id, _, secret = decoded.partition(":")
        no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        try:
            try:
                client = self.tenant.auth.authenticate(client_id, secret)
            except OAuthError:
                # RFC 6749 §2.3.1 form-encodes id and secret inside Basic; SAP's CLI does not.
                if client_id is None or secret is None or (unquote_plus(client_id), unquote_plus(secret)) == (client_id, secret):
                    raise
                client = self.tenant.auth.authenticate(unquote_plus(client_id), unquote_plus(secret))
            self.tenant.auth.issuer = ctx.host + "/oauth/token"
            result = self.tenant.auth.grant(client, params)
        except OAuthError as exc:
            return JSONResponse(exc.body(), status_code=exc.status, headers=no_store)
        return JSONResponse(result, headers=no_store)

    def _authorize_checks(self, params: Mapping[str, str]) -> tuple[OAuthClient, str] | Response:
        client = self.tenant.auth.client(params.get("client_id", ""))
        redirect = params.get("redirect_uri", "")
        if client is None:
            return _html_error("Unknown client", "The client_id is not registered.")
        if "authorization_code" not in client.grants:
            return _html_error("Unauthorized client", "This client may not use the authorization_code grant.")
        if not redirect or not self.tenant.auth.redirect_allowed(client, redirect):
            return _html_error("Invalid redirect", "The redirect_uri is not registered for this client.")
        if params.get("response_type", "code") != "code":
            return _redirect_with(redirect, {"error": "unsupported_response_type", "state": params.get("state")})
        return client, redirect

    async def oauth_authorize(self, ctx: Ctx) -> Response:
        params = ctx.options
        checked = self._authorize_checks(params)
        if isinstance(checked, Response):
            return checked
        client, redirect = checked
        if params.get("auto_approve", "").lower() == "true":
            code = self.tenant.auth.issue_code(client, redirect)
            return _redirect_with(redirect, {"code": code, "state": params.get("state")})
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(params.get(k, ""))}">'
            for k in ("client_id", "redirect_uri", "state", "response_type") if k in params)
        page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Authorize {html.escape(client.client_id)}</title></head>
<body><h1>Authorize application</h1>
<p>The application <b>{html.escape(client.client_id)}</b> requests access to SAP Datasphere as
<b>{html.escape("dgsync.demo@example.com")}</b>.</p>
<form method="post" action="/oauth/authorize">{hidden}
<button type="submit" name="decision" value="approve" id="approve">Authorize</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></body></html>
"""
        return HTMLResponse(page)

    async def oauth_authorize_post(self, ctx: Ctx) -> Response:
        body = (await ctx.request.body()).decode("utf-8", errors="replace")
        params = dict(ctx.query)
        params.update(parse_qsl(body, keep_blank_values=True))
        checked = self._authorize_checks(params)
        if isinstance(checked, Response):
            return checked
        client, redirect = checked
        if params.get("decision", "approve") != "approve":
            return _redirect_with(redirect, {"error": "access_denied", "state": params.get("state")})
        code = self.tenant.auth.issue_code(client, redirect)
        return _redirect_with(redirect, {"code": code, "state": params.get("state")})

    # -- public and admin -----------------------------------------------------------------

    async def root(self, ctx: Ctx) -> Response:
        return JSONResponse({
            "service": "dgsync SAP Datasphere emulator",
            "catalog": f"{ctx.host}/api/v1/datasphere/consumption/catalog",
            "token_url": f"{ctx.host}/oauth/token",
            "authorize_url": f"{ctx.host}/oauth/authorize",
            "discovery": f"{ctx.host}/dwaas-core/api/v1/discovery",
            "admin": f"{ctx.host}/_emulator/stats",
        })

    async def _json_body(self, ctx: Ctx) -> Any:
        raw = await ctx.request.body()
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ODataError(f"request body is not JSON: {exc.msg}") from exc

    async def admin_faults_get(self, ctx: Ctx) -> Response:
        return JSONResponse(fault_state(self.tenant))

    async def admin_faults_post(self, ctx: Ctx) -> Response:
        try:
            config = FaultConfig.model_validate(await self._json_body(ctx))
        except ValidationError as exc:
            return JSONResponse({"error": {"code": "400", "message": "invalid fault configuration",
                                           "details": json.loads(exc.json())}}, status_code=400)
        return JSONResponse(configure_faults(self.tenant, config))

    async def admin_faults_delete(self, ctx: Ctx) -> Response:
        return JSONResponse(clear_faults(self.tenant))

    async def admin_requests(self, ctx: Ctx) -> Response:
        opts = ctx.options
        limit = parse_non_negative("limit", opts["limit"]) if "limit" in opts else 200
        entries = self.tenant.requests.entries(
            method=opts.get("method"), status=opts.get("status"), path=opts.get("path"), limit=limit)
        return JSONResponse({"size": self.tenant.requests.size,
                             "requests": [dataclasses.asdict(e) for e in entries]})

    async def admin_mutate(self, ctx: Ctx) -> Response:
        try:
            body = _MutateIn.model_validate(await self._json_body(ctx))
            changes = mutate(self.tenant, count=body.count, seed=body.seed, space=body.space,
                             operations=tuple(body.operations) if body.operations else None)
        except (ValidationError, ValueError) as exc:
            return JSONResponse({"error": {"code": "400", "message": str(exc)}}, status_code=400)
        return JSONResponse({"changes": changes})

    async def admin_assets_post(self, ctx: Ctx) -> Response:
        try:
            body = _AssetIn.model_validate(await self._json_body(ctx))
            kind = SEGMENT_KINDS.get(body.kind) or AssetKind(body.kind)
            self.tenant.ensure_space(body.space, body.space_label)
            obj = self.tenant.put_document(space=body.space, kind=kind, doc=body.csn, name=body.name,
                                           status=body.status)
        except (ValidationError, ValueError) as exc:
            return JSONResponse({"error": {"code": "400", "message": str(exc)}}, status_code=400)
        return JSONResponse(obj.summary(), status_code=201)

    async def admin_assets_delete(self, ctx: Ctx) -> Response:
        obj = self.tenant.remove(ctx.params["space"], ctx.params["name"])
        if obj is None:
            return JSONResponse({"error": {"code": "404", "message": "no such object"}}, status_code=404)
        return JSONResponse(obj.summary())

    async def admin_inventory(self, ctx: Ctx) -> Response:
        return JSONResponse({
            "spaces": [{"name": s.name, "label": s.label, "origin": s.origin} for s in self.tenant.spaces()],
            "objects": self.tenant.inventory(),
            "clients": [{"client_id": c.client_id, "description": c.description}
                        for c in self.tenant.auth.clients.values()],
        })

    async def admin_stats(self, ctx: Ctx) -> Response:
        return JSONResponse(self.tenant.stats.snapshot())

    async def admin_stats_reset(self, ctx: Ctx) -> Response:
        self.tenant.stats.reset()
        return JSONResponse(self.tenant.stats.snapshot())

    async def admin_reset(self, ctx: Ctx) -> Response:
        self.tenant.reset()
        return JSONResponse({"reset": True, "objects": len(self.tenant.all_objects())})

    async def admin_clock(self, ctx: Ctx) -> Response:
        try:
            body = _ClockIn.model_validate(await self._json_body(ctx))
        except ValidationError as exc:
            return JSONResponse({"error": {"code": "400", "message": str(exc)}}, status_code=400)
        return JSONResponse({"offset_s": self.tenant.advance_clock(body.advance_s)})


class _Keep(dict[str, str]):
    """``str.format_map`` helper that leaves unknown ``{placeholders}`` as they are."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _html_error(title: str, message: str) -> Response:
    return HTMLResponse(f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head>"
                        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>",
                        status_code=400)


def _redirect_with(redirect_uri: str, params: Mapping[str, str | None]) -> Response:
    parts = urlsplit(redirect_uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return RedirectResponse(urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment)),
                            status_code=302)


def _discovery_document(host: str) -> Json:
    """A trimmed OpenAPI 3 document of the design-time API, as the CLI discovers it."""
    paths: Json = {}
    for segment in DESIGN_TIME_SEGMENTS.values():
        paths[f"/dwaas-core/api/v1/spaces/{{space}}/{segment}"] = {"get": {
            "operationId": f"list_{segment}",
            "summary": f"List {segment} of a space",
            "parameters": [
                {"name": "space", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "select", "in": "query", "schema": {"type": "string"}, "example": "technicalName,status"},
                {"name": "filter", "in": "query", "schema": {"type": "string"}, "example": "status eq Deployed"},
                {"name": "top", "in": "query", "schema": {"type": "integer", "default": 25}},
                {"name": "skip", "in": "query", "schema": {"type": "integer", "default": 0}},
            ],
            "responses": {"200": {"description": "technical names", "content": {"application/json": {"schema": {
                "type": "array", "items": {"type": "object", "properties": {
                    "technicalName": {"type": "string"}, "businessName": {"type": "string"},
                    "status": {"type": "string"}}}}}}}},
        }}
        paths[f"/dwaas-core/api/v1/spaces/{{space}}/{segment}/{{technicalName}}"] = {"get": {
            "operationId": f"read_{segment}",
            "summary": f"Read one of the {segment} (CSN)",
            "parameters": [
                {"name": "space", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "technicalName", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "Accept", "in": "header", "required": True,
                 "schema": {"type": "string", "enum": list(CSN_MEDIA_TYPES)}},
            ],
            "responses": {"200": {"description": "CSN document", "content": {CSN_MEDIA_TYPES[0]: {
                "schema": {"type": "object"}}}}, "304": {"description": "not modified (If-None-Match)"},
                "406": {"description": "wrong Accept"}},
        }}
    return {
        "openapi": "3.0.3",
        "info": {"title": "SAP Datasphere design-time API (emulated)", "version": "2026.14.0"},
        "servers": [{"url": host}],
        "paths": paths,
    }
