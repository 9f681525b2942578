"""The one place Dog reaches the test doubles: the Datasphere emulator's tenant (content,
mutations, faults, request log) and the embedded Glue (fault queue, request log). Only this
module imports ``doubles``; everything here works on the in-process doubles of the embedded
default and raises a :class:`~core.errors.ConfigError` with a hint elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigError
from core.services import Services
from dog_flask.errors import BadInput

#: The Glue operation a ConcurrentModification fault hits (the optimistic-lock write).
CONFLICT_OPERATION = "UpdateTable"
CONFLICT_CODE = "ConcurrentModificationException"
THROTTLE_CODE = "ThrottlingException"


def tenant(services: Services) -> Any:
    """The emulated tenant of the embedded emulator (raises when there is none)."""
    emu = services.emulator
    if emu is None:
        raise ConfigError(
            "this Dog has no embedded Datasphere emulator",
            hint="Unset DGSYNC_DATASPHERE__BASE_URL to use the embedded default.",
        )
    return emu.tenant


def embedded_glue(services: Services) -> Any:
    """The running embedded Glue of these services (raises when there is none)."""
    from doubles.glue_embedded import running_glue

    found = running_glue(services.glue_endpoint_url())
    if found is None:
        raise ConfigError(
            "this Dog has no embedded Glue",
            hint="Unset DGSYNC_GLUE__ENDPOINT_URL to use the embedded default (moto).",
        )
    return found


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


# -- targeted mutations (Debug page) -----------------------------------------------------------


def cds_types() -> tuple[str, ...]:
    from doubles.emulator.mutate import CDS_TYPES

    return tuple(CDS_TYPES)


def change_column(
    services: Services, space: str, name: str, column: str, *, cds_type: str | None, label: str | None
) -> dict[str, Any]:
    from doubles.emulator import mutate as m

    try:
        return m.change_column(tenant(services), space, name, column, cds_type=cds_type, label=label)
    except ValueError as exc:
        raise BadInput(str(exc), hint="Pick an asset and one of its columns; give a type or a label.") from exc


def add_table(services: Services, space: str, name: str) -> dict[str, Any]:
    from doubles.emulator import mutate as m

    try:
        return m.add_table(tenant(services), space, name)
    except ValueError as exc:
        raise BadInput(str(exc), hint="Pick a known space and a new technical name.") from exc


def remove_asset(services: Services, space: str, name: str) -> dict[str, Any]:
    from doubles.emulator import mutate as m

    try:
        return m.remove_asset(tenant(services), space, name)
    except ValueError as exc:
        raise BadInput(str(exc), hint="Pick an asset of the emulated tenant.") from exc


def reset_tenant(services: Services) -> int:
    """Back to the default tenant content (faults and counters cleared); returns the objects."""
    t = tenant(services)
    t.reset()
    return len(t.all_objects())


def spaces(services: Services) -> list[str]:
    return sorted(sp.name for sp in tenant(services).spaces())


def columns_of(services: Services, space: str, name: str) -> list[str]:
    """The column names of ``space.name`` in the emulator (empty when unknown)."""
    obj = tenant(services).get(space, name)
    if obj is None:
        return []
    definition = (obj.doc.get("definitions") or {}).get(obj.name) or {}
    return [c for c, e in (definition.get("elements") or {}).items()
            if e.get("type") not in ("cds.Association", "cds.Composition")]


# -- request log -------------------------------------------------------------------------------


def requests(
    services: Services,
    *,
    method: str = "",
    status: str = "",
    path: str = "",
    source: str = "",
    limit: int = 200,
) -> list[Any]:
    """The latest emulator requests and Glue attempts, newest first, filtered
    (:class:`doubles.request_log.LoggedRequest`)."""
    logs = []
    if source in ("", "datasphere"):
        logs.append(tenant(services).requests)
    if source in ("", "glue"):
        logs.append(embedded_glue(services).requests)
    found = [e for log in logs for e in log.entries(method=method, status=status, path=path, limit=limit)]
    found.sort(key=lambda e: e.at, reverse=True)
    return found[:limit]


def request_log_size(services: Services) -> int:
    return int(tenant(services).requests.size)


# -- faults ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Toggle:
    """One fault switch of the Debug page: whether it is on and what it says about itself."""

    key: str
    title: str
    target: str  # "Datasphere" | "Glue"
    effect: str
    on: bool
    status: str
    params: dict[str, Any] = field(default_factory=dict)


def _emulator_state(services: Services) -> dict[str, Any]:
    from doubles.emulator import faults

    state: dict[str, Any] = faults.state(tenant(services))
    return state


def _configure(services: Services, config: dict[str, Any]) -> dict[str, Any]:
    from pydantic import ValidationError

    from doubles.emulator import faults

    try:
        parsed = faults.FaultConfig.model_validate(config)
    except ValidationError as exc:
        raise BadInput(f"invalid fault: {exc.errors()[0]['msg']}", hint="Check the numbers in the form.") from exc
    result: dict[str, Any] = faults.configure(tenant(services), parsed)
    return result


def toggles(services: Services) -> list[Toggle]:
    """Every fault switch with its current state (emulator and embedded Glue)."""
    st = _emulator_state(services)
    injected = st.get("injected", {})
    th, se, hl = st["throttle"], st["server_error"], st["html_login"]
    queue = embedded_glue(services).faults
    pending = queue.pending_by_code()
    glue_throttles = sum(n for (_, code), n in pending.items() if code == THROTTLE_CODE)
    conflicts = sum(n for (_, code), n in pending.items() if code == CONFLICT_CODE)
    lifetime = st.get("token_lifetime_s")
    forbidden = st.get("forbidden_spaces") or []
    glue_injected = sum(queue.injected.values())

    def counted(left: int, served: int, what: str = "served") -> str:
        return f"{left} left · {served} {what}" if left else (f"{served} {what} so far" if served else "")

    return [
        Toggle("ds_throttle", "429 Too Many Requests", "Datasphere",
               "the next API requests answer 429 with Retry-After; the client waits and retries",
               th["count"] > 0, counted(th["count"], injected.get("throttle", 0)),
               {"count": th["count"] or 3, "retry_after": th["retry_after"] if th["retry_after"] is not None else 1}),
        Toggle("ds_server_error", "5xx burst", "Datasphere",
               "the next API requests fail with a 5xx; retried, then reported per space or asset",
               se["count"] > 0, counted(se["count"], injected.get("server_error", 0)),
               {"count": se["count"] or 3, "status": se["status"]}),
        Toggle("ds_latency", "Latency", "Datasphere", "every API request waits this long first",
               st["latency_ms"] > 0, f"{st['latency_ms']} ms per request" if st["latency_ms"] else "",
               {"latency_ms": st["latency_ms"] or 400}),
        Toggle("ds_token_lifetime", "Short token lifetime", "Datasphere",
               "tokens issued from now on expire after this many seconds; the client refreshes them",
               bool(lifetime), f"new tokens live {lifetime} s" if lifetime else "",
               {"seconds": lifetime or 10}),
        Toggle("ds_html_login", "HTML login page instead of JSON", "Datasphere",
               "the next API requests answer 200 with a login page (a proxy in the way)",
               hl["count"] > 0, counted(hl["count"], injected.get("html_login", 0)),
               {"count": hl["count"] or 1}),
        Toggle("ds_forbidden_space", "403 on a space", "Datasphere",
               "the space answers 403 (not a member) to every client; the plan skips it",
               bool(forbidden), ", ".join(forbidden) if forbidden else "",
               {"space": forbidden[0] if forbidden else ""}),
        Toggle("glue_throttle", "Throttling", "Glue",
               "the next Glue HTTP attempts answer ThrottlingException; botocore retries them",
               glue_throttles > 0, counted(glue_throttles, glue_injected, "Glue faults served"),
               {"count": glue_throttles or 3}),
        Toggle("glue_conflict", "ConcurrentModification", "Glue",
               f"the next {CONFLICT_OPERATION} calls fail with {CONFLICT_CODE}; the sync re-reads and re-plans once",
               conflicts > 0, f"{conflicts} left" if conflicts else "",
               {"count": conflicts or 1}),
    ]


TOGGLE_KEYS = ("ds_throttle", "ds_server_error", "ds_latency", "ds_token_lifetime", "ds_html_login",
               "ds_forbidden_space", "glue_throttle", "glue_conflict")


def _int(form: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = (form.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"{name} must be a whole number, not {raw!r}", hint=f"Type a number from {low} to {high}.") from None
    if not low <= value <= high:
        raise BadInput(f"{name} must be from {low} to {high}, not {value}", hint=f"Type a number from {low} to {high}.")
    return value


def set_toggle(services: Services, key: str, on: bool, form: dict[str, str]) -> None:
    """Switch fault ``key`` on (with the numbers in ``form``) or off."""
    if key == "ds_throttle":
        _configure(services, {"throttle": {
            "count": _int(form, "count", 3, 1, 100) if on else 0,
            "retry_after": _int(form, "retry_after", 1, 0, 60)}})
    elif key == "ds_server_error":
        _configure(services, {"server_error": {
            "count": _int(form, "count", 3, 1, 100) if on else 0, "status": _int(form, "status", 503, 500, 599)}})
    elif key == "ds_latency":
        _configure(services, {"latency_ms": _int(form, "latency_ms", 400, 1, 10_000) if on else 0})
    elif key == "ds_token_lifetime":
        _configure(services, {"token_lifetime_s": _int(form, "seconds", 10, 1, 86_400) if on else 0})
    elif key == "ds_html_login":
        _configure(services, {"html_login": {"count": _int(form, "count", 1, 1, 100) if on else 0}})
    elif key == "ds_forbidden_space":
        space = (form.get("space") or "").strip()
        if on and space not in spaces(services):
            raise BadInput(f"no space {space!r} in the emulated tenant",
                              hint=f"Pick one of {', '.join(spaces(services))}.")
        _configure(services, {"forbidden_spaces": [space] if on else []})
    elif key == "glue_throttle":
        queue = embedded_glue(services).faults
        queue.clear(THROTTLE_CODE)
        if on:
            queue.throttle("*", times=_int(form, "count", 3, 1, 100))
    elif key == "glue_conflict":
        queue = embedded_glue(services).faults
        queue.clear(CONFLICT_CODE)
        if on:
            queue.fail(CONFLICT_OPERATION, CONFLICT_CODE,
                       "Update table failed due to concurrent modifications (injected by Dog's Debug page)",
                       times=_int(form, "count", 1, 1, 100))
    else:
        raise BadInput(f"no fault {key!r}", hint=f"Use one of {', '.join(TOGGLE_KEYS)}.")


def expire_tokens(services: Services) -> int:
    """Invalidate every access token the emulator issued so far; returns how many."""
    result = _configure(services, {"expire_tokens": True})
    return int(result.get("expired", {}).get("access_tokens", 0))


def clear_faults(services: Services) -> None:
    """No emulator fault, default token lifetimes, no pending Glue fault."""
    from doubles.emulator import faults

    faults.clear(tenant(services))
    embedded_glue(services).faults.clear()
