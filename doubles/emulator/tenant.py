"""The emulated tenant: spaces, design-time objects, OAuth state, faults and counters.

One :class:`Tenant` is shared by every request of one emulator; all state changes go through
its lock, so tests and the admin API may change it while clients read.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from core.models import DESIGN_TIME_SEGMENTS, AssetKind

from ..request_log import RequestLog
from .auth import DEMO_CLIENTS, REFRESH_LIFETIME_S, AuthState, OAuthClient
from .faults import FaultState
from .fixtures import load_fixture_content
from .model import STATUS_DEPLOYED, DesignObject, Json, SpaceInfo, consumption_flags, root_key
from .realistic import build_realistic
from .stats import Stats
from .synthetic import SyntheticTenant

SEGMENT_KINDS: dict[str, AssetKind] = {seg: kind for kind, seg in DESIGN_TIME_SEGMENTS.items()}


@dataclass(frozen=True)
class TenantOptions:
    """Content and behaviour of an emulated tenant."""

    seed: int = 42
    synthetic_assets: int = 0
    #: Spread the synthetic assets over this many spaces (0: about 500 per space, at most 20).
    synthetic_spaces: int = 0
    include_realistic: bool = True
    include_fixtures: bool = True
    #: Access-token lifetime for every client; None = SAP defaults (1 day technical, 1 h interactive).
    token_lifetime_s: int | None = None
    refresh_token_lifetime_s: int = REFRESH_LIFETIME_S
    #: Server page size of the catalog (SAP: 500).
    catalog_page_size: int = 500
    #: Default page size of the design-time lists (SAP: about 25).
    design_time_page_size: int = 25
    #: Serve the data product's objects as the SAP export shows them: shared into
    #: ``DP_SALARY`` (listed there as ``OWNER.NAME``), one owner visible, one invisible
    #: (not in the catalog, 403). Off: both owner spaces are plain visible spaces.
    shared_objects: bool = True


#: How many requests ``Tenant.requests`` keeps.
REQUEST_LOG_SIZE = 1000


class Tenant:
    """Spaces and objects of one emulated Datasphere tenant (thread-safe)."""

    def __init__(self, options: TenantOptions | None = None, *, clients: Iterable[OAuthClient] = DEMO_CLIENTS) -> None:
        self.options = options or TenantOptions()
        self._lock = threading.RLock()
        self._clock_offset = 0.0
        self.auth = AuthState(
            clients={c.client_id: c for c in clients},
            clock=self.now,
            access_lifetime_s=self.options.token_lifetime_s,
            refresh_lifetime_s=self.options.refresh_token_lifetime_s,
        )
        self.faults = FaultState()
        self.stats = Stats()
        #: The latest requests served (method, path, status, latency, fault): Dog's Debug page.
        self.requests = RequestLog(REQUEST_LOG_SIZE)
        self._load()

    # -- lifecycle --------------------------------------------------------------------------

    def _load(self) -> None:
        spaces: list[SpaceInfo] = []
        objects: list[DesignObject] = []
        if self.options.include_realistic:
            sp, ob = build_realistic()
            spaces += sp
            objects += ob
        if self.options.include_fixtures:
            sp, ob = load_fixture_content(shared=self.options.shared_objects)
            spaces += sp
            objects += ob
        self.synthetic: SyntheticTenant | None = None
        if self.options.synthetic_assets:
            self.synthetic = SyntheticTenant(self.options.synthetic_assets, self.options.seed,
                                             spaces=self.options.synthetic_spaces)
            spaces += self.synthetic.spaces()
            objects += self.synthetic.objects()
        with self._lock:
            self._spaces: dict[str, SpaceInfo] = {s.name: s for s in spaces}
            self._objects: dict[str, dict[str, DesignObject]] = {s.name: {} for s in spaces}
            for obj in objects:
                self._objects.setdefault(obj.space, {})[obj.name] = obj
            self._catalog: list[DesignObject] | None = None
            self.generation = 0
            self._added_by_mutation: set[tuple[str, str]] = set()

    def reset(self) -> None:
        """Back to the initial content; faults, counters and the clock offset cleared.

        Issued tokens stay valid (a connector in the middle of a run keeps working).
        """
        self._load()
        self.faults.clear()
        self.stats.reset()
        self.auth.overrides.access_s = None
        self.auth.overrides.refresh_s = None
        with self._lock:
            self._clock_offset = 0.0

    def now(self) -> float:
        """Wall-clock time plus the offset set by ``POST /_emulator/clock``."""
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> float:
        with self._lock:
            self._clock_offset += seconds
            return self._clock_offset

    # -- reading ----------------------------------------------------------------------------

    def spaces(self) -> list[SpaceInfo]:
        with self._lock:
            return sorted(self._spaces.values(), key=lambda s: s.name)

    def visible_spaces(self) -> list[SpaceInfo]:
        """The spaces the catalog lists (hidden owner spaces left out)."""
        return [s for s in self.spaces() if not s.hidden]

    def connections(self, space: str) -> list[Json]:
        """Connections a space's objects use: remote tables' ``@DataWarehouse.remote.connection``
        and replication flows' source systems other than ``$DWC``, sorted by name."""
        found: dict[str, str | None] = {}
        for obj in self.objects_in(space):
            if obj.kind is AssetKind.REMOTE_TABLE:
                conn = obj.definition.get("@DataWarehouse.remote.connection")
                if isinstance(conn, str) and conn:
                    found.setdefault(conn, None)
            elif obj.kind is AssetKind.REPLICATION_FLOW:
                contents = obj.definition.get("contents") or {}
                systems = contents.get("sourceSystem") if isinstance(contents, dict) else None
                for system in systems if isinstance(systems, list) else [systems]:
                    if isinstance(system, dict) and system.get("connectionId") not in (None, "$DWC"):
                        conn_type = system.get("connectionType")
                        found[str(system["connectionId"])] = conn_type if isinstance(conn_type, str) else None
        return [{"name": n, "businessName": n, "typeId": found[n]} for n in sorted(found)]

    def space(self, name: str) -> SpaceInfo | None:
        with self._lock:
            return self._spaces.get(name)

    def get(self, space: str, name: str) -> DesignObject | None:
        with self._lock:
            return self._objects.get(space, {}).get(name)

    def objects_in(self, space: str, kind: AssetKind | None = None) -> list[DesignObject]:
        """Objects of a space (optionally one kind), sorted by technical name."""
        with self._lock:
            objs = list(self._objects.get(space, {}).values())
        if kind is not None:
            objs = [o for o in objs if o.kind is kind]
        return sorted(objs, key=lambda o: o.name)

    def all_objects(self) -> list[DesignObject]:
        with self._lock:
            return [o for space in sorted(self._objects) for o in sorted(self._objects[space].values(), key=lambda o: o.name)]

    def catalog(self) -> list[DesignObject]:
        """Every asset the catalog lists (deployed and exposed, or analytic models), sorted."""
        with self._lock:
            if self._catalog is None:
                hidden = {s.name for s in self._spaces.values() if s.hidden}
                self._catalog = [o for o in self.all_objects() if o.flags.exposed and o.space not in hidden]
            return self._catalog

    def resolve_ref(self, space: str, ref: str) -> DesignObject | None:
        """The object a CSN reference names, seen from ``space``.

        ``NAME`` and namespaced ``SAP.TIME.X`` resolve in ``space``; ``OTHER.NAME`` resolves in
        space ``OTHER`` when ``OTHER`` is a known space (the contract's rule).
        """
        with self._lock:
            own = self._objects.get(space, {}).get(ref)
            if own is not None:
                return own
            prefix, dot, rest = ref.partition(".")
            if dot and prefix in self._spaces:
                return self._objects.get(prefix, {}).get(rest)
            return None

    def owner_of(self, obj: DesignObject) -> str:
        """The space that owns ``obj``: its own space, or ``OWNER`` for an object a consumer
        lists as ``OWNER.NAME`` where ``OWNER`` is another space of this tenant (shared)."""
        prefix, dot, rest = obj.name.partition(".")
        with self._lock:
            if dot and rest and prefix != obj.space and prefix in self._spaces:
                return prefix
        return obj.space

    def owned_visible_objects(self) -> list[DesignObject]:
        """What a member of every visible space extracts: objects of visible spaces that
        their space owns (shared listings and hidden spaces left out)."""
        return [
            o for o in self.all_objects()
            if self.owner_of(o) == o.space and not self._spaces[o.space].hidden
        ]

    def inventory(self) -> list[Json]:
        return [o.summary() for o in self.all_objects()]

    # -- changing ---------------------------------------------------------------------------

    def _changed(self) -> None:
        self._catalog = None
        self.generation += 1

    def ensure_space(self, name: str, label: str | None = None) -> SpaceInfo:
        with self._lock:
            existing = self._spaces.get(name)
            if existing is not None:
                return existing
            info = SpaceInfo(name, label or name, origin="admin")
            self._spaces[name] = info
            self._objects[name] = {}
            self._changed()
            return info

    def put(self, obj: DesignObject) -> DesignObject | None:
        """Add or replace an object; returns the replaced one."""
        with self._lock:
            self.ensure_space(obj.space)
            old = self._objects[obj.space].get(obj.name)
            self._objects[obj.space][obj.name] = obj
            self._changed()
            return old

    def put_document(
        self, *, space: str, kind: AssetKind, doc: Json, name: str | None = None, status: str = STATUS_DEPLOYED,
        label: str | None = None, synthetic: bool = False,
    ) -> DesignObject:
        """Add or replace one object from its CSN document (admin API, mutations)."""
        section = doc.get(root_key(kind))
        if not isinstance(section, dict) or not section:
            raise ValueError(f"the document has no {root_key(kind)!r} section")
        if name is None:
            candidates = [n for n, d in section.items() if isinstance(d, dict) and d.get("kind") != "context"]
            if len(candidates) != 1:
                raise ValueError("name the object: the document defines " + (", ".join(candidates) or "nothing"))
            name = candidates[0]
        definition = section.get(name)
        if not isinstance(definition, dict):
            raise ValueError(f"the document does not define {name!r}")
        doc = copy.deepcopy(doc)
        if label is None:
            text = definition.get("@EndUserText.label")
            label = text if isinstance(text, str) else name
        obj = DesignObject(space=space, name=name, kind=kind, label=label, doc=doc, status=status,
                           flags=consumption_flags(kind, doc, name, status), synthetic=synthetic)
        self.put(obj)
        return obj

    def remove(self, space: str, name: str) -> DesignObject | None:
        with self._lock:
            obj = self._objects.get(space, {}).pop(name, None)
            if obj is not None:
                self._changed()
            return obj

    def mark_added(self, space: str, name: str) -> None:
        with self._lock:
            self._added_by_mutation.add((space, name))

    def added_by_mutation(self, space: str, name: str) -> bool:
        with self._lock:
            return (space, name) in self._added_by_mutation

    @property
    def lock(self) -> threading.RLock:
        return self._lock
