"""The configuration operations every frontend shares (CLI ``dgsync config``, Wolf
``/api/v1/config``, the MCP server): build a candidate, validate it (dry-run plan included),
apply, promote and roll back — each write a new version of :mod:`core.config_versions`,
attributed to its author and recorded by ``record_config_change``.

A frontend only picks the candidate's source (the CLI: the configuration it loaded; Wolf: the
applied version, edited by the request) and shows the :class:`~core.config_versions.Validation`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core import config_versions as cv
from core.errors import ConfigError

if TYPE_CHECKING:
    from core.services import Services
    from core.store.configs import ConfigVersionOut

#: Settings sections a web request may change in a candidate (connection settings, secrets,
#: the store and the log setup stay what the process was started with).
EDITABLE_SECTIONS: tuple[str, ...] = ("sync", "schedule", "alerts", "audit")


def applied_or_current(services: Services) -> tuple[cv.EffectiveConfig, ConfigVersionOut | None]:
    """The environment's applied version (and its effective configuration), else the
    configuration this process loaded (``None`` version)."""
    version = cv.active(services.store(), services.settings.env)
    if version is not None:
        return cv.from_version(version), version
    return cv.capture(services.settings), None


def edited(base: cv.EffectiveConfig, *, rules: str | None = None,
           settings: Mapping[str, Any] | None = None) -> cv.EffectiveConfig:
    """``base`` with new rules text and/or settings sections merged in (only
    :data:`EDITABLE_SECTIONS`; a ``<redacted>`` value is refused)."""
    data = json.loads(json.dumps(base.settings))
    for section, values in (settings or {}).items():
        if section not in EDITABLE_SECTIONS:
            raise ConfigError(
                f"settings section {section!r} cannot be changed here",
                hint=f"Change only {', '.join(EDITABLE_SECTIONS)}; connection settings and secrets come "
                     "from the process's environment.",
            )
        if not isinstance(values, Mapping):
            raise ConfigError(f"settings section {section!r} must be an object",
                              hint=f'Send e.g. {{"{section}": {{"field": "value"}}}}.')
        if cv.REDACTED in json.dumps(values):
            raise ConfigError(f"settings section {section!r} holds {cv.REDACTED!r}",
                              hint="Secrets are never set through a configuration version.")
        data.setdefault(section, {}).update(json.loads(json.dumps(values)))
    text = base.rules if rules is None else rules
    return cv.EffectiveConfig(env=base.env, settings=data, rules=text, hash=cv.config_hash(data, text))


def check(services: Services, config: cv.EffectiveConfig, *, plan: bool = True,
          rules_source: str = "rules.yaml", progress: Any = None) -> cv.Validation:
    """Validate ``config`` as this environment would run it (with ``plan``: the dry-run plan
    of what a sync would change under it — long on a large tenant: a web frontend runs it as
    a job, :mod:`core.config_jobs`)."""
    return cv.validate(config, base=services.settings, services=services if plan else None,
                       dry_run=plan, rules_source=rules_source, progress=progress)


def validate_and_apply(
    services: Services, config: cv.EffectiveConfig, *, action: str, author: str,
    comment: str | None = None, plan: bool = True, rules_source: str = "rules.yaml",
    source_id: int | None = None, progress: Any = None,
) -> tuple[cv.Validation, ConfigVersionOut | None]:
    """Validate, then store ``config`` as the new applied version when valid (``None``
    version when invalid: show the validation, then ``validation.raise_for_errors()``)."""
    result = check(services, config, plan=plan, rules_source=rules_source, progress=progress)
    if not result.ok:
        return result, None
    version = cv.apply(services.store(), config, result, author=author, comment=comment,
                       action=action, source_id=source_id)
    return result, version


def promote_candidate(services: Services, source_env: str) -> tuple[cv.EffectiveConfig, ConfigVersionOut]:
    """The candidate of promoting ``source_env``'s applied version to this environment."""
    target_env = services.settings.env
    if source_env == target_env:
        raise ConfigError("the source and target environments are the same",
                          hint="Promote from another environment.")
    store = services.store()
    source = cv.active(store, source_env)
    if source is None:
        raise ConfigError(f"{source_env} has no applied configuration version",
                          hint=f"Apply one first: dgsync --env {source_env} config apply.")
    target_version = cv.active(store, target_env)
    target = cv.from_version(target_version) if target_version else cv.capture(services.settings)
    return cv.promoted(cv.from_version(source), target), source


def rollback_candidate(services: Services, version_id: int) -> cv.EffectiveConfig:
    """The configuration of ``version_id`` (of this environment) as a candidate."""
    return cv.from_version(cv.rollback_target(services.store(), services.settings.env, version_id))


__all__ = [
    "EDITABLE_SECTIONS",
    "applied_or_current",
    "check",
    "edited",
    "promote_candidate",
    "rollback_candidate",
    "validate_and_apply",
]
