"""Configuration versions: the effective configuration (settings + mapping rules) of each
environment stored as immutable versions, with validation, promotion, rollback and hot reload.

The *effective configuration* of an environment is its settings (every section, secrets
replaced by ``<redacted>``, the database URL without its password) plus the text of its
mapping rules (empty: the built-in defaults). Its ``hash`` is the SHA-256 of the canonical JSON
of both, so two versions with the same content have the same hash.

* :func:`capture` — the effective configuration of loaded settings (never a secret).
* :func:`validate` — rules checked with line numbers, settings re-validated for the profile,
  and a dry-run plan (``services.engine().dry_run()``) of what a sync would change under the
  candidate. :func:`apply`, :func:`promote` and :func:`rollback` refuse a candidate that fails.
* :func:`apply` — store the candidate as the environment's new (active) version.
* :func:`promote` — take the *portable* part of another environment's active version (the
  mapping rules and the ``sync`` and ``schedule`` sections) onto this environment's
  configuration; connection settings, credentials, the store and the log setup stay.
* :func:`rollback` — a new version whose content is exactly an earlier one's (hash-equal).
* :class:`ConfigReloader` — hot reload: before each run the scheduler (and a web app, per
  request or run) asks for the services of the active version; a new version is picked up for
  the next run, never mid-run, and the run records ``scope.config_version``.

Versions of every environment live in the state store the process points at
(``config_versions``); the newest version of an environment is the applied one.
"""

from __future__ import annotations

import difflib
import getpass
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from core.errors import ConfigError, DgsyncError
from core.log import get_logger, redact
from core.settings import Settings, enforce_profile
from core.store import configs as repo
from core.store.configs import ConfigVersionIn, ConfigVersionOut

if TYPE_CHECKING:
    from core.services import Services
    from core.store.db import Store

log = get_logger(__name__)

REDACTED = "<redacted>"
#: Sections (and the rules) that ``promote`` carries from one environment to another.
PORTABLE_SECTIONS: tuple[str, ...] = ("sync", "schedule")
#: Top-level settings a stored version never changes in a running process.
PROCESS_FIELDS: frozenset[str] = frozenset({"env", "database_url", "state_dir"})


@dataclass(frozen=True)
class EffectiveConfig:
    """Settings (redacted, JSON) and rules text of one environment, with their hash."""

    env: str
    settings: dict[str, Any]
    rules: str
    hash: str

    def document(self) -> dict[str, Any]:
        return {"settings": self.settings, "rules": self.rules}


