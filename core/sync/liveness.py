"""Run liveness and mutual exclusion: scope leases, a background heartbeat, dead-run detection.

Every sync holds a **scope lease** in the state store for as long as it runs. A scope is an
environment, a set of spaces (empty: every space) and a priority class (``None``: every
class). Two scopes *overlap* when they share the environment, at least one space (an
all-spaces run overlaps everything) and the priority class (an unscoped run overlaps every
class; the scheduler's priority slices do not overlap one another). A second sync on an
overlapping scope waits for the lease (``wait_s``) or is refused at once with
:class:`~core.errors.LeaseHeld` naming the run that holds it.

Leases are rows of the ``leases`` table (see :mod:`core.store.leases`) keyed
``scope:{"env":…,"priority":…,"run":…,"spaces":[…]}``, held by
``<run id>|<host>|<boot id>|<pid>``. Checking for an overlap and taking the lease happen under
a short store-wide mutex (itself a lease, ``scope-mutex``, held for milliseconds and expiring
after :data:`MUTEX_TTL_S` if its holder dies), so two syncs can never both win — on SQLite and
PostgreSQL alike.

A :class:`Heartbeat` thread renews the lease and the run's ``heartbeat_at`` every
``heartbeat_interval_s`` (default 5 s), however long a space takes. The lease lives
:data:`TTL_FACTOR` × that interval. A run is **dead** — and marked ``interrupted`` at once by
the next sync that looks (:func:`reap_dead_runs`) — when

* its owner process is gone on this host (same host name *and* boot id; the pid no longer
  exists, is a zombie, or was started after the lease was taken: pid reuse), or
* its lease expired: no heartbeat for ``3 × heartbeat_interval_s`` (owner on another host).

A run recorded without a scope lease (older versions) is judged by its host/pid and by a
heartbeat older than the legacy ``lease_ttl_s``. A run whose lease is lost (reaped, expired and
taken) is asked to stop (``on_lost``).
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from sqlalchemy import select

from core.errors import ConfigError, DgsyncError, RulesError, ScopeHeld, StoreError
from core.log import get_logger
from core.store import repo
from core.store.leases import acquire_lease, list_leases, release_lease, renew_lease
from core.store.schemas import LeaseOut, RunCounts, RunError, RunResult, RunStatus, utcnow
from core.store.tables import RunRow

if TYPE_CHECKING:
    from core.services import Services
    from core.store.db import Store

log = get_logger(__name__)

#: A scope lease (and so a run) lives this many heartbeat intervals without a renewal.
TTL_FACTOR = 3
SCOPE_PREFIX = "scope:"
MUTEX_KEY = "scope-mutex"
#: The mutex is held for one check-and-insert; a dead holder blocks others at most this long.
MUTEX_TTL_S = 10.0
#: How long to try for the mutex before giving up with a StoreError.
MUTEX_WAIT_S = 30.0
#: A process started this long after the lease was taken is another process (pid reuse).
_PID_REUSE_SLACK_S = 2.0


# ------------------------------------------------------------------------ identity


@lru_cache(maxsize=1)
def boot_id() -> str:
    """An id of this machine's boot (a VM, a Lambda micro-VM): the kernel's boot id, else the
    boot time. Two hosts with one host name (containers, Lambda) differ here."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()[:36]
    except OSError:
        return f"boot-{int(psutil.boot_time())}"


@dataclass(frozen=True)
class Owner:
    """The process that holds a scope lease."""

    run_id: str
    host: str
    boot: str
    pid: int

    @classmethod
    def current(cls, run_id: str) -> Owner:
        return cls(run_id=run_id, host=socket.gethostname(), boot=boot_id(), pid=_pid())

    def encode(self) -> str:
        return f"{self.run_id}|{self.host}|{self.boot}|{self.pid}"

    @classmethod
    def parse(cls, holder: str) -> Owner | None:
        parts = holder.split("|")
        if len(parts) != 4 or not parts[3].isdigit():
            return None
        return cls(run_id=parts[0], host=parts[1], boot=parts[2], pid=int(parts[3]))

    @property
    def local(self) -> bool:
        """True when the owner runs on this very machine (its pid can be checked)."""
        return self.host == socket.gethostname() and self.boot == boot_id()


def _pid() -> int:
    import os

    return os.getpid()


def process_alive(pid: int, *, since: datetime | None = None) -> bool:
    """Whether process ``pid`` of this host still runs (and is the one that started before
    ``since``: a pid reused by a newer process does not count)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        created = proc.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # it exists; we may not look closer
    return since is None or created <= since.timestamp() + _PID_REUSE_SLACK_S


# ------------------------------------------------------------------------ scopes


@dataclass(frozen=True)
class Scope:
    """What a run covers, for mutual exclusion: environment, spaces (empty: all), priority."""

    env: str
    spaces: frozenset[str] = frozenset()
    priority: str | None = None

    @classmethod
    def of(cls, env: str, spaces: Iterable[str] | None = None, priority: Any = None) -> Scope:
        value = getattr(priority, "value", priority)
        return cls(env=env, spaces=frozenset(spaces or ()), priority=str(value) if value else None)

    def overlaps(self, other: Scope) -> bool:
        if self.env != other.env:
            return False
        if self.priority and other.priority and self.priority != other.priority:
            return False
        if not self.spaces or not other.spaces:
            return True
        return bool(self.spaces & other.spaces)

    def describe(self) -> str:
        spaces = ", ".join(sorted(self.spaces)) if self.spaces else "all spaces"
        priority = f", priority {self.priority}" if self.priority else ""
        return f"{spaces}{priority} ({self.env})"

    def lease_key(self, run_id: str) -> str:
        body = {"env": self.env, "priority": self.priority, "run": run_id, "spaces": sorted(self.spaces)}
        return SCOPE_PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_lease_key(cls, key: str) -> tuple[Scope, str] | None:
        if not key.startswith(SCOPE_PREFIX):
            return None
        try:
            body = json.loads(key[len(SCOPE_PREFIX):])
            return cls.of(str(body["env"]), body.get("spaces") or (), body.get("priority")), str(body["run"])
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class ScopeHolder:
    """An active scope lease as read back from the store."""

    scope: Scope
    run_id: str
    owner: Owner | None
    lease: LeaseOut

    def describe(self) -> str:
        where = f" on {self.owner.host} (pid {self.owner.pid})" if self.owner else ""
        return f"run {self.run_id}{where}, scope {self.scope.describe()}"


def scope_holders(session: Any) -> list[ScopeHolder]:
    """Every scope lease in the store (expired ones included)."""
    out = []
    for lease in list_leases(session=session):
        parsed = Scope.from_lease_key(lease.slice_key)
        if parsed is None:
            continue
        scope, run_id = parsed
        out.append(ScopeHolder(scope=scope, run_id=run_id, owner=Owner.parse(lease.holder), lease=lease))
    return out


# ------------------------------------------------------------------------ dead runs


def judge_run(
    run: Any,
    holder: ScopeHolder | None,
    *,
    now: datetime,
    legacy_ttl_s: float,
) -> str | None:
    """Why ``run`` (a ``running`` run row) is dead, or ``None`` if it may be alive."""
    if holder is not None:
        owner = holder.owner
        if owner is not None and owner.local and not process_alive(owner.pid, since=holder.lease.acquired_at):
            return f"its process (pid {owner.pid} on {owner.host}) is gone"
        if holder.lease.expires_at <= now:
            return f"no heartbeat since {holder.lease.heartbeat_at:%Y-%m-%d %H:%M:%S}Z"
        return None
    if run.host == socket.gethostname() and run.pid and not process_alive(run.pid, since=run.started_at):
        return f"its process (pid {run.pid} on {run.host}) is gone"
    last = run.heartbeat_at or run.started_at
    if last < now - timedelta(seconds=legacy_ttl_s):
        return f"no heartbeat since {last:%Y-%m-%d %H:%M:%S}Z"
    return None


def reap_dead_runs(
    store: Store,
    *,
    legacy_ttl_s: float,
    now: datetime | None = None,
) -> list[str]:
    """Mark every dead ``running`` run ``interrupted`` (with the reason) and drop the scope
    leases of dead runs and expired ones; return the ids of the runs marked."""
    now = now or utcnow()
    reaped: list[str] = []
    with store.session() as session:
        holders = {h.run_id: h for h in scope_holders(session)}
        rows = session.scalars(select(RunRow).where(RunRow.status == RunStatus.RUNNING.value)).all()
        running = {row.id for row in rows}
        for row in rows:
            reason = judge_run(row, holders.get(row.id), now=now, legacy_ttl_s=legacy_ttl_s)
            if reason is None:
                continue
            row.status = RunStatus.INTERRUPTED.value
            row.finished_at = row.heartbeat_at or row.started_at
            row.duration_s = max((row.finished_at - row.started_at).total_seconds(), 0.0)
            row.errors = [
                *(row.errors or []),
                RunError(
                    code="interrupted",
                    message=f"run {row.id} died: {reason}",
                    hint="`dgsync sync --resume` continues it without redoing finished objects.",
                ).model_dump(mode="json"),
            ]
            reaped.append(row.id)
            log.warning("dead run marked interrupted", extra={"run": row.id, "reason": reason})
        session.flush()
    for run_id, holder in holders.items():
        stale = holder.lease.expires_at <= now
        dead_owner = holder.owner is not None and holder.owner.local and not process_alive(
            holder.owner.pid, since=holder.lease.acquired_at
        )
        # A reaped run's lease, an expired one, and the lease of a process that died before
        # it recorded its run (the lease is taken first).
        if run_id in reaped or stale or (dead_owner and run_id not in running):
            release_lease(store=store, slice_key=holder.lease.slice_key, holder=holder.lease.holder)
    return sorted(reaped)


# ------------------------------------------------------------------------ the lease


@dataclass
class ScopeLease:
    """A held scope lease: renew it while the run works, release it at the end."""

    store: Store
    scope: Scope
    run_id: str
    key: str
    holder: str
    ttl_s: float

    def renew(self, now: datetime | None = None) -> bool:
        """Extend the lease; ``False``: it was lost (reaped as dead, or taken over)."""
        return renew_lease(store=self.store, slice_key=self.key, holder=self.holder, ttl_s=self.ttl_s, now=now)

    def release(self) -> None:
        try:
            release_lease(store=self.store, slice_key=self.key, holder=self.holder)
        except DgsyncError as exc:
            log.error("could not release the scope lease (it expires on its own)",
                      extra={"run": self.run_id, "error": exc.message})


class _Mutex:
    """The store-wide mutex around check-and-take (a short lease)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.holder = f"{socket.gethostname()}|{_pid()}|{secrets.token_hex(4)}"

    def __enter__(self) -> _Mutex:
        deadline = time.monotonic() + MUTEX_WAIT_S
        delay = 0.005
        while not acquire_lease(store=self.store, slice_key=MUTEX_KEY, holder=self.holder, ttl_s=MUTEX_TTL_S):
            if time.monotonic() > deadline:
                raise StoreError(
                    "could not take the scope mutex of the state store in time",
                    hint=f"Another dgsync process holds it; it expires after {MUTEX_TTL_S:.0f} s. Retry.",
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        release_lease(store=self.store, slice_key=MUTEX_KEY, holder=self.holder)


def scope_mutex(store: Store) -> _Mutex:
    """The store-wide mutex around a check-and-take of scope leases (``with scope_mutex(s):``);
    the job service checks its queued syncs under it too."""
    return _Mutex(store)


def acquire_scope(
    store: Store,
    scope: Scope,
    run_id: str,
    *,
    ttl_s: float,
    legacy_ttl_s: float,
    wait_s: float = 0.0,
    poll_s: float = 0.5,
) -> ScopeLease:
    """Take the lease of ``scope`` for run ``run_id`` (dead runs are reaped first).

    While an overlapping scope is held, wait up to ``wait_s`` seconds (0: do not wait), then
    raise :class:`LeaseHeld` naming the holder run.
    """
    owner = Owner.current(run_id)
    key = scope.lease_key(run_id)
    deadline = time.monotonic() + max(wait_s, 0.0)
    while True:
        with _Mutex(store):
            reap_dead_runs(store, legacy_ttl_s=legacy_ttl_s)
            with store.session(readonly=True) as session:
                blockers = [h for h in scope_holders(session) if h.scope.overlaps(scope)]
            if not blockers:
                if not acquire_lease(store=store, slice_key=key, holder=owner.encode(), ttl_s=ttl_s):
                    raise StoreError(f"the scope lease of run {run_id} exists already",
                                     hint="Run ids are unique; retry the command.")
                return ScopeLease(store=store, scope=scope, run_id=run_id, key=key,
                                  holder=owner.encode(), ttl_s=ttl_s)
        if time.monotonic() >= deadline:
            first = blockers[0]
            waited = f" (waited {wait_s:.0f} s)" if wait_s > 0 else ""
            raise ScopeHeld(
                f"another sync works on an overlapping scope: {first.describe()}{waited}",
                hint="Wait for it to finish (`dgsync sync --wait`), or narrow this run with --space; "
                "`dgsync status` shows running runs.",
            )
        time.sleep(min(poll_s, max(deadline - time.monotonic(), 0.0)) or 0.01)


# ------------------------------------------------------------------------ heartbeat


@dataclass
class Heartbeat:
    """A daemon thread: renew the lease and the run's ``heartbeat_at`` every ``interval_s``.

    When the lease is lost, ``on_lost`` is called once (the engine stops after the objects in
    flight) and the thread ends. Store errors are logged and retried on the next beat.
    """

    lease: ScopeLease
    interval_s: float
    on_lost: Callable[[], None]
    beats: int = 0
    lost: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._loop, name=f"dgsync-heartbeat-{self.lease.run_id}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(self.interval_s, 5.0) + 30.0)

    def beat(self) -> bool:
        """One renewal (lease + run heartbeat); ``False`` when the lease was lost."""
        if not self.lease.renew():
            return False
        with self.lease.store.session() as session:
            repo.heartbeat_run(session=session, run_id=self.lease.run_id)
        self.beats += 1
        return True

    def _loop(self) -> None:
        while not self._stop.wait(timeout=self.interval_s):
            try:
                kept = self.beat()
            except DgsyncError as exc:
                log.warning("could not send a heartbeat", extra={"run": self.lease.run_id, "error": exc.message})
                continue
            if not kept:
                self.lost = True
                log.error("scope lease lost; stopping the run", extra={"run": self.lease.run_id})
                self.on_lost()
                return


# ------------------------------------------------------------------------ run start/finish


def ttls(services: Services) -> tuple[float, float, float]:
    """(heartbeat interval, scope-lease TTL, legacy run TTL) from the settings."""
    schedule = services.settings.schedule
    interval = float(getattr(schedule, "heartbeat_interval_s", 5.0))
    return interval, interval * TTL_FACTOR, float(schedule.lease_ttl_s)


def validate_scope(
    services: Services,
    *,
    spaces: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> None:
    """Check a run's input before anything is recorded: kinds, the rules file, and the spaces
    against the tenant's catalog. Raises :class:`ConfigError` (exit code 2)."""
    from core.models import AssetKind

    valid_kinds = [k.value for k in AssetKind]
    unknown_kinds = [k for k in kinds or () if k not in valid_kinds]
    if unknown_kinds:
        raise ConfigError(
            f"unknown asset kind(s): {', '.join(repr(k) for k in unknown_kinds)}",
            hint=f"Use --kind with one of: {', '.join(valid_kinds)}.",
        )
    load_rules_checked(services)
    configured = list(services.settings.datasphere.spaces)
    wanted = list(spaces or ()) or configured
    if not wanted:
        return
    known = services.extractor().known_spaces()
    unknown = [s for s in wanted if s not in known]
    if unknown:
        source = "--space" if spaces else "DGSYNC_DATASPHERE__SPACES"
        close = sorted({k for s in unknown for k in known if k.lower() == s.lower()})
        did_you_mean = f"Space ids are case-sensitive: did you mean {', '.join(close)}? " if close else ""
        raise ConfigError(
            f"unknown space(s) {', '.join(repr(s) for s in unknown)} ({source}); "
            f"the tenant has: {', '.join(sorted(known)) or 'no spaces'}",
            hint=f"{did_you_mean}Use {source} with one of the spaces listed.",
        )


def load_rules_checked(services: Services) -> Any:
    """``services.rules()``, with a rules file that is not UTF-8 reported as a RulesError."""
    try:
        return services.rules()
    except UnicodeDecodeError as exc:
        path = services.settings.sync.rules_file
        raise RulesError(f"rules file {path} is not valid UTF-8 ({utf8_position(path, exc)})",
                         hint="Save the file as UTF-8.") from exc


def utf8_position(path: Path | str | None, exc: UnicodeDecodeError) -> str:
    """``line L, byte B`` of a decoding error (from the file's bytes when readable)."""
    data = exc.object if isinstance(exc.object, bytes) else b""
    if not data and path is not None:
        try:
            data = Path(path).read_bytes()
        except OSError:
            data = b""
    line = data[: exc.start].count(b"\n") + 1
    return f"line {line}, byte {exc.start + 1}: invalid byte 0x{data[exc.start]:02x}" if data[exc.start:] else (
        f"byte {exc.start + 1}")


def finish_crashed_run(store: Store, run_id: str, exc: BaseException) -> bool:
    """Record a run stopped by ``exc`` that is still ``running``: ``aborted`` for Ctrl-C,
    ``failed`` otherwise, with the error class and a hint. ``False`` if it had already ended."""
    with store.session(readonly=True) as session:
        run = repo.get_run(session=session, run_id=run_id, failed_limit=0)
    if run is None or run.status is not RunStatus.RUNNING:
        return False
    if isinstance(exc, KeyboardInterrupt):
        status, error = RunStatus.ABORTED, RunError(
            code="keyboard_interrupt", message="stopped by Ctrl-C (SIGINT)",
            hint="Nothing finished is lost; `dgsync sync` goes on where it stopped.")
    elif isinstance(exc, DgsyncError):
        status, error = RunStatus.FAILED, RunError(code=exc.code, message=exc.message, hint=exc.hint)
    else:
        status, error = RunStatus.FAILED, RunError(
            code=_snake(type(exc).__name__),
            message=f"unexpected {type(exc).__name__}: {exc}"[:500],
            hint="An internal error: run again with --debug for the traceback and report it; "
            "finished objects are kept.")
    with store.session() as session:
        repo.finish_run(session=session, run_id=run_id, result=RunResult(
            status=status, counts=RunCounts(**run.counts.model_dump()), assets_total=run.assets_total,
            errors=[*run.errors, error], summary=f"{status.value}: {error.message}"[:500]))
    return True


def _snake(name: str) -> str:
    return "".join(("_" + c.lower()) if c.isupper() and i else c.lower() for i, c in enumerate(name))


__all__ = [
    "TTL_FACTOR",
    "Heartbeat",
    "Owner",
    "Scope",
    "ScopeHolder",
    "ScopeLease",
    "acquire_scope",
    "boot_id",
    "finish_crashed_run",
    "judge_run",
    "load_rules_checked",
    "process_alive",
    "reap_dead_runs",
    "scope_holders",
    "scope_mutex",
    "ttls",
    "utf8_position",
    "validate_scope",
]