def config_hash(settings: Mapping[str, Any], rules: str) -> str:
    body = json.dumps({"settings": settings, "rules": rules}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _redact_model(model: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            out[name] = REDACTED
        elif isinstance(value, BaseModel):
            out[name] = _redact_model(value)
        else:
            out[name] = TypeAdapter(Any).dump_python(value, mode="json")
    return out


def _scrub(value: Any) -> Any:
    """Registered secrets masked in every string (defence in depth)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _read_rules(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the rules file {path}: {exc.strerror}",
                          hint="Fix DGSYNC_SYNC__RULES_FILE (or --rules).") from exc


def capture(settings: Settings, *, rules_text: str | None = None) -> EffectiveConfig:
    """The effective configuration of ``settings`` (rules read from ``sync.rules_file`` unless
    ``rules_text`` is given). Secrets are never in it."""
    from core.store.db import safe_url

    data = _redact_model(settings)
    data["database_url"] = safe_url(settings.database_url)
    data["sync"].pop("rules_file", None)
    rules = rules_text if rules_text is not None else _read_rules(settings.sync.rules_file)
    data = _scrub(data)
    rules = redact(rules)
    return EffectiveConfig(env=settings.env, settings=data, rules=rules, hash=config_hash(data, rules))


def from_version(version: ConfigVersionOut) -> EffectiveConfig:
    return EffectiveConfig(env=version.env, settings=version.settings, rules=version.rules,
                           hash=version.hash)


# ------------------------------------------------------------------------ materialise


def materialise(base: Settings, config: EffectiveConfig) -> Settings:
    """``base`` (the process's settings, with its real secrets) running ``config``: every
    stored value except secrets and :data:`PROCESS_FIELDS`; the rules written to
    ``state_dir/config/rules-<hash>.yaml`` (none: the built-in defaults)."""
    update: dict[str, Any] = {}
    try:
        for name, info in Settings.model_fields.items():
            if name in PROCESS_FIELDS or name not in config.settings:
                continue
            stored = config.settings[name]
            current = getattr(base, name)
            if isinstance(current, BaseModel):
                merged = current.model_dump()
                for key, value in dict(stored).items():
                    if value == REDACTED or key not in type(current).model_fields:
                        continue
                    merged[key] = value
                update[name] = type(current).model_validate(merged)
            elif stored != REDACTED:
                annotation: Any = info.annotation
                update[name] = TypeAdapter(annotation).validate_python(stored)
    except ValidationError as exc:
        raise ConfigError(
            f"configuration version of {config.env} does not fit these settings: "
            + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
            hint="Validate and apply a corrected configuration (dgsync config validate).",
        ) from None
    rules_file: Path | None = None
    if config.rules.strip():
        folder = Path(base.state_dir) / "config"
        folder.mkdir(parents=True, exist_ok=True)
        rules_file = folder / f"rules-{config.hash[:16]}.yaml"
        if not rules_file.exists() or rules_file.read_text(encoding="utf-8") != config.rules:
            rules_file.write_text(config.rules, encoding="utf-8")
    sync = update.get("sync", base.sync).model_copy(update={"rules_file": rules_file})
    update["sync"] = sync
    return base.model_copy(update=update)


# ------------------------------------------------------------------------ validation


@dataclass
class Validation:
    """What :func:`validate` found. ``ok`` when there is no error."""

    env: str
    hash: str
    errors: list[str] = field(default_factory=list)
    #: The dry-run plan's counts per action (``create``, ``update``, ``delete``...).
    plan_counts: dict[str, int] = field(default_factory=dict)
    #: ``[{"action", "object", "asset"}]`` of the plan items that would write.
    plan_changes: list[dict[str, Any]] = field(default_factory=list)
    planned: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "hash": self.hash, "ok": self.ok, "errors": self.errors,
                "planned": self.planned, "plan_counts": self.plan_counts,
                "plan_changes": self.plan_changes, "notes": self.notes}

    def raise_for_errors(self) -> None:
        if self.errors:
            raise ConfigError(
                "the configuration is invalid: " + "; ".join(self.errors),
                hint="Fix the lines named above, then validate again (dgsync config validate).",
            )


def validate(
    config: EffectiveConfig,
    *,
    base: Settings,
    services: Services | None = None,
    dry_run: bool = True,
    rules_source: str = "rules.yaml",
    progress: Any = None,
) -> Validation:
    """Check ``config`` as ``base``'s environment would run it: rules (every problem with its
    line), settings, and — with ``services`` and ``dry_run`` — the plan a sync would make
    (``progress``: the engine's progress callback, e.g. a job's)."""
    from core.mapping.rules import check_rules

    result = Validation(env=config.env, hash=config.hash)
    if config.rules.strip():
        _rules, problems = check_rules(config.rules, source=rules_source)
        result.errors += [str(p) for p in problems]
    try:
        candidate = materialise(base, config)
        enforce_profile(candidate)
    except DgsyncError as exc:
        result.errors.append(exc.message)
        return result
    if result.errors or not dry_run or services is None:
        if services is None and dry_run:
            result.notes.append("no dry-run plan: run validate in the target environment")
        return result
    try:
        report = services.with_settings(candidate).engine(progress=progress).dry_run()
    except DgsyncError as exc:
        result.errors.append(f"dry-run plan failed: {exc.message} ({exc.hint})")
        return result
    result.planned = True
    result.plan_counts = {k: int(v) for k, v in report.counts.items()}
    result.plan_changes = [
        {"action": str(getattr(i.action, "value", i.action)), "object": i.object, "asset": i.asset}
        for i in report.items if str(getattr(i.action, "value", i.action)) not in ("noop", "skip")
    ]
    return result


# ------------------------------------------------------------------------ operations


def default_author() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name (a container without a passwd entry)
        return "cli:unknown"


def _store_version(store: Store, config: EffectiveConfig, *, action: str, author: str,
                   comment: str | None, source_id: int | None) -> ConfigVersionOut:
    with store.session() as session:
        return repo.add_version(session=session, version=ConfigVersionIn(
            env=config.env, hash=config.hash, settings=config.settings, rules=config.rules,
            action=action, source_id=source_id, author=author, comment=comment,
        ))


def active(store: Store, env: str) -> ConfigVersionOut | None:
    with store.session(readonly=True) as session:
        return repo.active_version(session=session, env=env)


def get(store: Store, version_id: int) -> ConfigVersionOut:
    with store.session(readonly=True) as session:
        found = repo.get_version(session=session, version_id=version_id)
    if found is None:
        raise ConfigError(f"configuration version {version_id} does not exist",
                          hint="List versions with `dgsync config history`.")
    return found


def history(store: Store, env: str | None = None, *, limit: int = 100) -> list[ConfigVersionOut]:
    with store.session(readonly=True) as session:
        return repo.list_versions(session=session, env=env, limit=limit)


def apply(
    store: Store, config: EffectiveConfig, validation: Validation, *, author: str,
    comment: str | None = None, action: str = "apply", source_id: int | None = None,
) -> ConfigVersionOut:
    """Store ``config`` as its environment's new active version; refused when ``validation``
    (of this very config) found errors."""
    if validation.hash != config.hash:
        raise ConfigError("the validation is of another configuration",
                          hint="Validate the configuration you apply.")
    validation.raise_for_errors()
    previous = active(store, config.env)
    version = _store_version(store, config, action=action, author=author, comment=comment,
                             source_id=source_id)
    _record_change(store, previous, version, config, author=author, comment=comment)
    log.info("configuration version applied",
             extra={"version": version.id, "env": version.env, "hash": version.hash[:12],
                    "action": action, "author": author})
    return version


def _record_change(store: Store, previous: ConfigVersionOut | None, version: ConfigVersionOut,
                   config: EffectiveConfig, *, author: str, comment: str | None) -> None:
    """Audit (before/after field diff) and a ``config_changed`` security event."""
    from core.governance.security import record_config_change

    before = None if previous is None else {**previous.settings, "rules": previous.rules}
    try:
        record_config_change(store, env=config.env, actor=author, before=before,
                             after={**config.settings, "rules": config.rules}, object="configuration",
                             version=str(version.id), comment=f"{version.action}: {comment}" if comment else version.action)
    except DgsyncError as exc:  # the version is stored: say so rather than fail the apply
        log.error("could not record the configuration change", extra={"version": version.id, "error": exc.message})


def promoted(source: EffectiveConfig, target: EffectiveConfig) -> EffectiveConfig:
    """``target`` with the portable part of ``source`` (rules, sync, schedule)."""
    settings = json.loads(json.dumps(target.settings))
    for section in PORTABLE_SECTIONS:
        if section in source.settings:
            settings[section] = json.loads(json.dumps(source.settings[section]))
    return EffectiveConfig(env=target.env, settings=settings, rules=source.rules,
                           hash=config_hash(settings, source.rules))


def rollback_target(store: Store, env: str, version_id: int) -> ConfigVersionOut:
    version = get(store, version_id)
    if version.env != env:
        raise ConfigError(
            f"configuration version {version_id} belongs to {version.env}, not {env}",
            hint=f"Roll back to a version of {env} (dgsync --env {env} config history), or "
                 f"promote from {version.env}.",
        )
    return version


# ------------------------------------------------------------------------ diff and display


def render(config: EffectiveConfig) -> str:
    """A YAML view of the configuration (settings, then the rules text)."""
    text = yaml.safe_dump({"settings": config.settings}, sort_keys=True, allow_unicode=True)
    return redact(text + "rules: |\n" + "".join(f"  {line}\n" for line in config.rules.splitlines()))


def diff(old: EffectiveConfig, new: EffectiveConfig, *, old_name: str = "a", new_name: str = "b") -> str:
    """A unified diff of two configurations (empty when they are equal)."""
    return "".join(difflib.unified_diff(
        render(old).splitlines(keepends=True), render(new).splitlines(keepends=True),
        fromfile=old_name, tofile=new_name,
    ))


def version_summary(v: ConfigVersionOut) -> dict[str, Any]:
    return {"id": v.id, "env": v.env, "hash": v.hash, "action": v.action, "source_id": v.source_id,
            "author": v.author, "comment": redact(v.comment) if v.comment else None,
            "created_at": v.created_at.isoformat()}


# ------------------------------------------------------------------------ hot reload


class ConfigReloader:
    """Services for the environment's applied configuration version, rebuilt only when a new
    version was applied. Ask once per run (:meth:`for_next_run`): a run keeps the services it
    started with, so a new version takes effect at the next run, never mid-run."""

    def __init__(self, base: Services) -> None:
        self.base = base
        self._lock = threading.Lock()
        self._version: int | None = None
        self._services: Services | None = None

    def for_next_run(self) -> tuple[Services, int | None]:
        """``(services, version id)``: the base services while no version is applied."""
        with self._lock:
            store = self.base.store()
            with store.session(readonly=True) as session:
                current = repo.active_version_id(session=session, env=self.base.settings.env)
            if current is None:
                return self.base, None
            if current != self._version or self._services is None:
                version = get(store, current)
                settings = materialise(self.base.settings, from_version(version))
                self._services = self.base.with_settings(settings)
                if self._version is not None:
                    log.info("configuration reloaded",
                             extra={"version": current, "previous": self._version})
                self._version = current
            return self._services, self._version
